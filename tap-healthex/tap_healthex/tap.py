"""tap-healthex: the Tap class, its settings and its streams."""

from __future__ import annotations

import atexit
import sys
import typing as t
from functools import cached_property
from urllib.parse import urlparse

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import SingerMessageType

from tap_healthex.api_streams import (
    ConsentRecordsStream,
    DataUpdateRequestsStream,
    IdentifiedPatientsStream,
)
from tap_healthex.auth import TokenAuth
from tap_healthex.client import HealthExStream, __version__
from tap_healthex.delivery import template_pattern
from tap_healthex.errors import HealthExError
from tap_healthex.file_streams import RESOURCE_STREAMS, DeliveryFilesStream, DeliveryStream
from tap_healthex.files import DEFAULT_TEMPLATE, FILES_STREAM, DeliveryReader, parse_time
from tap_healthex.inputs import CheckedInputs, InputError, check_state, settings_message
from tap_healthex.retry import RetryPolicy

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.singerlib.encoding.simple import Message

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
REQUIRED_FOR = {
    "s3": ("s3_bucket",),
    "sftp": ("sftp_host", "sftp_username"),
}


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec encoding; records are flushed with the next STATE, not one by one."""

    def write_message(self, message: Message) -> None:
        """Write a message; flush unless it is a record."""
        sys.stdout.buffer.write(self.format_message(message))
        if message.type != SingerMessageType.RECORD:
            sys.stdout.flush()


def settings_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """Checks the JSON schema cannot express."""
    errors = []
    for key in ("api_url", "s3_endpoint_url"):
        if not config.get(key):
            continue
        parsed = urlparse(str(config[key]))
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            errors.append(f"{key} must be an absolute URL")
        elif parsed.scheme != "https" and parsed.hostname not in LOCAL_HOSTS:
            errors.append(f"{key} must use https (plain http is allowed only for localhost)")
    kind = config.get("delivery_type", "none")
    errors += [
        f"{key} is required when delivery_type is {kind}"
        for key in REQUIRED_FOR.get(kind, ())
        if not config.get(key)
    ]
    if kind == "sftp" and not (config.get("sftp_password") or config.get("sftp_private_key")):
        errors.append("sftp_password or sftp_private_key is required when delivery_type is sftp")
    try:
        template_pattern(config.get("delivery_path_template") or DEFAULT_TEMPLATE)
    except HealthExError as exc:
        errors.append(str(exc))
    if config.get("start_date") and parse_time(config["start_date"]) is None:
        errors.append("start_date must be an ISO-8601 date-time")
    return errors


def _setting(name: str, kind: t.Any, title: str, text: str, **kw: t.Any) -> th.Property:
    return th.Property(name, kind, title=title, description=text, **kw)


def _time_problem(stream: Stream, value: t.Any) -> str | None:
    if parse_time(value) is not None:
        return None
    name = type(value).__name__
    kind = "" if isinstance(value, str) else f"{'an' if name[0] in 'aeiou' else 'a'} {name}, "
    return f"the '{stream.replication_key}' bookmark is {kind}not an ISO date-time"


def _migrate_consent_bookmarks(state: t.Mapping[str, t.Any]) -> None:
    """Take a consent bookmark of tap-healthex 0.1 (by ``updatedAt``) as ``synced_at``.

    HealthEx consent records have no ``updatedAt``; 0.1 bookmarked the newest one it
    read. That value is a HealthEx time no later than the read, so it is a safe
    If-Modified-Since for the first run of this version, which then bookmarks by
    ``synced_at``.
    """
    bookmark = state.get("bookmarks", {}) if isinstance(state, t.Mapping) else {}
    bookmark = bookmark.get("consent_records") if isinstance(bookmark, t.Mapping) else None
    if not isinstance(bookmark, dict):
        return
    partitions = bookmark.get("partitions")
    for entry in (bookmark, *(partitions if isinstance(partitions, list) else ())):
        if isinstance(entry, dict) and entry.get("replication_key") == "updatedAt":
            entry["replication_key"] = "synced_at"


def _check_delivery_state(state: t.Mapping[str, t.Any]) -> None:
    """The delivery_files bookmark: a watermark date-time and a map of recent files."""
    bookmark = state.get("bookmarks", {}).get(FILES_STREAM)
    if bookmark is None:
        return
    if isinstance(bookmark, dict):
        saved, recent = bookmark.get("watermark"), bookmark.get("recent") or {}
        if (saved is None or parse_time(saved) is not None) and (
            isinstance(recent, dict) and all(isinstance(v, str) for v in recent.values())
        ):
            return
    msg = (
        f"state for stream '{FILES_STREAM}' is not a watermark date-time and a map "
        "of recent files (is this a state file of another tap?)"
    )
    raise InputError(msg)


# CheckedInputs.invoke takes the --state and --catalog paths, where Tap's takes files.
class TapHealthEx(CheckedInputs, Tap):  # type: ignore[misc]
    """Singer tap for HealthEx."""

    name = "tap-healthex"
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        _setting(
            "api_url",
            th.StringType,
            "API URL",
            "HealthEx API host.",
            default="https://api.healthex.io",
        ),
        _setting(
            "api_key", th.StringType, "API key", "HealthEx API key.", required=True, secret=True
        ),
        _setting(
            "api_secret",
            th.StringType,
            "API secret",
            "HealthEx API secret.",
            required=True,
            secret=True,
        ),
        _setting(
            "project_ids",
            th.ArrayType(th.StringType),
            "Project IDs",
            "The HealthEx projects to sync.",
            required=True,
        ),
        _setting(
            "request_updates",
            th.BooleanType,
            "Request updates",
            "WRITES to HealthEx: ask it to refresh each due patient's data "
            "($updateData). Off by default.",
            default=False,
        ),
        _setting(
            "update_interval_hours",
            th.NumberType(minimum=0),
            "Update interval hours",
            "Least time between two update requests for one patient (kept in state).",
            default=24,
        ),
        _setting(
            "skip_interactive",
            th.BooleanType,
            "Skip interactive",
            "Ask HealthEx not to involve the patient interactively.",
            default=False,
        ),
        _setting(
            "delivery_type",
            th.StringType(allowed_values=["s3", "sftp", "none"]),
            "Delivery type",
            "Where HealthEx delivers FHIR bundles: s3, sftp or none.",
            default="none",
        ),
        _setting("s3_bucket", th.StringType, "S3 bucket", "Bucket HealthEx delivers to."),
        _setting("s3_prefix", th.StringType, "S3 prefix", "Key prefix of the deliveries."),
        _setting("aws_region", th.StringType, "AWS region", "Region of the bucket."),
        _setting(
            "s3_endpoint_url",
            th.StringType,
            "S3 endpoint URL",
            "For S3-compatible stores (MinIO, ...).",
        ),
        _setting(
            "aws_access_key_id",
            th.StringType,
            "AWS access key ID",
            "Optional; otherwise the standard AWS credential chain.",
            secret=True,
        ),
        _setting(
            "aws_secret_access_key",
            th.StringType,
            "AWS secret access key",
            "Optional; otherwise the standard AWS credential chain.",
            secret=True,
        ),
        _setting(
            "aws_session_token",
            th.StringType,
            "AWS session token",
            "Optional session token.",
            secret=True,
        ),
        _setting("sftp_host", th.StringType, "SFTP host", "SFTP server HealthEx delivers to."),
        _setting(
            "sftp_port",
            th.IntegerType(minimum=1, maximum=65535),
            "SFTP port",
            "SFTP port.",
            default=22,
        ),
        _setting("sftp_username", th.StringType, "SFTP username", "SFTP user."),
        _setting("sftp_password", th.StringType, "SFTP password", "SFTP password.", secret=True),
        _setting(
            "sftp_private_key",
            th.StringType,
            "SFTP private key",
            "SFTP private key (OpenSSH/PEM text).",
            secret=True,
        ),
        _setting("sftp_root", th.StringType, "SFTP root", "Directory of the deliveries."),
        _setting(
            "sftp_known_hosts",
            th.StringType,
            "SFTP known hosts",
            "known_hosts lines (or a file path) the server's host key must match; "
            "default: the system's known_hosts.",
        ),
        _setting(
            "sftp_verify_host_key",
            th.BooleanType,
            "SFTP verify host key",
            "Check the server's host key (on by default; turn off only for tests).",
            default=True,
        ),
        _setting(
            "delivery_path_template",
            th.StringType,
            "Delivery path template",
            "Path of a delivered file under the root; {orgId}, {projectId}, "
            "{healthexPatientId}, {externalId}, {retrievalId}. Other files are ignored.",
            default=DEFAULT_TEMPLATE,
        ),
        _setting(
            "skip_bad_files",
            th.BooleanType,
            "Skip bad files",
            "Record a delivered file that is not a readable FHIR Bundle in delivery_files "
            "(with parse_error) and go on. Off by default: such a file stops the run with "
            "an error naming it, and the delivery watermark does not move.",
            default=False,
        ),
        _setting(
            "delivery_lookback_minutes",
            th.NumberType(minimum=0),
            "Delivery lookback minutes",
            "Re-read files modified this long before the last watermark.",
            default=60,
        ),
        _setting(
            "consent_lookback_minutes",
            th.NumberType(minimum=0),
            "Consent lookback minutes",
            "Consents carry no modification time: each run asks for those modified since "
            "HealthEx's own time at the start of the previous read, minus this many minutes.",
            default=5,
        ),
        _setting(
            "start_date",
            th.DateTimeType,
            "Start date",
            "First run: consents modified and files delivered after this time.",
        ),
        _setting(
            "page_size",
            th.IntegerType(minimum=1, maximum=1000),
            "Page size",
            "Records per request for the patient and consent lists (1 to 1000, the API's "
            "maximum). Larger pages mean fewer metered requests.",
            default=1000,
        ),
        _setting(
            "request_timeout",
            th.NumberType(exclusive_minimum=0),
            "Request timeout",
            "Seconds to wait for one response before retrying it.",
            default=60,
        ),
        _setting(
            "max_retry_seconds",
            th.NumberType(minimum=0),
            "Max retry seconds",
            "Total seconds one request may wait between retries before the run fails.",
            default=600,
        ),
        _setting(
            "user_agent",
            th.StringType,
            "User agent",
            f"User-Agent header; default tap-healthex/{__version__}.",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, validate_config: bool = True, **kwargs: t.Any) -> None:
        self._sources_checked = False
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as exc:
            message = settings_message(exc.errors, self.config, self.config_jsonschema)
            raise InputError(message) from None
        if validate_config and (errors := settings_errors(self.config)):
            raise InputError(settings_message(errors, self.config, self.config_jsonschema))

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Refuse a state of another tap, or bookmarks that are not this tap's shape."""
        _migrate_consent_bookmarks(state)
        for name in check_state(state, self.streams, _time_problem):
            self.logger.warning("Ignoring the state of stream '%s', which this tap lacks", name)
        _check_delivery_state(state)
        super().load_state(state)
        # The SDK drops empty bookmarks; keep them, so the first STATE echoes the input.
        for name, bookmark in state.get("bookmarks", {}).items():
            if name in self.streams and bookmark == {}:
                self.state.setdefault("bookmarks", {}).setdefault(name, {})

    def check_sources(self) -> None:
        """Before the run's first record: log in to each source it reads, read the files.

        Streams sync in name order, delivered resources first: without this, a wrong API
        secret would fail after their records were written, and a wrong S3 key after the
        API's. A delivered file that is not FHIR also fails here, before any record.
        """
        if self._sources_checked:
            return
        self._sources_checked = True
        selected = [s for s in self.streams.values() if s.selected]
        if any(isinstance(s, HealthExStream) for s in selected):
            self.authenticator.log_in()
        if any(isinstance(s, DeliveryStream) for s in selected):
            self.delivery_reader.read()

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """One retry policy for the run."""
        return RetryPolicy(
            max_retry_seconds=float(self.config.get("max_retry_seconds", 600)), logger=self.logger
        )

    @cached_property
    def authenticator(self) -> TokenAuth:
        """One token for every API stream."""
        return TokenAuth(
            api_url=str(self.config.get("api_url", "https://api.healthex.io")),
            api_key=str(self.config.get("api_key", "")),
            api_secret=str(self.config.get("api_secret", "")),
            timeout=float(self.config.get("request_timeout", 60)),
            user_agent=str(self.config.get("user_agent") or f"tap-healthex/{__version__}"),
            retry=self.retry_policy,
        )

    @cached_property
    def delivery_reader(self) -> DeliveryReader:
        """The run's reader of delivered files (created on first use, during the sync)."""
        # load_state() checked its shape.
        bookmark = self.state.get("bookmarks", {}).get(FILES_STREAM, {})
        reader = DeliveryReader(
            config=self.config,
            watermark=parse_time(bookmark.get("watermark")),
            recent=bookmark.get("recent") or {},
            selected=lambda: {
                s.name
                for s in self.streams.values()
                if isinstance(s, DeliveryStream) and s.selected
            },
            logger=self.logger,
            retry=self.retry_policy,
        )
        atexit.register(reader.close)
        return reader

    def discover_streams(self) -> list[Stream]:
        """API streams, delivered files and the FHIR resource streams."""
        auth, retry, ready = self.authenticator, self.retry_policy, self.check_sources

        def reader() -> DeliveryReader:
            return self.delivery_reader

        return [
            IdentifiedPatientsStream(self, auth=auth, retry=retry, ready=ready),
            ConsentRecordsStream(self, auth=auth, retry=retry, ready=ready),
            DataUpdateRequestsStream(self, auth=auth, retry=retry, ready=ready),
            DeliveryFilesStream(self, reader, ready),
            *(stream(self, reader, ready) for stream in RESOURCE_STREAMS),
        ]


def cli() -> None:
    """The ``tap-healthex`` command: a failure it explains ends in that one line, exit 1."""
    try:
        TapHealthEx.cli()
    except HealthExError as exc:
        TapHealthEx.logger.error("%s", exc)
        sys.exit(1)


if __name__ == "__main__":
    cli()
