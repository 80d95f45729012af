"""The HealthEx API base stream: one token, bounded retries, the list envelope."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams.rest import HTTPRequest, PageContext
from tapkit.rest import VendorRESTStream

if t.TYPE_CHECKING:
    from collections.abc import Callable

    import requests
    from requests.auth import AuthBase
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context
    from tapkit.retry import RetryPolicy


class Page(t.NamedTuple):
    """One answer of a list: its records, the total the server counts, and its Date."""

    records: list[dict[str, t.Any]]
    total: int
    served_at: datetime | None


def page_of(response: requests.Response) -> Page:
    """The page as parsed once by validate_response."""
    page: Page = response.healthex_page  # type: ignore[attr-defined]
    return page


def served_at(response: requests.Response) -> datetime | None:
    """HealthEx's own time when it answered: its ``Date`` header, or None."""
    try:
        value = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class EnvelopePaginator(BaseAPIPaginator[int]):
    """``limit``/``offset`` until a page is empty or the server's total is reached."""

    def has_more(self, response: requests.Response) -> bool:
        """More unless the page is empty or the total is reached."""
        page = page_of(response)
        return bool(page.records) and self.current_value + len(page.records) < page.total

    def get_next(self, response: requests.Response) -> int:
        """The offset after this page."""
        return self.current_value + len(page_of(response).records)


class HealthExStream(VendorRESTStream[int]):
    """A HealthEx list, one partition per project."""

    package = "tap-healthex"
    # The list envelope, as error messages name it (read_page parses it).
    envelope_text = "{data: [records], total}"

    def __init__(
        self,
        tap: Tap,
        *,
        auth: AuthBase,
        retry: RetryPolicy,
        ready: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(tap, auth=auth, retry=retry)
        self._ready = ready or (lambda: None)

    @property
    def partitions(self) -> list[dict]:
        """One partition per configured project (ids only)."""
        return [{"project_id": str(p)} for p in self.config["project_ids"]]

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """The records, once the tap has checked every source of the run."""
        self._ready()
        yield from super().get_records(context)

    def get_new_paginator(self) -> EnvelopePaginator:
        """Offset paging from 0."""
        return EnvelopePaginator(0)

    def get_http_request(self, *, page: PageContext[int]) -> HTTPRequest:
        """``GET path?limit=<page_size>&offset=``."""
        return HTTPRequest(
            url=self.get_url(page.stream_context),
            headers={"Accept": "application/json", **self.extra_headers(page.stream_context)},
            params={
                "limit": int(self.config["page_size"]),
                "offset": page.next_page_token or 0,
            },
        )

    def extra_headers(self, context: Context | None) -> dict[str, str]:
        """Headers a stream adds (e.g. If-Modified-Since)."""
        return {}

    def validate_response(self, response: requests.Response) -> None:
        """Classify the answer and parse a good page once."""
        self.raise_for_status(response)
        body = self.json_body(response)
        read = self.read_page(body)
        if read is None:
            msg = (
                f"{self.what()} answered JSON of an unexpected shape (expected "
                f"{self.envelope_text})"
            )
            raise self.error_type(msg)
        records, total = read
        if not all(isinstance(row.get("id"), str) and row["id"] for row in records):
            msg = f"{self.what()} answered a record without an 'id' (its primary key)"
            raise self.error_type(msg)
        response.healthex_page = Page(records, total, served_at(response))  # type: ignore[attr-defined]

    def read_page(self, body: t.Any) -> tuple[list[dict[str, t.Any]], int] | None:
        """The records and the total of ``{data: [...], total}``; None if not that shape."""
        if not (
            isinstance(body, dict)
            and isinstance(body.get("data"), list)
            and isinstance(body.get("total"), int)
            and all(isinstance(r, dict) for r in body["data"])
        ):
            return None
        return body["data"], body["total"]

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The page's records."""
        yield from page_of(response).records

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Add the project id."""
        row["project_id"] = (context or {}).get("project_id")
        return super().post_process(row, context)
