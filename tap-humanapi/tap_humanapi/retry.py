"""Bounded retries that honour Retry-After.

singer-sdk's default gives up after about 30 s and ignores Retry-After. Here a
429 waits exactly what the server says; 5xx, dropped connections, truncated
bodies and timeouts back off exponentially with jitter; the total wait for one
request is bounded by ``max_retry_seconds``, after which the run fails (and, as
the stream did not finish, its bookmark does not move).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
import typing as t

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_humanapi.errors import (
    HumanAPIError,
    ResponseTooLargeError,
    Unauthorized,
    UserFailure,
    describe_response,
    too_large,
)

T = t.TypeVar("T")

RETRIABLE_ERRORS: tuple[type[BaseException], ...] = (
    RetriableAPIError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """Seconds the server asked us to wait (delta-seconds or an HTTP date)."""
    if response is None or response.status_code != 429:
        return None
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _failure(exc: BaseException) -> str:
    """A safe one-line description of a retriable failure."""
    if isinstance(exc, RetriableAPIError):
        return str(exc)
    return type(exc).__name__


class RetryPolicy:
    """Run a request until it succeeds, or the retry budget is spent."""

    def __init__(
        self,
        *,
        max_retry_seconds: float,
        logger: logging.Logger,
        sleep: t.Callable[[float], None] = time.sleep,
        jitter: t.Callable[[], float] = random.random,
    ) -> None:
        self.max_retry_seconds = max_retry_seconds
        self.logger = logger
        self.sleep = sleep
        self._jitter = jitter
        self.retries = 0

    @staticmethod
    def raise_for_retriable(response: requests.Response, *, what: str) -> None:
        """Raise RetriableAPIError for a 429 or a 5xx answer."""
        if response.status_code == 429 or response.status_code >= 500:
            raise RetriableAPIError(describe_response(response, what), response)

    def backoff(self, tries: int) -> float:
        """Exponential backoff with jitter (half to full of the nominal wait)."""
        nominal = min(BACKOFF_BASE_SECONDS * 2 ** (tries - 1), BACKOFF_CAP_SECONDS)
        return nominal * (0.5 + self._jitter() / 2)

    def run(
        self,
        attempt: t.Callable[[], T],
        *,
        what: str,
        on_unauthorized: t.Callable[[], None] | None = None,
    ) -> T:
        """Call ``attempt`` with retries; re-authenticate once on a 401."""
        waited = 0.0
        tries = 0
        reauthenticated = False
        while True:
            tries += 1
            try:
                return attempt()
            except ResponseTooLargeError:
                # The hook saw only a URL: name the call, as every other error does.
                raise ResponseTooLargeError(too_large(what)) from None
            except Unauthorized as exc:
                if reauthenticated or on_unauthorized is None:
                    # Tokens are per user: a token refused again is that user's problem.
                    msg = f"{exc}: refused again with a freshly minted token"
                    raise UserFailure(msg) from None
                reauthenticated = True
                on_unauthorized()
                self.logger.info("%s answered 401; logging in again", what)
                continue
            except RETRIABLE_ERRORS as exc:
                response = getattr(exc, "response", None)
                server_wait = retry_after_seconds(response)
                wait = server_wait if server_wait is not None else self.backoff(tries)
                if waited + wait > self.max_retry_seconds:
                    msg = (
                        f"{what} failed after {tries} attempts ({_failure(exc)}); "
                        f"retries stopped at max_retry_seconds={self.max_retry_seconds:g}"
                    )
                    raise HumanAPIError(msg) from None
                self.logger.warning(
                    "%s failed (%s); retrying in %.1f s (attempt %d)",
                    what,
                    _failure(exc),
                    wait,
                    tries + 1,
                )
                self.retries += 1
                self.sleep(wait)
                waited += wait
