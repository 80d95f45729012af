"""The log itself, on SQLite and PostgreSQL: sequence, idempotency, replay, retention."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from healthdata_inbox.store import Delivery, Item, Outcome, Store, open_store


def _painchek(delivery_id: str, uuid: str = "a-1") -> Delivery:
    return Delivery(
        "painchek", delivery_id, (Item("assessment_add", {"uuid": uuid, "patient": "p-1"}),)
    )


def _humanapi(delivery_id: str, nonce: str, endpoints: int = 1) -> Delivery:
    items = tuple(Item("data", {"humanId": "h-1", "endpoint": f"e-{n}"}) for n in range(endpoints))
    return Delivery("humanapi", delivery_id, items, nonce=nonce)


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_sequence_increases_across_concurrent_writers_and_pages_see_every_row(store: Store):
    def write(n: int) -> Outcome:
        return store.record(_humanapi(f"d-{n}", f"n-{n}", endpoints=3), NOW)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(write, range(60)))
    assert set(outcomes) == {Outcome.STORED}
    seen, after = [], 0
    while page := store.read("humanapi", after, 7):
        seen += page
        after = int(page[-1]["seq"])  # type: ignore[call-overload]
    seqs = [int(e["seq"]) for e in seen]  # type: ignore[call-overload]
    assert len(seqs) == 180 == len(set(seqs))
    assert seqs == sorted(seqs)
    by_delivery: dict[object, list[object]] = {}
    for event in seen:
        by_delivery.setdefault(event["delivery_id"], []).append(event["item_index"])
    assert all(indexes == [0, 1, 2] for indexes in by_delivery.values())


def test_same_delivery_twice_is_one_row_and_a_reused_nonce_is_a_replay(store: Store):
    assert store.record(_humanapi("d-1", "n-1", endpoints=2), NOW) is Outcome.STORED
    assert store.record(_humanapi("d-1", "n-1", endpoints=2), NOW) is Outcome.DUPLICATE
    assert store.record(_humanapi("d-2", "n-1"), NOW) is Outcome.REPLAY
    assert store.record(_painchek("d-1"), NOW) is Outcome.STORED  # ids are per vendor
    assert store.count("humanapi") == 2
    assert store.count("painchek") == 1


def test_sequence_never_reuses_numbers_after_a_prune(store: Store):
    store.record(_painchek("d-1", "a-1"), NOW - timedelta(days=40))
    store.record(_painchek("d-2", "a-2"), NOW - timedelta(days=40))
    [*_, last_old] = store.read(None, 0, 10)
    assert store.prune(NOW - timedelta(days=30)) == 2
    store.record(_painchek("d-3", "a-3"), NOW)
    [new] = store.read(None, 0, 10)
    assert int(new["seq"]) > int(last_old["seq"])  # type: ignore[call-overload]


def test_prune_removes_only_entries_older_than_the_cutoff(store: Store):
    store.record(_painchek("old", "a-old"), NOW - timedelta(days=31))
    store.record(_painchek("new", "a-new"), NOW - timedelta(days=29))
    assert store.prune(NOW - timedelta(days=30)) == 1
    [kept] = store.read(None, 0, 10)
    assert kept["uuid"] == "a-new"
    assert kept["received_at"] == (NOW - timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert store.record(_painchek("new", "a-new"), NOW) is Outcome.DUPLICATE
    assert store.record(_painchek("old", "a-old"), NOW) is Outcome.STORED  # its delivery was pruned


def test_reopening_keeps_the_log(database_url: str):
    first = open_store(database_url)
    first.record(_painchek("d-1"), NOW)
    first.close()
    again = open_store(database_url)
    try:
        assert again.record(_painchek("d-1"), NOW) is Outcome.DUPLICATE
        assert again.count() == 1
    finally:
        again.close()


def test_postgres_tables_live_in_the_test_schema(postgres_url: str):
    store = open_store(postgres_url)
    store.close()
    with psycopg.connect(postgres_url) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
            (schema,),
        ).fetchall()
    assert schema.startswith("inbox_test_")
    assert tables == [("inbox_deliveries",), ("inbox_events",)]


def test_unknown_database_url_is_refused():
    with pytest.raises(ValueError, match="sqlite:///"):
        open_store("mysql://somewhere/db")
