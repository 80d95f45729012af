"""The run summary: records, requests and retries as the run really wrote, sent and retried."""

from __future__ import annotations

import logging
import re

from painchek_helpers import API, page, row
from sandbox.painchek import TABLES
from tapkit.testing import record_counts, run_summaries

SITES = f"{API}/api/sites/"
PATIENTS = f"{API}/api/patients/"


def _summary(caplog) -> dict:
    (summary,) = run_summaries(caplog.text)
    return summary


def _summary_line(caplog) -> str:
    (line,) = [r.getMessage() for r in caplog.records if "run summary:" in r.getMessage()]
    return line


def test_against_the_sandbox_with_faults_the_summary_is_what_happened(
    make_painchek_sandbox, run_tap, caplog
):
    sandbox = make_painchek_sandbox(seed=5, patients=30)
    sandbox.set_faults(rate=0.2, seed=3, kinds=("429", "503", "drop"), retry_after=2)
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO):
        run = run_tap(sandbox.tap_config(page_size=10), sleeps=sleeps)
    summary = _summary(caplog)
    written = record_counts(run.messages)
    assert summary["status"] == "succeeded"
    assert summary["records"] == written
    assert set(written) == set(TABLES)
    assert sum(written.values()) > 30
    stats = sandbox.stats()
    assert summary["requests"] == stats["requests"]
    assert summary["retries"] == stats["faults_injected"] == len(sleeps) > 0


def test_the_summary_names_no_patient_value(make_painchek_sandbox, run_tap, caplog):
    sandbox = make_painchek_sandbox(seed=6, patients=20)
    with caplog.at_level(logging.INFO):
        run_tap(sandbox.tap_config())
    line = _summary_line(caplog)
    values = {
        str(value)
        for table in TABLES
        for record in sandbox.truth(table)
        for value in record.values()
        if isinstance(value, str) and len(value) >= 4
    }
    assert values  # uuids, names, dates
    assert set(re.findall(r"[\w@.:+-]+", line)) & values == set()
    assert sandbox.client_secret not in line


def test_a_failed_run_ends_with_its_summary_too(requests_mock, run_tap, base_config, caplog):
    requests_mock.post(
        f"{API}/api/integration/auth/", json={"access_token": "t", "expires_in": 3600}
    )
    requests_mock.get(PATIENTS, json=page([row(2), row(1)]))
    throttled = {"status_code": 429, "headers": {"Retry-After": "1"}, "json": {}}
    requests_mock.get(SITES, [throttled])
    with caplog.at_level(logging.INFO):
        run = run_tap(
            {**base_config, "max_retry_seconds": 2.5},
            streams=["sites", "patients"],
            sleeps=[],
            expect_error=True,
        )
    assert run.error is not None
    summary = _summary(caplog)
    assert summary["status"] == "failed"
    # patients syncs before sites (name order); sites fails.
    assert (
        summary["records"]
        == {"patients": 2, "sites": 0}
        == {
            **record_counts(run.messages),
            "sites": 0,
        }
    )
    assert summary["requests"] == requests_mock.call_count == 5  # token, patients, 3 tries
    # Two waits of 1 s were started; a third would overrun the 2.5 s budget.
    assert summary["retries"] == 2
