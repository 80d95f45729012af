"""tap-humanapi: the Tap class, its settings, and the run that commits per-user markers."""

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

from tap_humanapi.auth import Minter
from tap_humanapi.client import Transport, __version__
from tap_humanapi.errors import HumanAPIError
from tap_humanapi.inputs import CheckedInputs, InputError, check_state, settings_message
from tap_humanapi.retry import RetryPolicy
from tap_humanapi.streams import STREAM_TYPES, PerUserStream, UserDataStream
from tap_humanapi.users import MARKERS_STREAM, Coordinator, EndpointSpec, parse_time

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.singerlib.encoding.simple import Message

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
URL_SETTINGS = ("auth_url", "api_url", "admin_url")


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
    for key in URL_SETTINGS:
        parsed = urlparse(str(config.get(key) or ""))
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            errors.append(f"{key} must be an absolute URL")
        elif parsed.scheme != "https" and parsed.hostname not in LOCAL_HOSTS:
            errors.append(f"{key} must use https (plain http is allowed only for localhost)")
    if int(config.get("shard_index", 0)) >= int(config.get("shard_count", 1)):
        errors.append("shard_index must be less than shard_count")
    if config.get("start_date") and parse_time(config["start_date"]) is None:
        errors.append("start_date must be an ISO-8601 date-time")
    return errors


def _bookmark_problem(stream: Stream, value: t.Any) -> str | None:
    """What is wrong with an SDK bookmark value: the data streams' updatedAt, a string.

    Only its type is checked: the tap reads no SDK bookmark (the per-user markers
    decide what is read), so an odd time of Human API's must not refuse the next run.
    """
    if stream.replication_key is None:
        return "it holds a replication_key_value, but the stream has no replication key"
    if isinstance(value, str):
        return None
    return f"the {stream.replication_key} bookmark is a {type(value).__name__}, not a date-time"


def _markers_problem(bookmark: t.Mapping[str, t.Any]) -> str | None:
    """What is wrong with the per-user markers: humanId to synchedAt, and stream names."""
    users = bookmark.get("users")
    if users is not None:
        if not isinstance(users, dict) or not all(isinstance(k, str) for k in users):
            return "'users' is not a map of humanId to synchedAt"
        if not all(parse_time(v) for v in users.values()):
            return "'users' holds a synchedAt that is not an ISO-8601 date-time"
    streams = bookmark.get("streams")
    if streams is not None and (
        not isinstance(streams, list) or not all(isinstance(n, str) for n in streams)
    ):
        return "'streams' is not a list of stream names"
    return None


def _setting(name: str, kind: t.Any, title: str, text: str, **kw: t.Any) -> th.Property:
    return th.Property(name, kind, title=title, description=text, **kw)


# CheckedInputs.invoke takes the --state and --catalog paths, where Tap's takes files.
class TapHumanAPI(CheckedInputs, Tap):  # type: ignore[misc]
    """Singer tap for Human API."""

    name = "tap-humanapi"
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        _setting(
            "client_id", th.StringType, "Client ID", "The app's Human API client id.", required=True
        ),
        _setting(
            "client_secret",
            th.StringType,
            "Client secret",
            "The app's client secret; mints user access tokens and the client token.",
            required=True,
            secret=True,
        ),
        _setting(
            "auth_url", th.StringType, "Auth URL", "Token host.", default="https://auth.humanapi.co"
        ),
        _setting(
            "api_url",
            th.StringType,
            "API URL",
            "Per-user data API, ending in /v1/human.",
            default="https://api.humanapi.co/v1/human",
        ),
        _setting(
            "admin_url",
            th.StringType,
            "Admin URL",
            "Admin API host (the user list).",
            default="https://admin.humanapi.co",
        ),
        _setting(
            "client_user_ids",
            th.ArrayType(th.StringType),
            "Client user IDs",
            "Sync only these users (the app's ids). Default: every user the admin API lists.",
        ),
        _setting(
            "start_date",
            th.DateTimeType,
            "Start date",
            "First sync of a user: read records updated since then (default: all).",
        ),
        _setting(
            "lookback_minutes",
            th.NumberType(minimum=0),
            "Lookback minutes",
            "Re-read this window before a user's last sync time; the warehouse dedupes.",
            default=10,
        ),
        _setting(
            "max_workers",
            th.IntegerType(minimum=1, maximum=64),
            "Max workers",
            "Users processed concurrently.",
            default=8,
        ),
        _setting(
            "shard_count",
            th.IntegerType(minimum=1),
            "Shard count",
            "Split the users across this many runs (each with its own state).",
            default=1,
        ),
        _setting(
            "shard_index",
            th.IntegerType(minimum=0),
            "Shard index",
            "Which shard this run syncs, 0 to shard_count - 1 (a stable hash of the "
            "client user id).",
            default=0,
        ),
        _setting(
            "page_size",
            th.IntegerType(minimum=1, maximum=500),
            "Page size",
            "Records per request (Human API's maximum is 500).",
            default=500,
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
            f"User-Agent header; default tap-humanapi/{__version__}.",
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
        """Refuse a state of another tap, or per-user markers that are not synchedAt times.

        Checked here, before any request: a bad state ends the run before it reads.
        """
        for name in check_state(state, self.streams, _bookmark_problem):
            self.logger.warning("Ignoring the state of stream '%s', which this tap lacks", name)
        markers = state.get("bookmarks", {}).get(MARKERS_STREAM)
        if isinstance(markers, dict) and (problem := _markers_problem(markers)):
            msg = (
                f"state for stream '{MARKERS_STREAM}': {problem} "
                "(is this a state file of another tap?)"
            )
            raise InputError(msg)
        super().load_state(state)

    def discover_streams(self) -> list[Stream]:
        """The users, sources, every data endpoint and user_sync_status."""
        return [stream_type(self, lambda: self.coordinator) for stream_type in STREAM_TYPES]

    def _selected(self, kind: type[Stream]) -> list[Stream]:
        return [s for s in self.streams.values() if isinstance(s, kind) and s.selected]

    def _endpoints(self) -> list[EndpointSpec]:
        return [
            EndpointSpec(s.name, s.path, s.single)
            for s in self._selected(UserDataStream)
            if isinstance(s, UserDataStream)
        ]

    def _saved_markers(self) -> dict[str, str]:
        # load_state() checked the shape: humanId to synchedAt, and a list of names.
        bookmark = self.state.get("bookmarks", {}).get(MARKERS_STREAM, {})
        saved: dict[str, str] = bookmark.get("users") or {}
        if added := {e.name for e in self._endpoints()} - set(bookmark.get("streams") or []):
            self.logger.info(
                "%d newly selected stream(s): reading every user's history again", len(added)
            )
            return {}
        return saved

    @cached_property
    def coordinator(self) -> Coordinator:
        """The per-user work of this run (created on first use, during the sync)."""
        retry = RetryPolicy(
            max_retry_seconds=float(self.config.get("max_retry_seconds", 600)),
            logger=self.logger,
        )
        transport = Transport(
            timeout=float(self.config.get("request_timeout", 60)),
            user_agent=str(self.config.get("user_agent") or f"tap-humanapi/{__version__}"),
            retry=retry,
        )
        minter = Minter(
            transport,
            self.config["auth_url"],
            self.config["client_id"],
            self.config["client_secret"],
        )
        coordinator = Coordinator(
            config=self.config,
            transport=transport,
            minter=minter,
            markers=self._saved_markers(),
            endpoints=self._endpoints,
            per_user_streams=lambda: {s.name for s in self._selected(PerUserStream)},
            logger=self.logger,
        )
        # The pool's threads and the spool go when the process ends (normally or not).
        atexit.register(coordinator.close)
        return coordinator


def cli() -> None:
    """The ``tap-humanapi`` command: a failure it explains ends in that one line, exit 1."""
    try:
        TapHumanAPI.cli()
    except HumanAPIError as exc:
        TapHumanAPI.logger.error("%s", exc)
        sys.exit(1)


if __name__ == "__main__":
    cli()
