"""meltano.yml declares every setting each tap has, secrets as sensitive.

Meltano passes a tap only the settings meltano.yml declares (and `meltano config`
lists only those), so a setting added to a tap but not here is unusable from Meltano.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from harness import ROOT

TAPS = ("tap-painchek", "tap-humanapi", "tap-healthex")
# Settings the SDK adds to every tap; meltano.yml declares those users need.
SDK_BUILTINS = {
    "stream_maps",
    "stream_map_config",
    "faker_config",
    "flattening_enabled",
    "flattening_max_depth",
    "flattening_max_key_length",
    "flattening_separator",
    "batch_config",
}


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
