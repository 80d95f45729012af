"""`meltano run tap-painchek <target>` into DuckDB and PostgreSQL, compared with the truth."""

from __future__ import annotations

import pytest
from harness import compare, duckdb_rows, meltano_env, postgres_rows
from leaks import leaks, painchek_secrets
from sandbox.painchek import TABLES


def _sandbox_env(sandbox) -> dict[str, str]:
    return meltano_env("tap-painchek", sandbox.tap_config())


def _change_everything(sandbox) -> None:
    for table in TABLES:
        sandbox.mutate(table, "insert", count=3)
        sandbox.mutate(table, "update", count=4)
        sandbox.mutate(table, "delete", count=2)


def _assert_warehouse_equals_truth(sandbox, rows_of) -> int:
    compared = 0
    for table in TABLES:
        result = compare(table, sandbox.truth(table), rows_of(table))
        landed_deleted = {r["uuid"] for r in rows_of(table) if r["is_deleted"]}
        assert landed_deleted == {r["uuid"] for r in sandbox.truth(table) if r["deleted_at"]}
        assert result.ok, str(result)
        compared += result.compared
    return compared


def _run_twice_and_compare(sandbox, meltano, loader: str, rows_of) -> None:
    meltano.env |= _sandbox_env(sandbox)
    meltano.run("run", "tap-painchek", loader)
    _assert_warehouse_equals_truth(sandbox, rows_of)

    _change_everything(sandbox)
    sandbox.reset_stats()
    meltano.run("run", "tap-painchek", loader)
    _assert_warehouse_equals_truth(sandbox, rows_of)
    assert sandbox.stats()["records_served"] < 200  # incremental: the changes, not the tables

    sandbox.reset_stats()
    meltano.run("run", "tap-painchek", loader)  # nothing changed
    stats = sandbox.stats()
    data_requests = {p: n for p, n in stats["by_path"].items() if p != "/api/integration/auth/"}
    assert len(data_requests) == len(TABLES)
    assert set(data_requests.values()) == {1}  # one request a stream
    assert stats["auth_requests"] == 1  # plus one token
    assert stats["records_served"] == 0

    assert leaks("\n".join(meltano.logs), painchek_secrets(sandbox)) == []


@pytest.mark.e2e
def test_duckdb_equals_the_sandbox_after_full_and_incremental_runs(make_painchek_sandbox, meltano):
    sandbox = make_painchek_sandbox(seed=11, patients=300)
    path = meltano.workdir / "warehouse.duckdb"
    _run_twice_and_compare(
        sandbox, meltano, "target-duckdb", lambda table: duckdb_rows(path, "painchek", table)
    )


@pytest.mark.e2e
def test_postgres_equals_the_sandbox_after_full_and_incremental_runs(
    make_painchek_sandbox, meltano, pg_schema
):
    sandbox = make_painchek_sandbox(seed=12, patients=300, order="asc")
    meltano.env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = pg_schema
    _run_twice_and_compare(
        sandbox, meltano, "target-postgres", lambda table: postgres_rows(pg_schema, table)
    )
    loaded = postgres_rows(pg_schema, "patients")
    assert all(row["deleted_reason"] != "null" for row in loaded)  # vendor quirk mapped


@pytest.mark.e2e
def test_a_run_under_ten_percent_faults_ends_with_the_same_warehouse(
    make_painchek_sandbox, meltano
):
    sandbox = make_painchek_sandbox(seed=13, patients=120)
    sandbox.set_faults(
        rate=0.10,
        seed=5,
        kinds=("429", "500", "502", "503", "drop", "truncate", "expire", "slow"),
        retry_after=1,
        slow_seconds=2.5,
    )
    meltano.env |= _sandbox_env(sandbox) | {
        "TAP_PAINCHEK_PAGE_SIZE": "25",
        "TAP_PAINCHEK_REQUEST_TIMEOUT": "1",
    }
    path = meltano.workdir / "warehouse.duckdb"
    meltano.run("run", "tap-painchek", "target-duckdb")
    _change_everything(sandbox)
    meltano.run("run", "tap-painchek", "target-duckdb")
    assert sandbox.stats()["faults_injected"] >= 5
    _assert_warehouse_equals_truth(sandbox, lambda table: duckdb_rows(path, "painchek", table))
    assert leaks("\n".join(meltano.logs), painchek_secrets(sandbox)) == []


@pytest.mark.e2e
def test_the_documented_hard_delete_recipe_removes_deleted_rows(make_painchek_sandbox, meltano):
    sandbox = make_painchek_sandbox(seed=14, patients=40)
    meltano.env |= _sandbox_env(sandbox) | {
        "TARGET_DUCKDB_HARD_DELETE": "true",
        "TAP_PAINCHEK_STREAM_MAPS": '{"patients": {"_sdc_deleted_at": "deleted_at"}}',
    }
    path = meltano.workdir / "warehouse.duckdb"
    meltano.run("run", "tap-painchek", "target-duckdb")
    gone = {row["uuid"] for row in sandbox.mutate("patients", "delete", count=5)}
    meltano.run("run", "tap-painchek", "target-duckdb")
    landed = {row["uuid"] for row in duckdb_rows(path, "painchek", "patients")}
    live = {row["uuid"] for row in sandbox.truth("patients") if row["deleted_at"] is None}
    assert gone.isdisjoint(landed)
    assert landed == live
