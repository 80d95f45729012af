"""What a run did: one line of totals at its end, and progress lines during a long pass.

Every sync ends, when it succeeds and when it fails, with one INFO line (folded here)::

    run summary: status=succeeded records={"patients": 120, "assessments": 40}
        requests=37 retries=2 seconds=4.1

``records`` counts the RECORD messages the tap wrote, per selected stream; ``requests``
the HTTP requests its ``CountedSession``s sent (token requests, retries and redirects
included); ``retries`` the waits the retry policy started before trying again. A tap
adds its own totals after them (users by outcome, files read). The line holds counts
and the names of streams and outcomes only: never an id, a name or a secret, so it is
safe to keep and to grep.

``Progress`` logs ``progress: 4/20 users (20%), 3.1 users/s`` each time another tenth
of the work is done, or when a unit finishes ``interval`` seconds after the last line.
"""

from __future__ import annotations

import json
import threading
import time
import typing as t

import requests

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping

SUMMARY_PREFIX = "run summary:"
PROGRESS_PREFIX = "progress:"
PROGRESS_INTERVAL_SECONDS = 30.0


class RunSummary:
    """The run's HTTP totals; thread-safe, as a tap's worker pool shares them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0

    def count_request(self) -> None:
        """One HTTP request sent (a retried request counts once per attempt)."""
        with self._lock:
            self.requests += 1

    def count_retry(self) -> None:
        """One retry started."""
        with self._lock:
            self.retries += 1

    def line(
        self,
        *,
        status: str,
        records: Mapping[str, int],
        extra: Mapping[str, t.Any],
        seconds: float,
    ) -> str:
        """The summary line: status, records per stream, requests, retries, extra, seconds."""
        fields: dict[str, t.Any] = {
            "status": status,
            "records": dict(records),
            "requests": self.requests,
            "retries": self.retries,
            **extra,
        }
        parts = [f"{key}={_text(value)}" for key, value in fields.items()]
        return " ".join([SUMMARY_PREFIX, *parts, f"seconds={seconds:.1f}"])


class CountedSession(requests.Session):
    """A requests Session that counts each request it sends in the run's summary.

    Counted where the request is sent, so an attempt that fails before it (a token
    that cannot be minted) is not a request; one that fails on the wire is.
    """

    def __init__(self, summary: RunSummary) -> None:
        super().__init__()
        self.summary = summary

    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        """Count, then send."""
        self.summary.count_request()
        return super().send(request, **kwargs)


def _text(value: t.Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class Progress:
    """Counts units of work done; logs a line at each tenth, or after ``interval`` s.

    ``advance`` may be called from any thread. Nothing about a unit is logged, only
    how many are done, of how many, and how fast.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        noun: str,
        total: int,
        interval: float = PROGRESS_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._noun = noun
        self.total = total
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._started = self._last = clock()
        self._tenths = 0
        self.done = 0

    def advance(self) -> None:
        """One more unit done: log if it completes another tenth or the interval passed."""
        with self._lock:
            self.done += 1
            now = self._clock()
            tenths = self.done * 10 // max(self.total, 1)
            if tenths > self._tenths or now - self._last >= self._interval:
                self._tenths = max(tenths, self._tenths)
                self._last = now
                self._log(now)

    def _log(self, now: float) -> None:
        elapsed = now - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        share = 100 * self.done // max(self.total, 1)
        self._logger.info(
            "%s %d/%d %s (%d%%), %.1f %s/s",
            PROGRESS_PREFIX,
            self.done,
            self.total,
            self._noun,
            share,
            rate,
            self._noun,
        )
