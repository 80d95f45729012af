"""The HealthEx API streams against requests-mock, and the FHIR bundle parser on files."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import tapkit.errors
from healthex_helpers import API
from tap_healthex.errors import HealthExError
from tap_healthex.fhir import NotFhir, bundle_resources, promote
from tap_healthex.stores import template_pattern
from tap_healthex.tap import TapHealthEx
from tapkit.cli import InputError
from tapkit.errors import ResponseTooLargeError

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
        ({"delivery_path_template": ""}, "delivery_path_template must not be empty"),
        ({"delivery_type": "ftp"}, "delivery_type"),
        ({"skip_bad_files": "yes"}, "skip_bad_files"),
        ({"api_secret": 31415926}, "config['api_secret']"),
        ({"delivery_type": "sftp", "sftp_host": "h", "sftp_password": 27182818}, "sftp_password"),
    ],
)
def test_bad_settings_name_the_setting(base_config, change, expected):
    config = {k: v for k, v in {**base_config, **change}.items() if v is not None}
    with pytest.raises(InputError) as caught:
        TapHealthEx(config=config)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert "unit-test-api-secret" not in message
    assert "31415926" not in message
    assert "27182818" not in message


CONSENTS = {"replication_key": "synced_at", "replication_key_value": "2026-03-01T10:00:05+00:00"}
CONSENTS_URL = f"{API}/v1/projects/p1/consent-records"


def consent_page(*records: dict, total: int | None = None) -> dict:
    """The documented answer: each record wrapped in a result item."""
    results = [{"consentRecord": record} for record in records]
    return {"total": len(records) if total is None else total, "results": results}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"bookmarks": []}, "'bookmarks' is not an object"),
        (
            {"bookmarks": {"orders": {"replication_key": "id", "replication_key_value": 5}}},
            "another tap",
        ),
        ({"bookmarks": {"consent_records": []}}, "state for stream 'consent_records'"),
        (
            {"bookmarks": {"consent_records": {**CONSENTS, "replication_key_value": 5}}},
            "'synced_at' bookmark is an int, not an ISO date-time",
        ),
        (
            {
                "bookmarks": {
                    "consent_records": {
                        "partitions": [{**CONSENTS, "replication_key_value": "soon"}]
                    }
                }
            },
            "'synced_at' bookmark is not an ISO date-time",
        ),
        (
            {
                "bookmarks": {
                    "consent_records": {"partitions": [{**CONSENTS, "replication_key": "stamp"}]}
                }
            },
            "bookmarked by 'stamp'",
        ),
        (
            {
                "bookmarks": {
                    "data_update_requests": {
                        "partitions": [
                            {"replication_key": "requested_at", "replication_key_value": 7}
                        ]
                    }
                }
            },
            "state for stream 'data_update_requests'",
        ),
        ({"bookmarks": {"delivery_files": {"watermark": "yesterday"}}}, "'delivery_files'"),
        ({"bookmarks": {"delivery_files": {"watermark": 5}}}, "'delivery_files'"),
        ({"bookmarks": {"delivery_files": {"recent": ["a"]}}}, "'delivery_files'"),
        ({"bookmarks": {"delivery_files": {"recent": {"a": 1}}}}, "'delivery_files'"),
        ({"bookmarks": {"delivery_files": "2026-03-01"}}, "'delivery_files'"),
    ],
)
def test_a_state_of_the_wrong_shape_is_refused_naming_the_stream(base_config, state, expected):
    with pytest.raises(InputError, match=re.escape(expected)) as caught:
        TapHealthEx(config=base_config, state=state)
    assert "\n" not in str(caught.value)


def test_a_state_of_this_tap_is_taken_as_it_is(base_config):
    patient = {"project_id": "p1", "patient_id": "pat-0"}
    state = {
        "bookmarks": {
            "identified_patients": {"partitions": [{"context": {"project_id": "p1"}}]},
            "consent_records": {"partitions": [{"context": {"project_id": "p1"}, **CONSENTS}]},
            "data_update_requests": {
                "partitions": [
                    {
                        "context": patient,
                        "replication_key": "requested_at",
                        "replication_key_value": "2026-03-01T10:00:00+00:00",
                    }
                ]
            },
            "delivery_files": {
                "watermark": "2026-03-01T10:00:00+00:00",
                "recent": {"org/p1/pat-0/r-1/bundle.json": "2026-03-01T10:00:00+00:00"},
            },
            "patient": {},
        }
    }
    tap = TapHealthEx(config=base_config, state=json.loads(json.dumps(state)))
    assert tap.state == state  # empty bookmarks too: the first STATE echoes the input


def test_a_consent_bookmark_of_the_previous_version_is_taken_as_the_new_one(
    requests_mock, run_tap, base_config
):
    old = {"replication_key": "updatedAt", "replication_key_value": "2026-03-01T10:00:05.123Z"}
    state = {
        "bookmarks": {"consent_records": {"partitions": [{"context": {"project_id": "p1"}, **old}]}}
    }
    seen = []

    def respond(request, context):
        seen.append(request.headers.get("If-Modified-Since"))
        return consent_page()

    requests_mock.get(CONSENTS_URL, json=respond)
    run_tap(base_config, streams=["consent_records"], state=state)
    assert seen == ["Sun, 01 Mar 2026 10:00:05 GMT"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (consent_page({"firstName": "Ada"}), "answered a record without an 'id' (its primary key)"),
        ({"data": [{"id": "c1"}], "total": 1}, "unexpected shape (expected {total, results"),
        ({"total": 1, "results": [{"id": "c1"}]}, "unexpected shape (expected {total, results"),
        ({"total": 1, "results": [{"consentRecord": "Ada"}]}, "unexpected shape"),
    ],
)
def test_records_without_their_keys_are_refused_naming_stream_and_path(
    requests_mock, run_tap, base_config, body, expected
):
    requests_mock.get(CONSENTS_URL, json=body)
    with pytest.raises(HealthExError) as caught:
        run_tap(base_config, streams=["consent_records"])
    assert str(caught.value).startswith(
        "stream 'consent_records': GET /v1/projects/{project_id}/consent-records"
    )
    assert expected in str(caught.value)
    assert "Ada" not in str(caught.value)


@pytest.mark.parametrize("what", ["token", "page", "declared"])
def test_a_body_over_the_cap_is_refused(requests_mock, run_tap, base_config, monkeypatch, what):
    monkeypatch.setattr(tapkit.errors, "MAX_RESPONSE_BYTES", 4096)
    big = {"data": [{"id": f"pat-{i}", "firstName": "Ada" * 50} for i in range(100)], "total": 100}
    # The call is named by its path template: a real path may hold a patient id.
    path = (
        "stream 'identified_patients': "
        "GET /v1/projects/{project_id}/recruitment/identified-patients"
    )
    if what == "token":
        requests_mock.post(f"{API}/v1/auth/token", json={"token": "t", "pad": "x" * 5000})
        path = "POST /v1/auth/token"
    if what == "declared":  # refused on its Content-Length, before the body is read
        requests_mock.get(
            PATIENTS, json={"data": [], "total": 0}, headers={"Content-Length": "5000"}
        )
    else:  # no Content-Length: read up to the cap
        requests_mock.get(PATIENTS, json=big)
    with pytest.raises(
        ResponseTooLargeError, match=re.escape(f"{path} answered a body over 0 MiB")
    ):
        run_tap(base_config, streams=["identified_patients"])


def test_a_body_under_the_cap_is_read(requests_mock, run_tap, base_config, monkeypatch):
    monkeypatch.setattr(tapkit.errors, "MAX_RESPONSE_BYTES", 1 << 20)
    _patients(requests_mock, 30)
    assert (
        len(run_tap(base_config, streams=["identified_patients"]).records("identified_patients"))
        == 30
    )


@pytest.mark.parametrize(
    "answer", [{"text": "<html>proxy</html>"}, {"json": ["IN_PROGRESS_NO_ACTION_NEEDED"]}]
)
def test_an_update_answer_that_is_not_an_object_stops_the_run(
    requests_mock, run_tap, base_config, answer
):
    _patients(requests_mock, 1)
    requests_mock.post(re.compile(r".*\$updateData"), status_code=201, **answer)
    with pytest.raises(HealthExError, match="answered 201 with a body that is not a JSON object"):
        run_tap({**base_config, "request_updates": True}, streams=["data_update_requests"])
    assert len([r for r in requests_mock.request_history if "updateData" in r.url]) == 1


def test_wrong_credentials_fail_before_any_record(requests_mock, run_tap, base_config, capsys):
    requests_mock.post(f"{API}/v1/auth/token", status_code=401, json={"code": "UNAUTHORIZED"})
    with pytest.raises(HealthExError, match="check the api_key and api_secret settings"):
        run_tap(base_config)
    assert '"type":"RECORD"' not in capsys.readouterr().out


TAP = Path(sys.executable).parent / "tap-healthex"


@pytest.mark.parametrize(
    ("config", "state", "expected"),
    [
        (None, None, "config file '{dir}/config.json' cannot be read"),
        ("{'api': 1", None, "config file '{dir}/config.json' is not JSON"),
        ("GOOD", "[]", "state file '{dir}/state.json' holds a JSON list, not an object"),
        ("{}", None, "invalid settings:"),
        ("GOOD", '{"bookmarks": {"x": {"v": 1}}}', "no bookmark belongs to this tap"),
        ("GOOD", '{"bookmarks": {"delivery_files": {"watermark": 1}}}', "'delivery_files'"),
    ],
)
def test_the_command_ends_bad_input_in_one_line_and_exit_1(
    tmp_path, base_config, config, state, expected
):
    command = [str(TAP), "--config", str(tmp_path / "config.json")]
    if config is not None:
        text = json.dumps(base_config) if config == "GOOD" else config
        (tmp_path / "config.json").write_text(text)
    if state is not None:
        (tmp_path / "state.json").write_text(state)
        command += ["--state", str(tmp_path / "state.json")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    # Less the SDK's note naming the stream that failed.
    errors = [line for line in errors if "An unhandled error occurred" not in line]
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert len(errors) == 1, errors
    assert expected.format(dir=tmp_path) in errors[0]
    assert done.stdout == ""  # refused before any request or message


def test_identified_patients_page_to_the_total(requests_mock, run_tap, base_config):
    _patients(requests_mock, 2500)
    result = run_tap(base_config, streams=["identified_patients"])
    assert len(result.records("identified_patients")) == 2500
    assert {r["project_id"] for r in result.records("identified_patients")} == {"p1"}
    gets = [r for r in requests_mock.request_history if r.method == "GET"]
    assert len(gets) == 3  # 1000 + 1000 + 500, no empty page after the total


def test_the_consent_bookmark_is_healthex_time_of_the_first_answer_minus_the_lookback(
    requests_mock, run_tap, base_config
):
    seen = []
    dates = iter(["Sun, 01 Mar 2026 10:00:05 GMT", "Sun, 01 Mar 2026 10:00:09 GMT"] * 2)

    def respond(request, context):
        seen.append(request.headers.get("If-Modified-Since"))
        context.headers["Date"] = next(dates)
        offset = int(parse_qs(urlparse(request.url).query)["offset"][0])
        records = [{"id": f"c{offset}"}, {"id": f"c{offset + 1}"}] if offset < 4 else []
        return consent_page(*records, total=4)

    requests_mock.get(CONSENTS_URL, json=respond)
    config = {**base_config, "page_size": 2, "consent_lookback_minutes": 3}
    first = run_tap(config, streams=["consent_records"])
    assert [r["synced_at"] for r in first.records("consent_records")] == [
        "2026-03-01T10:00:05+00:00",
        "2026-03-01T10:00:05+00:00",
        "2026-03-01T10:00:09+00:00",
        "2026-03-01T10:00:09+00:00",
    ]
    (partition,) = first.state["bookmarks"]["consent_records"]["partitions"]
    assert partition["replication_key_value"] == "2026-03-01T09:57:05+00:00"
    run_tap(config, streams=["consent_records"], state=first.state)
    assert seen == [None, None, "Sun, 01 Mar 2026 09:57:05 GMT", "Sun, 01 Mar 2026 09:57:05 GMT"]


def test_without_a_date_header_the_consent_bookmark_uses_the_local_clock(
    requests_mock, run_tap, base_config, caplog
):
    requests_mock.get(CONSENTS_URL, json=consent_page({"id": "c1"}))
    before = datetime.now(UTC)
    first = run_tap({**base_config, "consent_lookback_minutes": 1}, streams=["consent_records"])
    (partition,) = first.state["bookmarks"]["consent_records"]["partitions"]
    saved = datetime.fromisoformat(partition["replication_key_value"])
    assert before - timedelta(minutes=1, seconds=1) <= saved <= before - timedelta(seconds=59)
    assert "answered without a Date header" in caplog.text


def test_a_consent_result_keeps_what_sits_beside_the_record(requests_mock, run_tap, base_config):
    item = {"consentRecord": {"id": "c1", "consentStatus": "OPTED_IN"}, "screenshots": [1]}
    item["consentStatus"] = "sibling"  # the same name as a field of the record
    requests_mock.get(CONSENTS_URL, json={"total": 1, "results": [item]})
    (record,) = run_tap(base_config, streams=["consent_records"]).records("consent_records")
    assert record["consentStatus"] == "OPTED_IN"
    assert record["extra_fields"] == {"screenshots": [1], "result.consentStatus": "sibling"}


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
