"""`meltano run tap-humanapi <target>` into DuckDB and PostgreSQL, compared with the truth."""

from __future__ import annotations

import json

import pytest
from harness import compare, duckdb_rows, meltano_env, postgres_rows
from leaks import humanapi_secrets, leaks
from sandbox.humanapi import PATHS, SINGLE_TABLES

DATA_TABLES = [t for t in PATHS if t != "sources"]


def _stream(table: str) -> str:
    return table.removesuffix("_readings")


def _key(table: str):
    if table in SINGLE_TABLES:
        return lambda row: row.get("human_id") or row["humanId"]
    return lambda row: (row.get("human_id") or row["humanId"], row["id"])


def _env(sandbox) -> dict[str, str]:
    return meltano_env("tap-humanapi", sandbox.tap_config())


def _assert_equals_truth(sandbox, rows_of) -> None:
    for table in DATA_TABLES:
        result = compare(
            table,
            sandbox.truth(table),
            rows_of(_stream(table)),
            key=_key(table),
            version=lambda row: row["updatedAt"],
            deleted=None,
        )
        assert result.ok, str(result)


def _outcomes(rows) -> dict[str, str]:
    return {row["client_user_id"]: row["outcome"] for row in rows}


def _sync_change_and_resync(sandbox, meltano, loader: str, rows_of) -> None:
    meltano.env |= _env(sandbox)
    meltano.run("run", "tap-humanapi", loader)
    _assert_equals_truth(sandbox, rows_of)
    outcomes = _outcomes(rows_of("user_sync_status"))
    for cid in sandbox.client_user_ids("deleted") + sandbox.client_user_ids("no_source"):
        assert outcomes[cid] == "token_rejected"
    for cid in sandbox.client_user_ids("reauthentication_required"):
        assert outcomes[cid] == "needs_reauth"

    changed = sandbox.client_user_ids("served")[:4]
    for cid in changed:
        sandbox.source_sync(cid, new=3, updated=2)
    meltano.run("run", "tap-humanapi", loader)
    _assert_equals_truth(sandbox, rows_of)

    sandbox.reset_stats()
    meltano.run("run", "tap-humanapi", loader)  # nothing synced since
    stats = sandbox.stats()
    assert stats["data_requests"] == 0
    assert stats["sources_requests"] == len(sandbox.client_user_ids("served"))
    assert leaks("\n".join(meltano.logs), humanapi_secrets(sandbox)) == []


@pytest.mark.e2e
def test_duckdb_equals_the_sandbox_after_sync_source_sync_and_rerun(make_humanapi_sandbox, meltano):
    sandbox = make_humanapi_sandbox(seed=31, users=30)
    path = meltano.workdir / "warehouse.duckdb"
    _sync_change_and_resync(
        sandbox, meltano, "target-duckdb", lambda table: duckdb_rows(path, "humanapi", table)
    )


@pytest.mark.e2e
def test_postgres_equals_the_sandbox_after_sync_source_sync_and_rerun(
    make_humanapi_sandbox, meltano, pg_schema
):
    sandbox = make_humanapi_sandbox(seed=32, users=30)
    meltano.env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = pg_schema
    _sync_change_and_resync(
        sandbox, meltano, "target-postgres", lambda table: postgres_rows(pg_schema, table)
    )


@pytest.mark.e2e
def test_the_two_meltano_shards_cover_every_user_exactly_once(make_humanapi_sandbox, meltano):
    sandbox = make_humanapi_sandbox(seed=33, users=40)
    meltano.env |= _env(sandbox)
    path = meltano.workdir / "warehouse.duckdb"
    meltano.run(
        "run", "tap-humanapi--shard0", "target-duckdb", "tap-humanapi--shard1", "target-duckdb"
    )
    _assert_equals_truth(sandbox, lambda table: duckdb_rows(path, "humanapi", table))
    marked = []
    for shard in ("tap-humanapi--shard0", "tap-humanapi--shard1"):
        done = meltano.run("state", "get", f"dev:{shard}-to-target-duckdb")
        state = json.loads(done.stdout[done.stdout.index("{") :])
        marked.append(set(state["singer_state"]["bookmarks"]["user_sync_status"]["users"]))
    assert marked[0].isdisjoint(marked[1])
    assert all(marked)
    served = {
        u["humanId"]
        for u in sandbox.users()
        if u["clientUserId"] in sandbox.client_user_ids("served")
    }
    assert marked[0] | marked[1] == served
