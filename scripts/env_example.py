"""Write ``.env.example``: every variable a production run reads, from meltano.yml.

A production run (``meltano --environment=prod run ...``) takes credentials and hosts
from the environment or from ``.env``. This script lists, for every extractor and
loader in meltano.yml, each declared setting under the name Meltano reads it from
(``TAP_PAINCHEK_API_URL``), with its description, secrets marked, and Meltano's own
variables for a production system database and state backend. A setting is left
uncommented when a run needs it (the plugin's first group of required settings, not
already set in meltano.yml); the rest are commented out, because Meltano passes an
empty value on as it is and cannot read an empty integer, array or object at all.

    .venv/bin/python scripts/env_example.py           # rewrite .env.example
    .venv/bin/python scripts/env_example.py --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import typing as t

import yaml
from meltano_settings import MELTANO_YML, ROOT

ENV_EXAMPLE = ROOT / ".env.example"
ENVIRONMENT = "prod"
PLUGIN_TYPES = ("extractors", "loaders", "utilities")
SENSITIVE_MARK = "secret: "


class Variable(t.NamedTuple):
    """One line of .env.example and the comment above it."""

    name: str
    comment: str
    secret: bool = False
    needed: bool = True
    value: str = ""


# Meltano's own settings a production project sets (names as `meltano config list --all
# meltano` shows them in Meltano 4.4.1; tests/test_hub.py checks they still exist).
MELTANO = (
    Variable("MELTANO_ENVIRONMENT", "The environment every command runs in.", value=ENVIRONMENT),
    Variable(
        "MELTANO_DATABASE_URI",
        "System database (runs, locks, state): postgresql+psycopg://USER:PASSWORD@HOST:5432/"
        "DATABASE (make bootstrap installs meltano[postgres]); default .meltano/meltano.db.",
        secret=True,
        needed=False,
    ),
    Variable(
        "MELTANO_STATE_BACKEND_URI",
        "Where the taps' bookmarks are kept, if not in the system database:"
        " s3://BUCKET/PREFIX (make bootstrap installs meltano[s3]).",
        needed=False,
    ),
    Variable(
        "MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID",
        "Access key of the state bucket; leave both keys empty for the standard AWS"
        " credential chain (an instance or task role).",
        secret=True,
        needed=False,
    ),
    Variable(
        "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY",
        "Secret key of the state bucket.",
        secret=True,
        needed=False,
    ),
    Variable(
        "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL",
        "Endpoint of an S3-compatible store (MinIO, ...); unset for AWS S3.",
        needed=False,
    ),
)
HEADER = f"""\
# Every variable a production run reads: Meltano's own, then each extractor's and
# loader's settings (meltano --environment={ENVIRONMENT}). Copy this file to .env (which
# git ignores) and fill it in; Meltano reads .env itself. Keep the sections of the
# plugins you run. "{SENSITIVE_MARK.strip()}" marks a secret.
# Uncommented: what a run needs. Commented: optional, an alternative, or set in
# meltano.yml. Uncomment only what you set: Meltano passes an empty value on as it is
# and stops at an empty integer, array or object.
# Written by scripts/env_example.py from meltano.yml; do not edit by hand.
"""


def env_var(*parts: str) -> str:
    """The variable Meltano reads a setting from, e.g. ``TAP_PAINCHEK_API_URL``."""
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", part).upper() for part in parts)


def _shown(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _environment_config(project: dict, plugin_type: str, name: str) -> dict:
    [environment] = [e for e in project["environments"] if e["name"] == ENVIRONMENT]
    plugins = environment.get("config", {}).get("plugins", {}).get(plugin_type, [])
    return next((p.get("config", {}) for p in plugins if p["name"] == name), {})


def plugin_variables(project: dict, plugin_type: str, plugin: dict) -> list[Variable]:
    """The variables of one plugin's declared settings, in meltano.yml's order."""
    configured = {
        **plugin.get("config", {}),
        **_environment_config(project, plugin_type, plugin["name"]),
    }
    groups = plugin.get("settings_group_validation", [])
    needed = set(groups[0]) if groups else set()
    variables = []
    for setting in plugin["settings"]:
        name = setting["name"]
        notes = [setting.get("description", setting.get("label", name))]
        if setting["kind"] in {"array", "object"}:
            notes.append(f"(a JSON {setting['kind']})")
        if "value" in setting:
            notes.append(f"Default {_shown(setting['value'])}.")
        if name in configured:
            notes.append(f"meltano.yml sets {_shown(configured[name])}.")
        variables.append(
            Variable(
                env_var(plugin["name"], name),
                " ".join(notes),
                secret=bool(setting.get("sensitive")),
                needed=name in needed and name not in configured,
            )
        )
    return variables


def _header(plugin_type: str, plugin: dict, heirs: list[str]) -> list[str]:
    kind = {"extractors": "extractor", "loaders": "loader", "utilities": "utility"}[plugin_type]
    lines = [f"# ---- {plugin['name']} ({kind}) ----"]
    if groups := plugin.get("settings_group_validation"):
        lines.append(f"# Needs one of: {' | '.join(' + '.join(g) for g in groups)}.")
    if heirs:
        lines.append(f"# {', '.join(heirs)} {'inherits' if len(heirs) == 1 else 'inherit'} these.")
    return lines


def _lines(variable: Variable) -> list[str]:
    comment = f"# {SENSITIVE_MARK if variable.secret else ''}{variable.comment}"
    line = f"{variable.name}={variable.value}"
    return [comment, line if variable.needed else f"# {line}"]


def render(project: dict) -> str:
    """The text of .env.example for the project ``project`` (meltano.yml, parsed)."""
    lines = HEADER.splitlines()
    lines += ["", "# ---- Meltano ----"]
    for variable in MELTANO:
        lines += _lines(variable)
    for plugin_type in PLUGIN_TYPES:
        plugins = project["plugins"].get(plugin_type, [])
        for plugin in plugins:
            if "inherit_from" in plugin:
                continue  # an heir reads its parent's variables too
            heirs = [p["name"] for p in plugins if p.get("inherit_from") == plugin["name"]]
            lines += ["", *_header(plugin_type, plugin, heirs)]
            for variable in plugin_variables(project, plugin_type, plugin):
                lines += _lines(variable)
    return "\n".join(lines) + "\n"


def main() -> int:
    """Rewrite .env.example, or with ``--check`` say whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if .env.example differs")
    args = parser.parse_args()
    wanted = render(yaml.safe_load(MELTANO_YML.read_text()))
    if args.check:
        if not ENV_EXAMPLE.exists() or ENV_EXAMPLE.read_text() != wanted:
            print(".env.example differs from meltano.yml; run scripts/env_example.py")
            return 1
        return 0
    ENV_EXAMPLE.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
