"""Production state: a PostgreSQL system database, the S3 state backend, shards at once.

Meltano keeps each job's bookmarks under a state id (`<environment>:<tap>-to-<target>`)
in its system database or in a state backend. These tests run the real project the
way production does and check that the state survives, the next run is incremental,
two shard jobs can run at the same time against one system database, and a second
run of the same state id is refused while the first is running.
"""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest
from harness import Meltano, duckdb_rows, meltano_env, postgres_rows
from sandbox.painchek import TABLES as PAINCHEK_TABLES

PAINCHEK_STATE_ID = "dev:tap-painchek-to-target-duckdb"


@pytest.fixture
def system_db(fresh_database: str) -> str:
    """A new PostgreSQL database for Meltano's system tables."""
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{fresh_database}"


def _system_rows(uri: str, query: str) -> list[tuple]:
    dsn = uri.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as con:
        return list(con.execute(query))


def _incremental_rerun(sandbox, meltano: Meltano) -> None:
    """A second run against an unchanged sandbox reads nothing: the state survived."""
    sandbox.reset_stats()
    meltano.run("run", "tap-painchek", "target-duckdb")
    stats = sandbox.stats()
    assert stats["records_served"] == 0
    data = {p: n for p, n in stats["by_path"].items() if p != "/api/integration/auth/"}
    assert set(data.values()) == {1}, data  # one request a stream, from its bookmark


@pytest.mark.e2e
def test_state_lives_in_a_postgresql_system_database(make_painchek_sandbox, meltano, system_db):
    sandbox = make_painchek_sandbox(seed=101, patients=20)
    meltano.env |= meltano_env("tap-painchek", sandbox.tap_config())
    meltano.env["MELTANO_DATABASE_URI"] = system_db
    meltano.run("run", "tap-painchek", "target-duckdb")

    (state,) = _system_rows(system_db, "select partial_state, completed_state from state")
    completed = json.loads(state[1]) if isinstance(state[1], str) else state[1]
    held = completed["singer_state"]["bookmarks"]
    assert set(held) == set(PAINCHEK_TABLES)
    served = {table: max(r["update_stamp"] for r in sandbox.truth(table)) for table in held}
    assert {t: b["replication_key_value"] for t, b in held.items()} == served
    assert (meltano.workdir / "meltano.db").exists() is False  # nothing fell back to SQLite
    _incremental_rerun(sandbox, meltano)
    patients = duckdb_rows(meltano.workdir / "warehouse.duckdb", "painchek", "patients")
    assert len(patients) == len(sandbox.truth("patients"))


@pytest.fixture
def s3_state():
    """A local S3 server (moto) with an empty bucket for Meltano's state."""
    import boto3  # noqa: PLC0415
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="state-key-id",
        aws_secret_access_key="state-secret",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="meltano-state")
    try:
        yield endpoint, s3
    finally:
        server.stop()


@pytest.mark.e2e
def test_state_lives_in_the_s3_state_backend(make_painchek_sandbox, meltano, s3_state):
    endpoint, s3 = s3_state
    sandbox = make_painchek_sandbox(seed=102, patients=20)
    meltano.env |= meltano_env("tap-painchek", sandbox.tap_config())
    meltano.env |= {
        "MELTANO_STATE_BACKEND_URI": "s3://meltano-state/healthdata",
        "MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID": "state-key-id",
        "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY": "state-secret",
        "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    meltano.run("run", "tap-painchek", "target-duckdb")

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="meltano-state")["Contents"]]
    (key,) = [k for k in keys if k.endswith("state.json")]
    assert PAINCHEK_STATE_ID in key
    state = json.loads(s3.get_object(Bucket="meltano-state", Key=key)["Body"].read())
    assert set(state["completed"]["singer_state"]["bookmarks"]) == set(PAINCHEK_TABLES)
    _incremental_rerun(sandbox, meltano)


def _errors(log: str) -> str:
    """The lines of a failed run's log that say why."""
    lines = log.splitlines()
    return "\n".join(line for line in lines if "error" in line.lower() or "Error" in line)[-4000:]


def _human_id(row: dict) -> str:
    return row.get("humanId") or row["humanid"]


def _humanapi_env(sandbox, pg_schema: str, system_db: str) -> dict[str, str]:
    return {
        **meltano_env("tap-humanapi", sandbox.tap_config()),
        "MELTANO_DATABASE_URI": system_db,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": pg_schema,
    }


@pytest.mark.e2e
def test_two_shard_jobs_run_at_once_against_one_system_database(
    make_humanapi_sandbox, meltano, system_db, pg_schema
):
    sandbox = make_humanapi_sandbox(seed=103, users=24)
    sandbox.configure(latency_ms=20)
    meltano.env |= _humanapi_env(sandbox, pg_schema, system_db)
    shards = ("tap-humanapi--shard0", "tap-humanapi--shard1")
    # Two Meltano processes that both find a new, empty system database race to create
    # its tables, and two loaders the same warehouse tables: as the README says, create
    # the system tables once, and let one shard run alone first.
    meltano.run("upgrade", "database")
    meltano.run("run", shards[0], "target-postgres")
    for user in sandbox.client_user_ids("served"):
        sandbox.source_sync(user)  # new data for both shards
    results: dict[str, int] = {}
    logs: list[str] = []

    def run(shard: str) -> None:
        done = meltano.run("run", shard, "target-postgres", check=False)
        results[shard] = done.returncode
        if done.returncode:
            logs.append(_errors(done.stdout + done.stderr))

    threads = [threading.Thread(target=run, args=(shard,)) for shard in shards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == dict.fromkeys(shards, 0), "\n".join(logs)

    ids = {row[0] for row in _system_rows(system_db, "select state_id from state")}
    assert ids == {f"dev:{shard}-to-target-postgres" for shard in shards}
    landed = [_human_id(row) for row in postgres_rows(pg_schema, "users")]
    assert sorted(landed) == sorted(user["humanId"] for user in sandbox.users())  # each once


@pytest.mark.e2e
def test_a_second_run_of_one_state_id_is_refused_while_the_first_runs(
    make_humanapi_sandbox, meltano, system_db, pg_schema
):
    sandbox = make_humanapi_sandbox(seed=104, users=12)
    sandbox.configure(latency_ms=300)  # the first run takes a few seconds
    meltano.env |= _humanapi_env(sandbox, pg_schema, system_db)
    first: dict[str, int] = {}
    thread = threading.Thread(
        target=lambda: first.update(
            code=meltano.run("run", "tap-humanapi", "target-postgres", check=False).returncode
        )
    )
    thread.start()
    running = "select count(*) from runs where state = 'RUNNING'"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _system_rows(system_db, running)[0][0]:
                break
        except psycopg.errors.UndefinedTable:
            pass
        time.sleep(0.2)
    second = meltano.run("run", "tap-humanapi", "target-postgres", check=False)
    thread.join()

    assert first == {"code": 0}, _errors(meltano.logs[0])
    assert second.returncode != 0
    assert "Another 'dev:tap-humanapi-to-target-postgres' pipeline is already running" in (
        second.stdout + second.stderr
    )
    landed = {_human_id(row) for row in postgres_rows(pg_schema, "users")}
    assert landed == {user["humanId"] for user in sandbox.users()}
