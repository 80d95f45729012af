"""Every field HealthEx documents reaches the output with its value; unknown ones too.

Each test serves one record carrying every documented field (non-null, nested ones
filled) plus a field nobody documented, and checks the RECORD the tap wrote. The
conftest's run_tap also validates every record against its SCHEMA.
"""

from __future__ import annotations

import logging
import re

import pytest
from healthex_helpers import API
from tapkit.fidelity import EXTRA

CONSENT = {  # docs.healthex.io/api/get-consent-records
    "id": "c-1",
    "patientId": "pat-1",
    "studyId": "study-1",
    "studyVersionId": "study-1-v2",
    "consentType": "FUTURE_DATA_USE",
    "consentStatus": "OPTED_IN",
    "timestamp": "2024-02-09T01:10:13.000Z",
    "expirationTimestamp": "2025-02-09T01:10:13.000Z",
    "consentStats": {"pagesViewed": 4},
    "studySnapshotId": "snap-1",
    "consentConfigSnapshotId": "conf-1",
    "consentUIFlow": "PATIENT_DIRECTED_DATA_EXCHANGE",
    "uiHash": "9f2c",
    "language": "en",
    "fullRecordWithoutRestrictedData": True,
    "consentDataResourceScopes": ["MEDICATIONS", "LABS"],
    "consentDataSensitivityScopes": ["NORMAL", "MENTAL_HEALTH"],
}
UPDATE_ANSWER = {  # docs.healthex.io/api/update-patient-data, and the guide's `code`
    "message": "IN_PROGRESS_NO_ACTION_NEEDED",
    "patientActionNeededReason": "AUTHENTICATION_EXPIRED",
    "skippedFacilitiesCount": 1,
    "counts": {
        "skippedExistingFacilities": 1,
        "changedExistingFacilities": 2,
        "unchangedExistingFacilities": 3,
        "retrievedNewFacilities": 4,
        "skippedNewFacilities": 0,
    },
    "retrievalId": "r-1",
    "code": 201,
}
PATIENT = {  # assumed: no public page documents the list
    "id": "pat-1",
    "referenceId": "HX-1",
    "externalId": "EXT-1",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1815-12-10",
    "email": "ada@example.com",
    "phone": "+15555550100",
    "status": "CONSENTED",
    "createdAt": "2025-01-01T00:00:00.000Z",
    "updatedAt": "2025-01-02T00:00:00.000Z",
}
UNKNOWN = {"signerName": "someone", "newThing": {"nested": [1, 2]}}
PATIENTS_URL = f"{API}/v1/projects/p1/recruitment/identified-patients"


@pytest.fixture(autouse=True)
def _token(requests_mock):
    requests_mock.post(f"{API}/v1/auth/token", json={"token": "a.eyJleHAiOjQxMDI0NDQ4MDB9.c"})


def _kept(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if EXTRA in r.getMessage()]


def test_a_consent_record_keeps_every_documented_field_and_an_unknown_one(
    requests_mock, run_tap, base_config, caplog
):
    body = {"total": 1, "results": [{"consentRecord": {**CONSENT, **UNKNOWN}}]}
    requests_mock.get(f"{API}/v1/projects/p1/consent-records", json=body)
    with caplog.at_level(logging.WARNING):
        (record,) = run_tap(base_config, streams=["consent_records"]).records("consent_records")
    assert {k: record[k] for k in CONSENT} == CONSENT
    assert record[EXTRA] == UNKNOWN
    assert record["project_id"] == "p1"
    (warning,) = _kept(caplog)
    assert "newThing" in warning
    assert "signerName" in warning
    assert "someone" not in warning  # names, never values


def test_an_id_sent_as_an_object_as_the_reference_types_it_is_kept_not_rejected(
    requests_mock, run_tap, base_config, caplog
):
    study = {"id": "study-1", "name": "Sleep study"}
    body = {"total": 1, "results": [{"consentRecord": {**CONSENT, "studyId": study}}]}
    requests_mock.get(f"{API}/v1/projects/p1/consent-records", json=body)
    with caplog.at_level(logging.WARNING):
        (record,) = run_tap(base_config, streams=["consent_records"]).records("consent_records")
    assert record.get("studyId") is None
    assert record[EXTRA] == {"studyId": study}
    (warning,) = _kept(caplog)
    assert "studyId (sent as object)" in warning
    assert "Sleep" not in warning


def test_an_update_answer_keeps_every_documented_field_and_an_unknown_one(
    requests_mock, run_tap, base_config
):
    requests_mock.get(PATIENTS_URL, json={"data": [PATIENT], "total": 1})
    requests_mock.post(
        re.compile(re.escape(PATIENTS_URL) + r"/pat-1/\$updateData"),
        status_code=201,
        json={**UPDATE_ANSWER, **UNKNOWN},
    )
    config = {**base_config, "request_updates": True}
    result = run_tap(config, streams=["identified_patients", "data_update_requests"])
    (record,) = result.records("data_update_requests")
    assert record["message"] == UPDATE_ANSWER["message"]
    assert record["patient_action_needed_reason"] == UPDATE_ANSWER["patientActionNeededReason"]
    assert record["skipped_facilities_count"] == 1
    assert record["counts"] == UPDATE_ANSWER["counts"]
    assert record["retrieval_id"] == "r-1"
    assert record["code"] == "201"  # codes are strings
    assert record["http_status"] == 201
    assert record[EXTRA] == UNKNOWN


def test_an_identified_patient_keeps_every_field_and_an_unknown_one(
    requests_mock, run_tap, base_config
):
    requests_mock.get(PATIENTS_URL, json={"data": [{**PATIENT, **UNKNOWN}], "total": 1})
    result = run_tap(base_config, streams=["identified_patients"])
    (record,) = result.records("identified_patients")
    assert {k: record[k] for k in PATIENT} == PATIENT
    assert record[EXTRA] == UNKNOWN
