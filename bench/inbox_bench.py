"""healthdata-inbox benchmarks. Not a test: it prints figures measured in one run.

Three sections, all on loopback (127.0.0.1) only; run all, or some with --section.

ack: acknowledgement latency and sustained notifications/s, for each store (SQLite
file, then PostgreSQL). Starts the real `healthdata-inbox serve`, sends signed
notifications (half PainChek, half Human API) from 8 concurrent senders, then reads
the log back through GET /v1/events to check that every acknowledged notification is
there exactly once.

requests: Human API vendor requests per day, change_detection notifications (with a
catch-up sweep every --catch-up-hours) against hourly polling, counted by the
sandbox. One Human API sandbox notifies the real inbox; each simulated hour 1% of
users complete a source sync, then one poll-mode run and one notifications-mode run
read the same sandbox, each from its own state. --users defaults to 1,000 (the
figures are scaled to 10,000 linearly) and --hours to 12 (scaled to 24).

freshness: seconds from a new PainChek assessment to its row being in the warehouse,
with `meltano run tap-painchek--continuous target-duckdb` started every
--loop-seconds (or the tap alone, --via tap). Measured at the loop given; the p95 for
a 60 s loop is derived from the measured parts, and the printout says which is which.

    .venv/bin/python bench/inbox_bench.py
    .venv/bin/python bench/inbox_bench.py --section ack --count 10000
    .venv/bin/python bench/inbox_bench.py --section requests --hours 24
    .venv/bin/python bench/inbox_bench.py --section freshness --loop-seconds 20
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import math
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import requests
from sandbox.humanapi import HumanAPISandbox
from sandbox.painchek import PainChekSandbox

BIN = Path(sys.executable).parent
EXECUTABLE = BIN / "healthdata-inbox"
ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
HOST = "127.0.0.1"  # loopback only: nothing here may leave the machine
ADMIN_URL = f"postgresql://postgres@{HOST}:5432/test"
SENDERS = 8
STORES = ("sqlite", "postgresql")
SECTIONS = ("ack", "requests", "freshness")
# Fresh per run, handed to the server through its environment only.
HUMANAPI_SECRET = secrets.token_hex(16)
PAINCHEK_SECRET = secrets.token_hex(16)
READ_TOKEN = secrets.token_hex(16)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def database(store: str, work: Path) -> Iterator[str]:
    """A database URL for a fresh, empty store; a PostgreSQL database is dropped after."""
    if store == "sqlite":
        yield f"sqlite:///{work / 'inbox.sqlite3'}"
        return
    name = f"inbox_bench_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@{HOST}:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def serve(url: str, log: Path) -> Iterator[int]:
    """Run `healthdata-inbox serve` on a free loopback port until /healthz answers 200."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_")}
    env |= {
        "INBOX_HUMANAPI_CLIENT_SECRET": HUMANAPI_SECRET,
        "INBOX_PAINCHEK_WEBHOOK_SECRET": PAINCHEK_SECRET,
        "INBOX_READ_TOKEN": READ_TOKEN,
    }
    args = [str(EXECUTABLE), "serve", "--host", HOST, "--port", str(port), "--database-url", url]
    with log.open("ab") as sink:
        server = subprocess.Popen(args, env=env, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"inbox did not become healthy; its log:\n{log.read_text()[-2000:]}")
            try:
                if requests.get(f"http://{HOST}:{port}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def notification(n: int) -> tuple[str, str, bytes, dict[str, str]]:
    """(vendor, key the log must hold, body, headers): even n PainChek, odd n Human API."""
    if n % 2 == 0:
        data = {"uuid": f"a-{n}", "patient": f"p-{n}", "update_stamp": n}
        body = json.dumps({"event": "assessment_add", "data": data}).encode()
        mac = hmac.new(PAINCHEK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "X-PainChek-WH-Signature": f"sha256={mac}",
            "X-PainChek-WH-Delivery-Id": f"bench-{n}",
        }
        return "painchek", f"a-{n}", body, headers
    item = {
        "humanId": f"h-{n}",
        "clientUserId": f"cu-{n}",
        "endpoint": "medical/vitals",
        "action": "updated",
        "updatedAt": "2026-11-30T10:00:00.000Z",
    }
    body = json.dumps([item]).encode()
    # Signed when sent (the inbox keeps a 300 s replay window): HMAC-SHA1 of
    # body + timestamp + nonce, base64, as healthdata_inbox.signatures expects.
    stamp, nonce = str(int(time.time())), secrets.token_hex(12)
    mac = hmac.new(HUMANAPI_SECRET.encode(), body + stamp.encode() + nonce.encode(), "sha1")
    headers = {
        "X-HumanAPI-Signature": base64.b64encode(mac.digest()).decode(),
        "X-HumanAPI-Timestamp": stamp,
        "X-HumanAPI-Nonce": nonce,
    }
    return "humanapi", f"h-{n}", body, headers


def burst(port: int, count: int) -> tuple[list[float], set[tuple[str, str]], Counter, float]:
    """Send `count` notifications from SENDERS threads; (latencies, acked, refusals, seconds)."""
    latencies: list[float] = []
    acked: set[tuple[str, str]] = set()
    refused: Counter = Counter()
    lock = threading.Lock()

    def send(numbers: range) -> None:
        session = requests.Session()
        for n in numbers:
            vendor, key, body, headers = notification(n)
            headers["Content-Type"] = "application/json"
            start = time.perf_counter()
            try:
                response = session.post(
                    f"http://{HOST}:{port}/v1/{vendor}", data=body, headers=headers, timeout=30
                )
                status: int | str = response.status_code
            except requests.RequestException as error:
                status = type(error).__name__
            elapsed = time.perf_counter() - start
            with lock:
                if status == 200:
                    latencies.append(elapsed)
                    acked.add((vendor, key))
                else:
                    refused[status] += 1
        session.close()

    threads = [
        threading.Thread(target=send, args=(range(i, count, SENDERS),)) for i in range(SENDERS)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, acked, refused, time.perf_counter() - start


def read_log(port: int, vendor: str) -> list[dict]:
    """Every event of one vendor, paged through GET /v1/events by after/next_after."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {READ_TOKEN}"
    events: list[dict] = []
    after = 0
    while True:
        response = session.get(
            f"http://{HOST}:{port}/v1/events",
            params={"vendor": vendor, "after": after, "limit": 1000},
            timeout=30,
        )
        response.raise_for_status()
        page = response.json()
        if not page["events"]:
            return events
        events += page["events"]
        after = page["next_after"]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (nan of nothing)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def percentile_ms(latencies: list[float], p: int) -> float:
    """Nearest-rank percentile in milliseconds (nan when nothing was acknowledged)."""
    return percentile(latencies, p) * 1000


def ack_latency(store: str, count: int) -> dict:
    """Burst `count` notifications at a fresh inbox on `store`; figures for one table row."""
    with tempfile.TemporaryDirectory(prefix="inbox-bench-") as tmp:
        work = Path(tmp)
        with database(store, work) as url, serve(url, work / "server.log") as port:
            latencies, acked, refused, seconds = burst(port, count)
            logged = Counter(
                (vendor, event["uuid"] if vendor == "painchek" else event["humanId"])
                for vendor in ("painchek", "humanapi")
                for event in read_log(port, vendor)
            )
    return {
        "store": store,
        "notifications": count,
        "seconds": seconds,
        "per_second": count / seconds,
        "p50_ms": percentile_ms(latencies, 50),
        "p99_ms": percentile_ms(latencies, 99),
        "max_ms": percentile_ms(latencies, 100),
        "acknowledged": len(acked),
        "logged": sum(1 for key in acked if logged[key] == 1),
        "refused": refused,
        "unexpected": sum(n for key, n in logged.items() if key not in acked)
        + sum(n - 1 for key, n in logged.items() if key in acked and n > 1),
    }


def print_ack(count: int) -> None:
    """The ack section: one row per store."""
    rows = [ack_latency(store, count) for store in STORES]
    print(f"acknowledgement latency, {SENDERS} senders on loopback, half PainChek / half Human API")
    header = ("store", "notifications", "seconds", "notif/s", "p50 ms", "p99 ms", "max ms")
    print("".join(f"{h:>14}" for h in header) + f"{'acknowledged':>14}{'logged':>10}")
    for row in rows:
        print(
            f"{row['store']:>14}{row['notifications']:>14,}{row['seconds']:>14.2f}"
            f"{row['per_second']:>14,.0f}{row['p50_ms']:>14.1f}{row['p99_ms']:>14.1f}"
            f"{row['max_ms']:>14.1f}{row['acknowledged']:>14,}{row['logged']:>10,}"
        )
    for row in rows:
        if row["refused"]:
            print(f"{row['store']}: not acknowledged: {dict(row['refused'])}")
        if row["unexpected"]:
            print(f"{row['store']}: {row['unexpected']} log rows not matching one acknowledgement")


# -- requests: Human API vendor requests per day, notifications against polling --------

# Users whose sources complete a sync in one simulated hour, and what each sync changes.
CHANGED_PER_HOUR = 0.01
SYNC_NEW, SYNC_UPDATED = 2, 1
# The fleet; the sandbox runs --users of it and the per-day figures scale linearly.
FLEET = 10_000


@dataclass
class TapOutput:
    """One tap run: wall seconds, its last STATE value, the uuids of one stream's records."""

    seconds: float
    state: dict
    ids: set[str] = field(default_factory=set)


def run_tap(executable: str, config: dict, state: dict, work: Path, stream: str = "") -> TapOutput:
    """Run a tap once as a subprocess, reading its Singer messages from stdout."""
    config_file, state_file, log = work / "config.json", work / "state.json", work / "tap.log"
    config_file.write_text(json.dumps(config))
    state_file.write_text(json.dumps(state))
    args = [str(BIN / executable), "--config", str(config_file), "--state", str(state_file)]
    record = f'{{"type":"RECORD","stream":"{stream}",'.encode()
    last_state, ids = state, set()
    start = time.perf_counter()
    with log.open("wb") as sink, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=sink) as tap:
        assert tap.stdout is not None
        for line in tap.stdout:
            if line.startswith(b'{"type":"STATE"'):
                last_state = json.loads(line)["value"]
            elif stream and line.startswith(record):
                ids.add(json.loads(line)["record"]["uuid"])
    seconds = time.perf_counter() - start
    if tap.returncode != 0:
        sys.exit(f"{executable} exited {tap.returncode}; its log:\n{log.read_text()[-3000:]}")
    return TapOutput(seconds, last_state, ids)


def backdated(state: dict, hours: float) -> dict:
    """``state`` with its last sweep ``hours`` ago, so the next notifications run sweeps."""
    when = datetime.now(UTC) - timedelta(hours=hours)
    swept_at = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    return {**state, "notifications": {**state["notifications"], "swept_at": swept_at}}


@dataclass
class DayRun:
    """One measured run of the simulated day."""

    hour: int
    kind: str  # poll | targeted | sweep
    requests: int
    seconds: float
    swept: bool  # whether the state's swept_at moved (a notifications run that swept)


def simulate_day(
    sandbox: HumanAPISandbox, port: int, work: Path, hours: int, catch_up_hours: int, seed: int
) -> tuple[list[DayRun], float, int]:
    """Each hour: 1% of users sync, then a poll run and a notifications run, each counted.

    Returns the runs, the first (full) sync's seconds and the users changed per hour.
    """
    sandbox.notify_to(f"http://{HOST}:{port}/v1/humanapi", secret=HUMANAPI_SECRET)
    # max_workers only changes how fast a run goes, never what it requests.
    poll = sandbox.tap_config(max_workers=32)
    listen = {
        **poll,
        "change_detection": "notifications",
        "inbox_url": f"http://{HOST}:{port}",
        "inbox_token": READ_TOKEN,
        "catch_up_hours": catch_up_hours,
    }
    # The first run reads every user; both arms start from its state (a poll run
    # leaves the inbox cursor in it alone).
    first = run_tap("tap-humanapi", listen, {}, work)
    states = {"poll": first.state, "notifications": first.state}
    rng = random.Random(seed)
    served = sandbox.client_user_ids("served")  # users with a connected source
    per_hour = max(1, round(len(sandbox.users()) * CHANGED_PER_HOUR))
    runs: list[DayRun] = []
    for hour in range(hours):
        for client_user_id in rng.sample(served, per_hour):
            sandbox.source_sync(client_user_id, new=SYNC_NEW, updated=SYNC_UPDATED)
        if not sandbox.wait_notifications_idle(60):
            sys.exit("the Human API sandbox's notifications did not drain in 60 s")
        sweep_due = (hour + 1) % catch_up_hours == 0
        for arm, config in (("poll", poll), ("notifications", listen)):
            before = states[arm]
            if arm == "notifications" and sweep_due:
                before = backdated(before, catch_up_hours + 1)
            sandbox.reset_stats()
            done = run_tap("tap-humanapi", config, before, work)
            states[arm] = done.state
            swept = (done.state.get("notifications") or {}).get("swept_at") != (
                before.get("notifications") or {}
            ).get("swept_at")
            kind = "poll" if arm == "poll" else "sweep" if sweep_due else "targeted"
            runs.append(DayRun(hour, kind, sandbox.stats()["requests"], done.seconds, swept))
    return runs, first.seconds, per_hour


def vendor_requests(users: int, hours: int, catch_up_hours: int, seed: int) -> None:
    """The requests section: measure, then print per day and at the issue's fleet size."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="inbox-bench-") as tmp:
        work = Path(tmp)
        with database("sqlite", work) as url, serve(url, work / "server.log") as port:
            sandbox = HumanAPISandbox(seed=seed, users=users)
            sandbox.start()
            try:
                runs, first_seconds, per_hour = simulate_day(
                    sandbox, port, work, hours, catch_up_hours, seed
                )
                notified = sandbox.notification_counts()
            finally:
                sandbox.stop()
    elapsed = time.perf_counter() - started

    def of(kind: str) -> list[DayRun]:
        return [run for run in runs if run.kind == kind]

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    sweeps_per_day = 24 / catch_up_hours
    poll_day = mean([r.requests for r in of("poll")]) * 24
    targeted_day = mean([r.requests for r in of("targeted")]) * (24 - sweeps_per_day)
    sweep_day = mean([r.requests for r in of("sweep")]) * sweeps_per_day
    listen_day = targeted_day + sweep_day
    scale = FLEET / users
    sweep_hours = ", ".join(str(r.hour + 1) for r in of("sweep"))

    print()
    print("Human API vendor requests per day: notifications + catch-up sweeps vs hourly polling")
    print(
        f"measured: {users:,} users (the issue's {FLEET:,} scaled down; per-day figures "
        f"scaled x{scale:g} linearly for {FLEET:,}), {hours} simulated hours"
        + ("" if hours == 24 else " (scaled to 24: per-run means x runs a day)")
    )
    print(
        f"  each hour {per_hour} users ({CHANGED_PER_HOUR:.0%}, seeded random) complete a "
        f"source sync ({SYNC_NEW} new + {SYNC_UPDATED} updated records per source), then one "
        "poll-mode run and one notifications-mode run read the same sandbox, each from its "
        "own state; requests = the sandbox's count of every API request (tokens, admin, "
        "sources, data), inbox reads excluded"
    )
    print(
        f"  catch_up_hours={catch_up_hours}: {sweeps_per_day:g} sweeps a day; in {hours} h "
        f"the notifications run after hour(s) {sweep_hours} swept (swept_at backdated "
        f"{catch_up_hours + 1} h first)"
    )
    print(
        "  one notifications run per hour stands for the minute loop: a minute with nothing "
        "notified makes 0 vendor requests, and a notified user costs the same requests in "
        "whichever minute's run fetches it"
    )
    header = f"{'arm':<26}{'runs':>6}{'requests':>12}{'mean/run':>10}{'mean s':>8}"
    print(header + f"{'per day':>12}{f'per day @{FLEET:,}':>18}")
    lines = [
        ("hourly polling", of("poll"), poll_day),
        ("notifications, targeted", of("targeted"), targeted_day),
        ("notifications, sweeps", of("sweep"), sweep_day),
        ("notifications, total", of("targeted") + of("sweep"), listen_day),
    ]
    for name, chosen, per_day in lines:
        total = sum(r.requests for r in chosen)
        print(
            f"{name:<26}{len(chosen):>6}{total:>12,}{mean([r.requests for r in chosen]):>10,.0f}"
            f"{mean([r.seconds for r in chosen]):>8.1f}{per_day:>12,.0f}{per_day * scale:>18,.0f}"
        )
    ratio = listen_day / poll_day if poll_day else math.nan
    print(f"notifications / polling: {ratio:.1%} (goal <= 5%)")
    print(
        f"  of which targeted runs {targeted_day / poll_day:.1%} and sweeps "
        f"{sweep_day / poll_day:.1%} (derived split of the measured total)"
    )
    print(
        f"  per user: a notified user costs "
        f"{mean([r.requests for r in of('targeted')]) / per_hour:.1f} requests in a targeted "
        f"run; a poll run costs {mean([r.requests for r in of('poll')]) / users:.2f} per user"
    )
    sweep_mean = mean([r.requests for r in of("sweep")]) if of("sweep") else math.nan
    per_sweep_ratio = [
        f"{per_day_sweeps} a day {(targeted_day + per_day_sweeps * sweep_mean) / poll_day:.1%}"
        for per_day_sweeps in (4, 2, 1)
    ]
    print(
        "  derived from the measured means, other catch_up_hours: sweeps "
        + ", ".join(per_sweep_ratio)
    )
    unexpected = [r for r in runs if r.kind != "poll" and r.swept != (r.kind == "sweep")]
    if unexpected:
        print(f"  note: {len(unexpected)} notifications run(s) did not sweep as planned")
    print(
        f"  notifications sent by the sandbox: {notified.get('delivered', 0):,} delivered, "
        f"{notified.get('dropped', 0):,} dropped; first full sync {first_seconds:.0f} s "
        f"(not counted); section took {elapsed:.0f} s"
    )


# -- freshness: a new PainChek assessment to its row in the warehouse ------------------

# A 60 s loop: what the minute schedule runs (meltano.yml: painchek-continuous-every-minute).
PRODUCTION_LOOP = 60.0
# tap-painchek's default catch_up_hours: one run in 3600 / loop seconds sweeps.
PAINCHEK_CATCH_UP_SECONDS = 3600.0
# Draws of the derived distribution.
DRAWS = 200_000
# The tap's first log line; it reads the inbox within milliseconds of it.
START_LINE = "Meltano SDK v"


@dataclass
class Change:
    """One inserted assessment: when, and when the inbox and the warehouse had it."""

    uuid: str
    at: float  # wall clock just before the insert
    delivered: float = math.nan  # the inbox's received_at
    run: int = -1  # the run that put it in the warehouse


@dataclass
class JobRun:
    """One run of the continuous job: wall-clock times, and the uuids it landed."""

    start: float
    read: float  # the tap's start line, just before it reads the inbox (nan: not found)
    end: float
    landed: set[str]

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def after_read(self) -> float:
        """From reading the inbox to the end of the run (the whole run if not known)."""
        return self.seconds if math.isnan(self.read) else self.end - self.read


def tap_started(log: Path) -> float:
    """When the tap logged its start line (the last one: Meltano's discovery comes first).

    Meltano writes UTC ISO times; the tap alone, local times with a comma.
    """
    lines = [line for line in log.read_text(errors="replace").splitlines() if START_LINE in line]
    if not lines:
        return math.nan
    line = lines[-1]
    try:
        if line[10:11] == "T":
            stamp = line.split(" ", 1)[0].replace("Z", "+00:00")
            return datetime.fromisoformat(stamp).timestamp()
        return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    except ValueError:
        return math.nan


class ContinuousJob:
    """`meltano run tap-painchek--continuous target-duckdb` (or the tap alone), once a call."""

    def __init__(self, via: str, sandbox: PainChekSandbox, port: int, work: Path) -> None:
        self.via = via
        self.work = work
        self.config = {
            **sandbox.tap_config(),
            "change_detection": "notifications",
            "inbox_url": f"http://{HOST}:{port}",
            "inbox_token": READ_TOKEN,
        }
        self.state: dict = {}
        self.seen: set[str] = set()
        self.warehouse = work / "warehouse.duckdb"
        # Meltano's system directory, its database and the warehouse in the temporary
        # directory: other Meltano runs in this project (tests) share .meltano/run, so
        # only the installed plugins are shared, linked. The tap's settings under both
        # prefixes (the --continuous plugin's own variables win over the dev
        # environment's inbox_url in meltano.yml).
        system = work / "meltano-sys"
        system.mkdir()
        for kind in ("extractors", "loaders"):
            (system / kind).symlink_to(ROOT / ".meltano" / kind, target_is_directory=True)
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("TAP_PAINCHEK", "TARGET_"))
        }
        self.env |= {
            "MELTANO_ENVIRONMENT": "dev",
            "MELTANO_SYS_DIR_ROOT": str(system),
            "MELTANO_DATABASE_URI": f"sqlite:///{work / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TARGET_DUCKDB_FILEPATH": str(self.warehouse),
        }
        for prefix in ("TAP_PAINCHEK", "TAP_PAINCHEK__CONTINUOUS"):
            self.env |= {
                f"{prefix}_{key.upper()}": json.dumps(value)
                if isinstance(value, list | bool)
                else str(value)
                for key, value in self.config.items()
            }

    def run(self) -> JobRun:
        start = time.time()
        if self.via == "tap":
            done = run_tap("tap-painchek", self.config, self.state, self.work, "assessments")
            self.state, landed, log = done.state, done.ids, self.work / "tap.log"
        else:
            args = [str(MELTANO), "run", "tap-painchek--continuous", "target-duckdb"]
            log = self.work / "meltano.log"
            with log.open("wb") as sink:
                done = subprocess.run(
                    args, check=False, cwd=ROOT, env=self.env, stdout=sink, stderr=sink
                )
            if done.returncode != 0:
                sys.exit(
                    f"meltano run exited {done.returncode}; its log:\n{log.read_text()[-3000:]}"
                )
            landed = self.assessments() - self.seen
        end = time.time()
        self.seen |= landed
        return JobRun(start, tap_started(log), end, landed)

    def assessments(self) -> set[str]:
        """Every assessment uuid in the warehouse (read between runs, never during one)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            found = con.execute(
                "select table_schema from information_schema.tables "
                "where table_name = 'assessments'"
            ).fetchone()
            if found is None:
                return set()
            rows = con.execute(f'select uuid from "{found[0]}".assessments').fetchall()
        return {str(row[0]) for row in rows}


def loop(
    job: ContinuousJob,
    period: float,
    stop: threading.Event,
    runs: list[JobRun],
    failures: list[BaseException],
) -> None:
    """Run the job on a fixed schedule (every `period` s, as cron); an overrun skips slots."""
    origin = time.monotonic()
    try:
        while not stop.is_set():
            runs.append(job.run())
            slot = math.floor((time.monotonic() - origin) / period) + 1
            if stop.wait(origin + slot * period - time.monotonic()):
                return
    except BaseException as failure:  # reported by the main thread
        failures.append(failure)


def received_at(event: dict) -> float:
    return datetime.fromisoformat(event["received_at"].replace("Z", "+00:00")).timestamp()


def derived(
    deliveries: list[float], tails: list[float], sweep_tail: float, period: float, seed: int
) -> list[float]:
    """Latency draws for a loop of `period` s: delivery + wait for an inbox read + the rest.

    Runs start on a fixed schedule and changes come at any moment, so the wait from a
    notification to the next run's inbox read is uniform over the period. Then comes
    the rest of that run (from its inbox read to its end): a measured targeted run's,
    or the sweep's for the share of runs that sweep. Delivery and the rest are drawn
    from the measured values, independently.
    """
    rng = random.Random(seed)
    sweep_share = min(1.0, period / PAINCHEK_CATCH_UP_SECONDS) if sweep_tail else 0.0
    return [
        rng.choice(deliveries)
        + rng.uniform(0, period)
        + (sweep_tail if rng.random() < sweep_share else rng.choice(tails))
        for _ in range(DRAWS)
    ]


def measure_freshness(
    via: str, period: float, changes: int, window: float, seed: int
) -> tuple[list[Change], list[JobRun], JobRun]:
    """Insert `changes` assessments over `window` s while the job runs every `period` s.

    Returns the changes, the looped runs and the first run (a sweep, before the loop).
    """
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="inbox-bench-") as tmp:
        work = Path(tmp)
        with database("sqlite", work) as url, serve(url, work / "server.log") as port:
            sandbox = PainChekSandbox(seed=seed)
            sandbox.start()
            stop = threading.Event()
            runs: list[JobRun] = []
            failures: list[BaseException] = []
            made: list[Change] = []
            job = ContinuousJob(via, sandbox, port, work)
            worker = threading.Thread(target=loop, args=(job, period, stop, runs, failures))
            try:
                sandbox.notify_to(f"http://{HOST}:{port}/v1/painchek", secret=PAINCHEK_SECRET)
                first = job.run()  # no sweep yet: this run reads every table
                worker.start()
                origin = time.monotonic()
                for offset in sorted(rng.uniform(0, window) for _ in range(changes)):
                    time.sleep(max(0.0, origin + offset - time.monotonic()))
                    at = time.time()
                    row = sandbox.mutate("assessments", "insert", count=1)[0]
                    made.append(Change(row["uuid"], at))
                deadline = time.monotonic() + 2 * period + 600
                wanted = {c.uuid for c in made}
                while time.monotonic() < deadline and worker.is_alive():
                    if wanted <= set().union(*(run.landed for run in list(runs))):
                        break
                    time.sleep(0.2)
            finally:
                stop.set()
                if worker.is_alive():
                    worker.join()
                sandbox.stop()
            events = {e["uuid"]: received_at(e) for e in read_log(port, "painchek")}
    if failures:
        sys.exit(f"the continuous job failed: {failures[0]}")
    for change in made:
        change.delivered = events.get(change.uuid, math.nan)
        change.run = next((n for n, run in enumerate(runs) if change.uuid in run.landed), -1)
    return made, runs, first


def freshness(via: str, period: float, changes: int, window_loops: int, seed: int) -> None:
    """The freshness section: measure at `period`, derive for a 60 s loop, print both."""
    window = period * window_loops
    made, runs, first = measure_freshness(via, period, changes, window, seed)
    landed = [c for c in made if c.run >= 0]
    landing = [runs[c.run] for c in landed]  # one entry per change
    latencies = [runs[c.run].end - c.at for c in landed]
    deliveries = [c.delivered - c.at for c in made if not math.isnan(c.delivered)]
    startups = [r.read - r.start for r in landing if not math.isnan(r.read)]
    tails = [r.after_read for r in landing]
    idle = [r.seconds for r in runs if not r.landed]
    early = sum(1 for c in landed if runs[c.run].start < c.at)
    read_known = len(startups) == len(landing) and not math.isnan(first.read)
    what = (
        "`meltano run tap-painchek--continuous target-duckdb` (the row is looked up in "
        "DuckDB after each run; loading included)"
        if via == "meltano"
        else "the tap alone (tap-painchek, notifications mode; no loader, load time excluded)"
    )

    def row(name: str, values: list[float], unit: str = "s") -> None:
        if not values:
            print(f"    {name:<50}none")
            return
        print(
            f"    {name:<50}p50 {percentile(values, 50):>7.2f} {unit}  "
            f"p95 {percentile(values, 95):>7.2f} {unit}  "
            f"max {percentile(values, 100):>7.2f} {unit}  (n={len(values)})"
        )

    print()
    print("freshness: a new PainChek assessment to its row in the warehouse")
    print(f"  job: {what}")
    print(
        f"  {len(made)} assessments inserted at seeded random moments over {window:g} s "
        f"({window_loops} loops) while the job started every {period:g} s (a fixed schedule; "
        f"an overrun skips to the next slot): {len(runs)} runs, {len(landed)} of "
        f"{len(made)} changes landed, the inbox had {len(deliveries)}"
    )
    print("  measured (nearest-rank percentiles: below 20 samples, p95 is the largest):")
    row("change -> row in the warehouse (run end)", latencies)
    row("change -> notification committed in the inbox", [d * 1000 for d in deliveries], "ms")
    row("run start -> tap start line (reads the inbox)", startups)
    row("inbox read -> run end, runs that landed a change", tails)
    row("duration of the runs that landed a change", [r.seconds for r in landing])
    row("duration of runs that landed nothing", idle)
    print(
        f"    first run, a sweep of every table: {first.seconds:.1f} s "
        f"({first.after_read:.1f} s after its inbox read)"
    )
    print(
        f"    {early} of {len(landed)} changes were landed by a run that had started before "
        "them (its inbox read came after the change)"
    )
    print(
        "  derived, not measured: delivery + wait for the next run's inbox read (uniform over "
        "the loop) + that run from its inbox read to its end; delivery and run drawn from the "
        f"measurements above; at {PRODUCTION_LOOP:g} s one run in "
        f"{PAINCHEK_CATCH_UP_SECONDS / PRODUCTION_LOOP:.0f} is a sweep (catch_up_hours 1), "
        "drawn with the first run's figure"
    )
    if not read_known:
        print("    (the tap's start line was not found in every log: whole runs used instead)")
    if deliveries and tails:
        here = derived(deliveries, tails, 0.0, period, seed)
        prod = derived(deliveries, tails, first.after_read, PRODUCTION_LOOP, seed)
        row(f"model at the measured {period:g} s loop (check)", here)
        row(f"model at a {PRODUCTION_LOOP:g} s loop", prod)
    if landing and max(r.seconds for r in landing) > period:
        print(
            f"  note: runs took longer than the {period:g} s loop, so the schedule skipped "
            "slots: the model at this loop is optimistic"
        )
    if len(landed) < len(made):
        print(f"  note: {len(made) - len(landed)} change(s) never landed before the deadline")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--section",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); default: all",
    )
    parser.add_argument("--count", type=int, default=2000, help="ack: notifications per store")
    parser.add_argument("--users", type=int, default=1000, help="requests: Human API users")
    parser.add_argument(
        "--hours", type=int, default=12, help="requests: simulated hours (scaled to 24)"
    )
    parser.add_argument("--catch-up-hours", type=int, default=6, help="requests: sweep interval")
    parser.add_argument(
        "--loop-seconds", type=float, default=60.0, help="freshness: the job's loop period"
    )
    parser.add_argument("--changes", type=int, default=10, help="freshness: assessments inserted")
    parser.add_argument(
        "--window-loops",
        type=int,
        default=3,
        help="freshness: the changes are spread over this many loops",
    )
    parser.add_argument(
        "--via",
        choices=("meltano", "tap"),
        default="meltano",
        help="freshness: the Meltano job into DuckDB, or the tap alone",
    )
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    if options.hours < options.catch_up_hours:
        parser.error("--hours must be at least --catch-up-hours (to measure a sweep)")
    sections = options.section or list(SECTIONS)

    if "ack" in sections:
        print_ack(options.count)
    if "requests" in sections:
        vendor_requests(options.users, options.hours, options.catch_up_hours, options.seed)
    if "freshness" in sections:
        freshness(
            options.via, options.loop_seconds, options.changes, options.window_loops, options.seed
        )


if __name__ == "__main__":
    main()
