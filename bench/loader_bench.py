"""loadkit's loaders against the stock ones, alone, on the same Singer stream.

tap-painchek's output over the PainChek sandbox is written to a file once; then each
loader (target-postgres, target-duckdb), configured as meltano.yml configures it,
loads that file into a fresh destination with the stock executable and with
loadkit's, sides alternated each round. Prints the best seconds, records/s, peak RSS
and the ratio loadkit / stock (< 1: loadkit is faster), measured in one run, and the
patients rows each side landed. Not a test: tests/test_loadkit.py proves the tables
are the same.

    make bench                                          # 100,070 records, best of 3
    .venv/bin/python bench/loader_bench.py --patients 20000 --rounds 1
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

import duckdb
import psycopg
from memory_bench import LOADERS, loader_command, loader_config
from painchek_bench import LAUNCHER, PAGE_SIZE, SMALL, TAP
from peer_bench import PG_DSN
from sandbox.painchek import PainChekSandbox

STOCK = {loader: loader_command(loader, loader) for loader in LOADERS}


def singer_file(patients: int, work: Path) -> tuple[Path, int]:
    """tap-painchek's whole output over a fresh sandbox, and its RECORD count."""
    sandbox = PainChekSandbox(seed=7, patients=patients, sizes=SMALL)
    sandbox.start()
    try:
        config = work / "tap.json"
        config.write_text(json.dumps(sandbox.tap_config(page_size=PAGE_SIZE)))
        path = work / "painchek.singer.jsonl"
        with path.open("wb") as out:
            subprocess.run(
                [str(TAP), "--config", str(config)],
                stdout=out,
                stderr=subprocess.DEVNULL,
                check=True,
            )
    finally:
        sandbox.stop()
    with path.open("rb") as lines:
        records = sum(line.startswith(b'{"type":"RECORD"') for line in lines)
    return path, records


def load(loader: str, command: Path, stream: Path, work: Path) -> tuple[float, int, int]:
    """Load `stream` with `command`; seconds, peak RSS (KiB) and patients rows landed."""
    schema = f"loaderbench_{uuid.uuid4().hex[:8]}"
    config = work / f"{schema}.json"
    config.write_text(json.dumps(loader_config(loader, work, schema)))
    rss = work / f"{schema}.rss"
    start = time.perf_counter()
    with stream.open("rb") as lines:
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(rss), str(command), "--config", str(config)],
            stdin=lines,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{command.name} exited {done.returncode}:\n{done.stderr.decode()[-3000:]}")
    if loader == "target-postgres":
        with psycopg.connect(PG_DSN, autocommit=True) as con:
            [(rows,)] = con.execute(f'select count(*) from "{schema}".patients').fetchall()
            con.execute(f'drop schema "{schema}" cascade')
    else:
        path = work / f"{schema}.duckdb"
        with duckdb.connect(str(path), read_only=True) as con:
            [(rows,)] = con.execute("select count(*) from painchek.patients").fetchall()
        path.unlink()
    return seconds, int(rss.read_text()), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    missing = [str(path) for path in [*LOADERS.values(), *STOCK.values()] if not path.exists()]
    if missing:
        sys.exit(f"not installed: {missing}; run make bootstrap")

    work = Path(tempfile.mkdtemp(prefix="loader-bench-"))
    stream, records = singer_file(options.patients, work)
    best: dict[tuple[str, str], tuple[float, int, int]] = {}
    for round_ in range(options.rounds):
        for loader in LOADERS:
            sides = [("stock", STOCK[loader]), ("loadkit", LOADERS[loader])]
            for side, command in sides[:: 1 if round_ % 2 == 0 else -1]:
                run = load(loader, command, stream, work)
                if (loader, side) not in best or run[0] < best[loader, side][0]:
                    best[loader, side] = run

    print(
        f"loaders alone on tap-painchek's output ({records:,} records), best of "
        f"{options.rounds}, sides alternated; ratio = loadkit / stock (< 1: loadkit is faster)"
    )
    print(f"{'loader':<38}{'best s':>8}{'rec/s':>10}{'ratio':>7}{'peak RSS':>10}{'patients':>10}")
    for loader in LOADERS:
        stock_seconds = best[loader, "stock"][0]
        for side, command in (("stock", STOCK[loader]), ("loadkit", LOADERS[loader])):
            seconds, rss, rows = best[loader, side]
            ratio = f"{seconds / stock_seconds:>7.2f}" if side == "loadkit" else f"{'-':>7}"
            print(
                f"{command.name:<38}{seconds:>8.2f}{records / seconds:>10,.0f}{ratio}"
                f"{rss / 1024:>8.0f}Mi{rows:>10,}"
            )


if __name__ == "__main__":
    main()
