"""HTTP for the worker pool: a session per thread, bounded retries, safe errors.

The per-user streams do not use the SDK's request loop, which runs one page after
another on one thread: thousands of users are latency-bound, so a bounded pool
of workers fetches while the main thread writes the Singer messages.
"""

from __future__ import annotations

import threading
import typing as t

import msgspec
import requests
from singer_sdk.exceptions import RetriableAPIError
from tapkit.errors import Unauthorized, describe_response, refuse_large_bodies
from tapkit.rest import package_version
from tapkit.summary import CountedSession

if t.TYPE_CHECKING:
    from tapkit.retry import RetryPolicy

__version__ = package_version("tap-humanapi")

_decode = msgspec.json.Decoder().decode


class Reply(t.NamedTuple):
    """A response and, for a 2xx answer, its parsed JSON body."""

    response: requests.Response
    body: t.Any


class Transport:
    """Sends requests with retries; 401 re-mints once through ``on_unauthorized``."""

    def __init__(self, *, timeout: float, user_agent: str, retry: RetryPolicy) -> None:
        self.timeout = timeout
        self.user_agent = user_agent
        self.retry = retry
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = CountedSession(self.retry.summary)
            session.headers.update({"User-Agent": self.user_agent, "Accept": "application/json"})
            session.hooks["response"].append(refuse_large_bodies)
        return session

    def send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        token: t.Callable[[], str] | None = None,
        on_unauthorized: t.Callable[[], None] | None = None,
        params: dict[str, t.Any] | None = None,
        json_body: dict[str, t.Any] | None = None,
    ) -> Reply:
        """Send until a final answer; 4xx answers are returned for the caller to judge."""

        def attempt() -> Reply:
            headers = {"Authorization": f"Bearer {token()}"} if token else {}
            response = self._session().request(
                method, url, params=params, json=json_body, headers=headers, timeout=self.timeout
            )
            if response.status_code == 401 and on_unauthorized is not None:
                raise Unauthorized(describe_response(response, what))
            self.retry.raise_for_retriable(response, what=what)
            if not response.ok:
                return Reply(response, None)
            try:
                return Reply(response, _decode(response.content))
            except msgspec.DecodeError:
                msg = f"{what} answered {response.status_code} with a body that is not JSON"
                raise RetriableAPIError(msg, response) from None

        return self.retry.run(attempt, what=what, on_unauthorized=on_unauthorized)
