"""The PainChek base stream: ``?sync=`` deltas, pages, bookmarks (the rest is tapkit's)."""

from __future__ import annotations

import typing as t

from singer_sdk.helpers.types import Context
from singer_sdk.streams.rest import HTTPRequest, PageContext
from tapkit.errors import describe_response
from tapkit.rest import VendorRESTStream

from tap_painchek.errors import PainChekError, StreamForbidden
from tap_painchek.pagination import SyncPage, UpdateStampPaginator, page_body

if t.TYPE_CHECKING:
    import requests
    from requests.auth import AuthBase
    from singer_sdk import Tap
    from tapkit.retry import RetryPolicy


class PainChekStream(VendorRESTStream[SyncPage]):
    """A PainChek list endpoint read incrementally with ``?sync=<update_stamp>``."""

    package = "tap-painchek"
    primary_keys: t.ClassVar[tuple[str, ...]] = ("uuid",)
    replication_key = "update_stamp"
    is_sorted = False
    # A 403 on a restricted endpoint skips the stream instead of failing the run.
    may_be_restricted = False
    extra_params: t.ClassVar[dict[str, str]] = {}

    def __init__(self, tap: Tap, *, auth: AuthBase, retry: RetryPolicy) -> None:
        super().__init__(tap, auth=auth, retry=retry)
        self._paginator: UpdateStampPaginator | None = None

    def start_stamp(self, context: Context | None) -> int:
        """The bookmark from state, else ``start_update_stamp``; the later of both."""
        configured = int(self.config["start_update_stamp"])
        saved = self.get_starting_replication_key_value(context)
        if saved is None:
            return configured
        # load_state() checked it is an integer, or a string of digits.
        return max(int(saved), configured)

    def get_new_paginator(self) -> UpdateStampPaginator:
        """A fresh paginator starting at this run's bookmark."""
        self._paginator = UpdateStampPaginator(
            self.start_stamp(self.context), self.logger, self.name
        )
        return self._paginator

    def get_http_request(self, *, page: PageContext[SyncPage]) -> HTTPRequest:
        """``GET {path}?sync=&page=&page_size=``."""
        token = t.cast("SyncPage", page.next_page_token)
        return HTTPRequest(
            url=self.get_url(page.stream_context),
            headers=self.http_headers,
            params={
                **self.extra_params,
                "sync": token.sync,
                "page": token.page,
                "page_size": int(self.config["page_size"]),
            },
        )

    def validate_response(self, response: requests.Response) -> None:
        """Classify the answer and parse a good page exactly once."""
        if response.status_code == 403 and self.may_be_restricted:
            raise StreamForbidden(describe_response(response, self.what()))
        self.raise_for_status(response)
        body = self.json_body(response)
        status = response.status_code
        if not (
            isinstance(body, dict)
            and isinstance(body.get("results"), list)
            and isinstance(body.get("count"), int)
        ):
            msg = (
                f"{self.what()} answered {status} with JSON of an unexpected shape "
                "(expected a page with 'count' and a 'results' list)"
            )
            raise PainChekError(msg)
        response.painchek_page = body  # type: ignore[attr-defined]

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The page's records, each checked for its primary and replication key."""
        for record in page_body(response)["results"]:
            if not isinstance(record, dict) or not isinstance(record.get("uuid"), str):
                msg = f"{self.what()} returned a record without a string uuid (primary key)"
                raise PainChekError(msg)
            stamp = record.get("update_stamp")
            if isinstance(stamp, bool) or not isinstance(stamp, int):
                msg = (
                    f"{self.what()} returned a record without an integer update_stamp "
                    "(replication key)"
                )
                raise PainChekError(msg)
            yield record

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Read the delta; then cap the bookmark at what cannot have been skipped.

        In notifications mode a run reads only the tables new notifications name
        (every table on a catch-up sweep); the others make no request.
        """
        tables = t.cast("t.Any", self._tap).tables_to_read
        if tables is not None and self.name not in tables:
            return
        try:
            yield from self.request_records(context)
        except StreamForbidden as exc:
            self.logger.warning("%s; skipping the stream (restricted for this account)", exc)
            return
        safe = self._paginator.safe_bookmark if self._paginator else None
        if safe is not None:
            # The SDK finalizes the bookmark as min(max stamp seen, signpost).
            self.state_manager.write_replication_key_signpost(safe, context=context)

    def post_process(
        self,
        row: dict,
        context: Context | None = None,
    ) -> dict | None:
        """Add ``is_deleted``; then the guard (an ``external_id`` sent as 1 becomes "1")."""
        row["is_deleted"] = row.get("deleted_at") is not None
        return super().post_process(row, context)
