"""tap-humanapi against the Human API sandbox over real HTTP."""

from __future__ import annotations

import pytest
from sandbox.humanapi import PATHS
from tap_humanapi.streams import DATA_STREAMS, STREAM_TYPES

STREAM_OF_TABLE = {table: table.removesuffix("_readings") for table in PATHS}


def _config(sandbox, **extra) -> dict:
    return sandbox.tap_config(max_retry_seconds=30, **extra)


def _key(stream: str, record: dict) -> tuple:
    human_id = record.get("human_id") or record.get("humanId")
    if stream in {"profile", "demographics", "user_sync_status", "users"}:
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
