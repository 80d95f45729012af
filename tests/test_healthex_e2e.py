"""`meltano run tap-healthex <target>` for S3 and SFTP delivery into DuckDB and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from harness import FHIR_TABLES, duckdb_rows, meltano_env, postgres_rows
from leaks import healthex_secrets, leaks


def _env(sandbox, delivery: str) -> dict[str, str]:
    return meltano_env("tap-healthex", sandbox.tap_config(delivery, request_updates=True))


def _truth(sandbox) -> dict[tuple, dict]:
    return {
        (t["project_id"], t["patient_id"], t["resource"]["resourceType"], t["resource"]["id"]): t[
            "resource"
        ]
        for t in sandbox.truth_resources()
    }


def _landed(rows_of) -> dict[tuple, dict]:
    landed = {}
    for table in FHIR_TABLES:
        for row in rows_of(table):
            resource = row["resource"]
            resource = json.loads(resource) if isinstance(resource, str) else resource
            landed[
                (row["project_id"], row["healthex_patient_id"], row["resource_type"], row["id"])
            ] = resource
    return landed


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("delivery", "loader"),
    [
        ("s3", "target-duckdb"),
        ("sftp", "target-postgres"),
        ("sftp", "target-duckdb"),
        ("s3", "target-postgres"),
    ],
)
def test_resources_that_landed_equal_the_delivered_bundles(
    make_healthex_sandbox, meltano, request, delivery, loader
):
    sandbox = make_healthex_sandbox(seed=51, patients_per_project=3, delivery=delivery)
    meltano.env |= _env(sandbox, delivery)
    if loader == "target-postgres":
        schema = request.getfixturevalue("pg_schema")
        meltano.env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema

        def rows_of(table):
            return postgres_rows(schema, table)
    else:
        path = meltano.workdir / "warehouse.duckdb"

        def rows_of(table):
            return duckdb_rows(path, "healthex", table)

    meltano.run("run", "tap-healthex", loader)  # reads, and asks for refreshes
    first = _landed(rows_of)
    meltano.run("run", "tap-healthex", loader)  # the refreshed bundles
    truth = _truth(sandbox)
    landed = _landed(rows_of)
    assert set(landed) == set(truth)
    assert all(landed[k] == truth[k] for k in truth)
    assert len(truth) > len(first)  # the second run brought the refreshed data
    files = rows_of("delivery_files")
    assert len({f["key"] for f in files}) == len(sandbox.delivered())
    assert len(rows_of("data_update_requests")) == 6

    assert sandbox.issued_tokens()
    assert leaks("\n".join(meltano.logs), healthex_secrets(sandbox)) == []
