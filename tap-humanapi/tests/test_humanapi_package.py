"""The tap is publishable on its own: wheel + sdist that install and run anywhere."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

TAP_DIR = Path(__file__).resolve().parent.parent
TAPKIT_DIR = TAP_DIR.parent / "tapkit"  # the shared core, a dependency published beside it
UV = Path(sys.executable).parent / "uv"


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    for project in (TAP_DIR, TAPKIT_DIR):
        subprocess.run(
            [str(UV), "build", "--quiet", "--out-dir", str(out), str(project)],
            check=True,
            capture_output=True,
        )
    return out


def test_wheel_and_sdist_carry_readme_license_and_metadata(dist):
    (wheel,) = dist.glob("tap_humanapi-*.whl")
    (sdist,) = dist.glob("tap_humanapi-*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Description-Content-Type: text/markdown" in metadata
    assert "## Settings" in metadata  # the README is the long description
    assert "License-Expression: Apache-2.0" in metadata
    assert any(name.endswith("licenses/LICENSE") for name in names)
    assert "Classifier: Topic :: Database" in metadata
    assert "Project-URL: Source" in metadata
    assert "Requires-Dist: singer-sdk[msgspec]<0.55,>=0.54.5" in metadata
    with tarfile.open(sdist) as archive:
        members = {Path(m).name for m in archive.getnames()}
    assert {"README.md", "LICENSE", "pyproject.toml"} <= members


def test_the_wheel_installs_into_a_fresh_venv_and_runs(dist, tmp_path):
    (wheel,) = dist.glob("tap_humanapi-*.whl")
    (core,) = dist.glob("healthdata_tapkit-*.whl")
    venv = tmp_path / "venv"
    subprocess.run(
        [str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            str(wheel),
            str(core),
        ],
        check=True,
        capture_output=True,
    )
    about = subprocess.run(
        [str(venv / "bin" / "tap-humanapi"), "--about", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert '"name": "tap-humanapi"' in about.stdout
    assert "client_secret" in about.stdout
