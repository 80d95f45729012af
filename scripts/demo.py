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
from sandbox.painchek import TABLES as PAINCHEK_TABLES

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"
WAREHOUSE = OUTPUT / "warehouse.duckdb"
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
CLIENT_ID, CLIENT_SECRET = "demo-client", "demo-client-secret"  # the sandboxes', not real
CHANGES = {"insert": 5, "update": 10, "delete": 3}
CREDENTIALS = ("--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET)


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
    with sandbox("painchek", "--patients", "2000", *CREDENTIALS) as url:
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
    with sandbox("humanapi", "--users", "200", *CREDENTIALS) as url:
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


def healthex(env: dict[str, str]) -> None:
    with sandbox(
        "healthex",
        "--projects",
        "proj-a,proj-b",
        "--patients",
        "10",
        "--delivery",
        "s3",
        "--api-key",
        CLIENT_ID,
        "--api-secret",
        CLIENT_SECRET,
    ) as url:
        print(f"\n== HealthEx sandbox at {url} (2 projects x 10 patients, S3 delivery)")
        info = control(url, "/_control/delivery")
        env = {
            **env,
            "TAP_HEALTHEX_API_URL": url,
            "TAP_HEALTHEX_API_KEY": CLIENT_ID,
            "TAP_HEALTHEX_API_SECRET": CLIENT_SECRET,
            "TAP_HEALTHEX_PROJECT_IDS": '["proj-a", "proj-b"]',
            "TAP_HEALTHEX_DELIVERY_TYPE": "s3",
            "TAP_HEALTHEX_REQUEST_UPDATES": "true",
            "TAP_HEALTHEX_S3_ENDPOINT_URL": info["s3_endpoint_url"],
            "TAP_HEALTHEX_S3_BUCKET": info["s3_bucket"],
            "TAP_HEALTHEX_S3_PREFIX": info["s3_prefix"],
            "TAP_HEALTHEX_AWS_REGION": info["s3_region"],
            "TAP_HEALTHEX_AWS_ACCESS_KEY_ID": info["s3_access_key_id"],
            "TAP_HEALTHEX_AWS_SECRET_ACCESS_KEY": info["s3_secret_access_key"],
        }
        print(
            "run 1: meltano run --full-refresh tap-healthex target-duckdb "
            "(reads the delivered bundles, asks HealthEx to refresh every patient) ..."
        )
        meltano_run(env, "tap-healthex", "--full-refresh", log="demo-healthex-1.log")
        ((files_1,),) = query("select count(*) from healthex.delivery_files")
        print("run 2: meltano run tap-healthex target-duckdb (the refreshed deliveries) ...")
        meltano_run(env, "tap-healthex", log="demo-healthex-2.log")
    ((files,),) = query("select count(*) from healthex.delivery_files")
    print(f"\ndelivered files read: {files_1} in run 1, {files - files_1} new in run 2")
    for message, count in query(
        "select message, count(*) from healthex.data_update_requests group by 1 order by 2 desc"
    ):
        print(f"  $updateData {message:<30}{count:>4} patients")
    tables = (
        "patient",
        "condition",
        "observation",
        "medication_request",
        "immunization",
        "fhir_other",
    )
    print(
        "resources: "
        + ", ".join(f"{t} {query(f'select count(*) from healthex.{t}')[0][0]}" for t in tables)
    )


def main() -> None:
    OUTPUT.mkdir(exist_ok=True)
    WAREHOUSE.unlink(missing_ok=True)
    env = {**os.environ, "MELTANO_ENVIRONMENT": "dev", "TARGET_DUCKDB_FILEPATH": str(WAREHOUSE)}
    painchek(env)
    humanapi(env)
    healthex(env)
    print(f"\nwarehouse: {WAREHOUSE.relative_to(ROOT)}; logs: output/demo-*.log")


if __name__ == "__main__":
    main()
