"""tap-healthex against the HealthEx sandbox: its API, and real S3 and SFTP servers."""

from __future__ import annotations

import pytest
from tap_healthex.errors import HealthExError
from tap_healthex.fhir import OTHER, STREAM_OF_TYPE


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


def test_a_corrupt_or_foreign_file_is_reported_and_skipped(make_healthex_sandbox, run_tap):
    sandbox = make_healthex_sandbox(seed=43, patients_per_project=2, delivery="sftp")
    project = sandbox.projects[0]
    patient = sandbox.patient_ids(project)[0]
    base = f"{sandbox.org_id}/{project}/{patient}"
    sandbox.write_file(f"{base}/r-bad/bundle.json", b'{"resourceType": "Bundle", "entry": [{')
    sandbox.write_file(f"{base}/r-csv/bundle.json", b'{"resourceType": "Binary", "id": "x"}')
    sandbox.write_file(f"{base}/notes.txt", b"not part of the layout")
    result = run_tap(config_for(sandbox, "sftp"))
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
