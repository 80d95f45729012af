"""Targeted syncs: the taps read the notification inbox and fetch only what it names.

Each test runs the real inbox (`healthdata-inbox serve`, SQLite) and a sandbox that
POSTs signed notifications to it when its data changes; the taps run in-process in
`change_detection: notifications` mode. The sandbox's request counters prove what
was fetched: nothing on a quiet run, only the notified users or tables otherwise,
everything on a catch-up sweep.
"""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta

import pytest
from sandbox.humanapi import PATHS as HUMANAPI_PATHS
from sandbox.humanapi import SINGLE_TABLES
from sandbox.painchek import TABLES as PAINCHEK_TABLES
from tap_humanapi.tap import TapHumanAPI
from tap_painchek.tap import TapPainChek
from tapkit.cli import InputError
from tapkit.testing import TapRun, sync

if t.TYPE_CHECKING:
    from conftest import InboxServer

PAINCHEK_TOKEN_PATH = "/api/integration/auth/"


def _listening(config: dict, inbox: InboxServer, **extra: t.Any) -> dict:
    return {
        **config,
        "change_detection": "notifications",
        "inbox_url": inbox.url,
        "inbox_token": inbox.read_token,
        **extra,
    }


def _backdated(state: dict, hours: float) -> dict:
    """The state with its last sweep ``hours`` ago: the next run sweeps."""
    when = datetime.now(UTC) - timedelta(hours=hours)
    cursor = {**state["notifications"], "swept_at": when.isoformat().replace("+00:00", "Z")}
    return {**state, "notifications": cursor}


def _data_paths(stats: dict) -> set[str]:
    return {path for path, count in stats["by_path"].items() if count}


@pytest.fixture
def painchek(make_painchek_sandbox, inbox):
    sandbox = make_painchek_sandbox(seed=31, patients=30)
    sandbox.notify_to(f"{inbox.url}/v1/painchek")
    return sandbox


def _run_painchek(capsys, config: dict, state: dict | None = None, **kw: t.Any) -> TapRun:
    tap = TapPainChek(config=config, state=state or {})
    tap.retry_policy.sleep = lambda _s: None
    return sync(tap, capsys, **kw)


def test_painchek_fetches_only_notified_tables_and_nothing_when_quiet(painchek, inbox, capsys):
    config = _listening(painchek.tap_config(page_size=50), inbox)
    first = _run_painchek(capsys, config)
    # No sweep yet: the first run reads every table.
    assert {n for n in PAINCHEK_TABLES if first.records(n)} == set(PAINCHEK_TABLES)
    assert first.state["notifications"]["after"] == 0
    assert "swept_at" in first.state["notifications"]

    painchek.reset_stats()
    quiet = _run_painchek(capsys, config, first.state)
    assert painchek.stats()["requests"] == 0
    assert [m for m in quiet.messages if m["type"] == "RECORD"] == []
    assert quiet.state["notifications"] == first.state["notifications"]

    added = painchek.mutate("assessments", "insert", count=3)
    edited = painchek.mutate("patients", "update", count=2)  # PainChek sends no webhook
    assert painchek.wait_notifications_idle(15)
    assert len(inbox.events("painchek")) == 3
    painchek.reset_stats()
    targeted = _run_painchek(capsys, config, quiet.state)
    assert _data_paths(painchek.stats()) <= {PAINCHEK_TOKEN_PATH, "/api/assessments/"}
    assert {r["uuid"] for r in targeted.records("assessments")} == {r["uuid"] for r in added}
    assert targeted.records("patients") == []
    assert targeted.state["notifications"]["after"] == inbox.events("painchek")[-1]["seq"]
    assert targeted.state["bookmarks"]["patients"] == quiet.state["bookmarks"]["patients"]

    # The catch-up sweep reads every table: the patients PainChek never notified land.
    backdated = _backdated(targeted.state, hours=2)
    swept = _run_painchek(capsys, config, backdated)
    assert {r["uuid"] for r in edited} <= {r["uuid"] for r in swept.records("patients")}
    assert swept.state["notifications"]["swept_at"] > backdated["notifications"]["swept_at"]


def test_painchek_poll_mode_ignores_the_inbox(painchek, inbox, capsys):
    config = painchek.tap_config(page_size=50)
    first = _run_painchek(capsys, config)
    painchek.reset_stats()
    second = _run_painchek(capsys, config, first.state)
    assert painchek.stats()["requests"] > 0  # polling asks every table again
    assert "notifications" not in second.state


@pytest.fixture
def humanapi(make_humanapi_sandbox, inbox):
    sandbox = make_humanapi_sandbox(seed=32, users=12)
    sandbox.notify_to(f"{inbox.url}/v1/humanapi")
    return sandbox


def _run_humanapi(capsys, config: dict, state: dict | None = None) -> TapRun:
    return sync(TapHumanAPI(config=config, state=state or {}), capsys)


def _changeable(sandbox) -> list[str]:
    """Users with a connected source, whose sources can sync."""
    return sandbox.client_user_ids("served")


def test_humanapi_fetches_only_notified_users_and_nothing_when_quiet(humanapi, inbox, capsys):
    config = _listening(humanapi.tap_config(), inbox)
    first = _run_humanapi(capsys, config)
    assert len(first.records("user_sync_status")) == len(humanapi.client_user_ids())

    humanapi.reset_stats()
    quiet = _run_humanapi(capsys, config, first.state)
    assert humanapi.stats()["requests"] == 0
    assert [m for m in quiet.messages if m["type"] == "RECORD"] == []

    changed = _changeable(humanapi)[1:3]
    for client_user_id in changed:
        humanapi.source_sync(client_user_id, new=2, updated=1)
    assert humanapi.wait_notifications_idle(15)
    humanapi.reset_stats()
    targeted = _run_humanapi(capsys, config, quiet.state)
    assert set(humanapi.user_requests()) == set(changed)
    assert humanapi.stats()["admin_requests"] == 0
    statuses = targeted.records("user_sync_status")
    assert {r["client_user_id"] for r in statuses} == set(changed)
    assert {r["outcome"] for r in statuses} == {"synced"}
    assert targeted.records("users") == []
    assert targeted.state["notifications"]["after"] == inbox.events("humanapi")[-1]["seq"]
    # Per user: a token, /sources, then only the endpoints its notifications name.
    named: dict[str, set[str]] = {}
    for event in inbox.events("humanapi"):
        if event["endpoint"] != "sources":
            named.setdefault(event["clientUserId"], set()).add(event["endpoint"])
    assert humanapi.user_requests() == {c: 2 + len(named[c]) for c in changed}
    # Every changed record of the notified users landed ...
    landed, truth = _landed([first, targeted]), _truth(humanapi)
    people = {r["human_id"] for r in statuses}
    for table, rows in truth.items():
        theirs = {k: v for k, v in rows.items() if k[0] in people}
        assert {k: landed.get(table, {}).get(k) for k in theirs} == theirs, table
    # ... but the markers cover every endpoint, so they wait for the next sweep.
    markers = targeted.state["bookmarks"]["user_sync_status"]["users"]
    assert markers == quiet.state["bookmarks"]["user_sync_status"]["users"]


def test_humanapi_users_whose_read_failed_are_fetched_again_next_run(humanapi, inbox, capsys):
    # One user at a time: a token, /sources refuses it (401), a new token, refused again.
    config = _listening(humanapi.tap_config(), inbox, max_retry_seconds=0, max_workers=1)
    first = _run_humanapi(capsys, config)
    changed = _changeable(humanapi)[:3]
    for client_user_id in changed:
        humanapi.source_sync(client_user_id, new=2, updated=1)
    assert humanapi.wait_notifications_idle(15)
    humanapi.fail_next(*["none", "expire", "none", "expire"] * len(changed))
    failed = _run_humanapi(capsys, config, first.state)
    assert {r["outcome"] for r in failed.records("user_sync_status")} == {"error"}
    cursor = failed.state["notifications"]
    assert cursor["after"] == inbox.events("humanapi")[-1]["seq"]  # the events are behind
    assert len(cursor["retry"]) == len(changed)  # ... but the users are not forgotten

    humanapi.reset_stats()
    again = _run_humanapi(capsys, config, failed.state)
    assert set(humanapi.user_requests()) == set(changed)
    statuses = again.records("user_sync_status")
    assert {r["client_user_id"]: r["outcome"] for r in statuses} == dict.fromkeys(changed, "synced")
    assert "retry" not in again.state["notifications"]


def _landed(runs: list[TapRun]) -> dict[str, dict[tuple, str]]:
    """Each data table as the runs left it: key -> updatedAt, later runs winning."""
    tables: dict[str, dict[tuple, str]] = {}
    for run in runs:
        for table in HUMANAPI_PATHS:
            if table == "sources":
                continue
            for row in run.records(table.removesuffix("_readings")):
                key = (row["human_id"],) if table in SINGLE_TABLES else (row["human_id"], row["id"])
                tables.setdefault(table, {})[key] = row.get("updatedAt")
    return tables


def _truth(sandbox) -> dict[str, dict[tuple, str]]:
    tables = {}
    for table in HUMANAPI_PATHS:
        if table == "sources":
            continue
        rows = sandbox.truth(table)
        tables[table] = {
            (r["humanId"],) if table in SINGLE_TABLES else (r["humanId"], r["id"]): r.get(
                "updatedAt"
            )
            for r in rows
        }
    return tables


def test_humanapi_dropped_notifications_are_caught_by_the_next_sweep(
    make_humanapi_sandbox, inbox, capsys
):
    humanapi = make_humanapi_sandbox(seed=33, users=20)
    humanapi.notify_to(f"{inbox.url}/v1/humanapi", drop_rate=0.4, duplicate_rate=0.2, seed=5)
    config = _listening(humanapi.tap_config(), inbox)
    runs = [_run_humanapi(capsys, config)]
    for client_user_id in _changeable(humanapi)[::2]:
        humanapi.source_sync(client_user_id, new=2, updated=2)
    assert humanapi.wait_notifications_idle(15)
    assert humanapi.notification_counts()["dropped"] > 0
    runs.append(_run_humanapi(capsys, config, runs[-1].state))
    missing = {
        table: set(rows) - set(_landed(runs).get(table, {}))
        for table, rows in _truth(humanapi).items()
    }
    assert any(missing.values())  # the dropped notifications' users are not read yet
    runs.append(_run_humanapi(capsys, config, _backdated(runs[-1].state, hours=7)))
    assert _landed(runs) == {k: v for k, v in _truth(humanapi).items() if v}


def test_a_refused_inbox_token_fails_the_run_before_any_vendor_request(painchek, inbox, capsys):
    config = _listening(painchek.tap_config(), inbox, inbox_token="not-the-token")
    painchek.reset_stats()
    tap = TapPainChek(config=config, state={"notifications": {"after": 0}})
    done = sync(tap, capsys, expect_error=True)
    assert done.error is not None
    assert "inbox_url: GET /v1/events answered 401: check inbox_token" in str(done.error)
    assert "not-the-token" not in str(done.error)
    assert painchek.stats()["requests"] == 0
    assert [m for m in done.messages if m["type"] in {"RECORD", "STATE"}] == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"inbox_url": None}, "inbox_url is required when change_detection is notifications"),
        ({"inbox_token": None}, "inbox_token is required when change_detection is notifications"),
        ({"inbox_url": "http://inbox.example.org"}, "inbox_url must use https"),
        ({"catch_up_hours": 0}, "catch_up_hours"),
    ],
)
@pytest.mark.parametrize("tap_class", [TapPainChek, TapHumanAPI])
def test_notification_settings_are_checked(tap_class, change, expected):
    config = {
        "api_url": "https://prod.ap.painchek.com",
        "client_id": "cid",
        "client_secret": "unit-test-secret",
        "change_detection": "notifications",
        "inbox_url": "https://inbox.example.org",
        "inbox_token": "unit-test-token",
    }
    config = {k: v for k, v in {**config, **change}.items() if v is not None}
    with pytest.raises(InputError, match=expected) as raised:
        tap_class(config=config)
    assert "unit-test-token" not in str(raised.value)


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        ({"after": "12"}, "'after' is not a non-negative integer"),
        ({"after": -1}, "'after' is not a non-negative integer"),
        ({"after": 3, "swept_at": "yesterday"}, "'swept_at' is not an ISO-8601 date-time"),
        ([3], "it is not an object"),
    ],
)
def test_a_bad_inbox_cursor_in_state_is_refused(cursor, expected):
    config = {
        "api_url": "https://prod.ap.painchek.com",
        "client_id": "cid",
        "client_secret": "unit-test-secret",
    }
    with pytest.raises(InputError, match=f"state: 'notifications': {expected}"):
        TapPainChek(config=config, state={"notifications": cursor})
