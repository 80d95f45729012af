"""Write each tap's Meltano Hub definition under ``hub/`` from its ``--about``.

Meltano Hub (github.com/meltano/hub) keeps one YAML file per extractor variant at
``_data/meltano/extractors/<name>/<variant>.yml``; ``hub/`` mirrors that layout, so a
file is submitted to Hub by copying it to the same path there. Settings and
capabilities come from ``<tap> --about --format=json`` through the functions that
write meltano.yml (scripts/meltano_settings.py), so Hub, meltano.yml and the taps
agree; the settings groups Meltano validates, namespace and executable come from the
tap's plugin in meltano.yml; package name and URLs from the tap's pyproject.toml.

    .venv/bin/python scripts/hub_definitions.py           # rewrite hub/
    .venv/bin/python scripts/hub_definitions.py --check   # exit 1 if hub/ is out of date
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import yaml
from meltano_settings import MELTANO_YML, ROOT, TAPS, about, setting

HUB = ROOT / "hub"
# The name Hub lists these taps under: the GitHub organisation publishing them, as Hub
# names variants after their maintainer (meltanolabs, singer-io, ...). One variant
# for the three taps, since they are released together from one repository.
VARIANT = "healthdata-taps"
KEYWORDS = ["api", "healthcare", "meltano_sdk"]
# What --about does not say: the vendor's name as users know it, and where its API is
# documented (the sites the vendor notes cite).
VENDORS = {
    "tap-painchek": ("PainChek", "https://support.painchek.com"),
    "tap-humanapi": ("Human API", "https://reference.humanapi.co"),
    "tap-healthex": ("HealthEx", "https://docs.healthex.io"),
}
# PyPI's development-status classifier -> Hub's maintenance_status.
STATUS = {
    "Development Status :: 3 - Alpha": "development",
    "Development Status :: 4 - Beta": "beta",
    "Development Status :: 5 - Production/Stable": "active",
}


def path(tap: str) -> Path:
    """Where the tap's definition lives, as in the Hub repository."""
    return HUB / "extractors" / tap / f"{VARIANT}.yml"


def definition(tap: str, info: dict, plugin: dict, project: dict) -> dict:
    """The Hub definition of ``tap`` from its ``--about``, meltano.yml plugin and pyproject."""
    label, domain_url = VENDORS[tap]
    [status] = [STATUS[c] for c in project["classifiers"] if c in STATUS]
    [executable] = [name for name in project["scripts"] if name == plugin["executable"]]
    return {
        "name": tap,
        "namespace": plugin["namespace"],
        "variant": VARIANT,
        "label": label,
        "description": info["description"],
        "docs": project["urls"]["Source"],
        "repo": project["urls"]["Homepage"],
        "domain_url": domain_url,
        "pip_url": project["name"],
        "executable": executable,
        "maintenance_status": status,
        "keywords": KEYWORDS,
        "capabilities": sorted(info["capabilities"]),
        "settings_group_validation": plugin["settings_group_validation"],
        "settings": [setting(name, spec) for name, spec in info["settings"]["properties"].items()],
    }


def render(tap: str, info: dict) -> str:
    """The text of the tap's Hub file (keys sorted, as Hub's own files are)."""
    extractors = yaml.safe_load(MELTANO_YML.read_text())["plugins"]["extractors"]
    [plugin] = [p for p in extractors if p["name"] == tap]
    project = tomllib.loads((ROOT / tap / "pyproject.toml").read_text())["project"]
    return yaml.safe_dump(
        definition(tap, info, plugin, project), sort_keys=True, allow_unicode=True, width=88
    )


def main() -> int:
    """Rewrite hub/, or with ``--check`` say whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a hub/ file differs")
    args = parser.parse_args()
    stale = []
    for tap in TAPS:
        wanted, target = render(tap, about(tap)), path(tap)
        if args.check:
            if not target.exists() or target.read_text() != wanted:
                stale.append(str(target.relative_to(ROOT)))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wanted)
    if stale:
        print(f"{', '.join(stale)}: differ from --about; run scripts/hub_definitions.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
