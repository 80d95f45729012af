"""Every published package installs on its own and runs: wheel + sdist, no workspace.

Each tap's wheel, with the core's wheel from a local wheelhouse (the only other
package of this repository it needs), installs into a fresh virtual environment, and
its command answers ``--about`` and ``--discover``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tarfile
import time
import typing as t
import urllib.request
import zipfile
from pathlib import Path

import pytest
from harness import ROOT

UV = Path(sys.executable).parent / "uv"
CORE = "healthdata-tapkit"
# Package -> (its folder, settings enough to discover its streams without a request).
TAPS: dict[str, tuple[str, dict[str, t.Any]]] = {
    "tap-painchek": (
        "tap-painchek",
        {"api_url": "https://tenant.example.test", "client_id": "c", "client_secret": "s"},
    ),
    "tap-humanapi": ("tap-humanapi", {"client_id": "c", "client_secret": "s"}),
    "tap-healthex": ("tap-healthex", {"api_key": "k", "api_secret": "s", "project_ids": ["p"]}),
}
FOLDERS = {CORE: "tapkit", **{name: folder for name, (folder, _) in TAPS.items()}}


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """Wheels and sdists of the core and every tap, built as they are published."""
    out = tmp_path_factory.mktemp("wheelhouse")
    for folder in FOLDERS.values():
        subprocess.run(
            [str(UV), "build", "--quiet", "--out-dir", str(out), str(ROOT / folder)],
            check=True,
            capture_output=True,
        )
    return out


def _dist(wheelhouse: Path, package: str, ending: str) -> Path:
    (found,) = wheelhouse.glob(f"{package.replace('-', '_')}-*{ending}")
    return found


def _fresh_venv(tmp_path: Path, wheel: Path, *options: str) -> Path:
    """A new virtual environment with ``wheel`` (and what it needs) installed."""
    venv = tmp_path / "venv"
    subprocess.run(
        [str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
    )
    python = str(venv / "bin" / "python")
    subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--python", python, *options, str(wheel)],
        check=True,
        capture_output=True,
    )
    return venv


@pytest.mark.parametrize("package", list(FOLDERS))
def test_wheel_and_sdist_carry_readme_license_and_metadata(wheelhouse, package):
    with zipfile.ZipFile(_dist(wheelhouse, package, ".whl")) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Description-Content-Type: text/markdown" in metadata
    assert "License-Expression: Apache-2.0" in metadata
    assert any(name.endswith("licenses/LICENSE") for name in names)
    assert "Classifier: Topic :: Database" in metadata
    assert "Project-URL: Source" in metadata
    assert "Requires-Dist: singer-sdk[msgspec]<0.55,>=0.54.5" in metadata
    if package != CORE:
        assert "## Settings" in metadata  # the README is the long description
        assert f"Requires-Dist: {CORE}<0.2,>=0.1" in metadata
    with tarfile.open(_dist(wheelhouse, package, ".tar.gz")) as archive:
        members = {Path(m).name for m in archive.getnames()}
    assert {"README.md", "LICENSE", "pyproject.toml"} <= members


@pytest.mark.parametrize("tap", list(TAPS))
def test_a_tap_wheel_installs_into_a_fresh_venv_and_runs(wheelhouse, tmp_path, tap):
    # The core comes from the local wheelhouse, as from an index; nothing from the workspace.
    venv = _fresh_venv(tmp_path, _dist(wheelhouse, tap, ".whl"), "--find-links", str(wheelhouse))
    command = str(venv / "bin" / tap)
    about = subprocess.run(
        [command, "--about", "--format=json"], check=True, capture_output=True, text=True
    )
    assert json.loads(about.stdout)["name"] == tap
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TAPS[tap][1]))
    discovered = subprocess.run(
        [command, "--config", str(config), "--discover"],
        check=True,
        capture_output=True,
        text=True,
    )
    streams = json.loads(discovered.stdout)["streams"]
    # The vendor streams, built on the core, have its catch-all column.
    assert any("extra_fields" in stream["schema"]["properties"] for stream in streams)


def test_the_inbox_wheel_installs_into_a_fresh_venv_and_serves(tmp_path):
    """healthdata-inbox is its own package: its wheel alone runs the service."""
    out = tmp_path / "dist"
    subprocess.run(
        [str(UV), "build", "--quiet", "--wheel", "--out-dir", str(out), str(ROOT / "inbox")],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("healthdata_inbox-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(
            next(n for n in archive.namelist() if n.endswith("METADATA"))
        ).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Dist: uvicorn" in metadata
    venv = _fresh_venv(tmp_path, wheel)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"PATH": "/usr/bin:/bin", "INBOX_READ_TOKEN": "package-test-token"}
    command = [str(venv / "bin" / "healthdata-inbox"), "serve", "--port", str(port)]
    command += ["--database-url", f"sqlite:///{tmp_path / 'inbox.sqlite3'}"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "the inbox did not answer /healthz"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.communicate(timeout=10)
