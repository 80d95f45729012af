"""Error types and the one place that turns a response into a safe message.

Messages name the stream or call, the path, the status and HealthEx's error code.
They never carry a response body, a query string, a token or a patient field.
"""

from __future__ import annotations

import re

import msgspec
import requests
from singer_sdk.exceptions import FatalAPIError

_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_ERROR_BODY = 64 * 1024


class HealthExError(FatalAPIError):
    """A failure that ends the run; its message is safe to log."""


class Unauthorized(Exception):  # noqa: N818 - named after the HTTP status
    """The API answered 401: the token must be minted again (once)."""


def vendor_error_code(response: requests.Response) -> str | None:
    """The ``code`` (or ``error``) of a HealthEx error body, if it is a plain token."""
    content = response.content or b""
    if not content or len(content) > _MAX_ERROR_BODY:
        return None
    try:
        body = msgspec.json.decode(content)
    except msgspec.DecodeError:
        return None
    if not isinstance(body, dict):
        return None
    code = body.get("code") or body.get("error")
    return code if isinstance(code, str) and _SAFE_CODE.match(code) else None


def describe_response(response: requests.Response, what: str) -> str:
    """One line: what was asked, the status, and the vendor's error code."""
    text = f"{what} answered {response.status_code} {response.reason or ''}".rstrip()
    if code := vendor_error_code(response):
        text += f" (vendor code '{code}')"
    return text
