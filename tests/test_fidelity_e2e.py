"""Every field a vendor sends lands in the warehouse with its value, through Meltano.

Each sandbox serves its vendor's documented record shapes (optional and rare fields
included) and, here, one field nobody documented on every record. After `meltano run
<tap> <loader>` every field of every record the sandbox served must be in its table
with the value sent (or, for the undocumented field, in `extra_fields`), field by
field, in DuckDB and in PostgreSQL.
"""

from __future__ import annotations

import json
import typing as t

import pytest
from harness import _as_json, duckdb_rows, field_losses, meltano_env, postgres_rows
from sandbox.humanapi import PATHS as HUMANAPI_PATHS
from sandbox.humanapi import WELLNESS_TABLES
from sandbox.painchek import TABLES as PAINCHEK_TABLES

# A field no vendor documents, with a nested value, added to every record served.
UNKNOWN = {"vendorAddedLater": {"level": 2, "tags": ["a", "b"]}}
LOADERS = ["target-duckdb", "target-postgres"]


def _rows_of(meltano, request, loader: str, schema: str) -> t.Callable[[str], list[dict]]:
    if loader == "target-postgres":
        pg_schema = request.getfixturevalue("pg_schema")
        meltano.env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = pg_schema
        return lambda table: postgres_rows(pg_schema, table)
    path = meltano.workdir / "warehouse.duckdb"
    return lambda table: duckdb_rows(path, schema, table)


def _unknown_kept(table: str, rows: list[dict]) -> list[str]:
    kept = [_as_json(row["extra_fields"]) for row in rows]
    wrong = sum(1 for extra in kept if extra != UNKNOWN)
    return [f"{table}.extra_fields: {wrong} of {len(rows)} rows"] if wrong or not rows else []


@pytest.mark.e2e
@pytest.mark.parametrize("loader", LOADERS)
def test_healthex_fields_land_with_their_values(make_healthex_sandbox, meltano, request, loader):
    sandbox = make_healthex_sandbox(seed=81, patients_per_project=4, delivery="none")
    sandbox.add_vendor_fields("/v1/projects/", UNKNOWN)
    config = sandbox.tap_config("none", request_updates=True)
    meltano.env |= meltano_env("tap-healthex", config)
    rows_of = _rows_of(meltano, request, loader, "healthex")
    meltano.run("run", "tap-healthex", loader)

    losses = []
    for table in ("identified_patients", "consent_records"):
        landed = rows_of(table)
        losses += field_losses(table, sandbox.truth(table), landed, key=lambda r: r["id"])
        losses += _unknown_kept(table, landed)
    asked = rows_of("data_update_requests")
    log = {(e["patient_id"], e["retrieval_id"]) for e in sandbox.update_requests()}
    assert {(r["patient_id"], r["retrieval_id"]) for r in asked} == log
    assert all(r["skipped_facilities_count"] is not None for r in asked)
    losses += _unknown_kept("data_update_requests", asked)
    assert losses == []


@pytest.mark.e2e
def test_the_catch_all_survives_flattening_and_a_stream_map(make_healthex_sandbox, meltano):
    sandbox = make_healthex_sandbox(seed=82, patients_per_project=2, delivery="s3")
    sandbox.add_vendor_fields("/v1/projects/", UNKNOWN)
    maps = {"consent_records": {"status_copy": "consentStatus"}}
    config = sandbox.tap_config("s3") | {
        "flattening_enabled": True,
        "flattening_max_depth": 1,
        "stream_maps": maps,
    }
    meltano.env |= meltano_env("tap-healthex", config)
    meltano.env["TAP_HEALTHEX_STREAM_MAPS"] = json.dumps(maps)
    rows_of = _rows_of(meltano, None, "target-duckdb", "healthex")
    meltano.run("run", "tap-healthex", "target-duckdb")

    consents = rows_of("consent_records")
    assert _unknown_kept("consent_records", consents) == []
    assert all(r["status_copy"] == r["consentstatus"] for r in consents)  # the map applied
    assert (
        field_losses(
            "consent_records", sandbox.truth("consent_records"), consents, key=lambda r: r["id"]
        )
        == []
    )
    # FHIR resources stay whole, as one JSON column, under flattening too.
    landed = {r["id"]: _as_json(r["resource"]) for r in rows_of("observation")}
    served = {
        t["resource"]["id"]: t["resource"]
        for t in sandbox.truth_resources()
        if t["resource"]["resourceType"] == "Observation"
    }
    assert landed == served


@pytest.mark.e2e
@pytest.mark.parametrize("loader", LOADERS)
def test_painchek_fields_land_with_their_values(make_painchek_sandbox, meltano, request, loader):
    sandbox = make_painchek_sandbox(seed=83, patients=40)
    sandbox.add_vendor_fields("/api/", UNKNOWN)
    meltano.env |= meltano_env("tap-painchek", sandbox.tap_config())
    rows_of = _rows_of(meltano, request, loader, "painchek")
    meltano.run("run", "tap-painchek", loader)

    losses = []
    for table in PAINCHEK_TABLES:
        landed = rows_of(table)
        # The one mapping on purpose: PainChek's string "null" archive reason is null.
        skip = ("deleted_reason",) if table == "patients" else ()
        losses += field_losses(
            table,
            sandbox.truth(table),
            landed,
            lambda r: r["uuid"],
            skip,
            empty_is_null=loader == "target-duckdb",
        )
        losses += _unknown_kept(table, landed)
    assert losses == [], "\n".join(losses)
    quirky = [r for r in sandbox.truth("patients") if r["deleted_reason"] == "null"]
    assert quirky  # the quirk occurs, and lands as null
    landed = {r["uuid"]: r for r in rows_of("patients")}
    assert all(landed[r["uuid"]]["deleted_reason"] is None for r in quirky)


def _human_key(table: str) -> t.Callable[[dict], tuple]:
    """A Human API table's key: the user (the tap's human_id, the served or added humanId)
    and the record's id; a source's also its name; a profile's the user alone."""

    def key(row: dict) -> tuple:
        user = row.get("human_id") or row.get("humanid")
        if table == "profile":
            return (user,)
        return (user, row.get("id"), row.get("source")) if table == "sources" else (user, row["id"])

    return key


@pytest.mark.e2e
@pytest.mark.parametrize("loader", LOADERS)
def test_humanapi_fields_land_with_their_values(make_humanapi_sandbox, meltano, request, loader):
    sandbox = make_humanapi_sandbox(seed=84, users=12)
    sandbox.add_vendor_fields("/v1/human/", UNKNOWN)
    sandbox.add_vendor_fields("/api/v1/users", UNKNOWN)
    meltano.env |= meltano_env("tap-humanapi", sandbox.tap_config())
    rows_of = _rows_of(meltano, request, loader, "humanapi")
    meltano.run("run", "tap-humanapi", loader)

    empty = loader == "target-duckdb"
    users = rows_of("users")
    losses = field_losses(
        "users", sandbox.users(), users, lambda r: r["humanid"], empty_is_null=empty
    )
    losses += _unknown_kept("users", users)
    for table in HUMANAPI_PATHS:
        landed = rows_of(table.removesuffix("_readings"))
        sent = sandbox.truth(table)
        assert sent, table  # every endpoint has records to compare
        # truth adds humanId to the records that do not carry it (medical, sources).
        skip = () if table in WELLNESS_TABLES else ("humanId",)
        losses += field_losses(table, sent, landed, _human_key(table), skip, empty_is_null=empty)
        losses += _unknown_kept(table, landed)
    assert losses == [], "\n".join(losses)
