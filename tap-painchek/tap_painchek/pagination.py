"""Paging a ``?sync=`` delta without losing rows that change mid-sync.

PainChek pages with DRF page numbers (an offset) and does not document the
order of a ``sync`` result. Every edit sets a row's ``update_stamp`` to the
table's max + 1, and deletes are soft, so a row never leaves the result set; it
can only move, and only when its stamp grows.

* Ascending by stamp: an edited row jumps to the end and every row behind it
  shifts one place forward, so offset paging would skip a row at each page
  boundary. Instead we page by key: the next request is ``sync=<last stamp>``,
  page 1. That is exact, and the bookmark is the last stamp read.
* Any other order (descending as in the vendor's example, by uuid, ...): an
  edit moves the row to the front or leaves it in place, so rows only shift
  backwards and offset paging can repeat a row but never skip one. A row
  version written during the sync may land on a page already read, so the
  bookmark is the highest stamp of the *first* page: every row on it existed
  when the sync began, so it is no higher than anything written since, and the
  next run reads everything written during this one.

The order is detected from the first page: keyset only when it holds at least
``MIN_KEYSET_EVIDENCE`` rows in strictly ascending stamp order. Keyset paging is
then checked on every page: if the server's ``count`` ever drops below what an
ascending order implies (count before - rows read), the server is not ascending
after all, and we start again from the original bookmark with offset paging.
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass
from itertools import pairwise

from singer_sdk.pagination import BaseAPIPaginator

if t.TYPE_CHECKING:
    import requests

MIN_KEYSET_EVIDENCE = 8


@dataclass(frozen=True, slots=True)
class SyncPage:
    """One request of a delta: ``?sync=<sync>&page=<page>``."""

    sync: int
    page: int


def page_body(response: requests.Response) -> dict[str, t.Any]:
    """The page as parsed once by the stream's validate_response."""
    body: dict[str, t.Any] = response.painchek_page  # type: ignore[attr-defined]
    return body


def _strictly_ascending(stamps: list[int]) -> bool:
    return all(a < b for a, b in pairwise(stamps))


class UpdateStampPaginator(BaseAPIPaginator[SyncPage]):
    """Chooses keyset or offset paging and tracks the bookmark that is safe to save."""

    def __init__(self, start_stamp: int, logger: logging.Logger, stream_name: str) -> None:
        super().__init__(SyncPage(start_stamp, 1))
        self.start_stamp = start_stamp
        self.logger = logger
        self.stream_name = stream_name
        self.mode: str | None = None  # "keyset" or "offset", decided on the first page
        self.safe_bookmark: int | None = None
        self._keyset_floor = 0
        self._next: SyncPage | None = None

    def has_more(self, response: requests.Response) -> bool:
        """Record what this page proves, decide the next request."""
        body = page_body(response)
        stamps = [record["update_stamp"] for record in body["results"]]
        if self.mode == "keyset" and (
            body["count"] < self._keyset_floor or not _strictly_ascending(stamps)
        ):
            self.logger.warning(
                "Stream '%s': the server's order is not ascending by update_stamp after "
                "all; reading the delta again from update_stamp %d with page numbers",
                self.stream_name,
                self.start_stamp,
            )
            self.mode = "offset"
            self.safe_bookmark = None
            self._next = SyncPage(self.start_stamp, 1)
            return True
        if not stamps:
            return False
        if self.mode is None:
            ascending = len(stamps) >= MIN_KEYSET_EVIDENCE and _strictly_ascending(stamps)
            self.mode = "keyset" if ascending else "offset"
        if self.mode == "keyset":
            self.safe_bookmark = stamps[-1]
            self._keyset_floor = body["count"] - len(stamps)
            self._next = SyncPage(stamps[-1], 1)
        else:
            if self.current_value.page == 1:
                self.safe_bookmark = max(stamps)
            self._next = SyncPage(self.current_value.sync, self.current_value.page + 1)
        return body.get("next") is not None

    def get_next(self, response: requests.Response) -> SyncPage | None:
        """The request decided in has_more."""
        return self._next
