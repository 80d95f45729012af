"""`make demo`: sync the PainChek sandbox into DuckDB, change it, sync again, show what moved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"
WAREHOUSE = OUTPUT / "warehouse.duckdb"
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
CLIENT_ID, CLIENT_SECRET = "demo-client", "demo-client-secret"  # the sandbox's, not real
TABLES = ("patients", "assessments", "sites", "admissions", "comments", "users", "licenses")
CHANGES = {"insert": 5, "update": 10, "delete": 3}


def control(url: str, path: str, body: dict | None = None) -> object:
    request = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def meltano_run(env: dict[str, str], *args: str, log: Path) -> None:
    done = subprocess.run(
        [str(MELTANO), "run", *args, "tap-painchek", "target-duckdb"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        sys.exit(f"meltano run failed (exit {done.returncode}); see {log.relative_to(ROOT)}")


def warehouse_stamps() -> dict[str, dict[str, int]]:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        return {
            table: dict(con.execute(f"select uuid, update_stamp from painchek.{table}").fetchall())
            for table in TABLES
        }


def main() -> None:
    OUTPUT.mkdir(exist_ok=True)
    WAREHOUSE.unlink(missing_ok=True)
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "painchek",
            "--port",
            "0",
            "--patients",
            "2000",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = (sandbox.stdout.readline() if sandbox.stdout else "").strip()
        if not url:
            sys.exit("the PainChek sandbox did not start")
        print(f"PainChek sandbox at {url} (2,000 patients)")
        env = {
            **os.environ,
            "MELTANO_ENVIRONMENT": "dev",
            "TAP_PAINCHEK_API_URL": url,
            "TAP_PAINCHEK_CLIENT_ID": CLIENT_ID,
            "TAP_PAINCHEK_CLIENT_SECRET": CLIENT_SECRET,
            "TARGET_DUCKDB_FILEPATH": str(WAREHOUSE),
        }

        print("run 1: meltano run --full-refresh tap-painchek target-duckdb ...")
        meltano_run(env, "--full-refresh", log=OUTPUT / "demo-run-1.log")
        before = warehouse_stamps()

        print(
            "changing the sandbox: "
            + ", ".join(f"{n} {op}s" for op, n in CHANGES.items())
            + " per table"
        )
        for table in TABLES:
            for op, count in CHANGES.items():
                control(url, "/_control/mutate", {"table": table, "op": op, "count": count})
        control(url, "/_control/stats/reset", {})

        print("run 2: meltano run tap-painchek target-duckdb (incremental) ...")
        meltano_run(env, log=OUTPUT / "demo-run-2.log")
        after = warehouse_stamps()
        stats = control(url, "/_control/stats")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)

    print(f"\n{'table':<12}{'rows':>8}{'new':>6}{'changed':>9}{'deleted':>9}")
    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        for table in TABLES:
            rows, deleted = con.execute(
                f"select count(*), count(*) filter (where is_deleted) from painchek.{table}"
            ).fetchone()
            new = len(after[table].keys() - before[table].keys())
            changed = sum(
                1 for u, s in after[table].items() if u in before[table] and s != before[table][u]
            )
            print(f"{table:<12}{rows:>8}{new:>6}{changed:>9}{deleted:>9}")
    served = stats["records_served"]  # type: ignore[index]
    requests = stats["requests"]  # type: ignore[index]
    print(
        f"\nrun 2 picked up {served} rows in {requests} requests "
        f"(of {sum(len(v) for v in after.values())} in the warehouse)"
    )
    print(f"warehouse: {WAREHOUSE.relative_to(ROOT)}; logs: output/demo-run-*.log")


if __name__ == "__main__":
    main()
