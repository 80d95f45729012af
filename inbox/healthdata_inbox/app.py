"""The ASGI app: two webhook receivers, a read API for the taps, health and metrics.

A notification is acknowledged only after its transaction has committed. Store calls
block, so they run in worker threads; at most `max_concurrency` notifications are in
flight, and one more is answered 429 at once rather than queued past the vendor's
deadline (Human API allows 3 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import anyio
import anyio.to_thread
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from healthdata_inbox.notifications import MalformedError, humanapi_items, painchek_items
from healthdata_inbox.settings import Settings
from healthdata_inbox.signatures import (
    HumanApiScheme,
    SignatureError,
    humanapi_delivery_id,
    verify_humanapi,
    verify_painchek,
)
from healthdata_inbox.store import VENDORS, Delivery, Outcome, Store, open_store

log = logging.getLogger("healthdata_inbox")
T = TypeVar("T")

PAINCHEK_SIGNATURE_HEADER = "X-PainChek-WH-Signature"
PAINCHEK_DELIVERY_HEADER = "X-PainChek-WH-Delivery-Id"
DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,200}")
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)


class RefusedError(Exception):
    """A request the inbox refuses: an error status, a metric reason, one log line."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Metrics:
    """Counters a user can scrape at /metrics (one registry per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "inbox_notifications_accepted",
            "Notifications logged and acknowledged.",
            ["vendor"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "inbox_notifications_duplicate",
            "Redeliveries acknowledged without adding rows.",
            ["vendor"],
            registry=self.registry,
        )
        self.refused = Counter(
            "inbox_requests_refused",
            "Requests refused, by reason.",
            ["vendor", "reason"],
            registry=self.registry,
        )
        self.events = Counter(
            "inbox_events_appended", "Rows appended to the log.", ["vendor"], registry=self.registry
        )
        self.ack_seconds = Histogram(
            "inbox_ack_seconds",
            "Time from request start to acknowledgement (200) of a notification.",
            ["vendor"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "inbox_notifications_in_flight", "Notifications being handled.", registry=self.registry
        )


class Inbox:
    """Request handlers sharing the settings, the store and the metrics."""

    def __init__(self, settings: Settings, store: Store | None) -> None:
        self.settings = settings
        self.store = store
        self.metrics = Metrics()
        self.in_flight = 0
        self.limiter = anyio.CapacityLimiter(settings.max_concurrency)
        self.scheme = HumanApiScheme(
            signature_header=settings.humanapi_signature_header,
            timestamp_header=settings.humanapi_timestamp_header,
            nonce_header=settings.humanapi_nonce_header,
            digest=settings.humanapi_signature_digest,
            encoding=settings.humanapi_signature_encoding,
        )

    async def humanapi(self, request: Request) -> Response:
        """POST /v1/humanapi."""
        return await self._receive(request, "humanapi", self._humanapi_delivery)

    async def painchek(self, request: Request) -> Response:
        """POST /v1/painchek."""
        return await self._receive(request, "painchek", self._painchek_delivery)

    def _humanapi_delivery(self, headers: Headers, body: bytes) -> Delivery:
        settings = self.settings
        proof = None
        if settings.humanapi_signatures:
            if not settings.humanapi_client_secret:
                raise RefusedError(503, "not_configured")
            proof = verify_humanapi(
                body,
                headers.get(self.scheme.signature_header),
                headers.get(self.scheme.timestamp_header),
                headers.get(self.scheme.nonce_header),
                secret=settings.humanapi_client_secret,
                scheme=self.scheme,
                now=time.time(),
                window_seconds=settings.replay_window_seconds,
            )
        items = humanapi_items(body)
        return Delivery(
            vendor="humanapi",
            delivery_id=humanapi_delivery_id(body, proof),
            items=items,
            nonce=proof.nonce if proof else None,
        )

    def _painchek_delivery(self, headers: Headers, body: bytes) -> Delivery:
        if not self.settings.painchek_webhook_secret:
            raise RefusedError(503, "not_configured")
        verify_painchek(
            body, headers.get(PAINCHEK_SIGNATURE_HEADER), self.settings.painchek_webhook_secret
        )
        delivery_id = headers.get(PAINCHEK_DELIVERY_HEADER, "").strip()
        # Visible ASCII only: the id is logged, and a space could forge a log field.
        if not DELIVERY_ID.fullmatch(delivery_id):
            raise MalformedError("missing_delivery_id")
        return Delivery(vendor="painchek", delivery_id=delivery_id, items=painchek_items(body))

    async def _receive(
        self, request: Request, vendor: str, build: Callable[[Headers, bytes], Delivery]
    ) -> Response:
        started = time.perf_counter()
        try:
            delivery, outcome = await self._admit(request, build)
        except RefusedError as refusal:
            headers = {"Retry-After": "1"} if refusal.status == 429 else None
            return self._refuse(request, vendor, refusal, headers)
        if outcome is Outcome.DUPLICATE:
            self.metrics.duplicates.labels(vendor).inc()
            log.info("duplicate vendor=%s delivery=%s", vendor, delivery.delivery_id)
        else:
            self.metrics.accepted.labels(vendor).inc()
            self.metrics.events.labels(vendor).inc(len(delivery.items))
            log.info(
                "accepted vendor=%s delivery=%s items=%d",
                vendor,
                delivery.delivery_id,
                len(delivery.items),
            )
        self.metrics.ack_seconds.labels(vendor).observe(time.perf_counter() - started)
        return JSONResponse({"status": outcome.value})

    async def _admit(
        self, request: Request, build: Callable[[Headers, bytes], Delivery]
    ) -> tuple[Delivery, Outcome]:
        """Read, verify, parse and commit one notification, or raise RefusedError."""
        if self.in_flight >= self.settings.max_concurrency:
            raise RefusedError(429, "overloaded")
        self.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            body = await self._read_body(request)
            delivery = build(request.headers, body)
            outcome = await self._blocking(self._store().record, delivery, datetime.now(UTC))
        except SignatureError as error:
            raise RefusedError(401, error.reason) from None
        except MalformedError as error:
            raise RefusedError(400, error.reason) from None
        except RefusedError:
            raise
        except Exception as error:
            # The class name only: a driver's message may quote the values it refused.
            raise RefusedError(503, f"store_error:{type(error).__name__}") from None
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.dec()
        if outcome is Outcome.REPLAY:
            raise RefusedError(401, "replayed_nonce")
        return delivery, outcome

    async def _read_body(self, request: Request) -> bytes:
        limit = self.settings.body_limit_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise RefusedError(400, "bad_content_length")
            if int(declared) > limit:
                raise RefusedError(413, "too_large")
        body = bytearray()
        # A client trickling its body would hold a concurrency slot; cut it off.
        with anyio.move_on_after(self.settings.body_timeout_seconds) as scope:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise RefusedError(413, "too_large")
        if scope.cancelled_caught:
            raise RefusedError(408, "body_timeout")
        return bytes(body)

    async def events(self, request: Request) -> Response:
        """GET /v1/events?vendor=&after=&limit= for the taps, behind a bearer token."""
        try:
            self._authorise(request)
            vendor, after, limit = self._page_params(request)
            events = await self._blocking(self._store().read, vendor, after, limit)
        except RefusedError as refusal:
            headers = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
            return self._refuse(request, "read", refusal, headers)
        next_after = events[-1]["seq"] if events else after
        return JSONResponse({"events": events, "next_after": next_after})

    def _authorise(self, request: Request) -> None:
        expected = self.settings.read_token
        if not expected:
            raise RefusedError(503, "not_configured")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            raise RefusedError(401, "missing_token")
        if not hmac.compare_digest(given.strip().encode("latin-1"), expected.encode()):
            raise RefusedError(401, "bad_token")

    def _page_params(self, request: Request) -> tuple[str | None, int, int]:
        params = request.query_params
        vendor = params.get("vendor")
        if vendor is not None and vendor not in VENDORS:
            raise RefusedError(400, "unknown_vendor")
        try:
            after = int(params.get("after", "0"))
            limit = int(params.get("limit", "100"))
        except ValueError:
            raise RefusedError(400, "bad_page") from None
        if after < 0 or limit <= 0:
            raise RefusedError(400, "bad_page")
        return vendor, after, min(limit, self.settings.read_page_max)

    async def healthz(self, _request: Request) -> Response:
        """GET /healthz: 200 once the store answers, 503 otherwise."""
        try:
            await self._blocking(self._store().ping)
        except Exception as error:
            log.warning("unhealthy store_error=%s", type(error).__name__)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def metrics_text(self, _request: Request) -> Response:
        """GET /metrics in Prometheus text format."""
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def _store(self) -> Store:
        if self.store is None:
            raise RefusedError(503, "store_not_open")
        return self.store

    async def _blocking(self, function: Callable[..., T], *args: object) -> T:
        return await anyio.to_thread.run_sync(function, *args, limiter=self.limiter)

    def _refuse(
        self,
        request: Request,
        vendor: str,
        refusal: RefusedError,
        headers: dict[str, str] | None = None,
    ) -> Response:
        self.metrics.refused.labels(vendor, refusal.reason).inc()
        peer = request.client.host if request.client else "-"
        log.warning(
            "refused vendor=%s status=%d reason=%s peer=%s",
            vendor,
            refusal.status,
            refusal.reason,
            peer,
        )
        return JSONResponse({"error": refusal.reason}, status_code=refusal.status, headers=headers)

    async def prune_forever(self) -> None:
        """Delete entries older than the retention, now and every prune interval."""
        days = self.settings.retention_days
        while True:
            try:
                cutoff = datetime.now(UTC) - timedelta(days=days)
                deleted = await self._blocking(self._store().prune, cutoff)
                log.info("pruned events=%d older_than_days=%d", deleted, days)
            except Exception as error:
                log.warning("prune failed error=%s", type(error).__name__)
            await asyncio.sleep(self.settings.prune_interval_seconds)


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    """The inbox app; with no `store`, the app opens (and closes) the one in settings."""
    inbox = Inbox(settings, store)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        owned = inbox.store is None
        if owned:
            inbox.store = await anyio.to_thread.run_sync(
                lambda: open_store(settings.database_url, max_connections=settings.max_concurrency)
            )
        pruner = asyncio.create_task(inbox.prune_forever()) if settings.retention_days else None
        try:
            yield
        finally:
            if pruner is not None:
                pruner.cancel()
            if owned and inbox.store is not None:
                inbox.store.close()

    app = Starlette(
        routes=[
            Route("/v1/humanapi", inbox.humanapi, methods=["POST"]),
            Route("/v1/painchek", inbox.painchek, methods=["POST"]),
            Route("/v1/events", inbox.events, methods=["GET"]),
            Route("/healthz", inbox.healthz, methods=["GET"]),
            Route("/metrics", inbox.metrics_text, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.inbox = inbox
    return app
