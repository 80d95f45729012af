"""Peak memory of tap-painchek and its loaders when the data grows tenfold.

The goal: the tap's and each loader's peak RSS stay flat (within 10%) from N to 10 N
patients, because records stream through in pages and batches and nothing holds a
whole table. Each side is a real process (`tap-painchek | target-duckdb` and
`tap-painchek | target-postgres`, the executables Meltano installed and runs,
configured as meltano.yml configures them), its peak RSS read by a small launcher. Not a test: it
prints figures, measured in one run.

    make bench                                       # 100,000 and 1,000,000 patients
    .venv/bin/python bench/memory_bench.py --patients 20000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from painchek_bench import LAUNCHER, PAGE_SIZE, SMALL, TAP  # the same tap, sizes and launcher
from sandbox.painchek import PainChekSandbox

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "meltano.yml").read_text())


def loader_plugin(loader: str) -> dict:
    """The loader's definition in meltano.yml."""
    [plugin] = [p for p in PROJECT["plugins"]["loaders"] if p["name"] == loader]
    return plugin


def loader_command(loader: str, executable: str | None = None) -> Path:
    """The executable Meltano runs for `loader` (or another one of its environment)."""
    name = executable or loader_plugin(loader).get("executable", loader)
    return ROOT / ".meltano" / "loaders" / loader / "venv" / "bin" / name


LOADERS = {loader: loader_command(loader) for loader in ("target-duckdb", "target-postgres")}
# Where each run loads to (the rest of each loader's config is meltano.yml's).
DESTINATION = {
    "target-duckdb": lambda work, schema: {
        "filepath": str(work / f"{schema}.duckdb"),
        "default_target_schema": "painchek",
    },
    "target-postgres": lambda work, schema: {
        "sqlalchemy_url": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "default_target_schema": schema,
    },
}


def loader_config(loader: str, work: Path, schema: str) -> dict:
    """The loader's config from meltano.yml, loading into a scratch destination."""
    return {**loader_plugin(loader).get("config", {}), **DESTINATION[loader](work, schema)}


def pipeline(tap_config: Path, loader: str, work: Path) -> tuple[float, int, int]:
    """Run tap | loader; return seconds and the peak RSS (KiB) of each."""
    schema = f"membench_{uuid.uuid4().hex[:8]}"
    config = work / f"{loader}.json"
    config.write_text(json.dumps(loader_config(loader, work, schema)))
    tap_rss, loader_rss = work / "tap.rss", work / "loader.rss"
    start = time.perf_counter()
    tap = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(tap_rss), str(TAP), "--config", str(tap_config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    command = [str(LOADERS[loader]), "--config", str(config)]
    target = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(loader_rss), *command],
        stdin=tap.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert tap.stdout is not None
    tap.stdout.close()  # the loader holds the pipe now
    if target.wait() != 0 or tap.wait() != 0:
        sys.exit(f"tap-painchek | {loader} failed ({tap.returncode}, {target.returncode})")
    seconds = time.perf_counter() - start
    if loader == "target-postgres":
        drop = f"drop schema if exists {schema} cascade"
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-q", "-c", drop],
            check=False,
            capture_output=True,
        )
    return seconds, int(tap_rss.read_text()), int(loader_rss.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000, help="the smaller size")
    parser.add_argument("--factor", type=int, default=10)
    options = parser.parse_args()
    missing = [name for name, path in LOADERS.items() if not path.exists()]
    if missing:
        sys.exit(f"not installed: {missing}; run make bootstrap")

    peaks: dict[tuple[str, int], tuple[float, int, int]] = {}
    for patients in (options.patients, options.patients * options.factor):
        sandbox = PainChekSandbox(seed=7, patients=patients, sizes=SMALL)
        sandbox.start()
        work = Path(tempfile.mkdtemp(prefix="memory-bench-"))
        tap_config = work / "tap.json"
        tap_config.write_text(json.dumps(sandbox.tap_config(page_size=PAGE_SIZE)))
        try:
            for loader in LOADERS:
                peaks[loader, patients] = pipeline(tap_config, loader, work)
        finally:
            sandbox.stop()

    small, large = options.patients, options.patients * options.factor
    print(f"peak RSS, {small:,} -> {large:,} patients (goal: flat within 10%)")
    print(f"{'process':<34}{'small':>10}{'large':>10}{'ratio':>8}{'seconds':>18}")
    for loader in LOADERS:
        (s_sec, s_tap, s_loader), (l_sec, l_tap, l_loader) = (
            peaks[loader, small],
            peaks[loader, large],
        )
        rows = ((f"tap-painchek (into {loader})", s_tap, l_tap), (loader, s_loader, l_loader))
        for name, before, after in rows:
            print(
                f"{name:<34}{before / 1024:>8.0f}Mi{after / 1024:>8.0f}Mi{after / before:>8.2f}"
                f"{s_sec:>9.1f}{l_sec:>9.1f}"
            )


if __name__ == "__main__":
    main()
