"""The dbt models (transform/) hold what the sandboxes' truth implies, through Meltano.

The three sandboxes (which share identifiers for their first patients) are loaded into
DuckDB and into PostgreSQL by `meltano run <tap> <loader> ... dbt-<adapter>:build`.
The timeline must then hold, for every vendor patient, the events its vendor's truth
implies (counts per event type), with their values and times; nothing of a deleted
row, a deleted user or a withdrawn participant; and one person per shared
identifier, across vendors. Then every sandbox changes (edits, soft deletes, a deleted
user, a withdrawn consent, new deliveries), the pipeline runs again, and the same
holds. dbt's own data tests run inside each build. Meltano's and dbt's logs and dbt's
target/ artefacts hold no secret and no patient detail.
"""

from __future__ import annotations

import collections
import typing as t
from datetime import UTC, datetime
from pathlib import Path

import pytest
from harness import PG_DSN, duckdb_rows, meltano_env
from leaks import healthex_secrets, humanapi_secrets, leaks, painchek_secrets

WAREHOUSES = {
    "duckdb": ("target-duckdb", "dbt-duckdb"),
    "postgres": ("target-postgres", "dbt-postgres"),
}
# Human API wellness readings: one event each, blood pressure two (and its heart rate).
READINGS = ("heart_rate", "weight", "height", "bmi", "body_fat", "blood_glucose", "blood_oxygen")
ONE_EVENT_EACH = {
    "medications": "medication",
    "issues": "condition",
    "encounters": "encounter",
    "procedures": "procedure",
    "allergies": "allergy",
}
FHIR_EVENTS = {
    "Condition": "condition",
    "MedicationRequest": "medication",
    "MedicationStatement": "medication",
    "Encounter": "encounter",
    "Procedure": "procedure",
    "Immunization": "immunization",
    "AllergyIntolerance": "allergy",
}
Key = tuple[str, str]  # (vendor, vendor patient key)


def _instant(value: t.Any) -> datetime | None:
    """An aware UTC datetime from an ISO string or a naive (UTC) warehouse timestamp."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- what the sandboxes' truth implies ------------------------------------------------


def painchek_truth(sandbox) -> tuple[dict[Key, str | None], collections.Counter, dict]:
    """Live patients (key -> external_id), their events per type, each score and time."""
    patients = {
        p["uuid"]: p
        for p in sandbox.truth("patients")
        if p["deleted_at"] is None and not p["training_record"]
    }
    events: collections.Counter = collections.Counter()
    scores = {}
    for row in sandbox.truth("assessments"):
        if row["deleted_at"] is None and row["patient"] in patients:
            events["painchek", row["patient"], "pain_assessment"] += 1
            section = row["data"]["assessment"]
            scores[f"painchek:assessments:{row['uuid']}"] = (
                section["pain_score"],
                _instant(section["date"]),
            )
    people = {("painchek", u): (p["external_id"] or None) for u, p in patients.items()}
    return people, events, scores


def humanapi_truth(sandbox) -> tuple[dict[Key, str | None], collections.Counter, dict]:
    """Users not deleted (key -> clientUserId), their events per type, lab values."""
    people = {
        ("humanapi", u["humanId"]): u["clientUserId"]
        for u in sandbox.users()
        if u["status"] != "deleted"
    }
    events: collections.Counter = collections.Counter()

    def add(row: dict, kind: str, count: int = 1) -> None:
        if ("humanapi", row["humanId"]) in people:
            events["humanapi", row["humanId"], kind] += count

    for row in sandbox.truth("vitals"):
        add(row, "vital", len(row.get("results") or []))
    for table in READINGS:  # the sandbox names each readings endpoint's table so
        for row in sandbox.truth(f"{table}_readings"):
            add(row, "vital")
    for row in sandbox.truth("blood_pressure_readings"):
        add(row, "vital", 2 + (row.get("heartRate") is not None))
    labs = {}
    for row in sandbox.truth("test_results"):
        add(row, "lab", len(row.get("components") or []))
        for index, component in enumerate(row.get("components") or [], start=1):
            event_id = f"humanapi:test_results:{row['humanId']}:{row['id']}:{index}"
            labs[event_id] = (component.get("value"), component.get("unit"))
    for table, kind in ONE_EVENT_EACH.items():
        for row in sandbox.truth(table):
            add(row, kind)
    for row in sandbox.truth("immunizations"):
        add(row, "immunization", max(1, len(row.get("dates") or [])))
    return people, events, labs


def _category(resource: dict) -> str | None:
    codes = {c.get("code") for cat in resource.get("category", []) for c in cat.get("coding", [])}
    return "lab" if "laboratory" in codes else "vital" if "vital-signs" in codes else None


def healthex_truth(
    sandbox, read: set[str]
) -> tuple[dict[Key, str | None], collections.Counter, dict]:
    """Participants who have not withdrawn (key -> externalId), events, observation values.

    Of the bundles the tap has read: a refresh the run asked for may be delivered after
    the run listed the deliveries.
    """
    statuses = collections.defaultdict(set)
    external = {}
    for row in sandbox.truth("identified_patients"):
        statuses[row["id"]].add(row["status"])
        external[row["id"]] = row["externalId"]
    people = {("healthex", p): external[p] for p, s in statuses.items() if s != {"WITHDRAWN"}}
    resources = {}
    for item in sandbox.truth_resources():
        if item["key"] not in read:
            continue
        resource = item["resource"]
        resources[item["patient_id"], resource["resourceType"], resource["id"]] = resource
    events: collections.Counter = collections.Counter()
    values = {}
    for (patient, kind, _), resource in resources.items():
        if ("healthex", patient) not in people or resource.get("status") == "entered-in-error":
            continue
        event_type = _category(resource) if kind == "Observation" else FHIR_EVENTS.get(kind)
        if event_type is None:
            continue
        events["healthex", patient, event_type] += 1
        if kind == "Observation" and "valueQuantity" in resource:
            event_id = f"healthex:observation:{patient}:{resource['id']}"
            values[event_id] = (
                resource["valueQuantity"].get("value"),
                _instant(resource.get("effectiveDateTime")),
            )
    return people, events, values


def expected_persons(people: dict[Key, str | None]) -> set[frozenset[Key]]:
    """Vendor patients grouped into persons: equal identifiers are one person."""
    groups: dict[str, set[Key]] = collections.defaultdict(set)
    for key, identifier in people.items():
        groups[identifier.strip() if identifier and identifier.strip() else f"{key}"].add(key)
    return {frozenset(group) for group in groups.values()}


# -- what landed ------------------------------------------------------------------------


class Warehouse:
    """Reads the models from DuckDB or PostgreSQL."""

    def __init__(self, kind: str, workdir: Path, database: str | None) -> None:
        self.kind, self.workdir, self.database = kind, workdir, database

    def rows(self, schema: str, table: str) -> list[dict[str, t.Any]]:
        if self.kind == "duckdb":
            return duckdb_rows(self.workdir / "warehouse.duckdb", schema, table)
        import psycopg  # noqa: PLC0415
        from psycopg.rows import dict_row  # noqa: PLC0415

        dsn = PG_DSN.replace("dbname=test", f"dbname={self.database}")
        with psycopg.connect(dsn, row_factory=dict_row) as con:
            return list(con.execute(f'select * from "{schema}"."{table}"'))


def check_models(warehouse: Warehouse, painchek, humanapi, healthex, before: set[str]) -> None:
    """The models against the truth; ``before``: the bundles delivered before the run."""
    read = read_keys(warehouse)
    assert before <= read, "the run read every bundle delivered before it"
    truths = [painchek_truth(painchek), humanapi_truth(humanapi), healthex_truth(healthex, read)]
    people = {k: v for truth in truths for k, v in truth[0].items()}
    want_events = sum((truth[1] for truth in truths), collections.Counter())

    crosswalk = warehouse.rows("analytics", "person_crosswalk")
    live = {
        (r["vendor"], r["patient_key"]): r["person_id"] for r in crosswalk if not r["is_deleted"]
    }
    # Every live vendor patient of the truth is there, and nothing else is live.
    assert set(live) == set(people)
    assert not set(live.values()) & set(people.values()), "a person_id is an identifier"
    persons = collections.defaultdict(set)
    for key, person in live.items():
        persons[person].add(key)
    assert {frozenset(g) for g in persons.values()} == expected_persons(people)
    shared = [g for g in persons.values() if len({vendor for vendor, _ in g}) > 1]
    assert shared, "the sandboxes share identifiers: some persons span vendors"

    timeline = warehouse.rows("analytics", "patient_timeline")
    got_events: collections.Counter = collections.Counter()
    for row in timeline:
        keys = [k for k in persons[row["person_id"]] if k[0] == row["vendor"]]
        assert len(keys) == 1, f"{row['event_id']}: its person has {len(keys)} such patients"
        got_events[row["vendor"], keys[0][1], row["event_type"]] += 1
    assert got_events == +want_events

    landed = {row["event_id"]: row for row in timeline}
    for event_id, (score, when) in truths[0][2].items():
        assert landed[event_id]["value_number"] == score, event_id
        assert _instant(landed[event_id]["event_time"]) == when, event_id
    for event_id, (value, unit) in truths[1][2].items():
        if event_id in landed:  # a deleted user's labs are out (checked above)
            assert landed[event_id]["value_text"] == value, event_id
            assert landed[event_id]["unit"] == unit, event_id
    for event_id, (value, when) in truths[2][2].items():
        assert landed[event_id]["value_number"] == pytest.approx(value), event_id
        if when is not None:
            assert _instant(landed[event_id]["event_time"]) == when, event_id

    # The Tuva marts: their grains, and every live event in one of them (allergies have none).
    marts = ("patient", "encounter", "condition", "observation", "lab_result", "medication")
    tuva = {
        table: warehouse.rows("analytics_tuva_input", table)
        for table in (*marts, "procedure", "immunization")
    }
    assert len(tuva["patient"]) == len(people)
    in_marts = sum(len(rows) for table, rows in tuva.items() if table != "patient")
    assert in_marts == sum(n for (_, _, kind), n in want_events.items() if kind != "allergy")
    assert {r["observation_type"] for r in tuva["observation"]} == {"vital-signs", "survey"}


def read_keys(warehouse: Warehouse) -> set[str]:
    return {row["key"] for row in warehouse.rows("healthex", "delivery_files")}


def _change_everything(painchek, humanapi, healthex) -> dict[str, set[str]]:
    """Edits, soft deletes, new records, a deleted user and a withdrawn participant."""
    for table in ("patients", "assessments"):
        for op in ("insert", "update", "delete"):
            painchek.mutate(table, op, count=3)
    served = humanapi.client_user_ids("served")
    for client_user_id in served[:3]:
        humanapi.source_sync(client_user_id, new=2, updated=2)
    gone_user = served[-1]
    humanapi.delete_user(gone_user)
    with_data = {item["patient_id"] for item in healthex.truth_resources()}
    consented = [
        p["id"]
        for p in healthex.truth("identified_patients")
        if p["status"] == "CONSENTED" and p["id"] in with_data
    ]
    withdrawn = sorted(consented)[0]
    healthex.set_consent(withdrawn, consented=False)
    return {"humanapi": {gone_user}, "healthex": {withdrawn}}


def _dbt_artefacts(workdir: Path) -> str:
    """dbt's logs and everything it wrote to target/ (manifest, run results, SQL)."""
    texts = []
    for folder in (workdir / "dbt-logs", workdir / "dbt-target"):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in {".log", ".json", ".sql", ".txt", ".html"}:
                texts.append(path.read_text(errors="replace"))
    assert texts, "dbt wrote no logs or artefacts where the test pointed it"
    return "\n".join(texts)


@pytest.mark.e2e
@pytest.mark.parametrize("kind", list(WAREHOUSES))
def test_the_models_equal_the_sandbox_truth_before_and_after_changes(
    kind, make_painchek_sandbox, make_humanapi_sandbox, make_healthex_sandbox, meltano, request
):
    loader, dbt = WAREHOUSES[kind]
    painchek = make_painchek_sandbox(seed=61, patients=30)
    humanapi = make_humanapi_sandbox(seed=61, users=14)
    healthex = make_healthex_sandbox(seed=61, patients_per_project=5, delivery="s3")
    meltano.env |= (
        meltano_env("tap-painchek", painchek.tap_config())
        | meltano_env("tap-humanapi", humanapi.tap_config())
        | meltano_env("tap-healthex", healthex.tap_config("s3", request_updates=True))
        | {
            # Meltano reads a utility's settings as <UTILITY>_<SETTING>.
            f"{dbt.upper().replace('-', '_')}_TARGET_PATH": str(meltano.workdir / "dbt-target"),
            f"{dbt.upper().replace('-', '_')}_LOG_PATH": str(meltano.workdir / "dbt-logs"),
            "DBT_DUCKDB_PATH": str(meltano.workdir / "warehouse.duckdb"),
        }
    )
    database = None
    if kind == "postgres":
        database = request.getfixturevalue("fresh_database")
        meltano.env["TARGET_POSTGRES_SQLALCHEMY_URL"] = (
            f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        )
        meltano.env["DBT_POSTGRES_DBNAME"] = database
    warehouse = Warehouse(kind, meltano.workdir, database)
    run = (
        "run",
        "tap-painchek",
        loader,
        "tap-humanapi",
        loader,
        "tap-healthex",
        loader,
        dbt + ":build",
    )

    before = {f["key"] for f in healthex.delivered()}
    meltano.run(*run)
    check_models(warehouse, painchek, humanapi, healthex, before)

    gone = _change_everything(painchek, humanapi, healthex)
    # New deliveries came from the first run's $updateData; this run reads them and
    # asks for no more, so the truth is what it can read.
    meltano.env["TAP_HEALTHEX_REQUEST_UPDATES"] = "false"
    before = {f["key"] for f in healthex.delivered()}
    assert before - read_keys(warehouse), "the first run's refresh delivered new bundles"
    meltano.run(*run)
    check_models(warehouse, painchek, humanapi, healthex, before)
    crosswalk = warehouse.rows("analytics", "person_crosswalk")
    deleted = {(r["vendor"], r["patient_key"]) for r in crosswalk if r["is_deleted"]}
    human_ids = {u["humanId"] for u in humanapi.users() if u["clientUserId"] in gone["humanapi"]}
    assert {("humanapi", h) for h in human_ids} <= deleted
    assert {("healthex", p) for p in gone["healthex"]} <= deleted

    secrets = painchek_secrets(painchek) | humanapi_secrets(humanapi) | healthex_secrets(healthex)
    text = "\n".join(meltano.logs) + _dbt_artefacts(meltano.workdir)
    assert leaks(text, secrets) == []
