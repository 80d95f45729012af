"""`make demo`: sync each sandbox into DuckDB, change it, sync again, show what moved."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import typing as t
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"
WAREHOUSE = OUTPUT / "warehouse.duckdb"
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
CLIENT_ID, CLIENT_SECRET = "demo-client", "demo-client-secret"  # the sandboxes', not real
PAINCHEK_TABLES = (
    "patients",
    "assessments",
    "sites",
    "admissions",
    "comments",
    "users",
    "licenses",
)
CHANGES = {"insert": 5, "update": 10, "delete": 3}


def control(url: str, path: str, body: dict | None = None) -> t.Any:
    request = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@contextlib.contextmanager
def sandbox(vendor: str, *options: str) -> Iterator[str]:
    """Serve a fake vendor API in a child process; yield its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            vendor,
            "--port",
            "0",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            *options,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = (process.stdout.readline() if process.stdout else "").strip()
        if not url:
            sys.exit(f"the {vendor} sandbox did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def meltano_run(env: dict[str, str], tap: str, *args: str, log: str) -> None:
    done = subprocess.run(
        [str(MELTANO), "run", *args, tap, "target-duckdb"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    (OUTPUT / log).write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        sys.exit(f"meltano run {tap} failed (exit {done.returncode}); see output/{log}")


def query(sql: str) -> list[tuple]:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        return con.execute(sql).fetchall()


def painchek(env: dict[str, str]) -> None:
    with sandbox("painchek", "--patients", "2000") as url:
        print(f"\n== PainChek sandbox at {url} (2,000 patients)")
        env = {
            **env,
            "TAP_PAINCHEK_API_URL": url,
            "TAP_PAINCHEK_CLIENT_ID": CLIENT_ID,
            "TAP_PAINCHEK_CLIENT_SECRET": CLIENT_SECRET,
        }
        print("run 1: meltano run --full-refresh tap-painchek target-duckdb ...")
        meltano_run(env, "tap-painchek", "--full-refresh", log="demo-painchek-1.log")
        before = {
            t: dict(query(f"select uuid, update_stamp from painchek.{t}")) for t in PAINCHEK_TABLES
        }
        print(
            "changing the sandbox: "
            + ", ".join(f"{n} {op}s" for op, n in CHANGES.items())
            + " per table"
        )
        for table in PAINCHEK_TABLES:
            for op, count in CHANGES.items():
                control(url, "/_control/mutate", {"table": table, "op": op, "count": count})
        control(url, "/_control/stats/reset", {})
        print("run 2: meltano run tap-painchek target-duckdb (incremental) ...")
        meltano_run(env, "tap-painchek", log="demo-painchek-2.log")
        stats = control(url, "/_control/stats")
    print(f"\n{'table':<12}{'rows':>8}{'new':>6}{'changed':>9}{'deleted':>9}")
    for table in PAINCHEK_TABLES:
        after = dict(query(f"select uuid, update_stamp from painchek.{table}"))
        ((deleted,),) = query(f"select count(*) from painchek.{table} where is_deleted")
        new = len(after.keys() - before[table].keys())
        changed = sum(1 for u, s in after.items() if u in before[table] and s != before[table][u])
        print(f"{table:<12}{len(after):>8}{new:>6}{changed:>9}{deleted:>9}")
    print(f"run 2 picked up {stats['records_served']} rows in {stats['requests']} requests")


def humanapi(env: dict[str, str]) -> None:
    with sandbox("humanapi", "--users", "200") as url:
        print(f"\n== Human API sandbox at {url} (200 users)")
        env = {
            **env,
            "TAP_HUMANAPI_CLIENT_ID": CLIENT_ID,
            "TAP_HUMANAPI_CLIENT_SECRET": CLIENT_SECRET,
            "TAP_HUMANAPI_AUTH_URL": url,
            "TAP_HUMANAPI_ADMIN_URL": url,
            "TAP_HUMANAPI_API_URL": f"{url}/v1/human",
        }
        print("run 1: meltano run --full-refresh tap-humanapi target-duckdb ...")
        meltano_run(env, "tap-humanapi", "--full-refresh", log="demo-humanapi-1.log")
        served = control(url, "/_control/users?group=served")
        synced = served[::20]
        print(f"{len(synced)} users' sources sync new and updated records ...")
        for client_user_id in synced:
            control(
                url,
                "/_control/source_sync",
                {"client_user_id": client_user_id, "new": 3, "updated": 2},
            )
        control(url, "/_control/stats/reset", {})
        print("run 2: meltano run tap-humanapi target-duckdb (incremental) ...")
        meltano_run(env, "tap-humanapi", log="demo-humanapi-2.log")
        stats = control(url, "/_control/stats")
    tables = [
        t
        for (t,) in query(
            "select table_name from information_schema.tables "
            "where table_schema = 'humanapi' order by 1"
        )
    ]
    rows = sum(query(f"select count(*) from humanapi.{t}")[0][0] for t in tables)
    print(f"\n{len(tables)} tables, {rows} rows; user_sync_status of run 2:")
    for outcome, users in query(
        "select outcome, count(*) from humanapi.user_sync_status group by 1 order by 2 desc"
    ):
        print(f"  {outcome:<15}{users:>5} users")
    print(
        f"run 2 made {stats['token_requests']} token, {stats['sources_requests']} sources "
        f"and {stats['data_requests']} data requests"
    )


def main() -> None:
    OUTPUT.mkdir(exist_ok=True)
    WAREHOUSE.unlink(missing_ok=True)
    env = {**os.environ, "MELTANO_ENVIRONMENT": "dev", "TARGET_DUCKDB_FILEPATH": str(WAREHOUSE)}
    painchek(env)
    humanapi(env)
    print(f"\nwarehouse: {WAREHOUSE.relative_to(ROOT)}; logs: output/demo-*.log")


if __name__ == "__main__":
    main()
