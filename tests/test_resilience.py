"""Nothing lost, nothing leaked: every tap under faults, SIGKILL and SIGTERM.

Each scenario runs the real Meltano project into DuckDB against a sandbox, and then
compares every table with the sandbox's truth. A failed run is run again, as a
scheduler would. Every log of every run is scanned for secrets, tokens and patient
details. The suite prints one summary line per scenario at the end.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
import typing as t
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from harness import (
    FHIR_TABLES,
    MELTANO,
    ROOT,
    SCENARIOS,
    Comparison,
    Meltano,
    Scenario,
    compare,
    duckdb_rows,
    meltano_env,
    retries_in,
)
from leaks import healthex_secrets, humanapi_secrets, leaks, painchek_secrets
from sandbox.framework import FAULT_KINDS
from sandbox.humanapi import PATHS as HUMANAPI_PATHS
from sandbox.humanapi import SINGLE_TABLES
from sandbox.painchek import TABLES as PAINCHEK_TABLES


@dataclass
class Vendor:
    """How to start, change, read back and scan one vendor's sandbox."""

    tap: str
    fixture: str
    small: dict[str, t.Any]
    large: dict[str, t.Any]
    tap_config: t.Callable[[t.Any], dict]
    change: t.Callable[[t.Any], None]
    compare_all: t.Callable[[t.Any, Path], list[Comparison]]
    secrets: t.Callable[[t.Any], set[str]]
    settled: t.Callable[[t.Any, Path], bool] = lambda _sandbox, _path: True
    # Schedules changes that land while the tap pages (between two of its requests).
    during: t.Callable[[t.Any], None] = lambda _sandbox: None
    # Settings for the mid-sync scenario: small pages, so changes land between pages.
    paged: dict[str, t.Any] = field(default_factory=dict)


def _painchek_change(sandbox) -> None:
    for table in PAINCHEK_TABLES:
        for op, count in (("insert", 2), ("update", 3), ("delete", 1)):
            sandbox.mutate(table, op, count=count)


def _painchek_during(sandbox) -> None:
    edits = [("update", 4), ("insert", 2), ("delete", 1)]
    for table, path in (("patients", "/api/patients/"), ("assessments", "/api/assessments/")):
        for after in (1, 3, 5):
            ops = [{"table": table, "op": op, "count": count} for op, count in edits]
            sandbox.schedule(after, ops, path=path)


def _painchek_compare(sandbox, path: Path) -> list[Comparison]:
    return [
        compare(table, sandbox.truth(table), duckdb_rows(path, "painchek", table))
        for table in PAINCHEK_TABLES
    ]


def _humanapi_change(sandbox) -> None:
    for client_user_id in sandbox.client_user_ids("served")[::4]:
        sandbox.source_sync(client_user_id, new=2, updated=1)


def _humanapi_during(sandbox) -> None:
    # A source sync while users are paged: records move in the updatedAt order.
    served = sandbox.client_user_ids("served")
    for after, client_user_id in zip((2, 5, 9, 14), served[::3], strict=False):
        op = {"op": "source_sync", "client_user_id": client_user_id, "new": 3, "updated": 3}
        sandbox.schedule(after, [op], path="/v1/human/medical/allergies")


def _humanapi_compare(sandbox, path: Path) -> list[Comparison]:
    results = []
    for table in HUMANAPI_PATHS:
        if table == "sources":
            continue
        single = table in SINGLE_TABLES

        def key(row, single=single):
            human = row.get("human_id") or row["humanId"]
            return human if single else (human, row["id"])

        results.append(
            compare(
                table,
                sandbox.truth(table),
                duckdb_rows(path, "humanapi", table.removesuffix("_readings")),
                key=key,
                version=lambda row: row["updatedAt"],
                deleted=None,
            )
        )
    return results


def _humanapi_settled(_sandbox, path: Path) -> bool:
    return all(r["outcome"] != "error" for r in duckdb_rows(path, "humanapi", "user_sync_status"))


def _healthex_change(sandbox) -> None:
    project = sandbox.projects[0]
    for patient in sandbox.patient_ids(project)[:2]:
        sandbox.write_bundle(project, patient)


def _healthex_during(sandbox) -> None:
    # Consents move in the server's order under the tap's offsets; a bundle arrives.
    for project in sandbox.projects:
        served = [c for c in sandbox.truth("consent_records") if c["studyId"] == project]
        for after, consent in zip((1, 2), served, strict=False):
            op = {"op": "set_consent", "patient_id": consent["patientId"], "consented": True}
            sandbox.schedule(after, [op], path=f"/v1/projects/{project}/consent-records")
        patient = sandbox.patient_ids(project)[0]
        bundle = {"op": "write_bundle", "project_id": project, "patient_id": patient}
        sandbox.schedule(
            1, [bundle], path=f"/v1/projects/{project}/recruitment/identified-patients"
        )


VERSION_OF = {"identified_patients": "updatedAt", "consent_records": "timestamp"}


def _healthex_compare(sandbox, path: Path) -> list[Comparison]:
    want = {
        (r["project_id"], r["patient_id"], r["resource"]["resourceType"], r["resource"]["id"]): r[
            "resource"
        ]
        for r in sandbox.truth_resources()
    }
    got = {}
    for table in FHIR_TABLES:
        for row in duckdb_rows(path, "healthex", table):
            got[
                (row["project_id"], row["healthex_patient_id"], row["resource_type"], row["id"])
            ] = json.loads(row["resource"])
    stale = [str(k) for k in set(want) & set(got) if want[k] != got[k]]
    api = [
        compare(
            table,
            sandbox.truth(table),
            duckdb_rows(path, "healthex", table),
            key=lambda row: row["id"],  # HealthEx ids are unique across projects
            # Consents carry no updatedAt; every change the sandbox makes sets timestamp.
            version=lambda row, table=table: row[VERSION_OF[table]],
            deleted=None,
        )
        for table in ("identified_patients", "consent_records")
    ]
    return [
        *api,
        Comparison(
            "fhir resources",
            len(want),
            sorted(map(str, set(want) - set(got))),
            stale,
            sorted(map(str, set(got) - set(want))),
        ),
    ]


def _healthex_settled(sandbox, path: Path) -> bool:
    """Every delivered file read (a run's update requests deliver after it listed)."""
    read = {row["key"] for row in duckdb_rows(path, "healthex", "delivery_files")}
    return {d["key"] for d in sandbox.delivered()} <= read


VENDORS = {
    "painchek": Vendor(
        tap="tap-painchek",
        fixture="make_painchek_sandbox",
        small={"patients": 60},
        large={"patients": 8000},
        tap_config=lambda sb: sb.tap_config(page_size=50),
        change=_painchek_change,
        compare_all=_painchek_compare,
        secrets=painchek_secrets,
        during=_painchek_during,
        paged={"page_size": 10},
    ),
    "humanapi": Vendor(
        tap="tap-humanapi",
        fixture="make_humanapi_sandbox",
        small={"users": 15},
        large={"users": 120, "latency_ms": 15},
        tap_config=lambda sb: sb.tap_config(),
        change=_humanapi_change,
        compare_all=_humanapi_compare,
        secrets=humanapi_secrets,
        settled=_humanapi_settled,
        during=_humanapi_during,
        paged={"page_size": 2},
    ),
    "healthex": Vendor(
        tap="tap-healthex",
        fixture="make_healthex_sandbox",
        small={"patients_per_project": 3, "delivery": "s3"},
        large={"patients_per_project": 25, "delivery": "s3"},
        tap_config=lambda sb: sb.tap_config("s3", request_updates=True),
        change=_healthex_change,
        compare_all=_healthex_compare,
        secrets=healthex_secrets,
        settled=_healthex_settled,
        during=_healthex_during,
        paged={"page_size": 2},
    ),
}


# Faults also on HealthEx's SFTP delivery (the others run on S3).
FAULTED = {
    **VENDORS,
    "healthex-sftp": replace(
        VENDORS["healthex"],
        small={"patients_per_project": 3, "delivery": "sftp"},
        tap_config=lambda sb: sb.tap_config("sftp", request_updates=True),
    ),
}


def _settle(
    vendor: Vendor,
    sandbox: t.Any,
    meltano: Meltano,
    path: Path,
    scenario: Scenario,
    *options: str,
) -> None:
    """Run until a run succeeds and the vendor reports nothing left to retry."""
    for _ in range(6):
        scenario.runs += 1
        done = meltano.run("run", *options, vendor.tap, "target-duckdb", check=False)
        if done.returncode == 0 and vendor.settled(sandbox, path):
            return
    msg = f"{vendor.tap} did not settle in 6 runs:\n{meltano.logs[-1][-3000:]}"
    raise AssertionError(msg)


def _finish(vendor: Vendor, sandbox, meltano: Meltano, path: Path, scenario: Scenario) -> None:
    results = vendor.compare_all(sandbox, path)
    logs = "\n".join(meltano.logs)
    scenario.compared = sum(r.compared for r in results)
    scenario.lost = sum(len(r.lost) for r in results)
    scenario.stale = sum(len(r.stale) for r in results)
    scenario.retries = retries_in(logs)
    scenario.leaks = len(leaks(logs, vendor.secrets(sandbox)))
    SCENARIOS.append(scenario)
    assert [str(r) for r in results if not r.ok] == []
    assert scenario.leaks == 0


@pytest.mark.e2e
@pytest.mark.parametrize("rate", [0.1, 0.3])
@pytest.mark.parametrize("name", list(FAULTED))
def test_faults_then_changes_then_faults_end_equal_to_the_truth(request, meltano, name, rate):
    vendor = FAULTED[name]
    sandbox = request.getfixturevalue(vendor.fixture)(seed=61, **vendor.small)
    sandbox.set_faults(
        rate=rate, seed=int(rate * 100), kinds=FAULT_KINDS, retry_after=1, slow_seconds=1.5
    )
    # Small pages, so even the small PainChek sync makes enough requests to fault.
    config = {**vendor.tap_config(sandbox), "request_timeout": 1}
    if name == "painchek":
        config["page_size"] = 10
    meltano.env |= meltano_env(vendor.tap, config)
    path = meltano.workdir / "warehouse.duckdb"
    scenario = Scenario(f"{name}: {rate:.0%} faults, data changing")
    _settle(vendor, sandbox, meltano, path, scenario)
    vendor.change(sandbox)
    _settle(vendor, sandbox, meltano, path, scenario)
    scenario.faults = sandbox.stats()["faults_injected"]
    assert scenario.faults > 0
    _finish(vendor, sandbox, meltano, path, scenario)


MID_SYNC = [("painchek", order, {"order": order}) for order in ("desc", "asc", "uuid")]
MID_SYNC += [("humanapi", "updatedAt", {}), ("healthex", "consents", {})]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("name", "order", "options"), MID_SYNC, ids=[f"{n}-{o}" for n, o, _ in MID_SYNC]
)
def test_rows_changing_during_a_sync_end_equal_to_the_truth(request, meltano, name, order, options):
    vendor = VENDORS[name]
    sandbox = request.getfixturevalue(vendor.fixture)(seed=65, **vendor.small, **options)
    meltano.env |= meltano_env(vendor.tap, {**vendor.tap_config(sandbox), **vendor.paged})
    path = meltano.workdir / "warehouse.duckdb"
    scenario = Scenario(f"{name}: rows changing mid-sync ({order})")
    vendor.during(sandbox)
    _settle(vendor, sandbox, meltano, path, scenario)
    scenario.faults = sandbox.stats()["schedules_applied"]
    assert scenario.faults > 0  # the changes landed while the tap was reading
    # The next scheduled run picks up what changed behind the tap's back.
    _settle(vendor, sandbox, meltano, path, scenario)
    _finish(vendor, sandbox, meltano, path, scenario)


@pytest.mark.e2e
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", list(VENDORS))
def test_sigkill_at_a_random_moment_then_rerun_ends_equal_to_the_truth(
    request, meltano, name, seed
):
    vendor = VENDORS[name]
    sandbox = request.getfixturevalue(vendor.fixture)(seed=70 + seed, **vendor.large)
    meltano.env |= meltano_env(vendor.tap, vendor.tap_config(sandbox))
    path = meltano.workdir / "warehouse.duckdb"
    scenario = Scenario(f"{name}: SIGKILL mid-sync, seed {seed}")
    env = {
        **os.environ,
        "MELTANO_ENVIRONMENT": "dev",
        "MELTANO_DATABASE_URI": f"sqlite:///{meltano.workdir / 'meltano.db'}",
        "TARGET_DUCKDB_FILEPATH": str(path),
        **meltano.env,
    }
    # The system database exists before the kill, as it does for any project that has
    # run once: a kill during Meltano's first migration is not what this test is about.
    meltano.run("upgrade", "database")
    victim = subprocess.Popen(
        [str(MELTANO), "run", vendor.tap, "target-duckdb"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(random.Random(seed).uniform(4.0, 8.0))
    os.killpg(victim.pid, signal.SIGKILL)  # meltano, the tap and the target at once
    victim.wait()
    scenario.runs += 1
    vendor.change(sandbox)
    # Meltano marks the killed run as still running for 5 minutes; an operator (or
    # a scheduler's retry) reruns with --force, as the README says.
    _settle(vendor, sandbox, meltano, path, scenario, "--force")
    _finish(vendor, sandbox, meltano, path, scenario)


@pytest.mark.parametrize("name", list(VENDORS))
def test_sigterm_exits_promptly_with_a_final_state(request, tmp_path, name):
    vendor = VENDORS[name]
    sandbox = request.getfixturevalue(vendor.fixture)(seed=80, **vendor.large)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(vendor.tap_config(sandbox)))
    command = [str(ROOT / ".venv" / "bin" / vendor.tap), "--config", str(config)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as tap:
        assert tap.stdout is not None
        before = []
        for line in tap.stdout:  # wait until it is writing records
            before.append(line)
            if line.startswith(b'{"type":"RECORD"'):
                break
        tap.send_signal(signal.SIGTERM)
        start = time.monotonic()
        rest = tap.stdout.read()
        tap.wait(timeout=30)
        seconds = time.monotonic() - start
    assert seconds < 15
    messages = [json.loads(line) for line in [*before, *rest.splitlines()] if line.strip()]
    # The SDK writes a final STATE on SIGTERM, unless it equals the last one it wrote
    # (the signal can land between two streams): the state the run ends with is the last.
    last = [m for m in messages if m["type"] == "STATE"][-1]
    bookmarks = last["value"].get("bookmarks", {})
    # Nothing the interrupted run did not finish may look finished. The tap writes
    # records in blocks and flushes them before the final STATE, so the last record
    # written is of the stream the signal interrupted (or of one that had finished).
    records = [m for m in messages if m["type"] == "RECORD"]
    interrupted = records[-1]["stream"]
    if name == "painchek" and sum(m["stream"] == interrupted for m in records) < len(
        sandbox.truth(interrupted)
    ):
        assert "replication_key_value" not in bookmarks.get(interrupted, {})
    # Human API's and HealthEx's own bookmarks move only after every stream they cover.
    assert "users" not in bookmarks.get("user_sync_status", {})
    assert "watermark" not in bookmarks.get("delivery_files", {})
    SCENARIOS.append(Scenario(f"{name}: SIGTERM ({seconds:.1f} s to exit)", runs=1))
