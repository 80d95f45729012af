"""Against the sandbox over real HTTP: rows edited, inserted and deleted between pages."""

from __future__ import annotations

import logging

import pytest
from sandbox.painchek import TABLES
from tapkit.testing import DROPPED_WARNING, schema_errors

ORDER_KEYS = {
    "desc": lambda r: -r["update_stamp"],
    "asc": lambda r: r["update_stamp"],
    "uuid": lambda r: r["uuid"],
}


def _config(sandbox) -> dict:
    return sandbox.tap_config(page_size=10)


def _land(warehouse: dict[str, dict], records: list[dict]) -> None:
    """Upsert by primary key, keeping the latest version, as a target does."""
    for record in records:
        held = warehouse.get(record["uuid"])
        if held is None or record["update_stamp"] >= held["update_stamp"]:
            warehouse[record["uuid"]] = record


@pytest.mark.parametrize("order", ["desc", "asc", "uuid"])
def test_rows_changing_between_pages_are_never_lost(make_painchek_sandbox, run_tap, order):
    sandbox = make_painchek_sandbox(seed=21, patients=120, order=order)
    before = {row["uuid"]: row["update_stamp"] for row in sandbox.truth("patients")}
    in_order = sorted(sandbox.truth("patients"), key=ORDER_KEYS[order])
    first_pages = [row["uuid"] for row in in_order[:20]]
    later = [row["uuid"] for row in in_order[60:]]
    # After page 2: edit and delete rows already read (they jump in an ascending
    # order and shift every row behind them), edit unread rows, insert rows.
    sandbox.schedule(
        after_requests=2,
        path="/api/patients/",
        ops=[
            {"table": "patients", "op": "update", "uuids": first_pages[:3]},
            {"table": "patients", "op": "delete", "uuids": first_pages[5:7]},
            {"table": "patients", "op": "update", "uuids": later[:2]},
            {"table": "patients", "op": "insert", "count": 3},
        ],
    )
    sandbox.schedule(
        after_requests=5,
        path="/api/patients/",
        ops=[
            {"table": "patients", "op": "update", "uuids": first_pages[10:14]},
        ],
    )

    warehouse: dict[str, dict] = {}
    first = run_tap(_config(sandbox), streams=["patients"])
    _land(warehouse, first.records("patients"))
    changed = set(first_pages[:3] + first_pages[5:7] + later[:2] + first_pages[10:14])
    # Nothing that existed when the sync began, and did not change, was skipped.
    unchanged_missing = [
        u
        for u, stamp in before.items()
        if u not in changed and warehouse.get(u, {}).get("update_stamp") != stamp
    ]
    assert unchanged_missing == []

    second = run_tap(_config(sandbox), streams=["patients"], state=first.state)
    _land(warehouse, second.records("patients"))
    truth = {row["uuid"]: row["update_stamp"] for row in sandbox.truth("patients")}
    assert {u: r["update_stamp"] for u, r in warehouse.items()} == truth
    deleted = {row["uuid"] for row in sandbox.truth("patients") if row["deleted_at"]}
    assert {u for u, r in warehouse.items() if r["is_deleted"]} == deleted

    # The second run re-read only what the first could not vouch for.
    assert len(second.records("patients")) < len(before) / 2
    third = run_tap(_config(sandbox), streams=["patients"], state=second.state)
    assert third.records("patients") == []


def test_users_forbidden_by_the_tenant_is_skipped(make_painchek_sandbox, run_tap):
    sandbox = make_painchek_sandbox(seed=22, patients=20)
    sandbox.configure(forbid=["users"])
    result = run_tap(_config(sandbox))
    assert result.records("users") == []
    assert len(result.records("patients")) == 20


def test_a_token_expiring_between_pages_is_replaced_once(make_painchek_sandbox, run_tap):
    sandbox = make_painchek_sandbox(seed=23, patients=40)
    sandbox.schedule(after_requests=2, path="/api/patients/", ops=[{"op": "revoke_tokens"}])
    result = run_tap(_config(sandbox), streams=["patients"])
    assert len({r["uuid"] for r in result.records("patients")}) == 40
    assert sandbox.stats()["tokens_issued"] == 2


def test_every_stream_of_a_sandbox_run_matches_its_schema(make_painchek_sandbox, run_tap, caplog):
    sandbox = make_painchek_sandbox(seed=24, patients=80)
    with caplog.at_level(logging.INFO):
        result = run_tap(_config(sandbox))
    assert schema_errors(result.messages) == []
    assert DROPPED_WARNING not in caplog.text
    # The sandbox serves PainChek's documented shapes, and the schemas declare them all.
    assert "extra_fields column" not in caplog.text
    for table in TABLES:
        records = result.records(table)
        assert {r["uuid"] for r in records} == {r["uuid"] for r in sandbox.truth(table)}, table
        assert all(r["extra_fields"] is None for r in records), table
    assert {r["type"] for r in result.records("licenses")} <= {"1", "2"}
    modes = {r["mode"] for r in result.records("assessments")}
    assert modes == {"painchek", "nrs"}
    admissions = result.records("admissions")
    assert all(r["patient_uuid"] == r["patient"]["uuid"] for r in admissions)
    assert all(r["site_uuid"] == r["site"]["uuid"] for r in admissions)


def test_fields_the_vendor_adds_land_in_extra_fields(make_painchek_sandbox, run_tap, caplog):
    sandbox = make_painchek_sandbox(seed=25, patients=20)
    sandbox.add_vendor_fields("/api/", {"region": {"code": "AP", "since": 2024}})
    with caplog.at_level(logging.INFO):
        result = run_tap(_config(sandbox))
    assert schema_errors(result.messages) == []
    assert DROPPED_WARNING not in caplog.text
    for table in TABLES:
        records = result.records(table)
        assert records, table
        assert all(r["extra_fields"] == {"region": {"code": "AP", "since": 2024}} for r in records)
        assert f"Stream '{table}': kept in the extra_fields column" in caplog.text
