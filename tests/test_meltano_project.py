"""meltano.yml declares every setting each tap has, secrets as sensitive.

Meltano passes a tap only the settings meltano.yml declares (and `meltano config`
lists only those), so a setting added to a tap but not here is unusable from Meltano.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from harness import ROOT, SDK_BUILTINS

TAPS = ("tap-painchek", "tap-humanapi", "tap-healthex")


def _declared(tap: str) -> dict[str, dict]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    [plugin] = [p for p in project["plugins"]["extractors"] if p["name"] == tap]
    return {setting["name"]: setting for setting in plugin["settings"]}


def _about(tap: str) -> dict[str, dict]:
    command = [str(ROOT / ".venv" / "bin" / tap), "--about", "--format", "json"]
    about = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    return about["settings"]["properties"]


@pytest.mark.parametrize("tap", TAPS)
def test_meltano_yml_declares_every_setting_of_the_tap(tap):
    declared, settings = _declared(tap), _about(tap)
    assert sorted(set(settings) - SDK_BUILTINS - set(declared)) == []
    assert sorted(set(declared) - set(settings)) == []
    secrets = {name for name, spec in settings.items() if spec.get("secret")}
    assert secrets
    assert sorted(n for n in secrets if not declared[n].get("sensitive")) == []


def test_meltano_yml_settings_and_capabilities_come_from_each_taps_about():
    """Kind, default, label, description, options, sensitive: every field of every setting.

    scripts/meltano_settings.py writes them from `--about`; --check says if they drifted.
    """
    script = ROOT / "scripts" / "meltano_settings.py"
    check = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("tap", TAPS)
def test_declared_kinds_and_defaults_match_the_taps_schema(tap):
    declared, settings = _declared(tap), _about(tap)
    for name, spec in settings.items():
        if "default" in spec and spec["default"] is not None:
            assert declared[name]["value"] == spec["default"], name
        if "number" in spec.get("type", ()):
            # Not decimal: Meltano cannot pass an environment value of that kind on.
            assert declared[name]["kind"] == "integer", name


@pytest.mark.parametrize("tap", TAPS)
def test_each_tap_readme_lists_its_settings_as_about_does(tap):
    command = [str(ROOT / ".venv" / "bin" / tap), "--about", "--format", "markdown"]
    about = subprocess.run(command, capture_output=True, check=True, text=True).stdout
    readme = (ROOT / tap / "README.md").read_text()
    rows = [
        line
        for line in about.splitlines()
        if line.startswith("| ") and line.split(" | ")[0][2:] in _about(tap)
    ]
    own = [row for row in rows if row.split(" | ")[0][2:] not in SDK_BUILTINS]
    assert own
    assert [row for row in own if row not in readme] == []
