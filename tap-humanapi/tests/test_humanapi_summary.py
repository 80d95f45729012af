"""The run summary and the progress lines, against the sandbox over real HTTP."""

from __future__ import annotations

import logging
import re
from collections import Counter

from tap_humanapi.coordinator import OUTCOMES
from tap_humanapi.tap import TapHumanAPI
from tapkit.testing import TapRun, record_counts, run_summaries, sync


def _run(sandbox, capsys, *, progress_seconds: float = 3600.0, **config) -> TapRun:
    tap = TapHumanAPI(config=sandbox.tap_config(max_retry_seconds=30, **config))
    tap.progress_seconds = progress_seconds
    return sync(tap, capsys, expect_error=True)


def _lines(caplog, prefix: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]


def _outcomes(run: TapRun) -> dict[str, int]:
    found = Counter(r["outcome"] for r in run.records("user_sync_status"))
    return {outcome: found[outcome] for outcome in OUTCOMES}


def test_the_summary_is_what_the_run_wrote_sent_retried_and_found(
    make_humanapi_sandbox, capsys, caplog
):
    sandbox = make_humanapi_sandbox(seed=4, users=20)
    sandbox.set_faults(rate=0.1, seed=5, kinds=("429",), retry_after=0)
    with caplog.at_level(logging.INFO):
        run = _run(sandbox, capsys)
    assert run.error is None
    (summary,) = run_summaries(caplog.text)
    assert summary["status"] == "succeeded"
    written = record_counts(run.messages)
    assert {k: v for k, v in summary["records"].items() if v} == written
    assert written["user_sync_status"] == written["users"] == 20
    stats = sandbox.stats()
    assert summary["requests"] == stats["requests"]
    assert summary["retries"] == stats["faults_injected"] > 0
    assert summary["retries"] == caplog.text.count("; retrying in ")
    assert summary["users"] == _outcomes(run)
    assert list(summary["users"]) == list(OUTCOMES)
    # The sandbox's groups give users of several outcomes.
    assert sum(1 for n in summary["users"].values() if n) >= 3


def test_progress_is_logged_at_every_tenth_of_the_users(make_humanapi_sandbox, capsys, caplog):
    sandbox = make_humanapi_sandbox(seed=4, users=20)
    with caplog.at_level(logging.INFO):
        _run(sandbox, capsys, max_workers=4)
    lines = _lines(caplog, "progress:")
    assert [line.split()[1] for line in lines] == [f"{n}/20" for n in range(2, 21, 2)]
    assert all(re.fullmatch(r"progress: \d+/20 users \(\d+%\), [\d.]+ users/s", x) for x in lines)


def test_a_short_interval_logs_progress_after_every_user(make_humanapi_sandbox, capsys, caplog):
    sandbox = make_humanapi_sandbox(seed=4, users=20)
    with caplog.at_level(logging.INFO):
        _run(sandbox, capsys, progress_seconds=0.0)
    assert [x.split()[1] for x in _lines(caplog, "progress:")] == [f"{n}/20" for n in range(1, 21)]


def test_summary_and_progress_name_no_user(make_humanapi_sandbox, capsys, caplog):
    sandbox = make_humanapi_sandbox(seed=4, users=20)
    with caplog.at_level(logging.INFO):
        run = _run(sandbox, capsys, progress_seconds=0.0)
    lines = _lines(caplog, "progress:") + _lines(caplog, "run summary:")
    assert len(lines) == 21
    identities = {
        value
        for user in sandbox.users()
        for value in user.values()
        if isinstance(value, str) and len(value) >= 4
    }
    identities |= {r["human_id"] for r in run.records("user_sync_status")}
    assert set(sandbox.client_user_ids()) <= identities
    words = {w for line in lines for w in re.findall(r"[\w@.:+-]+", line)}
    assert words & identities == set()


def test_a_failed_run_ends_with_its_summary(make_humanapi_sandbox, capsys, caplog):
    sandbox = make_humanapi_sandbox(seed=4, users=20)
    sandbox.malform("/api/v1/users", "shape")  # the admin list: the run cannot go on
    with caplog.at_level(logging.INFO):
        run = _run(sandbox, capsys)
    assert run.error is not None
    (summary,) = run_summaries(caplog.text)
    assert summary["status"] == "failed"
    assert record_counts(run.messages) == {}
    assert set(summary["records"].values()) == {0}
    assert summary["requests"] == sandbox.stats()["requests"] == 2  # app token, admin list
    assert summary["users"] == dict.fromkeys(OUTCOMES, 0)
