"""Human API tokens: one access token per user, and the app's client token.

``Minter`` asks Human API for them; ``tapkit.auth.TokenCache`` keeps them in memory
only (never in state, context or logs), reused for all of a user's requests in a
run, minted again a little before they expire, and once more on a 401.
"""

from __future__ import annotations

import typing as t

from tapkit.errors import describe_response

from tap_humanapi.errors import HumanAPIError, UserFailure

if t.TYPE_CHECKING:
    from tap_humanapi.transport import Transport

USER_TOKEN_PATH = "/v1/connect/token"  # noqa: S105 - a path, not a secret
APP_TOKEN_PATH = "/v1/admin/token"  # noqa: S105 - a path, not a secret
DEFAULT_LIFETIME_SECONDS = 3600.0


class TokenRefused(UserFailure):
    """Human API refused to mint a token for this user (deleted, or no source)."""


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
        return token, float(reply.body.get("expires_in") or DEFAULT_LIFETIME_SECONDS)

    def user_token(self, client_user_id: str) -> tuple[str, float]:
        """An access token for one user."""
        return self._post(
            USER_TOKEN_PATH, {"client_user_id": client_user_id, "type": "access"}, "access_token"
        )

    def app_token(self, _key: str) -> tuple[str, float]:
        """The app's client token for the admin API."""
        return self._post(APP_TOKEN_PATH, {"type": "client"}, "client_token")
