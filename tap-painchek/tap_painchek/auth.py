"""PainChek authentication: an OAuth client-credentials token, or HTTP Basic.

One authenticator is shared by every stream of a run, so the token is minted once
(``POST {api_url}/api/integration/auth/``, form-encoded), reused, minted again a
little before it expires, and once more when the API answers 401.
"""

from __future__ import annotations

import time
import typing as t

from requests.auth import HTTPBasicAuth
from tapkit.auth import MintedTokenAuth, TokenRequest

if t.TYPE_CHECKING:
    from tapkit.retry import RetryPolicy

TOKEN_PATH = "/api/integration/auth/"  # noqa: S105 - a path, not a secret
DEFAULT_LIFETIME_SECONDS = 3600.0


class BasicAuth(HTTPBasicAuth):
    """HTTP Basic, as in PainChek's older docs and sync guide."""

    def invalidate(self) -> None:
        """Nothing to refresh: a 401 with Basic means the credentials are wrong."""


def _read(body: t.Any) -> tuple[t.Any, float]:
    return body["access_token"], float(body.get("expires_in") or DEFAULT_LIFETIME_SECONDS)


def client_credentials(
    *,
    api_url: str,
    client_id: str,
    client_secret: str,
    timeout: float,
    user_agent: str,
    retry: RetryPolicy,
    clock: t.Callable[[], float] = time.monotonic,
) -> MintedTokenAuth:
    """The bearer token of the OAuth client-credentials grant."""
    return MintedTokenAuth(
        api_url=api_url,
        request=TokenRequest(
            path=TOKEN_PATH,
            body={"client_id": client_id, "client_secret": client_secret},
            form=True,
            read=_read,
            refused="PainChek refused the client credentials; check the client_id and "
            "client_secret settings",
            token_field="access_token",  # noqa: S106 - a field name
        ),
        timeout=timeout,
        user_agent=user_agent,
        retry=retry,
        clock=clock,
    )
