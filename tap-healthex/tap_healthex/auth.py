"""HealthEx authentication: a JWT from ``POST /v1/auth/token``, valid 24 h.

One token is shared by every stream; it is minted again ten minutes before the expiry
its JWT states, and once more when the API answers 401.
"""

from __future__ import annotations

import base64
import json
import time
import typing as t

from tapkit.auth import MintedTokenAuth, TokenRequest

if t.TYPE_CHECKING:
    from tapkit.retry import RetryPolicy

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


def _read(body: t.Any) -> tuple[t.Any, float]:
    token = body["token"]
    return token, jwt_lifetime(token, time.time()) if isinstance(token, str) else 0.0


def api_key_token(
    *,
    api_url: str,
    api_key: str,
    api_secret: str,
    timeout: float,
    user_agent: str,
    retry: RetryPolicy,
) -> MintedTokenAuth:
    """The bearer JWT HealthEx mints for an API key and secret."""
    return MintedTokenAuth(
        api_url=api_url,
        request=TokenRequest(
            path=TOKEN_PATH,
            body={"apiKey": api_key, "apiSecret": api_secret},
            read=_read,
            refused="HealthEx refused the API key; check the api_key and api_secret settings",
            token_field="token",  # noqa: S106 - a field name
            margin=lambda _lifetime: REFRESH_MARGIN_SECONDS,
        ),
        timeout=timeout,
        user_agent=user_agent,
        retry=retry,
    )
