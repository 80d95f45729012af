"""tap-humanapi: the Tap class, its settings, and the run that commits per-user markers."""

from __future__ import annotations

import atexit
import typing as t
from functools import cached_property

from singer_sdk import typing as th
from tapkit.cli import CheckedTap, InputError, http_settings, main, setting, time_errors, url_errors
from tapkit.notifications import notification_settings
from tapkit.summary import PROGRESS_INTERVAL_SECONDS
from tapkit.times import parse_time

from tap_humanapi.auth import Minter
from tap_humanapi.coordinator import MARKERS_STREAM, OUTCOMES, Coordinator, EndpointSpec
from tap_humanapi.errors import HumanAPIError, UserRetryPolicy
from tap_humanapi.streams import STREAM_TYPES, PerUserStream, UserDataStream
from tap_humanapi.transport import Transport, __version__

if t.TYPE_CHECKING:
    from singer_sdk import Stream

URL_SETTINGS = ("auth_url", "api_url", "admin_url")


def settings_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """Checks the JSON schema cannot express."""
    errors = url_errors(config, required=URL_SETTINGS)
    if int(config["shard_index"]) >= int(config["shard_count"]):
        errors.append("shard_index must be less than shard_count")
    return errors + time_errors(config, ("start_date",))


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


class TapHumanAPI(CheckedTap):
    """Singer tap for Human API."""

    name = "tap-humanapi"
    # Most seconds between two progress lines of the per-user pass (tests shorten it).
    progress_seconds: float = PROGRESS_INTERVAL_SECONDS

    config_jsonschema = th.PropertiesList(
        setting(
            "client_id", th.StringType, "Client ID", "The app's Human API client id.", required=True
        ),
        setting(
            "client_secret",
            th.StringType,
            "Client secret",
            "The app's client secret; mints user access tokens and the client token.",
            required=True,
            secret=True,
        ),
        setting(
            "auth_url", th.StringType, "Auth URL", "Token host.", default="https://auth.humanapi.co"
        ),
        setting(
            "api_url",
            th.StringType,
            "API URL",
            "Per-user data API, ending in /v1/human.",
            default="https://api.humanapi.co/v1/human",
        ),
        setting(
            "admin_url",
            th.StringType,
            "Admin URL",
            "Admin API host (the user list).",
            default="https://admin.humanapi.co",
        ),
        setting(
            "client_user_ids",
            th.ArrayType(th.StringType),
            "Client user IDs",
            "Sync only these users (the app's ids). Default: every user the admin API lists.",
        ),
        setting(
            "start_date",
            th.DateTimeType,
            "Start date",
            "First sync of a user: read records updated since then (default: all).",
        ),
        setting(
            "lookback_minutes",
            th.NumberType(minimum=0),
            "Lookback minutes",
            "Re-read this window before a user's last sync time; the warehouse dedupes.",
            default=10,
        ),
        setting(
            "max_workers",
            th.IntegerType(minimum=1, maximum=64),
            "Max workers",
            "Users processed concurrently.",
            default=8,
        ),
        setting(
            "shard_count",
            th.IntegerType(minimum=1),
            "Shard count",
            "Split the users across this many runs (each with its own state).",
            default=1,
        ),
        setting(
            "shard_index",
            th.IntegerType(minimum=0),
            "Shard index",
            "Which shard this run syncs, 0 to shard_count - 1 (a stable hash of the "
            "client user id).",
            default=0,
        ),
        setting(
            "page_size",
            th.IntegerType(minimum=1, maximum=500),
            "Page size",
            "Records per request (Human API's maximum is 500).",
            default=500,
        ),
        *notification_settings(
            6,
            "Human API advises a few catch-up syncs a day; the default makes four.",
        ),
        *http_settings("tap-humanapi", __version__),
    ).to_dict()
    inbox_vendor = "humanapi"

    def settings_errors(self) -> list[str]:
        """URLs, the shard, start_date."""
        return settings_errors(self.config)

    def bookmark_problem(self, stream: Stream, value: t.Any) -> str | None:
        """An SDK bookmark of a data stream is a string (see ``_bookmark_problem``)."""
        return _bookmark_problem(stream, value)

    def check_own_bookmarks(self, state: dict[str, t.Any]) -> None:
        """The per-user markers: humanId to synchedAt times, and the streams they cover.

        Checked here, before any request: a bad state ends the run before it reads.
        """
        markers = state.get("bookmarks", {}).get(MARKERS_STREAM)
        if isinstance(markers, dict) and (problem := _markers_problem(markers)):
            msg = (
                f"state for stream '{MARKERS_STREAM}': {problem} "
                "(is this a state file of another tap?)"
            )
            raise InputError(msg)

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

    def _newly_selected(self) -> set[str]:
        bookmark = self.state.get("bookmarks", {}).get(MARKERS_STREAM, {})
        return {e.name for e in self._endpoints()} - set(bookmark.get("streams") or [])

    def _saved_markers(self) -> dict[str, str]:
        # load_state() checked the shape: humanId to synchedAt, and a list of names.
        bookmark = self.state.get("bookmarks", {}).get(MARKERS_STREAM, {})
        saved: dict[str, str] = bookmark.get("users") or {}
        if added := self._newly_selected():
            self.logger.info(
                "%d newly selected stream(s): reading every user's history again", len(added)
            )
            return {}
        return saved

    def _targets(self) -> list[dict] | None:
        """The notifications naming this run's users; None: every user (poll or sweep).

        Users the last run could not finish come first (by humanId only).
        """
        plan = self.change_plan
        if plan.sweep or self._newly_selected():
            return None
        return [*({"humanId": human_id} for human_id in plan.retry), *plan.events]

    def retry_later(self) -> list[str]:
        """Users whose read failed, or whose sources synced again while it ran."""
        coordinator = self.__dict__.get("coordinator")
        if coordinator is None or not coordinator.pass_ran:
            return []
        return [
            c.user.human_id
            for c in coordinator.checks()
            if c.outcome == "error" or (c.read_data and c.new_marker is None and not c.partial)
        ]

    def summary_counts(self) -> dict[str, t.Any]:
        """Users by outcome (none when no per-user stream ran)."""
        coordinator = self.__dict__.get("coordinator")  # created by the first stream to run
        if coordinator is None:
            return {"users": dict.fromkeys(OUTCOMES, 0)}
        return {"users": dict(coordinator.outcomes)}

    @cached_property
    def coordinator(self) -> Coordinator:
        """The per-user work of this run (created on first use, during the sync)."""
        retry = UserRetryPolicy(
            max_retry_seconds=float(self.config["max_retry_seconds"]),
            logger=self.logger,
            error_type=HumanAPIError,
            summary=self.run_summary,
        )
        transport = Transport(
            timeout=float(self.config["request_timeout"]),
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
            progress_seconds=self.progress_seconds,
            targets=self._targets(),
        )
        # The pool's threads and the spool go when the process ends (normally or not).
        atexit.register(coordinator.close)
        return coordinator


def cli() -> None:
    """The ``tap-humanapi`` command: a failure it explains ends in that one line, exit 1."""
    main(TapHumanAPI)


if __name__ == "__main__":
    cli()
