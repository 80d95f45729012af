"""The errors every tap raises, and the one place that turns a response into a message.

Messages name the stream or call, the method and path template, the status and the
vendor's error code. They never carry a response body, a query string, a token or an
id that may be patient data, so they are safe to log.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import msgspec
import requests
from singer_sdk.exceptions import FatalAPIError

_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAX_ERROR_BODY = 64 * 1024
# A vendor's page holds at most a few thousand records, a few MB: a larger body is a
# fault, and reading it whole would hold it all in memory.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class TapError(FatalAPIError):
    """A failure that ends the run; its message is safe to log (see ``cli.main``)."""


class ResponseTooLargeError(TapError):
    """An answer over MAX_RESPONSE_BYTES, refused unread; the retry policy names the call."""


class Unauthorized(Exception):  # noqa: N818 - named after the HTTP status
    """The API answered 401: the token must be minted again (once)."""


def too_large(what: str) -> str:
    """One line: what was asked answered a body over the limit."""
    return f"{what} answered a body over {MAX_RESPONSE_BYTES >> 20} MiB; refusing to read it"


def vendor_error_code(response: requests.Response) -> str | None:
    """The ``code`` (or ``error``) of a JSON error body, if it is a plain token.

    Vendors put a machine code there (``not_authenticated``, ``STUDY_NOT_ACTIVE``);
    anything else (text, an id, a long value) is not shown.
    """
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
    """One line: what was asked (stream, method, path template), the status, the code."""
    text = f"{what} answered {response.status_code} {response.reason or ''}".rstrip()
    if code := vendor_error_code(response):
        text += f" (vendor code '{code}')"
    return text


def path_of(url: str) -> str:
    """The path of a URL, without its query string (which may carry ids or dates)."""
    return urlparse(url).path


def refuse_large_bodies(response: requests.Response, *_args: object, **_kwargs: object) -> None:
    """A requests response hook: read the body, but never more than MAX_RESPONSE_BYTES.

    requests runs response hooks before it reads the body, so an oversized answer is
    refused after its headers (or after the limit, when it gives no length).
    """
    declared = response.headers.get("Content-Length", "")
    body = bytearray()
    if not (declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES):
        for chunk in response.iter_content(1 << 16):
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                break
        else:
            response._content = bytes(body)  # what requests itself sets after reading
            return
    response.close()
    raise ResponseTooLargeError(too_large("an answer"))
