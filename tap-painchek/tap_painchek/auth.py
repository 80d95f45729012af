"""PainChek authentication: an OAuth client-credentials token, or HTTP Basic.

One authenticator instance is shared by every stream of a run, so the token is
minted once, reused, minted again a little before it expires, and once more when
the API answers 401 (the caller invalidates it).
"""

from __future__ import annotations

import threading
import time
import typing as t

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from tap_painchek.errors import PainChekError, describe_response, refuse_large_bodies

if t.TYPE_CHECKING:
    from tap_painchek.retry import RetryPolicy

TOKEN_PATH = "/api/integration/auth/"  # noqa: S105 - a path, not a secret
# Mint a new token when less than this share of its lifetime is left (at least
# a minute), so a long page fetch never starts with a token about to lapse.
REFRESH_SHARE = 0.1
MIN_REFRESH_MARGIN_SECONDS = 60.0


class BasicAuth(HTTPBasicAuth):
    """HTTP Basic, as in PainChek's older docs and sync guide."""

    def invalidate(self) -> None:
        """Nothing to refresh: a 401 with Basic means the credentials are wrong."""


class ClientCredentialsAuth(AuthBase):
    """Bearer token from ``POST {api_url}/api/integration/auth/`` (form-encoded)."""

    def __init__(
        self,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        timeout: float,
        user_agent: str,
        retry: RetryPolicy,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_url = api_url.rstrip("/") + TOKEN_PATH
        self._form = {"client_id": client_id, "client_secret": client_secret}
        self._timeout = timeout
        self._user_agent = user_agent
        self._retry = retry
        self._clock = clock
        self._session = requests.Session()
        self._session.hooks["response"].append(refuse_large_bodies)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.tokens_minted = 0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Attach a valid bearer token to the request."""
        request.headers["Authorization"] = f"Bearer {self._valid_token()}"
        return request

    def invalidate(self) -> None:
        """Forget the current token; the next request mints a new one."""
        with self._lock:
            self._token = None

    def _valid_token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._token, lifetime = self._retry.run(self._mint, what=f"POST {TOKEN_PATH}")
                margin = max(lifetime * REFRESH_SHARE, MIN_REFRESH_MARGIN_SECONDS)
                self._refresh_at = self._clock() + max(lifetime - margin, 0.0)
                self.tokens_minted += 1
            return self._token

    def _mint(self) -> tuple[str, float]:
        response = self._session.post(
            self._token_url,
            data=self._form,
            headers={"User-Agent": self._user_agent, "Accept": "application/json"},
            timeout=self._timeout,
        )
        self._retry.raise_for_retriable(response, what=f"POST {TOKEN_PATH}")
        if response.status_code in {400, 401, 403}:
            msg = (
                f"{describe_response(response, f'POST {TOKEN_PATH}')}: PainChek refused "
                "the client credentials; check the client_id and client_secret settings"
            )
            raise PainChekError(msg)
        if response.status_code != 200:
            raise PainChekError(describe_response(response, f"POST {TOKEN_PATH}"))
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            msg = f"POST {TOKEN_PATH} answered 200 without an access_token in a JSON body"
            raise PainChekError(msg) from None
        if not isinstance(token, str) or not token:
            msg = f"POST {TOKEN_PATH} answered 200 with an empty access_token"
            raise PainChekError(msg)
        return token, lifetime
