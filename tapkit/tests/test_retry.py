"""The retry policy: Retry-After exactly, bounded backoff, a budget that is never overrun."""

from __future__ import annotations

import email.utils
import logging
import re
import time

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError
from tapkit.errors import ResponseTooLargeError, TapError, Unauthorized
from tapkit.retry import RetryPolicy, retry_after_seconds


class VendorError(TapError):
    pass


def answer(status: int, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response._content = b"{}"
    return response


def policy(budget: float, waits: list[float]) -> RetryPolicy:
    return RetryPolicy(
        max_retry_seconds=budget,
        logger=logging.getLogger("tapkit-test"),
        error_type=VendorError,
        sleep=waits.append,
        jitter=lambda: 1.0,  # the full nominal wait
    )


def failing(*failures: BaseException, result: str = "ok"):
    remaining = list(failures)

    def attempt() -> str:
        if remaining:
            raise remaining.pop(0)
        return result

    return attempt


def throttled(seconds: str) -> RetriableAPIError:
    return RetriableAPIError("throttled", answer(429, **{"Retry-After": seconds}))


def test_retry_after_in_seconds_is_waited_exactly_without_jitter():
    waits: list[float] = []
    retry = policy(100, waits)
    retry._jitter = lambda: 0.0  # would halve a backoff; a server's wait is not touched
    assert retry.run(failing(throttled("7"), throttled("3")), what="GET /x") == "ok"
    assert waits == [7.0, 3.0]
    assert retry.retries == 2


def test_retry_after_as_an_http_date_is_the_time_until_it():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after_seconds(answer(429, **{"Retry-After": when}))
    assert seconds is not None
    assert 28 <= seconds <= 30
    assert retry_after_seconds(answer(503, **{"Retry-After": "5"})) is None  # 429 only
    assert retry_after_seconds(answer(429, **{"Retry-After": "soon"})) is None


def test_errors_back_off_exponentially_and_the_budget_fails_before_it_is_overrun():
    waits: list[float] = []
    failures = [requests.exceptions.ConnectionError()] * 10
    with pytest.raises(VendorError) as caught:
        policy(10, waits).run(failing(*failures), what="GET /x")
    # 1 + 2 + 4 = 7 s waited; the next wait (8 s) would end past 10 s: not started.
    assert waits == [1.0, 2.0, 4.0]
    assert "GET /x failed after 4 attempts (ConnectionError)" in str(caught.value)
    assert "max_retry_seconds=10" in str(caught.value)


def test_a_server_wait_longer_than_the_budget_fails_at_once():
    waits: list[float] = []
    with pytest.raises(VendorError, match="after 1 attempts"):
        policy(60, waits).run(failing(throttled("3600")), what="GET /x")
    assert waits == []


def test_a_401_logs_in_again_once_then_names_the_credentials():
    logins: list[int] = []
    unauthorized = Unauthorized("GET /x answered 401")
    retry = policy(10, [])
    assert retry.run(failing(unauthorized), what="GET /x", on_unauthorized=lambda: logins.append(1))
    assert logins == [1]
    with pytest.raises(VendorError, match="refused the credentials after a fresh login"):
        retry.run(
            failing(unauthorized, unauthorized),
            what="GET /x",
            on_unauthorized=lambda: logins.append(1),
        )
    assert logins == [1, 1]


def test_an_oversized_answer_is_named_by_the_call_not_the_url():
    expected = "^" + re.escape("stream 's': GET /p/{id} answered a body")
    with pytest.raises(ResponseTooLargeError, match=expected):
        policy(10, []).run(
            failing(ResponseTooLargeError("an answer ...")), what="stream 's': GET /p/{id}"
        )


def test_a_5xx_is_retriable_and_a_4xx_is_not():
    with pytest.raises(RetriableAPIError, match="answered 503"):
        RetryPolicy.raise_for_retriable(answer(503), what="GET /x")
    RetryPolicy.raise_for_retriable(answer(404), what="GET /x")  # the caller judges a 404
