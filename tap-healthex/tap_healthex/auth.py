"""HealthEx authentication: a JWT from ``POST /v1/auth/token``, valid 24 h.

One authenticator is shared by every stream; the token is minted again a little
before the expiry its JWT states, and once more when the API answers 401.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import typing as t

import requests
from requests.auth import AuthBase

from tap_healthex.errors import HealthExError, describe_response, refuse_large_bodies

if t.TYPE_CHECKING:
    from tap_healthex.retry import RetryPolicy

TOKEN_PATH = "/v1/auth/token"  # noqa: S105 - a path, not a secret
DEFAULT_LIFETIME_SECONDS = 24 * 3600.0
REFRESH_MARGIN_SECONDS = 600.0


def jwt_lifetime(token: str, now: float) -> float:
    """Seconds until the JWT's ``exp`` (unverified: only to know when to refresh)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - now
    except (IndexError, ValueError, KeyError, TypeError):
        return DEFAULT_LIFETIME_SECONDS


class TokenAuth(AuthBase):
    """Bearer JWT for the HealthEx API."""

    def __init__(
        self,
        *,
        api_url: str,
        api_key: str,
        api_secret: str,
        timeout: float,
        user_agent: str,
        retry: RetryPolicy,
    ) -> None:
        self._url = api_url.rstrip("/") + TOKEN_PATH
        self._body = {"apiKey": api_key, "apiSecret": api_secret}
        self._timeout = timeout
        self._user_agent = user_agent
        self._retry = retry
        self._session = requests.Session()
        self._session.hooks["response"].append(refuse_large_bodies)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Attach a valid bearer token."""
        request.headers["Authorization"] = f"Bearer {self._valid_token()}"
        return request

    def log_in(self) -> None:
        """Mint the token now (if not held): wrong credentials fail here."""
        self._valid_token()

    def invalidate(self) -> None:
        """Forget the token; the next request mints a new one."""
        with self._lock:
            self._token = None

    def _valid_token(self) -> str:
        with self._lock:
            if self._token is None or time.time() >= self._refresh_at:
                self._token = self._retry.run(self._mint, what=f"POST {TOKEN_PATH}")
                lifetime = jwt_lifetime(self._token, time.time())
                self._refresh_at = time.time() + max(lifetime - REFRESH_MARGIN_SECONDS, 0.0)
            return self._token

    def _mint(self) -> str:
        response = self._session.post(
            self._url,
            json=self._body,
            headers={"User-Agent": self._user_agent, "Accept": "application/json"},
            timeout=self._timeout,
        )
        self._retry.raise_for_retriable(response, what=f"POST {TOKEN_PATH}")
        if response.status_code in {400, 401, 403}:
            msg = (
                f"{describe_response(response, f'POST {TOKEN_PATH}')}: HealthEx refused the "
                "API key; check the api_key and api_secret settings"
            )
            raise HealthExError(msg)
        if not response.ok:
            raise HealthExError(describe_response(response, f"POST {TOKEN_PATH}"))
        try:
            token = response.json()["token"]
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            msg = f"POST {TOKEN_PATH} answered {response.status_code} without a token"
            raise HealthExError(msg)
        return token
