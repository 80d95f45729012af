"""Human API and HealthEx end to end, each against its own plain-loop baseline.

For each vendor, one sandbox runs in its own process (as peer_bench.py runs PainChek's, so
it shares no GIL with the measuring side) and every side below runs against it, best of
N, the sides taking turns to go first:

- plain loop: the simplest correct loop, in this process, as painchek_bench.py's
  `baseline()`: plain `requests` (and boto3 for HealthEx's S3 deliveries), authenticating
  as the vendor requires, fetching every record a full tap run fetches (the same
  endpoints, the same paging), one JSON RECORD line per record to /dev/null;
- the tap's CLI alone, its output to /dev/null;
- `meltano run <tap> target-duckdb` into a fresh DuckDB file with a fresh system
  database (a full run), then the same command again on both, so the state is reused:
  the no-change run.

Not a test: it prints seconds and ratios measured in this one run (ours / plain loop,
no-change / full), the requests the sandbox served per run, the records each side wrote,
and the rows every Meltano run landed per table next to the sandbox's truth. It fails
when a run fails or those counts disagree, never on a time.

    .venv/bin/python bench/vendor_bench.py     # 100 users, 2 x 50 patients, best of 3: ~4 min
    .venv/bin/python bench/vendor_bench.py --rounds 1 --users 20 --patients 10

HealthEx delivers its FHIR bundles to S3 here: the sandbox starts moto's S3 server in
its own process, as the tests and the dev environment do. Its S3 requests are not in the
sandbox's counts, which are the API's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import duckdb
import requests
from peer_bench import MELTANO, ROOT, Run, Sandbox, best_of
from sandbox.humanapi import ADMIN_TOKEN_PATH, PATHS, SINGLE_TABLES, TOKEN_PATH, USERS_PATH
from tap_healthex.fhir import OTHER, STREAM_OF_TYPE
from tapkit.testing import meltano_env, run_summaries

SEED = 7
HUMANAPI_PAGE_SIZE = 500  # Human API's maximum, the tap's default
HEALTHEX_PAGE_SIZE = 1000  # HealthEx's maximum, the tap's default
TIMEOUT = 60

# Each vendor's sandbox serves until its stdin closes and prints one line first: its
# url, the tap's settings, and the truth's counts (by table, as the tap names them).
HUMANAPI_SANDBOX = """
import json, sys
from sandbox.humanapi import HumanAPISandbox, TABLES
sandbox = HumanAPISandbox(**json.loads(sys.argv[1]))
sandbox.start("127.0.0.1", 0)
users = len(sandbox.users())
counts = {table.removesuffix("_readings"): len(sandbox.truth(table)) for table in TABLES}
counts |= {"users": users, "user_sync_status": users}
served = len(sandbox.client_user_ids("served"))
ready = {"url": sandbox.url, "config": sandbox.tap_config(), "counts": counts, "served": served}
print(json.dumps(ready), flush=True)
sys.stdin.read()
sandbox.stop()
"""
HEALTHEX_SANDBOX = """
import json, sys
from collections import Counter
from sandbox.healthex import HealthExSandbox, TABLES
sandbox = HealthExSandbox(**json.loads(sys.argv[1]))
sandbox.start("127.0.0.1", 0)
counts = {table: len(sandbox.truth(table)) for table in TABLES}
counts |= {"delivery_files": len(sandbox.delivered()), "data_update_requests": 0}
keys = {
    (r["project_id"], r["patient_id"], r["resource"]["resourceType"], r["resource"]["id"])
    for r in sandbox.truth_resources()
}
types = Counter(kind for _, _, kind, _ in keys)
ready = {"url": sandbox.url, "config": sandbox.tap_config("s3"), "counts": counts, "types": types}
print(json.dumps(ready), flush=True)
sys.stdin.read()
sandbox.stop()
"""


@dataclass
class ChildSandbox(Sandbox):
    """A vendor's sandbox in a child process: peer_bench's lifecycle and control API.

    ``script`` builds it from ``options``; ``config`` is the tap's settings for it and
    ``counts`` the rows its truth holds per table. The PainChek credentials and
    ``tap_config`` it inherits are not used.
    """

    script: str = ""
    config: dict[str, t.Any] = field(default_factory=dict)
    ready: dict[str, t.Any] = field(default_factory=dict)

    def __enter__(self) -> ChildSandbox:
        self.process = subprocess.Popen(
            [sys.executable, "-c", self.script, json.dumps(self.options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"the sandbox did not start (exit {self.process.wait()})")
        self.ready = json.loads(line)
        self.url, self.config, self.counts = (
            self.ready["url"],
            self.ready["config"],
            self.ready["counts"],
        )
        return self


@dataclass
class VendorRun(Run):
    """A timed run, with the sandbox's counters, the records written per stream (plain
    loop, tap) and the tap's run summary (when its log was read)."""

    stats: dict[str, t.Any] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    summary: dict[str, t.Any] = field(default_factory=dict)


class Sink:
    """One JSON RECORD line per record to /dev/null, counted per stream."""

    def __init__(self) -> None:
        self.file = open(os.devnull, "w")  # noqa: SIM115 - closed by the caller
        self.written: Counter[str] = Counter()

    def write(self, stream: str, record: dict[str, t.Any]) -> None:
        self.file.write(json.dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n")
        self.written[stream] += 1

    def close(self) -> dict[str, int]:
        self.file.close()
        return dict(self.written)


def get_json(session: requests.Session, url: str, **kwargs: t.Any) -> t.Any:
    answer = session.get(url, timeout=TIMEOUT, **kwargs)
    answer.raise_for_status()
    return answer.json()


def humanapi_plain_loop(sandbox: ChildSandbox) -> dict[str, int]:
    """The app's token and user list, then one user after another: a user token (none
    for a deleted user or one without a source), /sources, every data endpoint paged by
    offset until a short page, /profile (one object, or 404)."""
    config, session, sink = sandbox.config, requests.Session(), Sink()
    auth, api = config["auth_url"], config["api_url"]
    credentials = {"client_id": config["client_id"], "client_secret": config["client_secret"]}
    app = session.post(
        auth + ADMIN_TOKEN_PATH, json={**credentials, "type": "client"}, timeout=TIMEOUT
    ).json()["client_token"]
    users: list[dict[str, t.Any]] = []
    while page := get_json(
        session,
        config["admin_url"] + USERS_PATH,
        params={"offset": len(users)},
        headers={"Authorization": f"Bearer {app}"},
    ):
        users += page
    for user in users:
        sink.write("users", user)
    for user in users:
        body = {**credentials, "client_user_id": user["clientUserId"], "type": "access"}
        answer = session.post(auth + TOKEN_PATH, json=body, timeout=TIMEOUT)
        if not answer.ok:  # deleted, or no connected source: nothing to read
            continue
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        keys = {"human_id": user["humanId"]}
        for table, path in PATHS.items():
            stream = table.removesuffix("_readings")
            if table in SINGLE_TABLES:
                answer = session.get(api + path, headers=headers, timeout=TIMEOUT)
                if answer.status_code != 404:
                    answer.raise_for_status()
                    sink.write(stream, {**answer.json(), **keys})
                continue
            if table == "sources":  # every source at once, unpaged
                for record in get_json(session, api + path, headers=headers):
                    sink.write(stream, {**record, **keys})
                continue
            offset = 0
            while True:
                params = {"limit": HUMANAPI_PAGE_SIZE, "offset": offset}
                page = get_json(session, api + path, params=params, headers=headers)
                for record in page:
                    sink.write(stream, {**record, **keys})
                if len(page) < HUMANAPI_PAGE_SIZE:
                    break
                offset += len(page)
    return sink.close()


def healthex_plain_loop(sandbox: ChildSandbox) -> dict[str, int]:
    """A token; each project's patients and consents paged by offset to their total;
    then every object under the S3 prefix, json.loads'd, one line per FHIR resource."""
    config, session, sink = sandbox.config, requests.Session(), Sink()
    api = config["api_url"]
    token = session.post(
        api + "/v1/auth/token",
        json={"apiKey": config["api_key"], "apiSecret": config["api_secret"]},
        timeout=TIMEOUT,
    ).json()["token"]
    session.headers["Authorization"] = f"Bearer {token}"
    for project in config["project_ids"]:
        base = f"{api}/v1/projects/{project}"
        for stream, path in (
            ("identified_patients", "/recruitment/identified-patients"),
            ("consent_records", "/consent-records"),
        ):
            offset = 0
            while True:
                params = {"limit": HEALTHEX_PAGE_SIZE, "offset": offset}
                body = get_json(session, base + path, params=params)
                if stream == "identified_patients":  # {data: [...], total}
                    rows = body["data"]
                else:  # {total, results: [{consentRecord: {...}}]}
                    rows = [item["consentRecord"] for item in body["results"]]
                for row in rows:
                    sink.write(stream, {**row, "project_id": project})
                offset += len(rows)
                if not rows or offset >= body["total"]:
                    break
    s3 = boto3.client(
        "s3",
        endpoint_url=config["s3_endpoint_url"],
        region_name=config["aws_region"],
        aws_access_key_id=config["aws_access_key_id"],
        aws_secret_access_key=config["aws_secret_access_key"],
    )
    bucket = config["s3_bucket"]
    for listing in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=config["s3_prefix"]
    ):
        for item in listing.get("Contents", []):
            bundle = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            for entry in bundle["entry"]:
                resource = entry["resource"]
                stream = STREAM_OF_TYPE.get(resource["resourceType"], OTHER)
                sink.write(stream, {**resource, "file_key": item["Key"]})
    s3.close()
    return sink.close()


@dataclass
class Vendor:
    """What differs between the vendors: the tap, its sandbox, its plain loop."""

    name: str
    tap: str
    schema: str  # the tap's load_schema in meltano.yml
    script: str
    options: dict[str, t.Any]
    plain_loop: t.Callable[[ChildSandbox], dict[str, int]]
    plain_label: str
    # Streams of the tap with no plain-loop equivalent: the tap's own status rows.
    derived: dict[str, str]
    # The tap's settings beside the sandbox's (the plain loop pages as they say).
    settings: dict[str, t.Any]
    describe: t.Callable[[ChildSandbox, dict[str, int]], str]


def duckdb_rows(path: Path, schema: str) -> dict[str, int]:
    """Rows of every table the loader made in ``schema``."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [schema]
        ).fetchall()
        return {
            table: con.execute(f'select count(*) from "{schema}"."{table}"').fetchall()[0][0]
            for (table,) in tables
        }


def last_summary(log: str) -> dict[str, t.Any]:
    """The tap's run summary line in a log (the tap's stderr, or Meltano's output)."""
    found = run_summaries(log)
    return found[-1] if found else {}


@dataclass
class VendorBench:
    """Runs each side of one vendor against its sandbox, each run in a fresh directory."""

    vendor: Vendor
    sandbox: ChildSandbox
    work: Path

    @property
    def tap_config(self) -> dict[str, t.Any]:
        return {**self.sandbox.config, **self.vendor.settings}

    def measure(self, fn: t.Callable[[], tuple[dict[str, int], dict[str, t.Any]]]) -> VendorRun:
        self.sandbox.reset_stats()
        start = time.perf_counter()
        records, summary = fn()
        seconds = time.perf_counter() - start
        stats = self.sandbox.stats()
        return VendorRun(
            seconds,
            stats["requests"],
            stats["records_served"],
            stats=stats,
            records=records,
            summary=summary,
        )

    def fresh(self, name: str) -> Path:
        path = self.work / f"{name}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def plain(self) -> VendorRun:
        return self.measure(lambda: (self.vendor.plain_loop(self.sandbox), {}))

    def tap_alone(self) -> VendorRun:
        config = self.fresh("tap") / "config.json"
        config.write_text(json.dumps(self.tap_config))

        def run() -> tuple[dict[str, int], dict[str, t.Any]]:
            done = subprocess.run(
                [str(ROOT / ".venv" / "bin" / self.vendor.tap), "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                sys.exit(f"{self.vendor.tap} exited {done.returncode}:\n{done.stderr[-3000:]}")
            summary = last_summary(done.stderr)
            return summary.get("records", {}), summary

        try:
            return self.measure(run)
        finally:
            shutil.rmtree(config.parent)

    def meltano(self, workdir: Path) -> tuple[dict[str, int], dict[str, t.Any]]:
        """`meltano run <tap> target-duckdb` with its own system database in workdir."""
        env = {
            **os.environ,
            "MELTANO_ENVIRONMENT": "dev",
            "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TARGET_DUCKDB_FILEPATH": str(workdir / "warehouse.duckdb"),
            **meltano_env(self.vendor.tap, self.tap_config),
        }
        done = subprocess.run(
            [str(MELTANO), "run", self.vendor.tap, "target-duckdb"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        log = done.stdout + done.stderr
        if done.returncode != 0:
            kept = Path(tempfile.mkstemp(prefix="vendor-bench-meltano-", suffix=".log")[1])
            kept.write_text(log)
            tail = "\n".join(log.splitlines()[-30:])
            sys.exit(
                f"meltano run {self.vendor.tap} target-duckdb exited {done.returncode} "
                f"(its whole log: {kept}):\n{tail}"
            )
        return {}, last_summary(log)

    def end_to_end(self, again: list[VendorRun]) -> VendorRun:
        """A full Meltano run into a fresh warehouse; its no-change rerun goes to again."""
        workdir = self.fresh("meltano")
        warehouse = workdir / "warehouse.duckdb"
        try:
            full = self.measure(lambda: self.meltano(workdir))
            full.rows = duckdb_rows(warehouse, self.vendor.schema)
            rerun = self.measure(lambda: self.meltano(workdir))
            rerun.rows = duckdb_rows(warehouse, self.vendor.schema)
            again.append(rerun)
            return full
        finally:
            shutil.rmtree(workdir)


# -- the vendors ------------------------------------------------------------------------


def humanapi_vendor(users: int) -> Vendor:
    return Vendor(
        name="Human API",
        tap="tap-humanapi",
        schema="humanapi",
        script=HUMANAPI_SANDBOX,
        options={"seed": SEED, "users": users},
        plain_loop=humanapi_plain_loop,
        plain_label="plain requests loop (one user at a time)",
        derived={"user_sync_status": "the tap's outcome per user"},
        settings={"page_size": HUMANAPI_PAGE_SIZE, "max_workers": 8},  # meltano.yml's
        describe=lambda sandbox, truth: (
            f"{users:,} users ({sandbox.ready['served']:,} served a token), "
            f"{sum(truth.values()):,} rows in {len(truth)} tables in the sandbox's truth; "
            f"tap page_size {HUMANAPI_PAGE_SIZE}, max_workers 8"
        ),
    )


def healthex_vendor(patients: int) -> Vendor:
    return Vendor(
        name="HealthEx",
        tap="tap-healthex",
        schema="healthex",
        script=HEALTHEX_SANDBOX,
        options={"seed": SEED, "patients_per_project": patients, "delivery": "s3"},
        plain_loop=healthex_plain_loop,
        plain_label="plain requests + boto3 loop",
        derived={
            "delivery_files": "the tap's record of each file read",
            "data_update_requests": "writes; off unless request_updates",
        },
        settings={"page_size": HEALTHEX_PAGE_SIZE},  # meltano.yml's
        describe=lambda sandbox, truth: (
            f"{len(sandbox.config['project_ids'])} projects x {patients:,} patients, "
            f"{truth['delivery_files']:,} bundles of {sum(sandbox.ready['types'].values()):,} "
            "FHIR resources on S3 (moto, in the sandbox's process), "
            f"{sum(truth.values()):,} rows in {len(truth)} tables in the sandbox's truth; "
            f"tap page_size {HEALTHEX_PAGE_SIZE}"
        ),
    )


def truth_of(vendor: Vendor, sandbox: ChildSandbox) -> dict[str, int]:
    """The rows per table the warehouse should hold after a full run."""
    truth = dict(sandbox.counts)
    for kind, count in sandbox.ready.get("types", {}).items():
        stream = STREAM_OF_TYPE.get(kind, OTHER)
        truth[stream] = truth.get(stream, 0) + count
    return truth


# -- the report -------------------------------------------------------------------------

WIDTH = 50


def best(runs: list[VendorRun]) -> VendorRun:
    return min(runs, key=lambda run: run.seconds)


def request_kinds(stats: dict[str, t.Any]) -> str:
    """The vendor's own request counters (token, sources, data, ...), those above 0."""
    kinds = {k.removesuffix("_requests"): v for k, v in stats.items() if k.endswith("_requests")}
    return ", ".join(f"{kind} {count:,}" for kind, count in kinds.items() if count) or "none"


def print_section(
    vendor: Vendor,
    sandbox: ChildSandbox,
    runs: dict[str, list[VendorRun]],
    again: list[VendorRun],
    rounds: int,
) -> list[str]:
    """One vendor's figures; returns what disagrees with the truth (empty: nothing)."""
    truth = truth_of(vendor, sandbox)
    plain_label, tap_label, meltano_label = runs
    plain, tap, full, rerun = (
        best(runs[plain_label]),
        best(runs[tap_label]),
        best(runs[meltano_label]),
        best(again),
    )
    print(f"\n{vendor.name}: {vendor.describe(sandbox, truth)}")
    print(f"  {'seconds (best of ' + str(rounds) + ')':<{WIDTH - 2}}", end="")
    print(f"{'best s':>8}{'x plain':>9}{'requests':>10}{'served':>10}")
    rows = (
        (plain_label, plain),
        (tap_label, tap),
        (meltano_label + " (full)", full),
        ("the same again: no-change run, state reused", rerun),
    )
    for label, run in rows:
        ratio = "-" if run is plain else f"{run.seconds / plain.seconds:.2f}"
        print(
            f"  {label:<{WIDTH - 2}}{run.seconds:>8.2f}{ratio:>9}"
            f"{run.requests:>10,}{run.records_served:>10,}"
        )
    print(f"  {'tap alone / plain loop':<{WIDTH - 2}}{tap.seconds / plain.seconds:>8.2f}")
    print(f"  {'meltano full / plain loop':<{WIDTH - 2}}{full.seconds / plain.seconds:>8.2f}")
    print(
        f"  {'no-change meltano / full meltano':<{WIDTH - 2}}{rerun.seconds / full.seconds:>8.2f}"
    )
    print(
        f"  {'no-change requests / full meltano requests':<{WIDTH - 2}}"
        f"{rerun.requests / max(full.requests, 1):>8.2f}"
        f"  ({rerun.requests:,} / {full.requests:,}; no-change: {request_kinds(rerun.stats)})"
    )
    mismatches = print_records(vendor, runs[plain_label], runs[tap_label])
    mismatches += print_rows(vendor, truth, runs[meltano_label], again)
    print_no_change(vendor, rerun)
    return mismatches


def print_records(vendor: Vendor, plain: list[VendorRun], tap: list[VendorRun]) -> list[str]:
    """Records written by the plain loop and the tap, stream by stream, in every run."""
    mismatches = []
    for ours in tap:
        if not ours.records:
            mismatches.append(f"{vendor.name}: no run summary in {vendor.tap}'s log")
    for theirs, ours in zip(plain, tap, strict=True):
        comparable = {k: v for k, v in ours.records.items() if k not in vendor.derived}
        written = {k: v for k, v in theirs.records.items() if v}
        mismatches += [
            f"{vendor.name}: stream {name}: tap {comparable.get(name, 0):,} records, "
            f"plain loop {written.get(name, 0):,}"
            for name in sorted(set(comparable) | set(written))
            if comparable.get(name, 0) != written.get(name, 0)
        ]
    last = tap[-1].records
    kept = sum(v for k, v in last.items() if k not in vendor.derived)
    skipped = ", ".join(
        f"{name} {last.get(name, 0):,} ({why})" for name, why in vendor.derived.items()
    )
    verdict = "equal in every stream, every round" if not mismatches else "DIFFERENT"
    print(
        f"  records written: plain loop {sum(plain[-1].records.values()):,}, tap {kept:,}: "
        f"{verdict}\n    not compared, no plain-loop equivalent: {skipped}"
    )
    return mismatches


def print_rows(
    vendor: Vendor, truth: dict[str, int], full: list[VendorRun], again: list[VendorRun]
) -> list[str]:
    """Rows landed per table after every full and every no-change run, against the truth."""
    mismatches = []
    for kind, runs in (("full", full), ("no-change", again)):
        for run in runs:
            landed = run.rows or {}
            mismatches += [
                f"{vendor.name} ({kind} run): {table} {landed.get(table, 0):,} rows, "
                f"the sandbox {truth.get(table, 0):,}"
                for table in sorted(set(truth) | set(landed))
                if landed.get(table, 0) != truth.get(table, 0)
            ]
    verdict = "every table matches" if not mismatches else "MISMATCH"
    print(
        f"  DuckDB rows vs the sandbox's truth, after each of {len(full)} full and "
        f"{len(again)} no-change runs: {len(truth)} tables, {sum(truth.values()):,} rows: "
        f"{verdict}"
    )
    return mismatches


def print_no_change(vendor: Vendor, rerun: VendorRun) -> None:
    """What the tap's own summary says the no-change run did (from Meltano's log)."""
    summary = rerun.summary
    if not summary:
        return
    records = summary.get("records", {})
    noted = {k: v for k, v in records.items() if v} if isinstance(records, dict) else {}
    extra = {key: summary[key] for key in ("users", "files_read") if key in summary}
    shown = ", ".join(f"{k} {json.dumps(v)}" for k, v in extra.items())
    print(
        f"  the no-change run's tap summary: records {json.dumps(noted) if noted else 'none'}"
        + (f"; {shown}" if shown else "")
    )


NOTES = (
    "The plain loop runs inside this process; a tap's and Meltano's seconds include starting "
    "their processes.",
    "The tap reads a Human API user's /sources twice (again after the data, to catch a sync "
    "during the run), the plain loop once.",
    "HealthEx: requests and served count its API (token, patient and consent pages), not S3. "
    "A no-change run pages",
    "the patient list again (it has no change filter), asks for consents If-Modified-Since "
    "and lists S3.",
)


# -- running it -------------------------------------------------------------------------


def run_vendor(vendor: Vendor, rounds: int, work: Path) -> list[str]:
    with ChildSandbox(vendor.options, script=vendor.script) as sandbox:
        bench = VendorBench(vendor, sandbox, work)
        again: list[VendorRun] = []
        sides: dict[str, t.Callable[[], Run]] = {
            vendor.plain_label: bench.plain,
            f"{vendor.tap} CLI > /dev/null": bench.tap_alone,
            f"meltano run {vendor.tap} target-duckdb": lambda: bench.end_to_end(again),
        }
        runs = t.cast("dict[str, list[VendorRun]]", best_of(rounds, sides))
        return print_section(vendor, sandbox, runs, again, rounds)


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100, help="Human API users (default 100)")
    parser.add_argument(
        "--patients",
        type=int,
        default=50,
        help="HealthEx patients per project, two projects (default 50)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="best of N for each side")
    return parser.parse_args()


def main() -> None:
    options = parse_options()
    load = os.getloadavg()[0]
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="vendor-bench-"))
    print(
        f"Human API and HealthEx, each side against the vendor's plain loop; best of "
        f"{options.rounds}, sides alternated.\nx plain = the side's seconds / the plain "
        "loop's (< 1: faster). requests and served (records) are the sandbox's counts "
        "for the best run,\ntoken requests included. "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the start: other work on the "
        "machine moves the seconds; read the ratios.",
        flush=True,
    )
    mismatches = []
    try:
        for vendor in (humanapi_vendor(options.users), healthex_vendor(options.patients)):
            mismatches += run_vendor(vendor, options.rounds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n" + "\n".join(NOTES))
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    if mismatches:
        print("\n!!! MISMATCH: counts differ !!!")
        print("\n".join(f"  {line}" for line in mismatches))
        sys.exit(1)


if __name__ == "__main__":
    main()
