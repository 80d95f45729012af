"""tap-humanapi against the Human API sandbox over real HTTP."""

from __future__ import annotations

import json
import logging

import pytest
from sandbox.humanapi import MEDICAL_TABLES, PATHS
from tap_humanapi.streams import DATA_STREAMS, STREAM_TYPES, SourcesStream, UsersStream
from tapkit.fidelity import EXTRA
from tapkit.testing import DROPPED_WARNING, schema_errors

STREAM_OF_TABLE = {table: table.removesuffix("_readings") for table in PATHS}


def _config(sandbox, **extra) -> dict:
    return sandbox.tap_config(max_retry_seconds=30, **extra)


def _key(stream: str, record: dict) -> tuple:
    human_id = record.get("human_id") or record.get("humanId")
    if stream in {"profile", "user_sync_status", "users"}:
        return (human_id,)
    return (human_id, record["id"], record.get("source") if stream == "sources" else None)


def _warehouse(*runs) -> dict[str, dict[tuple, dict]]:
    """Latest version per primary key, as a target upserting by key keeps it."""
    tables: dict[str, dict[tuple, dict]] = {}
    for run in runs:
        for message in run.messages:
            if message["type"] == "RECORD":
                rows = tables.setdefault(message["stream"], {})
                rows[_key(message["stream"], message["record"])] = message["record"]
    return tables


def _assert_equals_truth(sandbox, warehouse) -> int:
    compared = 0
    for table in PATHS:
        if table == "sources":
            continue
        stream = STREAM_OF_TABLE[table]
        truth = {_key(stream, r): r["updatedAt"] for r in sandbox.truth(table)}
        landed = {k: r["updatedAt"] for k, r in warehouse.get(stream, {}).items()}
        assert landed == truth, stream
        compared += len(truth)
    return compared


def test_every_field_the_api_serves_is_in_the_schema(make_humanapi_sandbox):
    sandbox = make_humanapi_sandbox(seed=3, users=40)
    schemas = {s.name: s.schema["properties"] for s in DATA_STREAMS}
    for table in PATHS:
        if table == "sources":
            continue
        served = {k for r in sandbox.truth(table) for k in r} - {"humanId"}
        assert served - set(schemas[STREAM_OF_TABLE[table]]) == set(), table
    assert len(STREAM_TYPES) == 31


TAP_ADDED = {"human_id", "client_user_id", EXTRA, "synched_at", "sync_status", "sync_details"}
SCHEMAS = {
    **{s.name: s.schema for s in DATA_STREAMS},
    "sources": SourcesStream.schema,
    "users": UsersStream.schema,
}


def _as_landed(stream: str, row: dict) -> dict:
    """A served row as the tap writes it: numbers sent for a string field as their text."""
    landed = {}
    for name, value in row.items():
        kinds = SCHEMAS[stream]["properties"][name]["type"]
        as_text = "string" in kinds and "number" not in kinds and isinstance(value, int | float)
        landed[name] = json.dumps(value) if as_text else value
    return landed


def test_a_sandbox_run_of_every_stream_lands_every_field_as_served(
    make_humanapi_sandbox, run_tap, caplog
):
    sandbox = make_humanapi_sandbox(seed=1, users=40)  # every stream has records
    with caplog.at_level(logging.WARNING):
        result = run_tap(_config(sandbox))
    assert schema_errors(result.messages) == []
    assert DROPPED_WARNING not in caplog.text
    assert "kept in the extra_fields column" not in caplog.text  # it serves declared fields
    for table in PATHS:
        stream = STREAM_OF_TABLE[table]
        truth = {_key(stream, r): r for r in sandbox.truth(table)}
        landed = result.records(stream)
        assert landed, stream
        for record in landed:
            sent = truth[_key(stream, record)]
            if table in MEDICAL_TABLES or table == "sources":
                sent = {k: v for k, v in sent.items() if k != "humanId"}  # truth adds it
            assert record.get(EXTRA) is None
            vendor = {k: v for k, v in record.items() if k not in TAP_ADDED}
            assert vendor == _as_landed(stream, sent), stream
    users = {u["humanId"]: u for u in sandbox.users()}
    landed_users = {
        r["humanId"]: {k: v for k, v in r.items() if k != EXTRA} for r in result.records("users")
    }
    assert landed_users == users


def test_unknown_fields_from_the_sandbox_land_in_extra_fields(
    make_humanapi_sandbox, run_tap, caplog
):
    sandbox = make_humanapi_sandbox(seed=1, users=40)
    added = {"consentVersion": "2025-01", "labPanel": {"id": 7}}
    sandbox.add_vendor_fields("/v1/human", added)
    sandbox.add_vendor_fields("/api/v1/users", added)
    with caplog.at_level(logging.WARNING):
        result = run_tap(_config(sandbox))
    assert schema_errors(result.messages) == []
    assert DROPPED_WARNING not in caplog.text
    for stream in SCHEMAS:
        records = result.records(stream)
        assert records, stream
        assert all(record[EXTRA] == added for record in records), stream
        assert f"Stream '{stream}': kept in the extra_fields column" in caplog.text
    assert {r["id"] for r in result.records("demographics")} == {
        r["id"] for r in sandbox.truth("demographics")
    }


def test_sync_source_sync_and_second_run_equal_the_truth(make_humanapi_sandbox, run_tap):
    sandbox = make_humanapi_sandbox(seed=4, users=30)
    first = run_tap(_config(sandbox))
    assert _assert_equals_truth(sandbox, _warehouse(first)) > 500

    outcomes = first.outcomes()
    for cid in sandbox.client_user_ids("deleted") + sandbox.client_user_ids("no_source"):
        assert outcomes[cid] == "token_rejected"
    for cid in sandbox.client_user_ids("reauthentication_required"):
        assert outcomes[cid] == "needs_reauth"

    changed = sandbox.client_user_ids("served")[:3]
    for cid in changed:
        sandbox.source_sync(cid, new=3, updated=2)
    sandbox.reset_stats()
    second = run_tap(_config(sandbox), state=first.state)
    _assert_equals_truth(sandbox, _warehouse(first, second))
    assert {cid for cid, o in second.outcomes().items() if o == "synced"} == set(changed)
    read_users = {r["client_user_id"] for s in DATA_STREAMS for r in second.records(s.name)}
    assert read_users == set(changed)


def test_a_no_change_run_is_two_requests_per_user(make_humanapi_sandbox, run_tap):
    sandbox = make_humanapi_sandbox(seed=5, users=25)
    first = run_tap(_config(sandbox))
    sandbox.reset_stats()
    run_tap(_config(sandbox), state=first.state)
    stats = sandbox.stats()
    served = len(sandbox.client_user_ids("served"))
    refused = 25 - served
    assert stats["data_requests"] == 0
    assert stats["sources_requests"] == served
    assert stats["token_requests"] == served + refused  # refused users: one refused request


def test_concurrent_run_equals_sequential_run(make_humanapi_sandbox, run_tap):
    sandbox = make_humanapi_sandbox(seed=6, users=24, latency_ms=5)

    def records(run):
        return [
            (m["stream"], m["record"])
            for m in run.messages
            if m["type"] == "RECORD" and m["stream"] != "user_sync_status"
        ]

    one = run_tap(_config(sandbox, max_workers=1))
    many = run_tap(_config(sandbox, max_workers=16))
    assert records(one) == records(many)
    assert one.state["bookmarks"]["user_sync_status"] == many.state["bookmarks"]["user_sync_status"]


def test_two_shards_cover_every_user_once(make_humanapi_sandbox, run_tap):
    sandbox = make_humanapi_sandbox(seed=7, users=40)
    whole = run_tap(_config(sandbox))
    halves = [run_tap(_config(sandbox, shard_count=2, shard_index=i)) for i in (0, 1)]
    users = [set(h.outcomes()) for h in halves]
    assert users[0].isdisjoint(users[1])
    assert users[0] | users[1] == set(whole.outcomes())
    assert all(len(u) > 5 for u in users)
    merged = _warehouse(*halves)
    single = _warehouse(whole)
    assert {k: set(v) for k, v in merged.items() if k != "user_sync_status"} == {
        k: set(v) for k, v in single.items() if k != "user_sync_status"
    }


def test_a_sync_landing_while_a_user_is_paged_loses_nothing(make_humanapi_sandbox, run_tap):
    sandbox = make_humanapi_sandbox(seed=8, users=12)
    config = _config(sandbox, max_workers=1, page_size=2, lookback_minutes=0)
    first = run_tap(config)
    served = set(sandbox.client_user_ids("served"))
    vitals = [
        r
        for r in sandbox.truth("vitals")
        if r["humanId"] in {u["humanId"] for u in sandbox.users() if u["clientUserId"] in served}
    ]
    owner = max(
        {r["humanId"] for r in vitals}, key=lambda h: sum(r["humanId"] == h for r in vitals)
    )
    mine = [r["id"] for r in vitals if r["humanId"] == owner][:5]
    assert len(mine) == 5
    sandbox.mutate("vitals", "update", uuids=mine)  # a sync: five newer records, in order
    # While the tap reads page 1 of them, the first one changes again and moves to
    # the end: offset paging now skips a record at the page boundary.
    sandbox.schedule(
        after_requests=1,
        path="/v1/human/medical/vitals",
        ops=[{"table": "vitals", "op": "update", "uuids": mine[:1]}],
    )
    second = run_tap(config, state=first.state)
    assert len({r["id"] for r in second.records("vitals")}) < 5  # the skip happened
    third = run_tap(config, state=second.state)  # the user was not marked as read
    _assert_equals_truth(sandbox, _warehouse(first, second, third))


@pytest.mark.parametrize("kinds", [("429", "503", "drop", "truncate", "expire")])
def test_faults_are_retried_and_the_result_equals_the_truth(make_humanapi_sandbox, run_tap, kinds):
    sandbox = make_humanapi_sandbox(seed=9, users=15)
    sandbox.set_faults(rate=0.1, seed=3, kinds=kinds, retry_after=0)
    # A token expiring again right after its re-mint makes that user an `error`
    # for the run; like a scheduler, run again until every user settled.
    runs = [run_tap(_config(sandbox))]
    while "error" in runs[-1].outcomes().values() and len(runs) < 4:
        runs.append(run_tap(_config(sandbox), state=runs[-1].state))
    assert "error" not in runs[-1].outcomes().values()
    assert sandbox.stats()["faults_injected"] >= 5
    _assert_equals_truth(sandbox, _warehouse(*runs))
