"""tap-healthex against the HealthEx sandbox: its API, and real S3 and SFTP servers."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from tap_healthex.api_streams import EVERYTHING
from tap_healthex.errors import HealthExError
from tap_healthex.fhir import OTHER, STREAM_OF_TYPE
from tapkit.fidelity import EXTRA


def config_for(sandbox, delivery: str, **extra) -> dict:
    return sandbox.tap_config(delivery, max_retry_seconds=10, **extra)


def resources_landed(*runs) -> dict[tuple, dict]:
    """Resource records by primary key across runs, as a warehouse upserting keeps them."""
    landed: dict[tuple, dict] = {}
    for run in runs:
        for stream in [*STREAM_OF_TYPE.values(), OTHER]:
            for r in run.records(stream):
                key = (r["project_id"], r["healthex_patient_id"], r["resource_type"], r["id"])
                landed[key] = r
    return landed


def resources_truth(sandbox) -> dict[tuple, dict]:
    return {
        (t["project_id"], t["patient_id"], t["resource"]["resourceType"], t["resource"]["id"]): t[
            "resource"
        ]
        for t in sandbox.truth_resources()
    }


@pytest.mark.parametrize("delivery", ["s3", "sftp"])
def test_delivered_resources_equal_the_bundles(make_healthex_sandbox, run_tap, delivery):
    sandbox = make_healthex_sandbox(seed=41, patients_per_project=4, delivery=delivery)
    result = run_tap(config_for(sandbox, delivery))
    landed = resources_landed(result)
    truth = resources_truth(sandbox)
    assert set(landed) == set(truth)
    assert all(landed[k]["resource"] == truth[k] for k in truth)
    files = result.records("delivery_files")
    assert {f["key"] for f in files} == {d["key"] for d in sandbox.delivered()}
    assert all(f["parse_error"] is None and f["resource_count"] > 0 for f in files)
    assert len(result.records("identified_patients")) == 8
    assert result.records("consent_records")


def test_refresh_then_delivery_then_next_run_reads_only_new_files(make_healthex_sandbox, run_tap):
    sandbox = make_healthex_sandbox(seed=42, patients_per_project=3, delivery="s3")
    config = config_for(sandbox, "s3", request_updates=True)
    first = run_tap(config)
    asked = first.records("data_update_requests")
    assert len(asked) == 6
    # The child stream syncs once per patient; its SCHEMA goes out once.
    schemas = [m["stream"] for m in first.messages if m["type"] == "SCHEMA"]
    assert schemas.count("data_update_requests") == 1
    assert len(schemas) == len(set(schemas))
    in_progress = [r for r in asked if r["message"] == "IN_PROGRESS_NO_ACTION_NEEDED"]
    assert in_progress  # those patients get a new bundle delivered
    before = {f["key"] for f in first.records("delivery_files")}
    second = run_tap(config, state=first.state)
    assert second.records("data_update_requests") == []  # within update_interval_hours
    new = {f["key"] for f in second.records("delivery_files")}
    assert new.isdisjoint(before)
    assert new == {d["key"] for d in sandbox.delivered()} - before
    assert {f["retrieval_id"] for f in second.records("delivery_files")} <= {
        r["retrieval_id"] for r in in_progress
    }
    third = run_tap(config, state=second.state)
    assert third.records("delivery_files") == []
    assert set(resources_landed(first, second, third)) == set(resources_truth(sandbox))


def _bad_file(sandbox, retrieval: str, data: bytes) -> str:
    project = sandbox.projects[0]
    patient = sandbox.patient_ids(project)[0]
    return sandbox.write_file(f"{sandbox.org_id}/{project}/{patient}/{retrieval}/bundle.json", data)


def test_with_skip_bad_files_a_corrupt_or_foreign_file_is_reported_and_skipped(
    make_healthex_sandbox, run_tap
):
    sandbox = make_healthex_sandbox(seed=43, patients_per_project=2, delivery="sftp")
    project = sandbox.projects[0]
    patient = sandbox.patient_ids(project)[0]
    base = f"{sandbox.org_id}/{project}/{patient}"
    _bad_file(sandbox, "r-bad", b'{"resourceType": "Bundle", "entry": [{')
    _bad_file(sandbox, "r-csv", b'{"resourceType": "Binary", "id": "x"}')
    sandbox.write_file(f"{base}/notes.txt", b"not part of the layout")
    result = run_tap(config_for(sandbox, "sftp", skip_bad_files=True))
    errors = {
        f["retrieval_id"]: f["parse_error"]
        for f in result.records("delivery_files")
        if f["parse_error"]
    }
    assert errors == {"r-bad": "not valid JSON", "r-csv": "not a FHIR Bundle (resourceType Binary)"}
    assert not any(f["key"].endswith("notes.txt") for f in result.records("delivery_files"))
    assert set(resources_landed(result)) == set(resources_truth(sandbox))


def test_a_host_key_that_does_not_match_is_refused(make_healthex_sandbox, run_tap):
    sandbox = make_healthex_sandbox(seed=44, patients_per_project=1, delivery="sftp")
    other = make_healthex_sandbox(seed=45, patients_per_project=1, delivery="sftp")
    config = config_for(sandbox, "sftp")
    key = other.delivery_info()["sftp_host_key_line"].partition(" ")[2]
    config["sftp_known_hosts"] = f"[{sandbox.sftp_host}]:{sandbox.sftp_port} {key}"
    with pytest.raises(HealthExError, match="host key that does not match"):
        run_tap(config, streams=["delivery_files"])


def _messages(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    ("delivery", "data", "reason"),
    [
        ("s3", b"\x1f\x8b\x08\x00 not json", "not valid JSON"),
        (
            "sftp",
            b'{"resourceType": "Binary", "id": "x"}',
            "not a FHIR Bundle (resourceType Binary)",
        ),
        (
            "s3",
            b'{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}',
            "a Patient resource without an id",
        ),
    ],
)
def test_a_file_that_is_not_fhir_stops_the_run_naming_it_and_no_bookmark_moves(
    make_healthex_sandbox, run_tap, capsys, delivery, data, reason
):
    sandbox = make_healthex_sandbox(seed=46, patients_per_project=2, delivery=delivery)
    config = config_for(sandbox, delivery)
    first = run_tap(config)
    project = sandbox.projects[0]
    sandbox.write_bundle(project, sandbox.patient_ids(project)[1])  # a good new file too
    key = _bad_file(sandbox, "r-bad", data)

    with pytest.raises(HealthExError) as caught:
        run_tap(config, state=first.state)
    message = str(caught.value)
    assert message.startswith(f"delivered file '{key}' is not a readable FHIR Bundle ({reason})")
    assert "skip_bad_files" in message
    assert "\n" not in message
    messages = _messages(capsys.readouterr().out)
    assert not [m for m in messages if m["type"] == "RECORD"]  # files are read first
    assert all(m["value"] == first.state for m in messages if m["type"] == "STATE")

    skipped = run_tap({**config, "skip_bad_files": True}, state=first.state)
    files = {f["key"]: f for f in skipped.records("delivery_files")}
    assert files[key]["parse_error"] == reason
    assert files[key]["resource_count"] == 0
    assert len(files) == 2
    assert (
        skipped.state["bookmarks"]["delivery_files"] != first.state["bookmarks"]["delivery_files"]
    )


def test_the_command_names_a_file_that_is_not_fhir_in_one_line(make_healthex_sandbox, tmp_path):
    sandbox = make_healthex_sandbox(seed=47, patients_per_project=1, delivery="sftp")
    key = _bad_file(sandbox, "r-bad", b"<xml/>")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_for(sandbox, "sftp")))
    command = [str(Path(sys.executable).parent / "tap-healthex"), "--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    # Less the SDK's note naming the stream that failed.
    errors = [line for line in errors if "An unhandled error occurred" not in line]
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert len(errors) == 1, errors
    assert f"delivered file '{key}' is not a readable FHIR Bundle (not valid JSON)" in errors[0]
    assert '"type":"RECORD"' not in done.stdout
    assert "delivery_files" not in done.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"sftp_password": "not-it"}, "refused the login; check sftp_username and sftp_password"),
        ({"sftp_username": "nobody"}, "refused the login; check sftp_username and sftp_password"),
        ({"sftp_port": 1}, "could not connect to sftp_host 127.0.0.1:1"),
        ({"sftp_known_hosts": "/nonexistent/known_hosts"}, "sftp_known_hosts '/nonexistent"),
        (
            {"sftp_password": None, "sftp_private_key": "not a key"},
            "sftp_private_key is not an unencrypted RSA, ECDSA or Ed25519 private key",
        ),
    ],
)
def test_sftp_settings_that_do_not_work_are_named(
    make_healthex_sandbox, run_tap, capsys, change, expected
):
    sandbox = make_healthex_sandbox(seed=48, patients_per_project=1, delivery="sftp")
    config = {k: v for k, v in {**config_for(sandbox, "sftp"), **change}.items() if v is not None}
    with pytest.raises(HealthExError, match=re.escape(expected)) as caught:
        run_tap(config)
    assert sandbox.sftp_password not in str(caught.value)
    assert '"type":"RECORD"' not in capsys.readouterr().out


def test_an_sftp_private_key_logs_in_and_a_wrong_one_is_named(make_healthex_sandbox, run_tap):
    import asyncssh  # noqa: PLC0415 - the sandbox's SSH library

    sandbox = make_healthex_sandbox(seed=49, patients_per_project=1, delivery="sftp")
    config = {k: v for k, v in config_for(sandbox, "sftp").items() if k != "sftp_password"}
    key = sandbox.delivery_info()["sftp_client_key"]
    result = run_tap({**config, "sftp_private_key": key})
    assert result.records("delivery_files")
    other = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    with pytest.raises(HealthExError, match="check sftp_username and sftp_private_key"):
        run_tap({**config, "sftp_private_key": other})


@pytest.fixture
def s3_auth(make_healthex_sandbox):
    """A sandbox whose S3 checks credentials (moto's IAM), and a key of a user without rights."""
    import boto3  # noqa: PLC0415

    sandbox = make_healthex_sandbox(seed=50, patients_per_project=1, delivery="s3")
    endpoint = sandbox.s3_endpoint_url

    def reset(count: str) -> None:
        requests.post(
            f"{endpoint}/moto-api/reset-auth",
            data=count,
            headers={"Content-Type": "text/plain"},
            timeout=10,
        ).raise_for_status()

    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    user = f"reader-{secrets.token_hex(4)}"  # moto's IAM is shared by the whole process
    reset("2")  # two calls without credentials: the user and its key; then IAM checks
    try:
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        yield sandbox, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        reset("inf")
        for each in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=each["AccessKeyId"])
        iam.delete_user(UserName=user)


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("unknown key", "answered InvalidAccessKeyId (403); check aws_access_key_id"),
        ("wrong secret", "answered SignatureDoesNotMatch (403); check aws_secret_access_key"),
        ("no rights", "answered AccessDenied (403); check the credentials' access to s3_bucket"),
    ],
)
def test_s3_credentials_that_do_not_work_are_named(s3_auth, run_tap, capsys, which, expected):
    sandbox, key_id, secret = s3_auth
    key_id, secret = {
        "unknown key": ("AKIANOBODY", "not-it"),
        "wrong secret": (key_id, "not-it"),
        "no rights": (key_id, secret),
    }[which]
    config = {
        **config_for(sandbox, "s3"),
        "aws_access_key_id": key_id,
        "aws_secret_access_key": secret,
    }
    with pytest.raises(HealthExError, match=re.escape(expected)) as caught:
        run_tap(config)
    assert str(caught.value).startswith(f"S3 listing of s3_bucket '{sandbox.s3_bucket}'")
    assert secret not in str(caught.value)
    assert '"type":"RECORD"' not in capsys.readouterr().out


def test_a_missing_bucket_is_named(make_healthex_sandbox, run_tap):
    sandbox = make_healthex_sandbox(seed=51, patients_per_project=1, delivery="s3")
    with pytest.raises(HealthExError, match="answered NoSuchBucket \\(404\\); check s3_bucket"):
        run_tap({**config_for(sandbox, "s3"), "s3_bucket": "no-such-bucket"})


def test_wrong_api_credentials_fail_before_any_record(make_healthex_sandbox, run_tap, capsys):
    sandbox = make_healthex_sandbox(seed=52, patients_per_project=1, delivery="s3")
    with pytest.raises(HealthExError, match="check the api_key and api_secret settings"):
        run_tap({**config_for(sandbox, "s3"), "api_secret": "not-it"})
    assert '"type":"RECORD"' not in capsys.readouterr().out


def _latest(*runs) -> dict[str, dict]:
    """Consent records by id, the latest read of each, as a warehouse keeps them."""
    latest: dict[str, dict] = {}
    for run in runs:
        for record in run.records("consent_records"):
            held = latest.get(record["id"])
            if held is None or record["synced_at"] >= held["synced_at"]:
                latest[record["id"]] = record
    return latest


def _as_served(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("project_id", "synced_at", EXTRA)}


def test_a_consent_changed_while_paging_is_read_by_the_next_run(make_healthex_sandbox, run_tap):
    sandbox = make_healthex_sandbox(seed=48, patients_per_project=6, delivery="s3")
    project = sandbox.projects[0]
    served = [c for c in sandbox.truth("consent_records") if c["studyId"] == project]
    # After the first page, its first consent changes: it moves to the end of the
    # order and every later one moves up a place, across the page boundary.
    first_read = served[0]
    change = {
        "op": "set_consent",
        "patient_id": first_read["patientId"],
        "consented": first_read["consentStatus"] != "OPTED_IN",
    }
    sandbox.schedule(1, [change], path=f"/v1/projects/{project}/consent-records")
    config = config_for(sandbox, "s3", page_size=2)
    first = run_tap(config, streams=["consent_records"])
    second = run_tap(config, state=first.state, streams=["consent_records"])
    assert sandbox.stats()["schedules_applied"] == 1
    latest = _latest(first, second)
    truth = {c["id"]: c for c in sandbox.truth("consent_records")}
    assert set(latest) == set(truth)  # nothing lost
    assert all(_as_served(latest[i]) == truth[i] for i in truth)  # nothing stale
    # Once nothing moves, the bookmark does: HealthEx's time of the second run's first
    # answer, minus the lookback.
    partitions = second.state["bookmarks"]["consent_records"]["partitions"]
    [held] = [p for p in partitions if p["context"] == {"project_id": project}]
    read = [r for r in second.records("consent_records") if r["project_id"] == project]
    first_answer = datetime.fromisoformat(min(r["synced_at"] for r in read))
    assert held["replication_key_value"] == (first_answer - timedelta(minutes=5)).isoformat()


def test_consents_changed_after_a_read_and_only_those_are_read_next(make_healthex_sandbox, run_tap):
    sandbox = make_healthex_sandbox(seed=47, patients_per_project=8, delivery="s3")
    config = config_for(sandbox, "s3", consent_lookback_minutes=0)
    first = run_tap(config, streams=["consent_records"])
    assert len(first.records("consent_records")) == len(sandbox.truth("consent_records"))
    patient = sandbox.patient_ids(sandbox.projects[1])[0]
    changed = sandbox.set_consent(patient, consented=False)
    second = run_tap(config, state=first.state, streams=["consent_records"])
    assert [r["id"] for r in second.records("consent_records")] == [changed["id"]]
    assert second.records("consent_records")[0]["consentStatus"] == "OPTED_OUT"
    # HTTP dates are whole seconds: a consent changed in the second of the previous
    # read's first answer is read once more, and nothing else is.
    third = run_tap(config, state=second.state, streams=["consent_records"])
    assert {r["id"] for r in third.records("consent_records")} <= {changed["id"]}


def test_a_dropped_or_failing_sftp_connection_is_retried(make_healthex_sandbox, run_tap):
    sandbox = make_healthex_sandbox(seed=49, patients_per_project=2, delivery="sftp")
    # The first file opened loses the connection; the second gets an SFTP failure.
    sandbox.fail_next("drop", "503")
    result = run_tap(config_for(sandbox, "sftp"), streams=["delivery_files"])
    assert sandbox.stats()["faults_injected"] == 2
    read = {f["key"]: f["parse_error"] for f in result.records("delivery_files")}
    assert read == {d["key"]: None for d in sandbox.delivered()}


def test_a_first_run_that_saw_consents_move_keeps_no_bookmark(make_healthex_sandbox, run_tap):
    sandbox = make_healthex_sandbox(seed=48, patients_per_project=6, delivery="s3")
    project = sandbox.projects[0]
    served = [c for c in sandbox.truth("consent_records") if c["studyId"] == project]
    change = {"op": "set_consent", "patient_id": served[0]["patientId"], "consented": True}
    sandbox.schedule(1, [change], path=f"/v1/projects/{project}/consent-records")
    config = config_for(sandbox, "s3", page_size=2)
    first = run_tap(config, streams=["consent_records"])
    partitions = first.state["bookmarks"]["consent_records"]["partitions"]
    [held] = [p for p in partitions if p["context"] == {"project_id": project}]
    assert held["replication_key_value"] == EVERYTHING  # the next run reads all again
    second = run_tap(config, state=first.state, streams=["consent_records"])
    read = {r["id"] for r in second.records("consent_records") if r["project_id"] == project}
    assert read == {c["id"] for c in sandbox.truth("consent_records") if c["studyId"] == project}


def test_an_sftp_server_that_stalls_past_the_timeout_is_retried(
    make_healthex_sandbox, run_tap, caplog
):
    sandbox = make_healthex_sandbox(seed=50, patients_per_project=1, delivery="sftp")
    sandbox.set_faults(rate=0.0, slow_seconds=3)
    sandbox.fail_next("slow")
    config = config_for(sandbox, "sftp", request_timeout=1)
    result = run_tap(config, streams=["delivery_files"])
    assert "SFTP download of delivered file" in caplog.text  # timed out, then retried
    read = {f["key"]: f["parse_error"] for f in result.records("delivery_files")}
    assert read == {d["key"]: None for d in sandbox.delivered()}
