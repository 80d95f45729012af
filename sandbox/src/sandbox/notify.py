"""Signed notifications (webhooks) a fake vendor POSTs when its data changes.

What every vendor shares lives here: a subscription (URL, secret, knobs), a queue and
one background sender thread, retries with exponential backoff, and the seeded draws
that drop, duplicate or mis-sign a delivery, plus a log of every delivery. A vendor
module supplies only the body of each event and a function that signs it
(``Signer``: the headers for one body, delivery id and secret).

Delivery is asynchronous, so the request that changed the data never waits for it, and
at least once: an answer other than 2xx, a connection error or a timeout is retried
after ``backoff_seconds * 2**(attempt - 1)`` until ``max_attempts`` attempts, then the
event is given up. Every attempt of one event sends the same body and headers (one
delivery id, one signature). Retries do not hold up later events, so a failing event
can arrive after newer ones, as with a vendor's retry queue.

Seeded (``random.Random(seed)``, drawn when the event is queued, in the order events
happen): each event's delivery id, whether it is dropped (never sent, so a consumer must
catch up by polling), duplicated (sent a second time right after it was accepted) or
signed with a wrong key. Wall-clock time (a timestamp a vendor signs) is not seeded.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

# body, delivery id, secret -> the headers of that delivery (the signature among them).
Signer = Callable[[bytes, str, str], list[tuple[str, str]]]

COUNTERS = (
    "events",
    "delivered",
    "dropped",
    "gave_up",
    "duplicates",
    "bad_signatures",
    "attempts",
    "failed_attempts",
)
# A wrong key for deliberately bad signatures: the header looks right but never verifies.
_WRONG_KEY_SUFFIX = "-not-the-secret"
_USER_AGENT = "healthdata-sandbox-notifier"


class NotifyConfigError(ValueError):
    """A subscription setting out of range."""


@dataclass(frozen=True)
class Subscription:
    """Where notifications go and how they misbehave."""

    url: str
    secret: str
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    bad_signature_rate: float = 0.0
    max_attempts: int = 5
    backoff_seconds: float = 0.1
    timeout_seconds: float = 3.0

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NotifyConfigError("url must be an http:// or https:// URL")
        for name in ("drop_rate", "duplicate_rate", "bad_signature_rate"):
            if not 0 <= float(getattr(self, name)) <= 1:
                raise NotifyConfigError(f"{name} must be between 0 and 1")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise NotifyConfigError("max_attempts must be an integer")
        if self.max_attempts < 1:
            raise NotifyConfigError("max_attempts must be >= 1")
        if float(self.backoff_seconds) < 0 or float(self.timeout_seconds) <= 0:
            raise NotifyConfigError("backoff_seconds must be >= 0 and timeout_seconds > 0")


@dataclass
class _Delivery:
    delivery_id: str
    ids: dict[str, Any]
    body: bytes
    headers: list[tuple[str, str]]
    subscription: Subscription
    duplicate: bool
    bad_signature: bool
    status: str = "queued"  # then delivered | gave_up; or dropped, never sent
    answers: list[int | str] = field(default_factory=list)
    duplicate_answer: int | str | None = None

    def entry(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "ids": dict(self.ids),
            "status": self.status,
            "attempts": len(self.answers),
            "answers": list(self.answers),
            "duplicate": self.duplicate,
            "duplicate_answer": self.duplicate_answer,
            "bad_signature": self.bad_signature,
        }


def _accepted(answer: int | str | None) -> bool:
    return isinstance(answer, int) and 200 <= answer < 300


def post(delivery: _Delivery) -> int | str:
    """POST one delivery; the HTTP status, or ``"error"`` (refused, reset, timed out)."""
    parts = urlsplit(delivery.subscription.url)
    kind = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    connection = kind(
        parts.hostname or "", parts.port, timeout=delivery.subscription.timeout_seconds
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
    headers.update(delivery.headers)
    try:
        connection.request("POST", target, body=delivery.body, headers=headers)
        response = connection.getresponse()
        response.read()
    except (OSError, HTTPException):
        return "error"
    finally:
        connection.close()
    return response.status


class Notifier:
    """One vendor's subscription, queue, sender thread and delivery log."""

    def __init__(self, sign: Signer, name: str) -> None:
        self._sign = sign
        self._name = name
        self._cond = threading.Condition()
        self._subscription: Subscription | None = None
        self._rng = random.Random(0)
        self._wrong_next = 0
        self._heap: list[tuple[float, int, _Delivery]] = []
        self._order = itertools.count()
        self._in_flight = 0
        self._log: list[_Delivery] = []
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._thread: threading.Thread | None = None
        self._closing = False

    @property
    def subscribed(self) -> bool:
        """Whether events are being queued."""
        with self._cond:
            return self._subscription is not None

    def subscribe(self, subscription: Subscription, seed: int | str) -> None:
        """Send later events to ``subscription``; the draws restart from ``seed``."""
        with self._cond:
            self._subscription = subscription
            self._rng = random.Random(seed)
            self._closing = False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"{self._name}-notifier", daemon=True
                )
                self._thread.start()

    def unsubscribe(self) -> None:
        """Queue no more events; those already queued are still sent."""
        with self._cond:
            self._subscription = None

    def sign_next_wrong(self, count: int) -> None:
        """Sign the next ``count`` events with a wrong key."""
        with self._cond:
            self._wrong_next += count

    def enqueue(self, body: bytes, ids: Mapping[str, Any]) -> None:
        """Queue one event (a no-op without a subscription); never waits for the network."""
        with self._cond:
            sub = self._subscription
            if sub is None:
                return
            rng = self._rng
            delivery_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            # Every draw is made for every event, so one knob never shifts the others.
            dropped = rng.random() < sub.drop_rate
            duplicate = rng.random() < sub.duplicate_rate
            wrong = rng.random() < sub.bad_signature_rate or self._wrong_next > 0
            self._wrong_next = max(self._wrong_next - 1, 0)
            key = sub.secret + _WRONG_KEY_SUFFIX if wrong else sub.secret
            delivery = _Delivery(
                delivery_id,
                dict(ids),
                body,
                self._sign(body, delivery_id, key),
                sub,
                duplicate=duplicate and not dropped,
                bad_signature=wrong,
            )
            self._log.append(delivery)
            self._counts["events"] += 1
            self._counts["bad_signatures"] += wrong
            if dropped:
                delivery.status = "dropped"
                self._counts["dropped"] += 1
                return
            heapq.heappush(self._heap, (time.monotonic(), next(self._order), delivery))
            self._cond.notify_all()

    def log(self) -> list[dict[str, Any]]:
        """Every event since start, oldest first: ids, delivery id, status, answers."""
        with self._cond:
            return [delivery.entry() for delivery in self._log]

    def counts(self) -> dict[str, int]:
        """Counters of events, deliveries, drops, duplicates, attempts."""
        with self._cond:
            return dict(self._counts)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued, retrying or being sent; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self) -> None:
        """Stop the sender; queued and retrying events are discarded."""
        with self._cond:
            self._closing = True
            self._subscription = None
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)

    def _next_due(self) -> _Delivery | None:
        """The next delivery once it is due, or None when closing (caller holds the lock)."""
        while not self._closing:
            if self._heap and self._heap[0][0] <= time.monotonic():
                self._in_flight += 1
                return heapq.heappop(self._heap)[2]
            self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                delivery = self._next_due()
            if delivery is None:
                return
            answer = post(delivery)
            duplicate = post(delivery) if _accepted(answer) and delivery.duplicate else None
            with self._cond:
                self._in_flight -= 1
                self._record(delivery, answer, duplicate)
                self._cond.notify_all()

    def _record(self, delivery: _Delivery, answer: int | str, duplicate: int | str | None) -> None:
        delivery.answers.append(answer)
        self._counts["attempts"] += 1
        if _accepted(answer):
            delivery.status = "delivered"
            self._counts["delivered"] += 1
            if delivery.duplicate:
                delivery.duplicate_answer = duplicate
                self._counts["duplicates"] += 1
                self._counts["attempts"] += 1
            return
        self._counts["failed_attempts"] += 1
        sub = delivery.subscription
        if len(delivery.answers) >= sub.max_attempts:
            delivery.status = "gave_up"
            self._counts["gave_up"] += 1
        elif not self._closing:
            wait = sub.backoff_seconds * 2 ** (len(delivery.answers) - 1)
            due = time.monotonic() + wait
            heapq.heappush(self._heap, (due, next(self._order), delivery))
