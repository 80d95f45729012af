"""The run summary line and progress lines: their numbers are what the run did."""

from __future__ import annotations

import logging
import typing as t

import pytest
import requests
from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.exceptions import RetriableAPIError
from tapkit.cli import CheckedTap
from tapkit.errors import TapError
from tapkit.retry import RetryPolicy
from tapkit.summary import CountedSession, Progress, RunSummary
from tapkit.testing import record_counts, run_summaries, sync

LOGGER = logging.getLogger("tapkit-summary-test")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("progress:")]


def test_progress_logs_each_tenth_of_the_work(caplog):
    clock = Clock()
    progress = Progress(LOGGER, noun="users", total=20, interval=30, clock=clock)
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        for _ in range(20):
            clock.now += 1
            progress.advance()
    lines = progress_lines(caplog)
    assert [line.split()[1] for line in lines] == [f"{n}/20" for n in range(2, 21, 2)]
    assert lines[0] == "progress: 2/20 users (10%), 1.0 users/s"
    assert lines[-1] == "progress: 20/20 users (100%), 1.0 users/s"


def test_progress_logs_when_the_interval_passes_before_the_next_tenth(caplog):
    clock = Clock()
    progress = Progress(LOGGER, noun="users", total=100, interval=30, clock=clock)
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        for step in (29, 2, 5, 30):  # users 1..4: at 29 s no line; 31 s yes; 36 s no; 66 s
            clock.now += step
            progress.advance()
    assert progress_lines(caplog) == [
        "progress: 2/100 users (2%), 0.1 users/s",
        "progress: 4/100 users (4%), 0.1 users/s",
    ]


def test_a_total_under_ten_logs_every_unit_and_an_empty_one_nothing(caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        small = Progress(LOGGER, noun="users", total=3, clock=Clock())
        for _ in range(3):
            small.advance()
        Progress(LOGGER, noun="users", total=0, clock=Clock())
    assert [line.split()[1] for line in progress_lines(caplog)] == ["1/3", "2/3", "3/3"]


def test_the_summary_line_is_one_line_that_parses_back():
    summary = RunSummary()
    for _ in range(3):
        summary.count_request()
    summary.count_retry()
    line = summary.line(
        status="succeeded",
        records={"patients": 2, "notes": 0},
        extra={"users": {"unchanged": 1, "error": 0}},
        seconds=1.25,
    )
    assert line == (
        'run summary: status=succeeded records={"patients": 2, "notes": 0} requests=3 '
        'retries=1 users={"unchanged": 1, "error": 0} seconds=1.2'
    )
    assert run_summaries(f"INFO tap | {line}\nother line") == [
        {
            "status": "succeeded",
            "records": {"patients": 2, "notes": 0},
            "requests": 3,
            "retries": 1,
            "users": {"unchanged": 1, "error": 0},
            "seconds": 1.2,
        }
    ]


def test_the_retry_policy_counts_each_retry():
    summary = RunSummary()
    retry = RetryPolicy(
        max_retry_seconds=100, logger=LOGGER, sleep=lambda _s: None, summary=summary
    )
    failures = [RetriableAPIError("503"), ConnectionResetError()]

    def attempt() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    assert retry.run(attempt, what="GET /x") == "ok"
    assert (summary.retries, retry.retries, summary.requests) == (2, 2, 0)


def test_a_counted_session_counts_what_it_sends_redirects_and_failures_included(
    requests_mock,
):
    summary = RunSummary()
    session = CountedSession(summary)
    requests_mock.get("https://api.example.test/old", status_code=301, headers={"Location": "/new"})
    requests_mock.get("https://api.example.test/new", json={})
    requests_mock.get("https://api.example.test/down", exc=requests.exceptions.ConnectionError)
    assert session.get("https://api.example.test/old").ok
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get("https://api.example.test/down")
    assert summary.requests == requests_mock.call_count == 3


class Numbers(Stream):
    name = "numbers"
    primary_keys = ("id",)
    schema: t.ClassVar[dict] = th.PropertiesList(th.Property("id", th.StringType)).to_dict()
    count = 5
    fail_after: int | None = None

    def get_records(self, context: t.Any) -> t.Iterable[dict]:
        for i in range(self.count):
            if i == self.fail_after:
                raise TapError("stream 'numbers': GET /numbers answered 500")
            self._tap.run_summary.count_request()  # as a retry policy would
            yield {"id": f"id-{i}"}


class Letters(Numbers):
    name = "letters"
    count = 3


class Idle(Numbers):
    name = "idle"
    count = 0


class TapNumbers(CheckedTap):
    name = "tap-numbers"
    config_jsonschema: t.ClassVar[dict] = th.PropertiesList().to_dict()

    def discover_streams(self) -> list[Stream]:
        return [Numbers(self), Letters(self), Idle(self)]

    def summary_counts(self) -> dict[str, t.Any]:
        return {"files_read": 4}


def summaries(caplog: pytest.LogCaptureFixture) -> list[dict[str, t.Any]]:
    return run_summaries("\n".join(r.getMessage() for r in caplog.records))


def test_a_run_ends_with_one_summary_of_what_it_wrote(capsys, caplog):
    tap = TapNumbers(config={})
    with caplog.at_level(logging.INFO):
        run = sync(tap, capsys, streams=["numbers", "letters", "idle"])
    (summary,) = summaries(caplog)
    assert record_counts(run.messages) == {"numbers": 5, "letters": 3}
    assert summary["status"] == "succeeded"
    assert summary["records"] == {"numbers": 5, "letters": 3, "idle": 0}
    assert (summary["requests"], summary["retries"], summary["files_read"]) == (8, 0, 4)
    assert [r.levelno for r in caplog.records if "run summary:" in r.getMessage()] == [logging.INFO]


def test_a_failed_run_ends_with_a_summary_of_what_it_wrote_before(capsys, caplog, monkeypatch):
    monkeypatch.setattr(Numbers, "fail_after", 3)
    tap = TapNumbers(config={})
    with caplog.at_level(logging.INFO):
        run = sync(tap, capsys, expect_error=True)
    assert isinstance(run.error, TapError)
    (summary,) = summaries(caplog)
    # Streams sync in name order: idle, letters, then numbers fails at its fourth.
    assert record_counts(run.messages) == {"letters": 3, "numbers": 3}
    assert summary["status"] == "failed"
    assert summary["records"] == {"idle": 0, "letters": 3, "numbers": 3}
    assert summary["requests"] == 6
