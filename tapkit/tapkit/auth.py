"""Tokens minted from credentials, reused, and minted again a little before they expire.

``TokenCache`` keeps one token per key (per user, for Human API), thread-safe, one mint
per key at a time. ``MintedTokenAuth`` is the requests authenticator of a tap whose
whole run shares one token (OAuth client credentials at PainChek, an API key at
HealthEx): the vendors differ only in the request that mints it and in the answer's
field names, which are its parameters. Tokens live in memory only: never in state,
a context or a log line. A 401 makes the caller ``invalidate`` the token (the retry
policy does, once), and the next request mints a new one.
"""

from __future__ import annotations

import threading
import time
import typing as t

import requests
from requests.auth import AuthBase

from tapkit.errors import describe_response, refuse_large_bodies
from tapkit.summary import CountedSession

if t.TYPE_CHECKING:
    from tapkit.retry import RetryPolicy

REFRESH_SHARE = 0.1
MIN_REFRESH_MARGIN_SECONDS = 60.0


def share_margin(lifetime: float) -> float:
    """Refresh when a tenth of the lifetime is left, at least a minute before expiry."""
    return max(lifetime * REFRESH_SHARE, MIN_REFRESH_MARGIN_SECONDS)


class TokenCache:
    """Tokens by key, minted on demand by ``mint(key) -> (token, lifetime seconds)``."""

    def __init__(
        self,
        mint: t.Callable[[str], tuple[str, float]],
        *,
        margin: t.Callable[[float], float] = share_margin,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self._mint = mint
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self.minted = 0

    def get(self, key: str) -> str:
        """A valid token for ``key``."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            held = self._tokens.get(key)
            if held is not None and self._clock() < held[1]:
                return held[0]
            token, lifetime = self._mint(key)
            refresh_at = self._clock() + max(lifetime - self._margin(lifetime), 0.0)
            self._tokens[key] = (token, refresh_at)
            self.minted += 1
            return token

    def invalidate(self, key: str) -> None:
        """Forget the token of ``key``; the next request mints a new one."""
        self._tokens.pop(key, None)


class TokenRequest(t.NamedTuple):
    """How a vendor mints its token.

    ``body`` is sent as a form (``form=True``) or as JSON; ``read`` takes the JSON
    answer and returns the token (None if absent) and its lifetime in seconds;
    ``refused`` ends the one line a 400, 401 or 403 answer becomes (which settings to
    check); ``token_field`` names the token in messages.
    """

    path: str
    body: t.Mapping[str, str]
    read: t.Callable[[t.Any], tuple[t.Any, float]]
    refused: str
    token_field: str
    form: bool = False
    margin: t.Callable[[float], float] = share_margin


class MintedTokenAuth(AuthBase):
    """One bearer token for every stream of a run, from ``POST {api_url}{path}``."""

    def __init__(
        self,
        *,
        api_url: str,
        request: TokenRequest,
        timeout: float,
        user_agent: str,
        retry: RetryPolicy,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = api_url.rstrip("/") + request.path
        self._request = request
        self._what = f"POST {request.path}"
        self._timeout = timeout
        self._user_agent = user_agent
        self._retry = retry
        self._session = CountedSession(retry.summary)
        self._session.hooks["response"].append(refuse_large_bodies)
        self._cache = TokenCache(self._mint_once, margin=request.margin, clock=clock)

    @property
    def tokens_minted(self) -> int:
        """How many tokens this run minted."""
        return self._cache.minted

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Attach a valid bearer token to the request."""
        request.headers["Authorization"] = f"Bearer {self._cache.get('run')}"
        return request

    def log_in(self) -> None:
        """Mint the token now (if not held): wrong credentials fail here."""
        self._cache.get("run")

    def invalidate(self) -> None:
        """Forget the current token; the next request mints a new one."""
        self._cache.invalidate("run")

    def _mint_once(self, _key: str) -> tuple[str, float]:
        return self._retry.run(self._mint, what=self._what)

    def _mint(self) -> tuple[str, float]:
        request = self._request
        body = dict(request.body)
        response = self._session.post(
            self._url,
            data=body if request.form else None,
            json=None if request.form else body,
            headers={"User-Agent": self._user_agent, "Accept": "application/json"},
            timeout=self._timeout,
        )
        self._retry.raise_for_retriable(response, what=self._what)
        error = self._retry.error_type
        if response.status_code in {400, 401, 403}:
            raise error(f"{describe_response(response, self._what)}: {request.refused}")
        if not response.ok:
            raise error(describe_response(response, self._what))
        try:
            token, lifetime = request.read(response.json())
        except (ValueError, KeyError, TypeError, AttributeError):
            token, lifetime = None, 0.0
        if not isinstance(token, str) or not token:
            msg = f"{self._what} answered {response.status_code} without a {request.token_field}"
            raise error(msg)
        return token, lifetime
