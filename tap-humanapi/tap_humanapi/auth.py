"""Human API tokens: one access token per user, and the app's client token.

Tokens are kept in memory only (never in state, context or logs), reused for all
of a user's requests in a run, minted again a little before they expire, and
once more when the API answers 401.
"""

from __future__ import annotations

import threading
import time
import typing as t

from tap_humanapi.errors import HumanAPIError, UserFailure, describe_response

if t.TYPE_CHECKING:
    from tap_humanapi.client import Transport

USER_TOKEN_PATH = "/v1/connect/token"  # noqa: S105 - a path, not a secret
APP_TOKEN_PATH = "/v1/admin/token"  # noqa: S105 - a path, not a secret
REFRESH_SHARE = 0.1
MIN_REFRESH_MARGIN_SECONDS = 60.0


class TokenRefused(UserFailure):
    """Human API refused to mint a token for this user (deleted, or no source)."""


class Tokens:
    """Tokens by key, minted on demand; thread-safe, one mint per key at a time."""

    def __init__(
        self,
        mint: t.Callable[[str], tuple[str, float]],
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self._mint = mint
        self._clock = clock
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._tokens: dict[str, tuple[str, float]] = {}

    def get(self, key: str) -> str:
        """A valid token for ``key``."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            held = self._tokens.get(key)
            if held is not None and self._clock() < held[1]:
                return held[0]
            token, lifetime = self._mint(key)
            margin = max(lifetime * REFRESH_SHARE, MIN_REFRESH_MARGIN_SECONDS)
            self._tokens[key] = (token, self._clock() + max(lifetime - margin, 0.0))
            return token

    def invalidate(self, key: str) -> None:
        """Forget the token of ``key``; the next request mints a new one."""
        self._tokens.pop(key, None)


class Minter:
    """Mints user access tokens and the app's client token."""

    def __init__(self, transport: Transport, auth_url: str, client_id: str, secret: str) -> None:
        self._transport = transport
        self._auth_url = auth_url.rstrip("/")
        self._credentials = {"client_id": client_id, "client_secret": secret}

    def _post(self, path: str, body: dict[str, str], field: str) -> tuple[str, float]:
        what = f"POST {path}"
        reply = self._transport.send(
            "POST", self._auth_url + path, what=what, json_body={**self._credentials, **body}
        )
        status = reply.response.status_code
        if status == 401:
            msg = (
                f"{describe_response(reply.response, what)}: Human API refused the client "
                "credentials; check the client_id and client_secret settings"
            )
            raise HumanAPIError(msg)
        if not reply.response.ok:
            raise TokenRefused(describe_response(reply.response, what))
        token = reply.body.get(field) if isinstance(reply.body, dict) else None
        if not isinstance(token, str) or not token:
            msg = f"{what} answered {status} without a {field}"
            raise HumanAPIError(msg)
        return token, float(reply.body.get("expires_in") or 3600)

    def user_token(self, client_user_id: str) -> tuple[str, float]:
        """An access token for one user."""
        return self._post(
            USER_TOKEN_PATH, {"client_user_id": client_user_id, "type": "access"}, "access_token"
        )

    def app_token(self, _key: str) -> tuple[str, float]:
        """The app's client token for the admin API."""
        return self._post(APP_TOKEN_PATH, {"type": "client"}, "client_token")
