"""The PainChek base stream: requests, responses, retries, bookmarks."""

from __future__ import annotations

import typing as t
from importlib.metadata import PackageNotFoundError, version

import msgspec
from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.types import Context
from singer_sdk.streams.rest import HTTPRequest, PageContext
from tapkit.fidelity import KeepsVendorFields

from tap_painchek.errors import (
    PainChekError,
    StreamForbidden,
    Unauthorized,
    describe_response,
    refuse_large_bodies,
)
from tap_painchek.pagination import SyncPage, UpdateStampPaginator, page_body

if t.TYPE_CHECKING:
    import requests
    from requests.auth import AuthBase
    from singer_sdk import Tap

    from tap_painchek.retry import RetryPolicy

try:
    __version__ = version("tap-painchek")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_decode = msgspec.json.Decoder().decode


class PainChekStream(KeepsVendorFields, RESTStream[SyncPage]):
    """A PainChek list endpoint read incrementally with ``?sync=<update_stamp>``."""

    primary_keys: t.ClassVar[tuple[str, ...]] = ("uuid",)
    replication_key = "update_stamp"
    is_sorted = False
    # A 403 on a restricted endpoint skips the stream instead of failing the run.
    may_be_restricted = False
    extra_params: t.ClassVar[dict[str, str]] = {}

    def __init__(self, tap: Tap, *, auth: AuthBase, retry: RetryPolicy) -> None:
        super().__init__(tap)
        self._auth = auth
        self._retry = retry
        self._paginator: UpdateStampPaginator | None = None
        self.requests_session.hooks["response"].append(refuse_large_bodies)

    @property
    def url_base(self) -> str:
        """The tenant's base URL, without ``/api``."""
        return str(self.config["api_url"]).rstrip("/")

    @property
    def authenticator(self) -> AuthBase:
        """The tap-wide authenticator (one token for all streams)."""
        return self._auth

    @property
    def timeout(self) -> int:
        """Seconds to wait for a response."""
        return int(self.config.get("request_timeout", 60))

    @property
    def user_agent(self) -> str:
        """The configured User-Agent, else ``tap-painchek/<version>``."""
        return str(self.config.get("user_agent") or f"tap-painchek/{__version__}")

    @property
    def http_headers(self) -> dict:
        """Ask for JSON."""
        return {"Accept": "application/json"}

    def _what(self) -> str:
        return f"stream '{self.name}': GET {self.path}"

    def start_stamp(self, context: Context | None) -> int:
        """The bookmark from state, else ``start_update_stamp``; the later of both."""
        configured = int(self.config.get("start_update_stamp", 0))
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
                "page_size": int(self.config.get("page_size", 100)),
            },
        )

    def request_decorator(self, func: t.Callable) -> t.Callable:
        """Retry with Retry-After, bounded backoff and one re-login on 401."""
        invalidate = getattr(self._auth, "invalidate", None)

        def send(*args: t.Any, **kwargs: t.Any) -> requests.Response:
            return self._retry.run(
                lambda: func(*args, **kwargs),
                what=self._what(),
                on_unauthorized=invalidate,
            )

        return send

    def validate_response(self, response: requests.Response) -> None:
        """Classify the answer and parse a good page exactly once."""
        status = response.status_code
        message = describe_response(response, self._what())
        if status == 401:
            raise Unauthorized(message)
        if status == 429 or status >= 500:
            raise RetriableAPIError(message, response)
        if status == 403 and self.may_be_restricted:
            raise StreamForbidden(message)
        if status >= 400:
            raise PainChekError(message)
        try:
            body = _decode(response.content)
        except msgspec.DecodeError:
            msg = f"{self._what()} answered {status} with a body that is not JSON"
            raise RetriableAPIError(msg, response) from None
        if not (
            isinstance(body, dict)
            and isinstance(body.get("results"), list)
            and isinstance(body.get("count"), int)
        ):
            msg = (
                f"{self._what()} answered {status} with JSON of an unexpected shape "
                "(expected a page with 'count' and a 'results' list)"
            )
            raise PainChekError(msg)
        response.painchek_page = body  # type: ignore[attr-defined]

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The page's records, each checked for its primary and replication key."""
        for record in page_body(response)["results"]:
            if not isinstance(record, dict) or not isinstance(record.get("uuid"), str):
                msg = f"{self._what()} returned a record without a string uuid (primary key)"
                raise PainChekError(msg)
            stamp = record.get("update_stamp")
            if isinstance(stamp, bool) or not isinstance(stamp, int):
                msg = (
                    f"{self._what()} returned a record without an integer update_stamp "
                    "(replication key)"
                )
                raise PainChekError(msg)
            yield record

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Read the delta; then cap the bookmark at what cannot have been skipped."""
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
