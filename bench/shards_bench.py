"""Human API shards through Meltano: both at once against running them one after another.

The project's two shard plugins (`tap-humanapi--shard0`, `--shard1`) load one
sandbox's users into PostgreSQL, with Meltano's system database on PostgreSQL too
(as in production). Baseline: the two `meltano run`s one after the other. Then: the
two at the same time, each into a fresh system database and schema. Prints wall
times and their ratio, and checks each way landed every user once. Not a test.

    .venv/bin/python bench/shards_bench.py --users 200 --latency-ms 50
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from sandbox.humanapi import HumanAPISandbox

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
PG = "host=127.0.0.1 port=5432 user=postgres dbname=test"
SHARDS = ("tap-humanapi--shard0", "tap-humanapi--shard1")


def meltano(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(MELTANO), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(run: subprocess.Popen) -> None:
    _, err = run.communicate()
    if run.returncode != 0:
        sys.exit(f"meltano exited {run.returncode}:\n" + "\n".join(err.splitlines()[-20:]))


def one_way(sandbox: HumanAPISandbox, *, together: bool) -> float:
    """Wall time of both shards (one after the other, or together), setup excluded."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as con:
        con.execute(f'create database "{name}"')
    config = sandbox.tap_config()
    env = {
        **os.environ,
        "MELTANO_ENVIRONMENT": "dev",
        "MELTANO_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TAP_HUMANAPI_CLIENT_ID": config["client_id"],
        "TAP_HUMANAPI_CLIENT_SECRET": config["client_secret"],
        "TAP_HUMANAPI_AUTH_URL": config["auth_url"],
        "TAP_HUMANAPI_ADMIN_URL": config["admin_url"],
        "TAP_HUMANAPI_API_URL": config["api_url"],
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": name,
    }
    try:
        finish(meltano("upgrade", "database", env=env))  # the system tables, once
        # One shard alone creates the warehouse tables (two loaders creating one table at
        # once collide, as the README says); then its state is cleared, so the timed runs
        # below both read every user of their shard.
        finish(meltano("run", SHARDS[0], "target-postgres", env=env))
        finish(meltano("state", "clear", "--force", f"dev:{SHARDS[0]}-to-target-postgres", env=env))
        start = time.perf_counter()
        if together:
            for run in [meltano("run", shard, "target-postgres", env=env) for shard in SHARDS]:
                finish(run)
        else:
            for shard in SHARDS:
                finish(meltano("run", shard, "target-postgres", env=env))
        took = time.perf_counter() - start
        with psycopg.connect(PG, row_factory=dict_row) as con:
            rows = con.execute(f'select * from "{name}".users').fetchall()
        landed = [row.get("humanId") or row.get("humanid") for row in rows]
        if sorted(landed) != sorted(u["humanId"] for u in sandbox.users()):
            sys.exit("the shards did not land every user once")
        return took
    finally:
        with psycopg.connect(PG, autocommit=True) as con:
            con.execute(f'drop schema if exists "{name}" cascade')
            con.execute(f'drop database if exists "{name}" with (force)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    options = parser.parse_args()
    sandbox = HumanAPISandbox(seed=7, users=options.users, latency_ms=options.latency_ms)
    sandbox.start()
    try:
        sequential = one_way(sandbox, together=False)
        together = one_way(sandbox, together=True)
    finally:
        sandbox.stop()
    print(
        f"humanapi shards, {options.users} users, {options.latency_ms} ms latency, "
        f"PostgreSQL system database and warehouse"
    )
    print(f"  one after the other (baseline): {sequential:7.1f} s")
    print(f"  both at once:                   {together:7.1f} s")
    print(f"  ratio (baseline / at once):     {sequential / together:7.2f}x")


if __name__ == "__main__":
    main()
