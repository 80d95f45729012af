"""Change detection by notifications: read the inbox, decide what this run fetches.

A tap in ``change_detection: notifications`` mode asks the notification inbox
(``healthdata-inbox``) for the events of its vendor after the sequence number in
its state, and fetches only what they name. Every ``catch_up_hours`` a run sweeps
everything instead, as in ``poll`` mode, so a notification the vendor never sent
is caught by the next sweep. A run with no new event and no sweep due makes no
vendor request.

The state holds, beside the bookmarks, ``{"notifications": {"after": <seq>,
"swept_at": <ISO time>, "retry": [<id>, ...]}}``: ``retry`` names what the last run
could not finish (a user whose read failed), which the next run fetches again. The
tap moves it only after every stream has written its records (``CheckedTap`` writes
one last STATE message for it), so a run killed halfway reads the same events again:
a repeated event costs requests, never data. ``swept_at`` is this machine's clock:
it schedules sweeps and is never compared with a vendor's times.
"""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import requests
from singer_sdk import typing as th

from tapkit.errors import TapError
from tapkit.times import parse_time

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

STATE_KEY: t.Final = "notifications"
MODES = ("poll", "notifications")
EVENTS_PATH = "/v1/events"
# Events per inbox request (the inbox caps it at its own read_page_max).
PAGE_LIMIT = 1000
# Attempts at one inbox request before the run fails (connection errors, 5xx, 429).
ATTEMPTS = 4


class InboxError(TapError):
    """The inbox could not be read; the message names ``inbox_url`` and the answer."""


def notification_settings(default_hours: float, guidance: str) -> list[th.Property]:
    """The four settings of change detection; ``guidance`` explains the default interval."""
    return [
        th.Property(
            "change_detection",
            th.StringType(allowed_values=list(MODES)),
            default="poll",
            title="Change detection",
            description=(
                "poll: every run asks the vendor what changed. notifications: a run "
                "fetches only what the notification inbox (inbox_url) names, and sweeps "
                "everything every catch_up_hours."
            ),
        ),
        th.Property(
            "inbox_url",
            th.StringType,
            title="Inbox URL",
            description=(
                "Base URL of the healthdata-inbox service (notifications mode), e.g. "
                "https://inbox.example.org. Must be https, except for localhost."
            ),
        ),
        th.Property(
            "inbox_token",
            th.StringType,
            secret=True,
            title="Inbox token",
            description="The inbox's read token (its INBOX_READ_TOKEN); notifications mode.",
        ),
        th.Property(
            "catch_up_hours",
            th.NumberType(exclusive_minimum=0),
            default=default_hours,
            title="Catch-up hours",
            description=(
                "Notifications mode: hours between full sweeps, which catch notifications "
                f"the vendor never delivered. {guidance}"
            ),
        ),
    ]


def notification_errors(config: Mapping[str, t.Any]) -> list[str]:
    """Notifications mode needs the inbox's URL and token."""
    if config.get("change_detection", "poll") != "notifications":
        return []
    return [
        f"{key} is required when change_detection is notifications"
        for key in ("inbox_url", "inbox_token")
        if not config.get(key)
    ]


def state_problem(value: t.Any) -> str | None:
    """What is wrong with the state's ``notifications`` entry, if anything."""
    if not isinstance(value, dict):
        return "it is not an object"
    after = value.get("after", 0)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        return "'after' is not a non-negative integer (an inbox sequence number)"
    swept = value.get("swept_at")
    if swept is not None and (not isinstance(swept, str) or parse_time(swept) is None):
        return "'swept_at' is not an ISO-8601 date-time"
    retry = value.get("retry", [])
    if not isinstance(retry, list) or not all(isinstance(i, str) and i for i in retry):
        return "'retry' is not a list of ids"
    return None


@dataclass
class Plan:
    """What this run fetches: everything (a sweep), or what the events name."""

    sweep: bool
    events: list[dict] = field(default_factory=list)
    after: int = 0
    swept_at: str | None = None
    # Ids the last run could not finish (a user whose read failed): fetched again now.
    retry: list[str] = field(default_factory=list)

    def cursor(self, retry: list[str]) -> dict[str, t.Any]:
        """The state entry to save once every stream has written its records.

        ``retry``: the ids this run could not finish, for the next run to fetch again
        (the events naming them are behind the cursor by then).
        """
        entry: dict[str, t.Any] = {"after": self.after}
        if self.swept_at is not None:
            entry["swept_at"] = self.swept_at
        if retry:
            entry["retry"] = sorted(set(retry))
        return entry

    def summary(self) -> dict[str, t.Any]:
        """For the run summary line: counts only, never an id."""
        counts = {"events": len(self.events), "retried": len(self.retry), "sweep": self.sweep}
        return {"notifications": counts}


class Inbox:
    """The inbox's read API: ``GET /v1/events?vendor=&after=&limit=`` with a bearer token."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        vendor: str,
        timeout: float,
        user_agent: str,
        logger: logging.Logger,
    ) -> None:
        self.url = urljoin(url.rstrip("/") + "/", EVENTS_PATH.lstrip("/"))
        self.vendor = vendor
        self.timeout = timeout
        self.logger = logger
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "User-Agent": user_agent})
        self.requests = 0

    def events_after(self, after: int) -> tuple[list[dict], int]:
        """Every event of the vendor after ``after``, and the last sequence number read."""
        events: list[dict] = []
        while True:
            page = self._page(after)
            batch = page["events"]
            if not batch or page["next_after"] <= after:
                return events, after
            events.extend(batch)
            after = page["next_after"]

    def _page(self, after: int) -> dict[str, t.Any]:
        what = f"inbox_url: GET {EVENTS_PATH}"
        params: dict[str, str | int] = {"vendor": self.vendor, "after": after, "limit": PAGE_LIMIT}
        for attempt in range(1, ATTEMPTS + 1):
            self.requests += 1
            try:
                response = self.session.get(self.url, params=params, timeout=self.timeout)
            except requests.RequestException as exc:
                problem = f"failed ({type(exc).__name__})"
            else:
                if response.status_code in {401, 403}:
                    msg = f"{what} answered {response.status_code}: check inbox_token"
                    raise InboxError(msg)
                if response.ok:
                    return _checked_page(response, what)
                problem = f"answered {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    break
            if attempt < ATTEMPTS:
                self.logger.warning("%s %s; retrying (attempt %d)", what, problem, attempt)
                time.sleep(0.5 * 2 ** (attempt - 1))
        msg = f"{what} {problem}"
        raise InboxError(msg)


def _checked_page(response: requests.Response, what: str) -> dict[str, t.Any]:
    try:
        page = response.json()
    except ValueError:
        page = None
    events = page.get("events") if isinstance(page, dict) else None
    next_after = page.get("next_after") if isinstance(page, dict) else None
    if (
        not isinstance(events, list)
        or not all(isinstance(e, dict) and isinstance(e.get("seq"), int) for e in events)
        or isinstance(next_after, bool)
        or not isinstance(next_after, int)
    ):
        msg = f"{what} answered JSON of an unexpected shape (expected events and next_after)"
        raise InboxError(msg)
    return {"events": events, "next_after": next_after}


def plan_run(
    config: Mapping[str, t.Any],
    state: Mapping[str, t.Any],
    inbox: Inbox | None,
    now: datetime | None = None,
) -> Plan:
    """Decide what this run fetches, from the config, the state and the inbox.

    No inbox (``poll`` mode: the tap builds one only for ``notifications``): a sweep,
    the state's entry left as it was. Otherwise the inbox is read after the saved
    cursor: on a sweep only to move the cursor past what the sweep covers (everything
    notified before it starts), else to name what to fetch.
    """
    saved = state.get(STATE_KEY) or {}
    after = int(saved.get("after", 0))
    swept_at = saved.get("swept_at")
    retry = list(saved.get("retry", []))
    if inbox is None:
        return Plan(sweep=True, after=after, swept_at=swept_at, retry=retry)
    now = now or datetime.now(UTC)
    last = parse_time(swept_at)
    interval = timedelta(hours=float(config["catch_up_hours"]))
    events, last_seq = inbox.events_after(after)
    if last is None or now - last >= interval:
        stamp = now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return Plan(sweep=True, events=events, after=last_seq, swept_at=stamp, retry=retry)
    return Plan(sweep=False, events=events, after=last_seq, swept_at=swept_at, retry=retry)
