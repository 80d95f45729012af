"""What ships for publishing: Meltano Hub definitions and the production .env.example.

Each tap's Hub file (hub/extractors/<tap>/<variant>.yml, Hub's own layout) is written
by scripts/hub_definitions.py from the tap's ``--about``; it must declare every
setting with its kind and description, every secret sensitive, and the tap's
capabilities, and Meltano must accept it as a plugin definition. ``.env.example``,
written by scripts/env_example.py from meltano.yml, must name every setting of every
extractor and loader as the variable Meltano reads, and mark every secret.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from harness import MELTANO, ROOT

TAPS = ("tap-painchek", "tap-humanapi", "tap-healthex")
VARIANT = "healthdata-taps"
ENV_EXAMPLE = ROOT / ".env.example"
MARK = "# secret: "
# JSON Schema type of a tap setting -> the Meltano kind a user of the Hub file gets.
# `number` is `integer` on purpose: see KINDS in scripts/meltano_settings.py.
KIND_OF_TYPE = {
    "string": "string",
    "integer": "integer",
    "number": "integer",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def _script_check(name: str) -> None:
    script = ROOT / "scripts" / name
    check = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr


def _about(tap: str) -> dict:
    command = [str(ROOT / ".venv" / "bin" / tap), "--about", "--format", "json"]
    return json.loads(subprocess.run(command, capture_output=True, check=True).stdout)


def _hub_file(tap: str) -> Path:
    return ROOT / "hub" / "extractors" / tap / f"{VARIANT}.yml"


def _expected_kind(spec: dict) -> str:
    if "enum" in spec:
        return "options"
    types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    [kind] = [t for t in types if t != "null"]
    if kind == "string" and spec.get("format") == "date-time":
        return "date_iso8601"
    return KIND_OF_TYPE[kind]


def _meltano_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment minus any plugin or Meltano variable of the caller's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))}
    return {
        **env,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        **extra,
    }


# --- Hub definitions -----------------------------------------------------------------


def test_hub_files_are_what_the_script_writes_from_each_taps_about():
    _script_check("hub_definitions.py")


@pytest.mark.parametrize("tap", TAPS)
def test_hub_file_declares_every_setting_secret_and_capability_of_the_tap(tap):
    about, hub = _about(tap), yaml.safe_load(_hub_file(tap).read_text())
    project = tomllib.loads((ROOT / tap / "pyproject.toml").read_text())["project"]
    assert (hub["name"], hub["variant"]) == (tap, VARIANT)
    assert hub["namespace"] == tap.replace("-", "_")
    assert hub["pip_url"] == project["name"] == tap  # the published package
    assert hub["executable"] in project["scripts"]
    assert hub["label"]
    assert hub["description"]
    assert set(hub["capabilities"]) == set(about["capabilities"])
    settings = about["settings"]["properties"]
    declared = {setting["name"]: setting for setting in hub["settings"]}
    assert sorted(declared) == sorted(settings)
    for name, spec in settings.items():
        setting = declared[name]
        assert setting["kind"] == _expected_kind(spec), name
        assert setting.get("description") == spec.get("description"), name
        assert setting["label"] == spec.get("title", name), name
        assert setting.get("value") == spec.get("default"), name
        assert bool(setting.get("sensitive")) == bool(spec.get("secret")), name
        assert [o["value"] for o in setting.get("options", [])] == spec.get("enum", []), name
    assert any(s.get("sensitive") for s in declared.values())
    for group in hub["settings_group_validation"]:
        assert set(group) <= set(declared), group


def _add_from_hub_file(tap: str, workdir: Path) -> dict:
    """`meltano add --from-ref` the Hub file into a new project; the plugin it wrote."""
    workdir.mkdir()
    (workdir / "meltano.yml").write_text(
        "default_environment: dev\nenvironments:\n- name: dev\n"
        "send_anonymous_usage_stats: false\nproject_id: hub-check\n"
    )
    command = [str(MELTANO), "add", "--plugin-type", "extractor", tap]
    command += ["--from-ref", str(_hub_file(tap)), "--no-install"]
    subprocess.run(command, cwd=workdir, env=_meltano_env(workdir), check=True, capture_output=True)
    return yaml.safe_load((workdir / "meltano.yml").read_text())["plugins"]


def test_meltano_adds_each_hub_file_as_an_extractor(tmp_path):
    with ThreadPoolExecutor(len(TAPS)) as pool:
        added = pool.map(_add_from_hub_file, TAPS, [tmp_path / tap for tap in TAPS])
    for tap, plugins in zip(TAPS, added, strict=True):
        [plugin] = plugins["extractors"]
        assert list(plugins) == ["extractors"]
        assert (plugin["name"], plugin["variant"], plugin["pip_url"]) == (tap, VARIANT, tap)
        hub = yaml.safe_load(_hub_file(tap).read_text())
        assert plugin["settings"] == hub["settings"]
        assert plugin["settings_group_validation"] == hub["settings_group_validation"]


# --- .env.example ----------------------------------------------------------------------


def _env_example() -> dict[str, dict[str, tuple[str, bool]]]:
    """Section (plugin or "Meltano") -> variable -> (comment above it, left uncommented)."""
    sections: dict[str, dict[str, tuple[str, bool]]] = {}
    lines = ENV_EXAMPLE.read_text().splitlines()
    section = None
    for before, line in pairwise(["", *lines]):
        if header := re.fullmatch(r"# ---- (\S+).* ----", line):
            section = sections.setdefault(header[1], {})
        elif variable := re.fullmatch(r"(# )?([A-Z0-9_]+)=(.*)", line):
            assert section is not None, line
            assert before.startswith("# "), line
            section[variable[2]] = (before, variable[1] is None)
    return sections


def _plugins() -> list[tuple[str, dict]]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return [
        (plugin_type, plugin)
        for plugin_type in ("extractors", "loaders", "utilities")
        for plugin in project["plugins"].get(plugin_type, [])
        if "inherit_from" not in plugin
    ]


def test_env_example_is_what_the_script_writes_from_meltano_yml():
    _script_check("env_example.py")


def test_env_example_has_every_setting_of_every_plugin_and_marks_each_secret():
    sections = _env_example()
    plugins = _plugins()
    assert {"tap-painchek", "target-postgres", "target-duckdb"} <= {p["name"] for _, p in plugins}
    assert sorted(sections) == sorted(["Meltano", *(p["name"] for _, p in plugins)])
    for _, plugin in plugins:
        variables = sections[plugin["name"]]
        prefix = re.sub(r"[^A-Za-z0-9]", "_", plugin["name"]).upper()
        assert sorted(variables) == sorted(
            f"{prefix}_{s['name'].upper()}" for s in plugin["settings"]
        )
        for setting in plugin["settings"]:
            comment, _ = variables[f"{prefix}_{setting['name'].upper()}"]
            assert comment.startswith(MARK) == bool(setting.get("sensitive")), setting["name"]
    assert sum(c.startswith(MARK) for s in sections.values() for c, _ in s.values()) > 10
    meltano = sections["Meltano"]
    assert meltano["MELTANO_ENVIRONMENT"][1]
    for name in (
        "MELTANO_DATABASE_URI",
        "MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID",
        "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY",
    ):
        assert meltano[name][0].startswith(MARK), name
    assert "postgresql+psycopg://" in meltano["MELTANO_DATABASE_URI"][0]
    assert "s3://" in meltano["MELTANO_STATE_BACKEND_URI"][0]
    valued = [
        line for line in ENV_EXAMPLE.read_text().splitlines() if re.fullmatch(r"\w+=.+", line)
    ]
    assert valued == ["MELTANO_ENVIRONMENT=prod"]  # no other value, and no secret


def test_env_example_is_not_ignored_but_env_is():
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", ".env", ".env.example"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.split() == [".env"]


def _config_list(plugin: str, env_file: Path, workdir: Path) -> str:
    workdir.mkdir()
    listed = subprocess.run(
        [str(MELTANO), "--env-file", str(env_file), "config", "--unsafe", "list", "--all", plugin],
        cwd=ROOT,
        env=_meltano_env(workdir),
        check=True,
        capture_output=True,
        text=True,
    )
    return listed.stdout + listed.stderr


def test_env_example_filled_in_reaches_meltano_under_the_names_it_reads(tmp_path):
    """Every name is one Meltano lists; every needed one, filled in, arrives under prod."""
    sections = _env_example()
    filled = ["MELTANO_ENVIRONMENT=prod"]  # no other Meltano value: it would be used
    values = {}
    for section, variables in sections.items():
        for name, (_, needed) in variables.items():
            if needed and section != "Meltano":
                # An integer setting (a port) must be a number, or Meltano stops.
                values[name] = "15432" if name.endswith("_PORT") else f"v-{name.lower()}"
                filled.append(
                    f"{name}={json.dumps([values[name]]) if 'IDS' in name else values[name]}"
                )
    env_file = tmp_path / "filled.env"
    env_file.write_text("\n".join(filled) + "\n")
    with ThreadPoolExecutor(len(sections)) as pool:
        futures = {
            section: pool.submit(
                _config_list,
                "meltano" if section == "Meltano" else section,
                env_file,
                tmp_path / section,
            )
            for section in sections
        }
        outputs = {section: future.result() for section, future in futures.items()}
    for section, variables in sections.items():
        output = outputs[section]
        assert "Environment 'prod' is active" in output, section
        listed = set(re.findall(r"\[env: ([A-Z0-9_]+)\]", output))
        # MELTANO_ENVIRONMENT picks the environment; it is no setting of Meltano's.
        assert sorted(set(variables) - listed - {"MELTANO_ENVIRONMENT"}) == [], section
        for name in variables:
            if name in values:
                assert f"'{values[name]}'" in output or values[name] in output, name
                assert f"from the {name} variable in `.env`" in output, name
    # A value only the prod environment sets is in effect: MELTANO_ENVIRONMENT worked.
    assert re.search(
        r"^max_retry_seconds \[env: TAP_PAINCHEK_MAX_RETRY_SECONDS\].*current value: 1800",
        outputs["tap-painchek"],
        re.MULTILINE,
    )
