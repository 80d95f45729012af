"""Write each tap's settings and capabilities in meltano.yml from its ``--about``.

Meltano passes a tap only the settings meltano.yml declares, with the kinds and
defaults declared there; the tap's own config schema is the one source of truth. This
script rewrites, for every tap plugin, its ``capabilities:`` line and its ``settings:``
block (name, kind, label, description, default, options, sensitive) from
``<tap> --about --format=json``, leaving the rest of the file (comments, config,
environments, jobs) as it is.

    .venv/bin/python scripts/meltano_settings.py           # rewrite meltano.yml
    .venv/bin/python scripts/meltano_settings.py --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MELTANO_YML = ROOT / "meltano.yml"
TAPS = ("tap-painchek", "tap-humanapi", "tap-healthex")
# JSON Schema type -> Meltano setting kind (a date-time string is date_iso8601). A number
# is declared `integer`: Meltano 4.4.1 turns an environment value of kind `decimal` into
# a Decimal and then cannot write the plugin's config (not JSON serializable), so any
# TAP_X_REQUEST_TIMEOUT would fail the run. Whole numbers from the environment work;
# a fraction (request_timeout: 0.5) goes in meltano.yml, where YAML keeps it a number.
KINDS = {
    "string": "string",
    "integer": "integer",
    "number": "integer",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}
PLUGIN_INDENT = " " * 6


def about(tap: str) -> dict:
    """The tap's ``--about`` as JSON, from the workspace's installed command."""
    command = [str(Path(sys.executable).parent / tap), "--about", "--format", "json"]
    return json.loads(subprocess.run(command, capture_output=True, check=True).stdout)


def _kind(spec: dict) -> str:
    if "enum" in spec:
        return "options"
    types = spec.get("type", "string")
    types = [types] if isinstance(types, str) else types
    kind = next((t for t in types if t != "null"), "string")
    if kind == "string" and spec.get("format") == "date-time":
        return "date_iso8601"
    return KINDS[kind]


def setting(name: str, spec: dict) -> dict:
    """One setting of a tap as Meltano declares it, from its ``--about`` JSON Schema.

    Keys in order: name, kind, label, then description, value (the default), options
    and sensitive where they apply.
    """
    fields: dict = {"name": name, "kind": _kind(spec), "label": spec.get("title") or name}
    if spec.get("description"):
        fields["description"] = spec["description"]
    if "default" in spec and spec["default"] is not None:
        fields["value"] = spec["default"]
    if "enum" in spec:
        fields["options"] = [{"label": value, "value": value} for value in spec["enum"]]
    if spec.get("secret"):
        fields["sensitive"] = True
    return fields


def _setting_lines(name: str, spec: dict) -> list[str]:
    fields = setting(name, spec)
    lines = [f"- name: {name}", f"  kind: {fields['kind']}"]
    lines.append(f"  label: {json.dumps(fields['label'])}")
    lines += [
        f"  {key}: {json.dumps(fields[key])}" for key in ("description", "value") if key in fields
    ]
    if "options" in fields:
        lines.append("  options:")
        lines += [
            f"    - {{label: {json.dumps(o['label'])}, value: {json.dumps(o['value'])}}}"
            for o in fields["options"]
        ]
    if fields.get("sensitive"):
        lines.append("  sensitive: true")
    return lines


def plugin_lines(info: dict) -> tuple[str, list[str]]:
    """The capabilities line and the settings block of one tap, indented for meltano.yml."""
    capabilities = f"{PLUGIN_INDENT}capabilities: [{', '.join(info['capabilities'])}]"
    block = [f"{PLUGIN_INDENT}settings:"]
    for name, spec in info["settings"]["properties"].items():
        block += [f"{PLUGIN_INDENT}  {line}" for line in _setting_lines(name, spec)]
    return capabilities, block


def render(text: str, tap: str, info: dict) -> str:
    """``text`` (meltano.yml) with the tap's capabilities and settings from ``info``."""
    lines = text.splitlines()
    start = lines.index(f"    - name: {tap}")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("    - ")), len(lines)
    )
    capabilities, block = plugin_lines(info)
    plugin = lines[start:end]
    at = next(i for i, line in enumerate(plugin) if line.startswith(f"{PLUGIN_INDENT}settings:"))
    after = next(
        (i for i in range(at + 1, len(plugin)) if not plugin[i].startswith(PLUGIN_INDENT + " ")),
        len(plugin),
    )
    plugin = [*plugin[:at], *block, *plugin[after:]]
    plugin = [
        capabilities if line.startswith(f"{PLUGIN_INDENT}capabilities:") else line
        for line in plugin
    ]
    return "\n".join([*lines[:start], *plugin, *lines[end:]]) + "\n"


def main() -> int:
    """Rewrite meltano.yml, or with ``--check`` say whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if meltano.yml differs")
    args = parser.parse_args()
    current = MELTANO_YML.read_text()
    wanted = current
    for tap in TAPS:
        wanted = render(wanted, tap, about(tap))
    if args.check:
        if wanted != current:
            print("meltano.yml: tap settings differ from --about; run scripts/meltano_settings.py")
            return 1
        return 0
    MELTANO_YML.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
