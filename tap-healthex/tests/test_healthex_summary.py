"""The run summary: records, API requests, retries and delivered files read, as they happened."""

from __future__ import annotations

import logging
import re

from tap_healthex.tap import TapHealthEx
from tapkit.testing import TapRun, record_counts, run_summaries, sync


def _run(sandbox, capsys, **config) -> TapRun:
    tap = TapHealthEx(config=sandbox.tap_config("sftp", max_retry_seconds=30, **config))
    tap.retry_policy.sleep = lambda _seconds: None
    return sync(tap, capsys, expect_error=True)


def test_the_summary_is_what_the_run_wrote_sent_retried_and_read(
    make_healthex_sandbox, capsys, caplog
):
    sandbox = make_healthex_sandbox(seed=45, patients_per_project=4, delivery="sftp")
    # Faults hit API requests and SFTP file opens alike; each is retried once.
    sandbox.set_faults(rate=0.15, seed=3, kinds=("429",), retry_after=0)
    with caplog.at_level(logging.INFO):
        run = _run(sandbox, capsys, request_updates=True)
    assert run.error is None
    (summary,) = run_summaries(caplog.text)
    written = record_counts(run.messages)
    assert summary["status"] == "succeeded"
    assert {k: v for k, v in summary["records"].items() if v} == written
    assert written["data_update_requests"] == 8
    stats = sandbox.stats()
    assert summary["requests"] == stats["requests"]
    assert summary["retries"] == stats["faults_injected"] > 0
    assert "SFTP download of delivered file" in caplog.text  # SFTP retries are counted too
    assert summary["files_read"] == written["delivery_files"] > 0


def test_the_summary_names_no_patient(make_healthex_sandbox, capsys, caplog):
    sandbox = make_healthex_sandbox(seed=46, patients_per_project=3, delivery="sftp")
    with caplog.at_level(logging.INFO):
        _run(sandbox, capsys)
    (line,) = [r.getMessage() for r in caplog.records if "run summary:" in r.getMessage()]
    values = {
        value
        for table in ("identified_patients", "consent_records")
        for record in sandbox.truth(table)
        for value in record.values()
        if isinstance(value, str) and len(value) >= 4
    }
    values |= {d["key"] for d in sandbox.delivered()} | set(sandbox.projects)
    assert set(re.findall(r"[\w@.:/+-]+", line)) & values == set()


def test_a_failed_run_ends_with_its_summary(make_healthex_sandbox, capsys, caplog):
    sandbox = make_healthex_sandbox(seed=47, patients_per_project=2, delivery="sftp")
    # The delivered files are read first; the API's lists then answer the wrong shape.
    sandbox.malform("/v1/projects/", "shape")
    with caplog.at_level(logging.INFO):
        run = _run(sandbox, capsys)
    assert run.error is not None
    (summary,) = run_summaries(caplog.text)
    written = record_counts(run.messages)
    assert summary["status"] == "failed"
    # Streams sync in name order: the FHIR streams before consent_records have written.
    assert {k: v for k, v in summary["records"].items() if v} == written
    assert written["allergy_intolerance"] > 0
    assert "patient" not in written
    assert summary["requests"] == sandbox.stats()["requests"] == 2  # login, one list page
    assert summary["files_read"] == len(sandbox.delivered())
