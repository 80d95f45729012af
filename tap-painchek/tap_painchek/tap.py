"""tap-painchek: the Tap class, its settings and its streams."""

from __future__ import annotations

import sys
import typing as t
from functools import cached_property
from urllib.parse import urlparse

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import SingerMessageType

from tap_painchek.auth import BasicAuth, ClientCredentialsAuth
from tap_painchek.client import __version__
from tap_painchek.errors import PainChekError
from tap_painchek.inputs import CheckedInputs, InputError, check_state, settings_message
from tap_painchek.retry import RetryPolicy
from tap_painchek.streams import STREAM_TYPES

if t.TYPE_CHECKING:
    from requests.auth import AuthBase
    from singer_sdk import Stream
    from singer_sdk.singerlib.encoding.simple import Message

    from tap_painchek.client import PainChekStream

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec encoding without a flush per RECORD.

    Records are flushed with the next STATE (or other non-record) message, so a
    target never sees a state before the records it covers.
    """

    def write_message(self, message: Message) -> None:
        """Write a message; flush unless it is a record."""
        sys.stdout.buffer.write(self.format_message(message))
        if message.type != SingerMessageType.RECORD:
            sys.stdout.flush()


def settings_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """Checks the JSON schema cannot express: the URL scheme and one credential pair."""
    errors = []
    api_url = str(config.get("api_url") or "")
    parsed = urlparse(api_url)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        errors.append("api_url must be an absolute URL such as https://prod.ap.painchek.com")
    elif parsed.scheme != "https" and parsed.hostname not in LOCAL_HOSTS:
        errors.append("api_url must use https (plain http is allowed only for localhost)")
    elif parsed.path.rstrip("/").endswith("/api"):
        errors.append("api_url is the tenant's base URL without /api")
    oauth = [key for key in ("client_id", "client_secret") if config.get(key)]
    basic = [key for key in ("username", "password") if config.get(key)]
    if oauth and basic:
        errors.append("set either client_id + client_secret or username + password, not both")
    elif not oauth and not basic:
        errors.append("set client_id + client_secret (OAuth) or username + password (Basic)")
    elif len(oauth or basic) == 1:
        given = (oauth or basic)[0]
        pairs = {"client_id": "client_secret", "client_secret": "client_id"}
        pairs |= {"username": "password", "password": "username"}
        errors.append(f"{given} is set but {pairs[given]} is missing")
    return errors


def _stamp_problem(_stream: Stream, value: t.Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        return None
    return f"the update_stamp bookmark is a {type(value).__name__}, not an integer"


# CheckedInputs.invoke takes the --state and --catalog paths, where Tap's takes files.
class TapPainChek(CheckedInputs, Tap):  # type: ignore[misc]
    """Singer tap for the PainChek integration API."""

    name = "tap-painchek"
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_url",
            th.StringType,
            required=True,
            title="API URL",
            description=(
                "The tenant's base URL without /api, e.g. https://prod.ap.painchek.com "
                "(AP) or https://ua.ap.painchek.com (UAT). Must be https, except for "
                "localhost."
            ),
        ),
        th.Property(
            "client_id",
            th.StringType,
            title="Client ID",
            description="OAuth client id. Give it with client_secret, or use username.",
        ),
        th.Property(
            "client_secret",
            th.StringType,
            secret=True,
            title="Client secret",
            description="OAuth client secret, exchanged for a bearer token.",
        ),
        th.Property(
            "username",
            th.StringType,
            title="Username",
            description="HTTP Basic username (older integrations). Give it with password.",
        ),
        th.Property(
            "password",
            th.StringType,
            secret=True,
            title="Password",
            description="HTTP Basic password.",
        ),
        th.Property(
            "start_update_stamp",
            th.IntegerType(minimum=0),
            default=0,
            title="Start update stamp",
            description=(
                "First run only: read rows whose update_stamp is greater than this. "
                "0 reads everything."
            ),
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=10, maximum=1000),
            default=100,
            title="Page size",
            description=(
                "Rows per request (10 to 1000, the server's maximum). Larger pages "
                "mean fewer metered requests."
            ),
        ),
        th.Property(
            "request_timeout",
            th.NumberType(exclusive_minimum=0),
            default=60,
            title="Request timeout",
            description="Seconds to wait for one response before retrying it.",
        ),
        th.Property(
            "max_retry_seconds",
            th.NumberType(minimum=0),
            default=600,
            title="Max retry seconds",
            description=(
                "Total seconds one request may spend waiting between retries (429, "
                "5xx, dropped connections, timeouts) before the run fails."
            ),
        ),
        th.Property(
            "user_agent",
            th.StringType,
            title="User agent",
            description=f"User-Agent header; default tap-painchek/{__version__}.",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, validate_config: bool = True, **kwargs: t.Any) -> None:
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as exc:
            message = settings_message(exc.errors, self.config, self.config_jsonschema)
            raise InputError(message) from None
        if validate_config and (errors := settings_errors(self.config)):
            raise InputError(settings_message(errors, self.config, self.config_jsonschema))

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Refuse a state of another tap, or one whose bookmarks are not update_stamps."""
        for name in check_state(state, self.streams, _stamp_problem):
            self.logger.warning("Ignoring the state of stream '%s', which this tap lacks", name)
        super().load_state(state)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """One retry policy for the run."""
        return RetryPolicy(
            max_retry_seconds=float(self.config.get("max_retry_seconds", 600)),
            logger=self.logger,
        )

    @cached_property
    def authenticator(self) -> AuthBase:
        """One authenticator (and so one token) shared by every stream."""
        # Built while the SDK discovers streams, before settings_errors() runs:
        # read settings with .get() so a bad config gets its one-line error.
        if self.config.get("username"):
            return BasicAuth(self.config["username"], self.config.get("password", ""))
        return ClientCredentialsAuth(
            api_url=str(self.config.get("api_url", "")),
            client_id=str(self.config.get("client_id", "")),
            client_secret=str(self.config.get("client_secret", "")),
            timeout=float(self.config.get("request_timeout", 60)),
            user_agent=str(self.config.get("user_agent") or f"tap-painchek/{__version__}"),
            retry=self.retry_policy,
        )

    def discover_streams(self) -> list[PainChekStream]:
        """The seven PainChek streams."""
        return [
            stream_type(self, auth=self.authenticator, retry=self.retry_policy)
            for stream_type in STREAM_TYPES
        ]


def cli() -> None:
    """The ``tap-painchek`` command: a failure it explains ends in that one line, exit 1."""
    try:
        TapPainChek.cli()
    except PainChekError as exc:
        TapPainChek.logger.error("%s", exc)
        sys.exit(1)


if __name__ == "__main__":
    cli()
