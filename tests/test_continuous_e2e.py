"""Continuous sync through Meltano: the inbox, the *--continuous plugins, a warehouse.

The sandbox notifies the real inbox (`healthdata-inbox serve`) with 10% of its
notifications dropped and some sent twice, while 10% of API requests fault. Each
vendor's continuous plugin runs as the minute schedule would run it: a first run
(the sweep), a targeted run after changes (the sandbox's request counters prove it
read only what was notified), a quiet run (0 vendor requests), and a catch-up sweep
after which the warehouse equals the truth. The logs, the inbox's log and its store
are scanned for secrets and patient details.
"""

from __future__ import annotations

import json
import typing as t
from datetime import UTC, datetime, timedelta

import pytest
from harness import Scenario, meltano_env, postgres_rows
from leaks import leaks
from sandbox.framework import FAULT_KINDS
from test_resilience import VENDORS, _finish

if t.TYPE_CHECKING:
    from harness import Meltano

    from conftest import InboxServer

PAINCHEK_TOKEN_PATH = "/api/integration/auth/"
SEEDS = {"painchek": 81, "humanapi": 82}


def _plugin(name: str) -> str:
    return f"{VENDORS[name].tap}--continuous"


def _inbox_env(name: str, inbox: InboxServer) -> dict[str, str]:
    """The inbox settings, in the continuous plugin's own names (the dev environment's
    inbox_url would win over the parent's TAP_<VENDOR>_INBOX_URL)."""
    return meltano_env(_plugin(name), {"inbox_url": inbox.url, "inbox_token": inbox.read_token})


def _run(meltano: Meltano, name: str, target: str = "target-duckdb") -> None:
    """One scheduled run; a run failed by the faults is rerun, as the next minute would."""
    for _ in range(4):
        done = meltano.run("run", _plugin(name), target, check=False)
        if done.returncode == 0:
            return
    tail = meltano.logs[-1][-3000:]
    raise AssertionError(f"{_plugin(name)} failed 4 runs in a row:\n{tail}")


def _state(meltano: Meltano, name: str, target: str = "target-duckdb") -> dict:
    """The continuous plugin's state in Meltano, as the next run reads it."""
    shown = meltano.run("state", "get", f"dev:{_plugin(name)}-to-{target}").stdout
    del meltano.logs[-1]  # it printed the state, which holds humanIds by design
    return json.loads(shown[shown.index("{") :])


def _backdate_sweep(meltano: Meltano, name: str, target: str = "target-duckdb") -> None:
    """Make the last sweep 7 hours old in Meltano's state, as if hours had passed."""
    state_id = f"dev:{_plugin(name)}-to-{target}"
    state = _state(meltano, name, target)
    cursor = state["singer_state"]["notifications"]
    when = datetime.now(UTC) - timedelta(hours=7)
    cursor["swept_at"] = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    meltano.run("state", "set", "--force", state_id, json.dumps(state))
    del meltano.logs[-1]  # as above


def _notified(sandbox: t.Any, name: str, inbox: InboxServer, after: int, state: dict) -> set[str]:
    """What the next run may read: the client user ids the inbox's new events name and
    the users the last run kept to retry (a read the faults failed), or the table."""
    events = [e for e in inbox.events(name) if e["seq"] > after]
    if name == "humanapi":
        retry = set(state["singer_state"]["notifications"].get("retry", []))
        kept = {u["clientUserId"] for u in sandbox.users() if u["humanId"] in retry}
        return {e["clientUserId"] for e in events} | kept
    return {"/api/assessments/"} if events else set()


def _inbox_leaks(sandbox: t.Any, name: str, inbox: InboxServer) -> list[str]:
    """Secrets in the inbox's log; secrets or patient details in its store."""
    secrets = {*VENDORS[name].secrets(sandbox), *inbox.secrets.values()}
    found = leaks(inbox.log.read_text(errors="replace"), secrets)
    stored = b"".join(
        path.read_bytes() for path in inbox.database.parent.glob(f"{inbox.database.name}*")
    ).decode("utf-8", errors="replace")
    # The store keeps the ids it needs to act (humanId, clientUserId): nothing else.
    ids = {v for u in getattr(sandbox, "users", list)() for k, v in u.items() if k.endswith("Id")}
    return found + leaks(stored, secrets - ids)


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["painchek", "humanapi"])
def test_continuous_sync_fetches_what_was_notified_and_sweeps_the_rest(
    request, meltano, inbox, name
):
    vendor = VENDORS[name]
    sandbox = request.getfixturevalue(vendor.fixture)(seed=SEEDS[name], **vendor.small)
    sandbox.notify_to(f"{inbox.url}/v1/{name}", drop_rate=0.1, duplicate_rate=0.1, seed=SEEDS[name])
    sandbox.set_faults(rate=0.1, seed=SEEDS[name], kinds=FAULT_KINDS, slow_seconds=1.5)
    meltano.env |= meltano_env(vendor.tap, {**vendor.tap_config(sandbox), "request_timeout": 1})
    meltano.env |= _inbox_env(name, inbox)
    path = meltano.workdir / "warehouse.duckdb"
    scenario = Scenario(f"{name}: continuous, 10% dropped, 10% faults")

    _run(meltano, name)  # the first run sweeps
    after = inbox.events(name)[-1]["seq"] if inbox.events(name) else 0
    vendor.change(sandbox)
    assert sandbox.wait_notifications_idle(30)
    state = _state(meltano, name)
    notified = _notified(sandbox, name, inbox, after, state)
    assert notified
    sandbox.reset_stats()
    _run(meltano, name)
    scenario.runs += 2
    if name == "humanapi":
        assert set(sandbox.user_requests()) <= notified
        # The admin list is read only to find a retried user's clientUserId.
        if not state["singer_state"]["notifications"].get("retry"):
            assert sandbox.stats()["admin_requests"] == 0
    else:
        read = {p for p, n in sandbox.stats()["by_path"].items() if n}
        assert read <= {PAINCHEK_TOKEN_PATH, *notified}

    sandbox.set_faults(rate=0)
    sandbox.reset_stats()
    _run(meltano, name)
    assert sandbox.stats()["requests"] == 0  # a quiet minute costs the vendor nothing

    # Dropped notifications (and PainChek's unnotified tables) wait for the sweep.
    _backdate_sweep(meltano, name)
    sandbox.reset_stats()
    _run(meltano, name)
    scenario.runs += 2
    assert sandbox.stats()["requests"] > 0
    scenario.faults = sandbox.notification_counts().get("dropped", 0)
    _finish(vendor, sandbox, meltano, path, scenario)
    assert _inbox_leaks(sandbox, name, inbox) == []


@pytest.mark.e2e
def test_continuous_painchek_into_postgres(make_painchek_sandbox, meltano, inbox, pg_schema):
    sandbox = make_painchek_sandbox(seed=83, patients=40)
    sandbox.notify_to(f"{inbox.url}/v1/painchek")
    meltano.env |= meltano_env("tap-painchek", sandbox.tap_config(page_size=50))
    meltano.env |= _inbox_env("painchek", inbox)
    meltano.env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = pg_schema
    _run(meltano, "painchek", "target-postgres")
    before = {r["uuid"] for r in postgres_rows(pg_schema, "assessments")}
    added = {r["uuid"] for r in sandbox.mutate("assessments", "insert", count=4)}
    assert sandbox.wait_notifications_idle(30)
    sandbox.reset_stats()
    _run(meltano, "painchek", "target-postgres")
    read = {p for p, n in sandbox.stats()["by_path"].items() if n}
    assert read <= {PAINCHEK_TOKEN_PATH, "/api/assessments/"}
    assert {r["uuid"] for r in postgres_rows(pg_schema, "assessments")} == before | added
    sandbox.reset_stats()
    _run(meltano, "painchek", "target-postgres")
    assert sandbox.stats()["requests"] == 0
