"""Vendor-agnostic scaffolding for the fake vendor APIs.

A vendor module subclasses :class:`VendorSandbox`, declares its API routes and its
tables, and implements ``truth``, ``mutate``, ``configure`` and ``expire_tokens``.
This module supplies everything else: a threaded HTTP/1.1 keep-alive server on
127.0.0.1, route dispatch, JSON helpers, latency and fault injection, request
statistics, scheduled mutations, signed notifications of data changes (the queue and
sender live in ``notify.py``; a vendor supplies ``notification_secret`` and
``notification_headers`` and queues bodies with ``send_notification``) and the
``/_control/`` endpoints.

Control requests are never counted, faulted or delayed. The server is quiet: no access
log, and error output never contains request data.
"""

from __future__ import annotations

import abc
import contextlib
import inspect
import random
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import msgspec

from sandbox.notify import Notifier, NotifyConfigError, Subscription

FAULT_KINDS = ("429", "500", "502", "503", "drop", "slow", "expire", "truncate")
# In a forced sequence (fail_next): this request is answered normally.
NO_FAULT = "none"
# Persistent bad answers (``malform``): not transient faults but a vendor bug or a
# proxy in the way, for the bad-input tests.
MALFORM_KINDS = ("html", "shape", "drop_key", "huge")
_PROXY_PAGE = b"<!doctype html><html><body><h1>Please sign in to the network</h1></body></html>"
CONTROL_PREFIX = "/_control/"

_HTML_ERRORS = {
    500: b"<!doctype html><html><head><title>Server Error (500)</title></head>"
    b"<body><h1>Server Error (500)</h1><p></p></body></html>",
    502: b"<html><head><title>502 Bad Gateway</title></head><body><center>"
    b"<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
    503: b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>",
}


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Message
    body: bytes
    base_url: str

    def param(self, name: str) -> str | None:
        """Return the last value of a query parameter, as Django's ``QueryDict`` does."""
        value = None
        for key, item in self.query:
            if key == name:
                value = item
        return value

    def json(self) -> Any:
        """Decode the body as JSON; an empty body is an empty object."""
        return msgspec.json.decode(self.body) if self.body.strip() else {}


@dataclass
class Response:
    """A response to write; ``records`` counts the data records in the body."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    records: int = 0
    # Spaces after the body (still valid JSON), written in chunks: an oversized answer
    # without holding it in memory.
    padding: int = 0


Handler = Callable[[Request], Response]


class ControlError(ValueError):
    """A control request that cannot be honoured (answered with 400)."""


def json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """Encode ``payload`` as a JSON response."""
    return Response(status, msgspec.json.encode(payload), headers=list(headers))


def html_error(status: int) -> Response:
    """Build a proxy- or framework-style HTML error page."""
    return Response(status, _HTML_ERRORS.get(status, b""), content_type="text/html")


def _parse_int(value: Any, name: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError(f"{name} must be an integer")
    if minimum is not None and value < minimum:
        raise ControlError(f"{name} must be >= {minimum}")
    return value


class FaultInjector:
    """Chooses a fault (or none) for each API request, deterministically from a seed."""

    def __init__(self) -> None:
        self.rate = 0.0
        self.kinds: tuple[str, ...] = FAULT_KINDS
        self.retry_after = 1
        self.slow_seconds = 2.0
        self._rng = random.Random(0)
        self._forced: deque[str] = deque()

    @staticmethod
    def _check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
        checked = tuple(str(kind) for kind in kinds)
        unknown = sorted(set(checked) - set(FAULT_KINDS))
        if unknown:
            raise ControlError(f"unknown fault kinds {unknown}; known: {list(FAULT_KINDS)}")
        return checked

    def configure(
        self,
        rate: float,
        seed: int,
        kinds: Iterable[str],
        retry_after: int,
        slow_seconds: float,
    ) -> None:
        """Set the random fault rate (0 disables), seed and the kinds drawn from."""
        if not 0 <= float(rate) <= 1:
            raise ControlError("rate must be between 0 and 1")
        checked = self._check_kinds(kinds)
        if float(rate) > 0 and not checked:
            raise ControlError("kinds must not be empty when rate > 0")
        self.rate = float(rate)
        self.kinds = checked
        self._rng = random.Random(seed)
        self.retry_after = _parse_int(retry_after, "retry_after", 0)
        self.slow_seconds = float(slow_seconds)

    def force(self, kinds: Iterable[str]) -> None:
        """Queue faults for the next API requests, in order ("none": answer normally)."""
        kinds = tuple(kinds)
        self._check_kinds(k for k in kinds if k != NO_FAULT)
        self._forced.extend(kinds)

    def draw(self) -> str | None:
        """Choose the fault for the next API request (callers hold the sandbox lock)."""
        if self._forced:
            forced = self._forced.popleft()
            return None if forced == NO_FAULT else forced
        if self.rate > 0 and self._rng.random() < self.rate:
            return self._rng.choice(self.kinds)
        return None


class Stats:
    """Request counters; ``names`` are the vendor's extra counters."""

    BASE = ("requests", "faults_injected", "records_served", "schedules_applied")

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._names = (*self.BASE, *names)
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.counters = dict.fromkeys(self._names, 0)
        self.by_path: dict[str, int] = {}

    def incr(self, name: str, amount: int = 1) -> None:
        """Add to a counter."""
        self.counters[name] += amount

    def count_path(self, path: str) -> None:
        """Count one API request to ``path``."""
        self.counters["requests"] += 1
        self.by_path[path] = self.by_path.get(path, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """Return a JSON-ready copy."""
        return {
            "requests": self.counters["requests"],
            "by_path": dict(self.by_path),
            **{k: v for k, v in self.counters.items() if k != "requests"},
        }


@dataclass
class _Scheduled:
    path: str | None
    remaining: int
    ops: list[dict[str, Any]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sandbox: VendorSandbox) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def close_connections(self) -> None:
        """Cut open keep-alive connections so their threads end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up are normal; anything else is a sandbox bug worth a traceback
        # (tracebacks show code, not request data).
        if not isinstance(sys.exc_info()[1], OSError):
            traceback.print_exc(file=sys.stderr)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: no access log."""

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        host = self.headers.get("Host") or f"{self.server.server_name}:{self.server.server_port}"
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qsl(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            base_url=f"http://{host}",
        )
        sandbox = self.server.sandbox
        if request.path.startswith(CONTROL_PREFIX):
            self._write(sandbox.handle_control(request))
            return
        fault = sandbox.begin_api_request(request.path)
        if sandbox.latency_ms:
            time.sleep(sandbox.latency_ms / 1000)
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "slow":
            time.sleep(sandbox.faults.slow_seconds)
        response = sandbox.fault_response(fault, request) or sandbox.handle_api(request)
        response = sandbox.malformed(
            request.path, sandbox.with_vendor_fields(request.path, response)
        )
        if fault == "truncate":
            self._write(response, truncate=True)
            return
        sandbox.end_api_request(request.path, response)
        self._write(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch  # noqa: N815

    def _write(self, response: Response, *, truncate: bool = False) -> None:
        body = response.body
        lines = [
            f"HTTP/1.1 {response.status} {_phrase(response.status)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(body) + response.padding}",
        ]
        lines += [f"{name}: {value}" for name, value in response.headers]
        if truncate:
            self.close_connection = True
            body = body[: len(body) // 2]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        chunk = b" " * (1 << 20)
        for start in range(0, response.padding, len(chunk)):
            self.wfile.write(chunk[: response.padding - start])


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _without_key(value: Any, key: str) -> Any:
    """``value`` with ``key`` removed from every object in it, at any depth."""
    if isinstance(value, dict):
        return {k: _without_key(v, key) for k, v in value.items() if k != key}
    if isinstance(value, list):
        return [_without_key(item, key) for item in value]
    return value


class VendorSandbox(abc.ABC):
    """Base class of one vendor's fake API: server lifecycle, faults, stats, control API."""

    extra_stats: ClassVar[tuple[str, ...]] = ()

    def __init__(self, latency_ms: int = 0, seed: int = 0) -> None:
        self.seed = seed
        self._lock = threading.RLock()
        self.faults = FaultInjector()
        self._stats = Stats(self.extra_stats)
        self._schedules: list[_Scheduled] = []
        self._malformed: dict[str, tuple[str, str | None, int]] = {}
        self._vendor_fields: dict[str, dict[str, Any]] = {}
        self.latency_ms = _parse_int(latency_ms, "latency_ms", 0)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self._notifier = Notifier(self.notification_headers, type(self).__name__)

    # -- what a vendor module provides ------------------------------------------------

    @property
    @abc.abstractmethod
    def tables(self) -> tuple[str, ...]:
        """Names of the vendor's tables."""

    @abc.abstractmethod
    def api_routes(self) -> Mapping[str, Handler]:
        """Exact request path -> handler for the vendor's API."""

    @abc.abstractmethod
    def truth(self, table: str) -> list[dict[str, Any]]:
        """Return the current rows of ``table`` exactly as the API serves them."""

    @abc.abstractmethod
    def mutate(
        self, table: str, op: str, count: int = 1, uuids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Insert, update or delete rows; return the new row versions."""

    @abc.abstractmethod
    def revoke_tokens(self) -> None:
        """Invalidate every issued token (scheduled between pages to test re-login)."""

    @abc.abstractmethod
    def expire_tokens(self, request: Request | None = None) -> Response | None:
        """Invalidate the tokens ``request`` carries (a vendor may revoke every token).

        Return the vendor's 'token expired' response, or None to answer the request
        normally (a request that carries no token, such as a token request).
        """

    @abc.abstractmethod
    def not_found(self) -> Response:
        """Answer an unknown path as the vendor does."""

    def configure(self, latency_ms: int | None = None) -> None:
        """Change settings at run time; vendors extend this with their own."""
        if latency_ms is not None:
            self.latency_ms = _parse_int(latency_ms, "latency_ms", 0)

    def records_in(self, payload: Any) -> list[dict[str, Any]]:
        """The record objects of a JSON answer (for ``add_vendor_fields``)."""
        return (
            [item for item in payload if isinstance(item, dict)]
            if isinstance(payload, list)
            else []
        )

    def notification_secret(self) -> str | None:
        """The key notifications are signed with unless ``notify_to`` names one.

        None: this vendor sends no notifications.
        """
        return None

    def notification_headers(
        self, body: bytes, delivery_id: str, secret: str
    ) -> list[tuple[str, str]]:
        """The vendor's headers for one notification, its signature of ``body`` among them."""
        raise NotImplementedError

    def schedule_ops(self) -> Mapping[str, Callable[..., object]]:
        """Vendor operations a schedule may run besides mutate ops: op name -> callable.

        A scheduled ``{"op": name, **kwargs}`` calls ``callable(**kwargs)``.
        """
        return {}

    def control_routes(self) -> dict[tuple[str, str], Handler]:
        """Map (method, path) under ``/_control/`` to handlers; vendors may add their own."""
        p = CONTROL_PREFIX
        return {
            ("GET", p + "truth"): self._control_truth,
            ("POST", p + "mutate"): self._control_mutate,
            ("POST", p + "faults"): self._control_faults,
            ("POST", p + "fail_next"): self._control_fail_next,
            ("POST", p + "config"): self._control_config,
            ("POST", p + "schedule"): self._control_schedule,
            ("POST", p + "malform"): self._control_malform,
            ("POST", p + "vendor_fields"): self._control_vendor_fields,
            ("POST", p + "notify"): self._control_notify,
            ("POST", p + "notify/sign_wrong"): self._control_sign_wrong,
            ("GET", p + "notifications"): self._control_notifications,
            ("POST", p + "notifications/wait_idle"): self._control_wait_idle,
            ("GET", p + "stats"): lambda _r: json_response(200, self.stats()),
            ("POST", p + "stats/reset"): self._control_reset_stats,
        }

    # -- lifecycle --------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        if self._url is None:
            raise RuntimeError("sandbox is not started")
        return self._url

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; return the base URL."""
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        self._routes = dict(self.api_routes())
        self._controls = self.control_routes()
        self._server = _Server((host, port), self)
        self._url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-server",
            daemon=True,
        )
        self._thread.start()
        return self._url

    def stop(self) -> None:
        """Stop serving and cut open connections."""
        self._notifier.close()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> VendorSandbox:
        """Start on entering a ``with`` block if not started yet."""
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving a ``with`` block."""
        self.stop()

    # -- notifications ----------------------------------------------------------------

    def notify_to(
        self,
        url: str,
        *,
        secret: str | None = None,
        drop_rate: float = 0.0,
        duplicate_rate: float = 0.0,
        bad_signature_rate: float = 0.0,
        max_attempts: int = 5,
        backoff_seconds: float = 0.1,
        timeout_seconds: float = 3.0,
        seed: int | str | None = None,
    ) -> None:
        """POST a signed notification to ``url`` for every later data change (see notify.py).

        ``secret`` defaults to the vendor's own (``notification_secret()``); the drop,
        duplicate and bad-signature draws are seeded with ``seed`` (default: derived from
        the sandbox's seed). A failed attempt is retried after ``backoff_seconds`` doubling
        each time, ``max_attempts`` attempts in all.
        """
        default = self.notification_secret()
        if default is None:
            raise ControlError(f"{type(self).__name__} sends no notifications")
        try:
            subscription = Subscription(
                url=str(url),
                secret=default if secret is None else str(secret),
                drop_rate=float(drop_rate),
                duplicate_rate=float(duplicate_rate),
                bad_signature_rate=float(bad_signature_rate),
                max_attempts=max_attempts,
                backoff_seconds=float(backoff_seconds),
                timeout_seconds=float(timeout_seconds),
            )
        except NotifyConfigError as exc:
            raise ControlError(str(exc)) from exc
        chosen = f"{type(self).__name__}-notify-{self.seed}" if seed is None else seed
        self._notifier.subscribe(subscription, chosen)

    def notify_off(self) -> None:
        """Queue no more notifications (those queued are still sent)."""
        self._notifier.unsubscribe()

    def sign_next_wrong(self, count: int = 1) -> None:
        """Sign the next ``count`` notifications with a wrong key (they must not verify)."""
        self._notifier.sign_next_wrong(_parse_int(count, "count", 1))

    @property
    def notifying(self) -> bool:
        """Whether data changes are being notified (vendors skip building bodies if not)."""
        return self._notifier.subscribed

    def send_notification(self, body: bytes, ids: Mapping[str, Any]) -> None:
        """Queue one event's body; ``ids`` name what it is about in the delivery log."""
        self._notifier.enqueue(body, ids)

    def notifications(self) -> list[dict[str, Any]]:
        """The delivery log, oldest first.

        Each entry: ``{delivery_id, ids, status (queued|delivered|gave_up|dropped),
        attempts, answers (HTTP statuses or "error"), duplicate, duplicate_answer,
        bad_signature}``.
        """
        return self._notifier.log()

    def notification_counts(self) -> dict[str, int]:
        """Notification counters (``notify.COUNTERS``): events, delivered, dropped, ..."""
        return self._notifier.counts()

    def wait_notifications_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no notification is queued, retrying or in flight; False on timeout."""
        return self._notifier.wait_idle(timeout)

    # -- faults, schedules, stats -----------------------------------------------------

    def set_faults(
        self,
        rate: float = 0.1,
        seed: int = 7,
        kinds: Iterable[str] = FAULT_KINDS,
        retry_after: int = 1,
        slow_seconds: float = 2.0,
    ) -> None:
        """Inject random faults into API requests at ``rate`` (0 disables)."""
        with self._lock:
            self.faults.configure(rate, seed, kinds, retry_after, slow_seconds)

    def fail_next(self, *kinds: str) -> None:
        """Give the next ``len(kinds)`` API requests these faults, in order."""
        with self._lock:
            self.faults.force(kinds)

    def schedule(
        self, after_requests: int, ops: list[dict[str, Any]], path: str | None = None
    ) -> None:
        """Apply ``ops`` (mutate kwargs) once the Nth successful request to ``path`` is answered.

        Counting starts now and covers requests answered with a 2xx status (faulted
        requests are not pages served). ``path=None`` counts every API path. The ops are
        applied after the Nth response body is built and before it is sent, so the
        client's next request already sees them.
        """
        after = _parse_int(after_requests, "after_requests", 1)
        extra = self.schedule_ops()
        checked = []
        for op in ops:
            if op == {"op": "revoke_tokens"}:  # a token expiring between two pages
                checked.append(dict(op))
                continue
            if isinstance(op, dict) and op.get("op") in extra:
                kwargs = {k: v for k, v in op.items() if k != "op"}
                try:
                    inspect.signature(extra[op["op"]]).bind(**kwargs)
                except TypeError as exc:
                    raise ControlError(f"bad arguments for {op['op']}: {exc}") from exc
                checked.append(dict(op))
                continue
            if not isinstance(op, dict) or op.get("table") not in self.tables:
                raise ControlError(f"each op needs a table in {list(self.tables)}")
            if op.get("op") not in ("insert", "update", "delete"):
                raise ControlError("each op needs op insert|update|delete")
            unknown = set(op) - {"table", "op", "count", "uuids"}
            if unknown:
                raise ControlError(f"unknown op keys {sorted(unknown)}")
            checked.append(dict(op))
        with self._lock:
            self._schedules.append(_Scheduled(path, after, checked))

    def malform(self, path: str, kind: str, key: str | None = None, size: int = 0) -> None:
        """Answer every successful API request under ``path`` badly, until ``malform_clear``.

        ``html``: a 200 HTML page (a captive portal or proxy); ``shape``: the JSON
        wrapped the wrong way (a list becomes ``{"data": [...]}``, an object a list);
        ``drop_key``: ``key`` removed from every object in the body; ``huge``: the body
        padded with spaces to ``size`` bytes (valid JSON, far too large).
        """
        if kind not in MALFORM_KINDS:
            raise ControlError(f"kind must be one of {list(MALFORM_KINDS)}")
        if kind == "drop_key" and not key:
            raise ControlError("drop_key needs a key")
        with self._lock:
            self._malformed[path] = (kind, key, _parse_int(size, "size", 0))

    def malform_clear(self) -> None:
        """Answer normally again."""
        with self._lock:
            self._malformed.clear()

    def malformed(self, path: str, response: Response) -> Response:
        """``response``, spoiled as ``malform`` asked for ``path`` (2xx JSON answers only)."""
        with self._lock:
            matching = [prefix for prefix in self._malformed if path.startswith(prefix)]
            # The longest prefix is the most specific rule.
            rule = self._malformed[max(matching, key=len)] if matching else None
        if rule is None or not 200 <= response.status < 300:
            return response
        kind, key, size = rule
        if kind == "html":
            return Response(200, _PROXY_PAGE, content_type="text/html")
        if kind == "huge":
            return replace(response, padding=max(size - len(response.body), 0))
        payload = msgspec.json.decode(response.body)
        if kind == "shape":
            payload = {"data": payload} if isinstance(payload, list) else [payload]
        else:
            payload = _without_key(payload, str(key))
        return replace(response, body=msgspec.json.encode(payload))

    def add_vendor_fields(self, path: str, fields: Mapping[str, Any]) -> None:
        """Serve ``fields`` in every record of every 2xx answer under ``path``.

        A vendor adds fields to its records over time, and some fields are documented
        nowhere: this shows what a tap does with a field it never declared.
        """
        if not isinstance(fields, Mapping) or not fields:
            raise ControlError("fields must be a non-empty JSON object")
        with self._lock:
            self._vendor_fields.setdefault(path, {}).update(fields)

    def clear_vendor_fields(self) -> None:
        """Serve the records as before."""
        with self._lock:
            self._vendor_fields.clear()

    def with_vendor_fields(self, path: str, response: Response) -> Response:
        """``response`` with the fields ``add_vendor_fields`` asked for (2xx JSON only)."""
        added = self.vendor_fields_for(path)
        if not added or not 200 <= response.status < 300:
            return response
        payload = msgspec.json.decode(response.body)
        for record in self.records_in(payload):
            record.update(added)
        return replace(response, body=msgspec.json.encode(payload))

    def vendor_fields_for(self, path: str) -> dict[str, Any]:
        """The fields ``add_vendor_fields`` adds to the records served under ``path``."""
        with self._lock:
            added: dict[str, Any] = {}
            for prefix, fields in sorted(self._vendor_fields.items()):
                if path.startswith(prefix):
                    added.update(fields)
            return added

    def stats(self) -> dict[str, Any]:
        """Counters of API requests since start or the last reset."""
        with self._lock:
            return self._stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters."""
        with self._lock:
            self._stats.reset()

    def count(self, name: str, amount: int = 1) -> None:
        """Add to one of the vendor's extra counters."""
        with self._lock:
            self._stats.incr(name, amount)

    # -- request pipeline (called by the HTTP handler) --------------------------------

    def begin_api_request(self, path: str) -> str | None:
        """Count an API request and choose its fault."""
        with self._lock:
            self._stats.count_path(path)
            fault = self.faults.draw()
            if fault is not None:
                self._stats.incr("faults_injected")
            return fault

    def fault_response(self, fault: str | None, request: Request) -> Response | None:
        """Return the response replacing a normal answer, or None to answer normally."""
        if fault == "429":
            return json_response(
                429,
                {"code": "throttled", "detail": "Request was throttled.", "errors": []},
                [("Retry-After", str(self.faults.retry_after))],
            )
        if fault in ("500", "502", "503"):
            return html_error(int(fault))
        if fault == "expire":
            return self.expire_tokens(request)
        return None

    def handle_api(self, request: Request) -> Response:
        """Route an API request."""
        handler = self._routes.get(request.path)
        if handler is None:
            return self.not_found()
        try:
            return handler(request)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return html_error(500)

    def end_api_request(self, path: str, response: Response) -> None:
        """Count served records and run schedules due after this response."""
        if not 200 <= response.status < 300:
            return
        with self._lock:
            self._stats.incr("records_served", response.records)
            due = []
            for item in self._schedules:
                if item.path is None or item.path == path:
                    item.remaining -= 1
                    if item.remaining == 0:
                        due.append(item)
            if not due:
                return
            self._schedules = [item for item in self._schedules if item.remaining > 0]
            self._stats.incr("schedules_applied", len(due))
            extra = self.schedule_ops()
            for item in due:
                for op in item.ops:
                    if op["op"] == "revoke_tokens":
                        self.revoke_tokens()
                    elif op["op"] in extra:
                        extra[op["op"]](**{k: v for k, v in op.items() if k != "op"})
                    else:
                        self.mutate(**op)

    def handle_control(self, request: Request) -> Response:
        """Route a ``/_control/`` request."""
        handler = self._controls.get((request.method, request.path))
        if handler is None:
            if any(path == request.path for _, path in self._controls):
                return json_response(405, {"detail": "method not allowed"})
            return json_response(404, {"detail": "unknown control endpoint"})
        try:
            return handler(request)
        except (ControlError, msgspec.DecodeError, TypeError, KeyError, ValueError) as exc:
            return json_response(400, {"detail": str(exc)})

    # -- control handlers -------------------------------------------------------------

    def _control_body(self, request: Request) -> dict[str, Any]:
        body = request.json()
        if not isinstance(body, dict):
            raise ControlError("body must be a JSON object")
        return body

    def _control_truth(self, request: Request) -> Response:
        table = request.param("table")
        if table not in self.tables:
            raise ControlError(f"table must be one of {list(self.tables)}")
        return json_response(200, self.truth(table))

    def _control_mutate(self, request: Request) -> Response:
        rows = self.mutate(**self._control_body(request))
        return json_response(200, {"rows": rows})

    def _control_faults(self, request: Request) -> Response:
        body = self._control_body(request)
        defaults = {"rate": 0.1, "seed": 7, "kinds": FAULT_KINDS, "retry_after": 1}
        self.set_faults(**{**defaults, "slow_seconds": 2.0, **body})
        return json_response(200, {"ok": True})

    def _control_fail_next(self, request: Request) -> Response:
        kinds = self._control_body(request).get("kinds")
        if not isinstance(kinds, list):
            raise ControlError("kinds must be a list")
        self.fail_next(*kinds)
        return json_response(200, {"ok": True})

    def _control_config(self, request: Request) -> Response:
        self.configure(**self._control_body(request))
        return json_response(200, {"ok": True})

    def _control_schedule(self, request: Request) -> Response:
        self.schedule(**self._control_body(request))
        return json_response(200, {"ok": True})

    def _control_malform(self, request: Request) -> Response:
        body = self._control_body(request)
        if body.get("clear"):
            self.malform_clear()
        else:
            self.malform(**body)
        return json_response(200, {"ok": True})

    def _control_vendor_fields(self, request: Request) -> Response:
        body = self._control_body(request)
        if body.get("clear"):
            self.clear_vendor_fields()
        else:
            self.add_vendor_fields(str(body.get("path") or "/"), body.get("fields") or {})
        return json_response(200, {"ok": True})

    def _control_notify(self, request: Request) -> Response:
        body = self._control_body(request)
        if body.get("clear"):
            self.notify_off()
        else:
            self.notify_to(**body)
        return json_response(200, {"ok": True})

    def _control_sign_wrong(self, request: Request) -> Response:
        self.sign_next_wrong(self._control_body(request).get("count", 1))
        return json_response(200, {"ok": True})

    def _control_notifications(self, _request: Request) -> Response:
        return json_response(
            200, {"counts": self.notification_counts(), "log": self.notifications()}
        )

    def _control_wait_idle(self, request: Request) -> Response:
        timeout = self._control_body(request).get("timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise ControlError("timeout must be a number >= 0")
        return json_response(200, {"idle": self.wait_notifications_idle(float(timeout))})

    def _control_reset_stats(self, _request: Request) -> Response:
        self.reset_stats()
        return json_response(200, {"ok": True})
