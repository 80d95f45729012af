"""tap-healthex: the Tap class, its settings and its streams."""

from __future__ import annotations

import atexit
import typing as t
from functools import cached_property

from singer_sdk import typing as th
from tapkit.cli import CheckedTap, InputError, http_settings, main, setting, time_errors, url_errors
from tapkit.rest import package_version
from tapkit.retry import RetryPolicy
from tapkit.times import parse_time

from tap_healthex.api_streams import (
    ConsentRecordsStream,
    DataUpdateRequestsStream,
    IdentifiedPatientsStream,
)
from tap_healthex.auth import api_key_token
from tap_healthex.client import HealthExStream
from tap_healthex.delivery_reader import DEFAULT_TEMPLATE, FILES_STREAM, DeliveryReader
from tap_healthex.errors import HealthExError
from tap_healthex.file_streams import RESOURCE_STREAMS, DeliveryFilesStream, DeliveryStream
from tap_healthex.stores import template_pattern

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from tapkit.auth import MintedTokenAuth

__version__ = package_version("tap-healthex")
REQUIRED_FOR = {
    "s3": ("s3_bucket",),
    "sftp": ("sftp_host", "sftp_username"),
}


def settings_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """Checks the JSON schema cannot express."""
    errors = url_errors(config, required=("api_url",), optional=("s3_endpoint_url",))
    kind = config["delivery_type"]
    errors += [
        f"{key} is required when delivery_type is {kind}"
        for key in REQUIRED_FOR.get(kind, ())
        if not config.get(key)
    ]
    if kind == "sftp" and not (config.get("sftp_password") or config.get("sftp_private_key")):
        errors.append("sftp_password or sftp_private_key is required when delivery_type is sftp")
    template = config["delivery_path_template"]
    if not template:
        errors.append("delivery_path_template must not be empty")
    try:
        template_pattern(template)
    except HealthExError as exc:
        errors.append(str(exc))
    return errors + time_errors(config, ("start_date",))


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


class TapHealthEx(CheckedTap):
    """Singer tap for HealthEx."""

    name = "tap-healthex"

    config_jsonschema = th.PropertiesList(
        setting(
            "api_url",
            th.StringType,
            "API URL",
            "HealthEx API host.",
            default="https://api.healthex.io",
        ),
        setting(
            "api_key", th.StringType, "API key", "HealthEx API key.", required=True, secret=True
        ),
        setting(
            "api_secret",
            th.StringType,
            "API secret",
            "HealthEx API secret.",
            required=True,
            secret=True,
        ),
        setting(
            "project_ids",
            th.ArrayType(th.StringType),
            "Project IDs",
            "The HealthEx projects to sync.",
            required=True,
        ),
        setting(
            "request_updates",
            th.BooleanType,
            "Request updates",
            "WRITES to HealthEx: ask it to refresh each due patient's data "
            "($updateData). Off by default.",
            default=False,
        ),
        setting(
            "update_interval_hours",
            th.NumberType(minimum=0),
            "Update interval hours",
            "Least time between two update requests for one patient (kept in state).",
            default=24,
        ),
        setting(
            "skip_interactive",
            th.BooleanType,
            "Skip interactive",
            "Ask HealthEx not to involve the patient interactively.",
            default=False,
        ),
        setting(
            "delivery_type",
            th.StringType(allowed_values=["s3", "sftp", "none"]),
            "Delivery type",
            "Where HealthEx delivers FHIR bundles: s3, sftp or none.",
            default="none",
        ),
        setting("s3_bucket", th.StringType, "S3 bucket", "Bucket HealthEx delivers to."),
        setting("s3_prefix", th.StringType, "S3 prefix", "Key prefix of the deliveries."),
        setting("aws_region", th.StringType, "AWS region", "Region of the bucket."),
        setting(
            "s3_endpoint_url",
            th.StringType,
            "S3 endpoint URL",
            "For S3-compatible stores (MinIO, ...).",
        ),
        setting(
            "aws_access_key_id",
            th.StringType,
            "AWS access key ID",
            "Optional; otherwise the standard AWS credential chain.",
            secret=True,
        ),
        setting(
            "aws_secret_access_key",
            th.StringType,
            "AWS secret access key",
            "Optional; otherwise the standard AWS credential chain.",
            secret=True,
        ),
        setting(
            "aws_session_token",
            th.StringType,
            "AWS session token",
            "Optional session token.",
            secret=True,
        ),
        setting("sftp_host", th.StringType, "SFTP host", "SFTP server HealthEx delivers to."),
        setting(
            "sftp_port",
            th.IntegerType(minimum=1, maximum=65535),
            "SFTP port",
            "SFTP port.",
            default=22,
        ),
        setting("sftp_username", th.StringType, "SFTP username", "SFTP user."),
        setting("sftp_password", th.StringType, "SFTP password", "SFTP password.", secret=True),
        setting(
            "sftp_private_key",
            th.StringType,
            "SFTP private key",
            "SFTP private key (OpenSSH/PEM text).",
            secret=True,
        ),
        setting("sftp_root", th.StringType, "SFTP root", "Directory of the deliveries."),
        setting(
            "sftp_known_hosts",
            th.StringType,
            "SFTP known hosts",
            "known_hosts lines (or a file path) the server's host key must match; "
            "default: the system's known_hosts.",
        ),
        setting(
            "sftp_verify_host_key",
            th.BooleanType,
            "SFTP verify host key",
            "Check the server's host key (on by default; turn off only for tests).",
            default=True,
        ),
        setting(
            "delivery_path_template",
            th.StringType,
            "Delivery path template",
            "Path of a delivered file under the root; {orgId}, {projectId}, "
            "{healthexPatientId}, {externalId}, {retrievalId}. Other files are ignored.",
            default=DEFAULT_TEMPLATE,
        ),
        setting(
            "skip_bad_files",
            th.BooleanType,
            "Skip bad files",
            "Record a delivered file that is not a readable FHIR Bundle in delivery_files "
            "(with parse_error) and go on. Off by default: such a file stops the run with "
            "an error naming it, and the delivery watermark does not move.",
            default=False,
        ),
        setting(
            "delivery_lookback_minutes",
            th.NumberType(minimum=0),
            "Delivery lookback minutes",
            "Re-read files modified this long before the last watermark.",
            default=60,
        ),
        setting(
            "consent_lookback_minutes",
            th.NumberType(minimum=0),
            "Consent lookback minutes",
            "Consents carry no modification time: each run asks for those modified since "
            "HealthEx's own time at the start of the previous read, minus this many minutes.",
            default=5,
        ),
        setting(
            "start_date",
            th.DateTimeType,
            "Start date",
            "First run: consents modified and files delivered after this time.",
        ),
        setting(
            "page_size",
            th.IntegerType(minimum=1, maximum=1000),
            "Page size",
            "Records per request for the patient and consent lists (1 to 1000, the API's "
            "maximum). Larger pages mean fewer metered requests.",
            default=1000,
        ),
        *http_settings("tap-healthex", __version__),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self._sources_checked = False
        super().__init__(*args, **kwargs)

    def settings_errors(self) -> list[str]:
        """URLs, what each delivery type needs, the path template, start_date."""
        return settings_errors(self.config)

    def bookmark_problem(self, stream: Stream, value: t.Any) -> str | None:
        """A HealthEx bookmark is an ISO date-time."""
        return _time_problem(stream, value)

    def check_own_bookmarks(self, state: dict[str, t.Any]) -> None:
        """The delivery watermark: a date-time and a map of recent files."""
        _check_delivery_state(state)

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Take a 0.1 consent bookmark as it is; keep empty bookmarks."""
        _migrate_consent_bookmarks(state)
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

    def summary_counts(self) -> dict[str, t.Any]:
        """Delivered files read (S3 or SFTP), beside the API's requests."""
        reader = self.__dict__.get("delivery_reader")  # created when a file stream runs
        return {"files_read": reader.files_read if reader is not None else 0}

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """One retry policy for the run; its summary counts the run's requests and retries."""
        return RetryPolicy(
            max_retry_seconds=float(self.config["max_retry_seconds"]),
            logger=self.logger,
            summary=self.run_summary,
            error_type=HealthExError,
        )

    @cached_property
    def authenticator(self) -> MintedTokenAuth:
        """One token for every API stream."""
        # Built while the SDK discovers streams, before settings are checked: read the
        # required credentials with .get() so a missing one gets its one-line error.
        return api_key_token(
            api_url=str(self.config["api_url"]),
            api_key=str(self.config.get("api_key") or ""),
            api_secret=str(self.config.get("api_secret") or ""),
            timeout=float(self.config["request_timeout"]),
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
    main(TapHealthEx)


if __name__ == "__main__":
    cli()
