"""The base of a vendor's REST stream: shared token, bounded retries, safe errors.

A tap's streams share one authenticator (one token for the run) and one retry policy.
Every request goes through the policy (Retry-After, bounded backoff, one re-login on
401); every answer is read with a size cap and classified here, before the stream
looks at it; error messages name the stream, method and path template, never the URL.
"""

from __future__ import annotations

import typing as t
from importlib.metadata import PackageNotFoundError, version

import msgspec
from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers._util import utc_now

from tapkit.errors import TapError, Unauthorized, describe_response, refuse_large_bodies
from tapkit.fidelity import KeepsVendorFields
from tapkit.summary import CountedSession

if t.TYPE_CHECKING:
    import requests
    from requests.auth import AuthBase
    from singer_sdk import Tap

    from tapkit.retry import RetryPolicy

_T = t.TypeVar("_T")
_decode = msgspec.json.Decoder().decode


def package_version(package: str) -> str:
    """The installed version of ``package`` (0.0.0 from a source tree)."""
    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


class VendorRESTStream(KeepsVendorFields, RESTStream[_T]):
    """A vendor endpoint; ``package`` names the tap (for its User-Agent)."""

    package: t.ClassVar[str]
    method = "GET"

    def __init__(self, tap: Tap, *, auth: AuthBase, retry: RetryPolicy) -> None:
        super().__init__(tap)
        self._auth = auth
        self._retry = retry
        self._session = CountedSession(retry.summary)
        self._session.hooks["response"].append(refuse_large_bodies)

    @property
    def requests_session(self) -> requests.Session:
        """The stream's session, which counts its requests in the run summary."""
        return self._session

    @property
    def url_base(self) -> str:
        """The API's base URL (the ``api_url`` setting)."""
        return str(self.config["api_url"]).rstrip("/")

    @property
    def authenticator(self) -> AuthBase:
        """The tap-wide authenticator (one token for all streams)."""
        return self._auth

    @property
    def timeout(self) -> float:  # type: ignore[override]
        """Seconds to wait for a response (a fraction is kept: 0.5 is not 0)."""
        return float(self.config["request_timeout"])

    @property
    def user_agent(self) -> str:
        """The configured User-Agent, else ``<tap>/<version>``."""
        return str(
            self.config.get("user_agent") or f"{self.package}/{package_version(self.package)}"
        )

    @property
    def http_headers(self) -> dict:
        """Ask for JSON."""
        return {"Accept": "application/json"}

    def what(self) -> str:
        """How errors name this stream's requests: stream, method, path template."""
        return f"stream '{self.name}': {self.method} {self.path}"

    @property
    def error_type(self) -> type[TapError]:
        """The tap's TapError."""
        return self._retry.error_type

    def request_decorator(self, func: t.Callable) -> t.Callable:
        """Retry with Retry-After, bounded backoff and one re-login on 401."""
        invalidate = getattr(self._auth, "invalidate", None)

        def send(*args: t.Any, **kwargs: t.Any) -> requests.Response:
            response = self._retry.run(
                lambda: func(*args, **kwargs), what=self.what(), on_unauthorized=invalidate
            )
            # The records of this page were extracted now (their `time_extracted`).
            self.page_extracted_at = utc_now().isoformat(sep="T")
            return response

        return send

    def raise_for_status(self, response: requests.Response) -> None:
        """401: log in again; 429 and 5xx: retry; another error: end the run."""
        message = describe_response(response, self.what())
        if response.status_code == 401:
            raise Unauthorized(message)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetriableAPIError(message, response)
        if not response.ok:
            raise self.error_type(message)

    def json_body(self, response: requests.Response) -> t.Any:
        """The answer's JSON; a body that is not JSON (a proxy's page) is retried."""
        try:
            return _decode(response.content)
        except msgspec.DecodeError:
            msg = f"{self.what()} answered {response.status_code} with a body that is not JSON"
            raise RetriableAPIError(msg, response) from None
