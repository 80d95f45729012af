"""`make demo`: sync each sandbox into DuckDB, change it, sync again, show what moved.

Then the continuous loop: the PainChek and Human API sandboxes post signed notifications
to the notification inbox, and the `*--continuous` plugins fetch only what it names.
Last, the dbt models (transform/) and one person's timeline across the three vendors.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import typing as t
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
from sandbox.painchek import TABLES as PAINCHEK_TABLES

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"
WAREHOUSE = OUTPUT / "warehouse.duckdb"
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
INBOX = ROOT / ".venv" / "bin" / "healthdata-inbox"
INBOX_STORE = OUTPUT / "demo-inbox.sqlite3"
INBOX_PORT = 8768  # the dev environment's inbox_url in meltano.yml
# The sandboxes' credentials, new each run. Human API signs notifications with its
# client secret, so the inbox is given this one too.
CLIENT_ID, CLIENT_SECRET = "demo-client", secrets.token_hex(16)
CHANGES = {"insert": 5, "update": 10, "delete": 3}
CREDENTIALS = ("--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET)
# The tap's last log line, e.g. `run summary: status=succeeded records={...} requests=2
# retries=0 ... notifications={"events": 3, "retried": 0, "sweep": false} seconds=0.2`.
SUMMARY = re.compile(r"run summary: status=succeeded records=(\{.*?\}) requests=\d+ ")
NOTIFIED = re.compile(r" notifications=(\{.*?\}) ")


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
def child(command: list[str], **popen: t.Any) -> Iterator[subprocess.Popen]:
    """Run a child process; stop it on leaving, also on failure."""
    process = subprocess.Popen(command, cwd=ROOT, text=True, **popen)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def sandbox(vendor: str, *options: str) -> Iterator[str]:
    """Serve a fake vendor API in a child process; yield its URL."""
    command = [sys.executable, "-m", "sandbox", vendor, "--port", "0", *options]
    with child(command, stdout=subprocess.PIPE) as process:
        url = (process.stdout.readline() if process.stdout else "").strip()
        if not url:
            sys.exit(f"the {vendor} sandbox did not start")
        yield url


def free_port(preferred: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def inbox(secrets_env: dict[str, str]) -> Iterator[str]:
    """Serve the notification inbox (a fresh SQLite store) in a child process; yield its URL."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{INBOX_STORE}{suffix}").unlink(missing_ok=True)
    port = free_port(INBOX_PORT)
    command = [str(INBOX), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--database-url", f"sqlite:///{INBOX_STORE}"]
    with (
        (OUTPUT / "demo-inbox.log").open("w") as log,
        child(command, env={**os.environ, **secrets_env}, stdout=log, stderr=log) as process,
    ):
        url = f"http://127.0.0.1:{port}"
        if not healthy(url, process):
            sys.exit("the inbox did not start; see output/demo-inbox.log")
        yield url


def healthy(url: str, process: subprocess.Popen) -> bool:
    """Whether the inbox answers /healthz with 200 within 30 s."""
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz", timeout=5):
            return True  # urlopen raises on any answer but 2xx
        time.sleep(0.2)
    return False


def meltano_run(env: dict[str, str], tap: str, *args: str, log: str) -> str:
    """Run the tap into DuckDB; its log, kept in output/."""
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
    return done.stdout + done.stderr


def query(sql: str) -> list[tuple]:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as con:
        return con.execute(sql).fetchall()


def schema_rows(schema: str) -> tuple[int, int]:
    """How many tables the schema has, and how many rows in all."""
    tables = query(
        f"select table_name from information_schema.tables where table_schema = '{schema}'"
    )
    return len(tables), sum(query(f"select count(*) from {schema}.{t}")[0][0] for (t,) in tables)


def painchek_env(url: str) -> dict[str, str]:
    return {
        "TAP_PAINCHEK_API_URL": url,
        "TAP_PAINCHEK_CLIENT_ID": CLIENT_ID,
        "TAP_PAINCHEK_CLIENT_SECRET": CLIENT_SECRET,
    }


def humanapi_env(url: str) -> dict[str, str]:
    return {
        "TAP_HUMANAPI_CLIENT_ID": CLIENT_ID,
        "TAP_HUMANAPI_CLIENT_SECRET": CLIENT_SECRET,
        "TAP_HUMANAPI_AUTH_URL": url,
        "TAP_HUMANAPI_ADMIN_URL": url,
        "TAP_HUMANAPI_API_URL": f"{url}/v1/human",
    }


def painchek(env: dict[str, str], url: str) -> None:
    print(f"\n== PainChek sandbox at {url} (2,000 patients)")
    env = {**env, **painchek_env(url)}
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


def humanapi(env: dict[str, str], url: str) -> None:
    print(f"\n== Human API sandbox at {url} (200 users)")
    env = {**env, **humanapi_env(url)}
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
    tables, rows = schema_rows("humanapi")
    print(f"\n{tables} tables, {rows} rows; user_sync_status of run 2:")
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


def new_assessments(url: str) -> str:
    count = 3
    control(url, "/_control/mutate", {"table": "assessments", "op": "insert", "count": count})
    return f"{count} new assessments"


def source_syncs(url: str) -> str:
    users = control(url, "/_control/users?group=served")[1::20][:3]
    for client_user_id in users:
        control(
            url, "/_control/source_sync", {"client_user_id": client_user_id, "new": 2, "updated": 1}
        )
    return f"{len(users)} users' sources sync"


def summary(log: str) -> tuple[int, int]:
    """Rows the run wrote and the inbox events it read, from the tap's run summary line."""
    found, notified = SUMMARY.search(log), NOTIFIED.search(log)
    if found is None or notified is None:
        sys.exit("a continuous run logged no run summary")
    return sum(json.loads(found[1]).values()), json.loads(notified[1])["events"]


def delivered(url: str) -> int:
    """Notifications the sandbox has delivered (the inbox answered 2xx) since it started."""
    return control(url, "/_control/notifications")["counts"]["delivered"]


def continuous_runs(env: dict[str, str], name: str, url: str, change: Callable[[str], str]) -> None:
    """A sweep, a quiet run, then a change, its notifications and the run they trigger."""
    tap = f"tap-{name}--continuous"
    print(f"\nmeltano run {tap} target-duckdb")

    def run(number: int, *args: str) -> tuple[int, int, int]:
        """Vendor requests (counted by the sandbox), rows written and inbox events read."""
        before = control(url, "/_control/stats")["requests"]
        rows, events = summary(
            meltano_run(env, tap, *args, log=f"demo-{name}-continuous-{number}.log")
        )
        return control(url, "/_control/stats")["requests"] - before, rows, events

    requests, rows, _ = run(1, "--full-refresh")
    print(f"  {'run 1 (first run: a sweep)':<28}{requests:>5} vendor requests, {rows} rows")
    requests, _, events = run(2)
    print(f"  {'run 2 (nothing changed)':<28}{requests:>5} vendor requests, {events} notifications")
    rows_before, sent = schema_rows(name)[1], delivered(url)
    changed = time.monotonic()
    what = change(url)
    if not control(url, "/_control/notifications/wait_idle", {"timeout": 30})["idle"]:
        sys.exit(f"the {name} sandbox still had notifications to send after 30 s")
    print(f"  change: {what} -> {delivered(url) - sent} notifications received by the inbox")
    requests, rows, events = run(3)
    freshness = time.monotonic() - changed
    new = schema_rows(name)[1] - rows_before
    print(
        f"  {'run 3 (notified)':<28}{requests:>5} vendor requests, {rows} rows landed "
        f"({new} new), {events} inbox events read"
    )
    print(f"  freshness: {freshness:.1f} s from the change to the end of run 3")


def continuous(env: dict[str, str], painchek_url: str, humanapi_url: str) -> None:
    webhook_secret, read_token = secrets.token_hex(32), secrets.token_hex(32)
    inbox_secrets = {
        "INBOX_PAINCHEK_WEBHOOK_SECRET": webhook_secret,
        "INBOX_HUMANAPI_CLIENT_SECRET": CLIENT_SECRET,
        "INBOX_READ_TOKEN": read_token,
    }
    with inbox(inbox_secrets) as url:
        print(f"\n== Notification inbox at {url} (store: output/{INBOX_STORE.name})")
        # PainChek signs with the subscription's secret, Human API with the client secret.
        control(
            painchek_url,
            "/_control/notify",
            {"url": f"{url}/v1/painchek", "secret": webhook_secret},
        )
        control(humanapi_url, "/_control/notify", {"url": f"{url}/v1/humanapi"})
        print("the PainChek and Human API sandboxes now post a signed notification per change;")
        print("continuous runs read the inbox and fetch only what it names")
        env = {
            **env,
            **painchek_env(painchek_url),
            **humanapi_env(humanapi_url),
            "TAP_PAINCHEK_INBOX_TOKEN": read_token,
            "TAP_HUMANAPI_INBOX_TOKEN": read_token,
            # The dev environment sets inbox_url on the inherited plugins themselves,
            # which only their own variables override.
            "TAP_PAINCHEK__CONTINUOUS_INBOX_URL": url,
            "TAP_HUMANAPI__CONTINUOUS_INBOX_URL": url,
        }
        continuous_runs(env, "painchek", painchek_url, new_assessments)
        continuous_runs(env, "humanapi", humanapi_url, source_syncs)
    print("in production the *-continuous-every-minute schedules repeat these runs each minute")


def models(env: dict[str, str]) -> None:
    """Build the dbt models and print one person's timeline across the three vendors."""
    print("\n== Models: meltano run dbt-duckdb:build (transform/)")
    done = subprocess.run(
        [str(MELTANO), "run", "dbt-duckdb:build"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    (OUTPUT / "demo-dbt.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        sys.exit(f"dbt build failed (exit {done.returncode}); see output/demo-dbt.log")
    (persons,) = query("select count(distinct person_id) from analytics.patient_timeline")[0]
    ((shared,),) = query(
        "select count(*) from (select person_id from analytics.person_crosswalk "
        "group by person_id having count(distinct vendor) = 3)"
    )
    print(f"patient_timeline: {persons} people; {shared} of them matched across all three vendors")
    found = query(
        "select person_id from analytics.patient_timeline group by person_id "
        "having count(distinct vendor) = 3 order by count(*) desc limit 1"
    )
    if not found:
        sys.exit("no person has events from all three vendors")
    ((person,),) = found
    events = query(
        "select event_time, vendor, event_type, display, value_number, value_text, unit "
        f"from analytics.patient_timeline where person_id = '{person}' "
        "order by event_time desc nulls last, vendor limit 30"
    )
    print(f"\nthe 30 latest events of person {person[:12]}... (synthetic sandbox data):")
    print(f"{'time':<20}{'vendor':<10}{'type':<17}{'what':<36}value")
    for when, vendor, kind, display, number, text, unit in events:
        shown = f"{number:g}" if number is not None else None
        # A number the vendor also sent as text is shown once.
        same = text is not None and shown is not None and text.strip() in {shown, str(number)}
        value = " ".join(str(v) for v in (shown, unit, None if same else text) if v)
        stamp = when.strftime("%Y-%m-%d %H:%M") if when else "(no time)"
        print(f"{stamp:<20}{vendor:<10}{kind:<17}{(display or '')[:34]:<36}{value}")


def main() -> None:
    OUTPUT.mkdir(exist_ok=True)
    WAREHOUSE.unlink(missing_ok=True)
    env = {
        **os.environ,
        "MELTANO_ENVIRONMENT": "dev",
        "TARGET_DUCKDB_FILEPATH": str(WAREHOUSE),
        "DBT_DUCKDB_PATH": str(WAREHOUSE),
    }
    with (
        sandbox("painchek", "--patients", "2000", *CREDENTIALS) as painchek_url,
        sandbox("humanapi", "--users", "200", *CREDENTIALS) as humanapi_url,
    ):
        painchek(env, painchek_url)
        humanapi(env, humanapi_url)
        healthex(env)
        continuous(env, painchek_url, humanapi_url)
    models(env)
    print(f"\nwarehouse: {WAREHOUSE.relative_to(ROOT)}; logs: output/demo-*.log")


if __name__ == "__main__":
    main()
