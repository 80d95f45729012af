"""Bounded retries that honour Retry-After.

singer-sdk's default gives up after about 30 s and ignores Retry-After; the
``backoff`` library it uses checks its time budget only after a wait has been spent,
and takes no wait from the answer. Here a 429 waits exactly what the server says (in
seconds or as an HTTP date, without jitter); 5xx answers, dropped connections,
truncated bodies and timeouts back off exponentially with jitter; and the total wait
for one request is bounded by ``max_retry_seconds``: a wait that would overrun it is
not started, the run fails at once, and (the stream not having finished) its bookmark
does not move. A 401 logs in again once. Every retry is counted in the run's
``RunSummary`` (its requests are counted by the sessions that send them).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
import typing as t

import requests
from singer_sdk.exceptions import RetriableAPIError

from tapkit.errors import (
    ResponseTooLargeError,
    TapError,
    Unauthorized,
    describe_response,
    too_large,
)
from tapkit.summary import RunSummary

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
    """Seconds a 429 asked us to wait (delta-seconds or an HTTP date), else None."""
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
    """Run a request until it succeeds, or the retry budget is spent.

    ``error_type`` is the tap's TapError, raised when retries run out; ``summary``
    counts the run's retries (the tap's; its sessions count the requests there too).
    """

    def __init__(
        self,
        *,
        max_retry_seconds: float,
        logger: logging.Logger,
        error_type: type[TapError] = TapError,
        sleep: t.Callable[[float], None] = time.sleep,
        jitter: t.Callable[[], float] = random.random,
        summary: RunSummary | None = None,
    ) -> None:
        self.max_retry_seconds = max_retry_seconds
        self.logger = logger
        self.error_type = error_type
        self.sleep = sleep
        self._jitter = jitter
        self.summary = summary or RunSummary()

    @property
    def retries(self) -> int:
        """Retries started so far in the run."""
        return self.summary.retries

    @staticmethod
    def raise_for_retriable(response: requests.Response, *, what: str) -> None:
        """Raise RetriableAPIError for a 429 or a 5xx answer."""
        if response.status_code == 429 or response.status_code >= 500:
            raise RetriableAPIError(describe_response(response, what), response)

    def backoff(self, tries: int) -> float:
        """Exponential backoff with jitter (half to full of the nominal wait)."""
        nominal = min(BACKOFF_BASE_SECONDS * 2 ** (tries - 1), BACKOFF_CAP_SECONDS)
        return nominal * (0.5 + self._jitter() / 2)

    def refused_again(self, exc: Unauthorized) -> Exception:
        """The error when a 401 follows a fresh login: the credentials are wrong."""
        return self.error_type(f"{exc}: the API refused the credentials after a fresh login")

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
                # The hook saw only a URL, which may hold ids: name the call instead.
                raise ResponseTooLargeError(too_large(what)) from None
            except Unauthorized as exc:
                if reauthenticated or on_unauthorized is None:
                    raise self.refused_again(exc) from None
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
                    raise self.error_type(msg) from None
                self.logger.warning(
                    "%s failed (%s); retrying in %.1f s (attempt %d)",
                    what,
                    _failure(exc),
                    wait,
                    tries + 1,
                )
                self.summary.count_retry()
                self.sleep(wait)
                waited += wait
