"""The HealthEx API streams against requests-mock, and the FHIR bundle parser on files."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qs, urlparse

import pytest
from healthex_helpers import API
from singer_sdk.exceptions import ConfigValidationError
from tap_healthex.delivery import template_pattern
from tap_healthex.fhir import NotFhir, bundle_resources, promote
from tap_healthex.tap import TapHealthEx

PATIENTS = f"{API}/v1/projects/p1/recruitment/identified-patients"


@pytest.fixture(autouse=True)
def _token(requests_mock):
    requests_mock.post(f"{API}/v1/auth/token", json={"token": "a.eyJleHAiOjQxMDI0NDQ4MDB9.c"})


def _patients(requests_mock, n: int) -> None:
    def respond(request, context):
        q = {k: int(v[0]) for k, v in parse_qs(urlparse(request.url).query).items()}
        data = [{"id": f"pat-{i}", "firstName": "Ada"} for i in range(n)][q["offset"] :][
            : q["limit"]
        ]
        return {"data": data, "total": n, "limit": q["limit"], "offset": q["offset"]}

    requests_mock.get(PATIENTS, json=respond)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"api_secret": None}, "api_secret"),
        ({"api_url": "http://api.example.test"}, "api_url must use https"),
        ({"delivery_type": "s3"}, "s3_bucket is required"),
        (
            {"delivery_type": "sftp", "sftp_host": "h", "sftp_username": "u"},
            "sftp_password or sftp_private_key",
        ),
        ({"delivery_path_template": "{orgId}/{nope}.json"}, "unknown field {nope}"),
        ({"delivery_type": "ftp"}, "delivery_type"),
    ],
)
def test_bad_settings_name_the_setting(base_config, change, expected):
    config = {k: v for k, v in {**base_config, **change}.items() if v is not None}
    with pytest.raises(ConfigValidationError) as caught:
        TapHealthEx(config=config)
    assert any(expected in e for e in caught.value.errors), caught.value.errors


def test_identified_patients_page_to_the_total(requests_mock, run_tap, base_config):
    _patients(requests_mock, 2500)
    result = run_tap(base_config, streams=["identified_patients"])
    assert len(result.records("identified_patients")) == 2500
    assert {r["project_id"] for r in result.records("identified_patients")} == {"p1"}
    gets = [r for r in requests_mock.request_history if r.method == "GET"]
    assert len(gets) == 3  # 1000 + 1000 + 500, no empty page after the total


def test_consents_send_if_modified_since_from_the_bookmark(requests_mock, run_tap, base_config):
    seen = []

    def respond(request, context):
        seen.append(request.headers.get("If-Modified-Since"))
        return {"data": [{"id": "c1", "updatedAt": "2026-03-01T10:00:05Z"}], "total": 1}

    requests_mock.get(f"{API}/v1/projects/p1/consent-records", json=respond)
    first = run_tap(base_config, streams=["consent_records"])
    run_tap(base_config, streams=["consent_records"], state=first.state)
    assert seen == [None, "Sun, 01 Mar 2026 10:00:04 GMT"]


def test_update_requests_respect_the_interval_and_record_refusals(
    requests_mock, run_tap, base_config, caplog
):
    _patients(requests_mock, 3)
    url = re.compile(re.escape(PATIENTS) + r"/pat-(\d)/\$updateData")

    def respond(request, context):
        patient = url.match(request.url).group(1)
        if patient == "2":
            context.status_code = 404
            return {"error": "PATIENT_NOT_FOUND", "message": "Ada Lovelace not found"}
        context.status_code = 201
        return {
            "message": "IN_PROGRESS_NO_ACTION_NEEDED",
            "retrievalId": f"r-{patient}",
            "counts": {"documents": 3},
        }

    requests_mock.post(url, json=respond)
    config = {**base_config, "request_updates": True, "skip_interactive": True}
    with caplog.at_level(logging.DEBUG):
        first = run_tap(config, streams=["data_update_requests"])
    records = {r["patient_id"]: r for r in first.records("data_update_requests")}
    assert records["pat-0"]["retrieval_id"] == "r-0"
    assert (records["pat-2"]["http_status"], records["pat-2"]["error_code"]) == (
        404,
        "PATIENT_NOT_FOUND",
    )
    posts = [r for r in requests_mock.request_history if r.method == "POST" and "update" in r.url]
    assert len(posts) == 3
    assert json.loads(posts[0].text) == {"skipInteractive": True}
    assert "Lovelace" not in caplog.text

    second = run_tap(config, streams=["data_update_requests"], state=first.state)
    assert second.records("data_update_requests") == []  # within update_interval_hours
    third = run_tap(
        {**config, "update_interval_hours": 0}, streams=["data_update_requests"], state=second.state
    )
    assert len(third.records("data_update_requests")) == 3


def test_update_requests_are_off_by_default(requests_mock, run_tap, base_config):
    _patients(requests_mock, 2)
    result = run_tap(base_config, streams=["data_update_requests"])
    assert result.records("data_update_requests") == []
    assert not [r for r in requests_mock.request_history if "updateData" in r.url]


def test_a_paused_study_is_one_warning_per_project(requests_mock, run_tap, base_config, caplog):
    _patients(requests_mock, 4)
    requests_mock.post(
        re.compile(r".*\$updateData"),
        status_code=409,
        json={"error": "STUDY_NOT_ACTIVE", "message": "paused"},
    )
    with caplog.at_level(logging.WARNING):
        result = run_tap({**base_config, "request_updates": True}, streams=["data_update_requests"])
    assert result.records("data_update_requests") == []
    assert caplog.text.count("paused or not active") == 1
    assert len([r for r in requests_mock.request_history if "updateData" in r.url]) == 1


def _write(tmp_path, body) -> object:
    path = tmp_path / "bundle.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def test_bundles_are_read_entry_by_entry(tmp_path):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:1",
                "resource": {
                    "resourceType": "Condition",
                    "id": "c1",
                    "code": {
                        "coding": [
                            {
                                "system": "http://snomed.info/sct",
                                "code": "44054006",
                                "display": "Diabetes",
                            }
                        ]
                    },
                    "clinicalStatus": {"coding": [{"code": "active"}]},
                    "onsetDateTime": "2020-01-01",
                },
            }
        ],
    }
    (resource,) = bundle_resources(_write(tmp_path, bundle))
    assert promote("condition", resource) == {
        "code": "44054006",
        "code_system": "http://snomed.info/sct",
        "display": "Diabetes",
        "status": "active",
        "effective": "2020-01-01",
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            '{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Pat',
            "not valid JSON",
        ),
        ({"resourceType": "Patient", "id": "x"}, "not a FHIR Bundle (resourceType Patient)"),
        ({"hello": "world"}, "not a FHIR Bundle (resourceType missing)"),
        (
            {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]},
            "without an id",
        ),
    ],
)
def test_unreadable_bundles_say_why(tmp_path, body, reason):
    with pytest.raises(NotFhir, match=re.escape(reason)):
        list(bundle_resources(_write(tmp_path, body)))


def test_the_path_template_matches_one_segment_per_field():
    pattern = template_pattern("{orgId}/{projectId}/{healthexPatientId}/{retrievalId}/bundle.json")
    match = pattern.match("org/p1/pat-1/r-9/bundle.json")
    assert match is not None
    assert match.groupdict() == {
        "orgId": "org",
        "projectId": "p1",
        "healthexPatientId": "pat-1",
        "retrievalId": "r-9",
    }
    assert pattern.match("org/p1/pat-1/r-9/extra/bundle.json") is None
    assert pattern.match("org/p1/pat-1/r-9/bundle.json.tmp") is None
