"""The Human API streams: the admin users, each user's sources and records, and a status."""

from __future__ import annotations

import typing as t

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from tapkit.fidelity import KeepsVendorFields
from tapkit.spool import Spool, SpooledStream

from tap_humanapi import schemas
from tap_humanapi.coordinator import MARKERS_STREAM, format_time

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_humanapi.coordinator import Coordinator


class HumanAPIStream(Stream):
    """A stream fed by the tap's coordinator (the admin list, or the per-user pass)."""

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    def __init__(self, tap: Tap, coordinator: Callable[[], Coordinator]) -> None:
        super().__init__(tap)
        self._coordinator = coordinator


class UsersStream(KeepsVendorFields, HumanAPIStream):
    """Users of the app, from the admin API (this shard's, or the configured ones)."""

    name = "users"
    primary_keys = ("humanId",)
    schema = schemas.USERS

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """The admin API's user list (not read between sweeps in notifications mode)."""
        coordinator = self._coordinator()
        if coordinator.targets is None:
            yield from coordinator.admin_users()


class PerUserStream(SpooledStream, HumanAPIStream):
    """A stream of the per-user pass; the last one to finish saves the users' markers."""

    def spool(self) -> Spool:
        """The pass's records (the pass runs on first use)."""
        return self._coordinator().spool()

    def commit(self, bookmarks: dict[str, t.Any]) -> None:
        """The users' new markers, and the data streams they cover (if any was read)."""
        coordinator = self._coordinator()
        if covered := coordinator.endpoint_names():
            bookmark = bookmarks.setdefault(MARKERS_STREAM, {})
            bookmark["users"] = coordinator.markers()
            bookmark["streams"] = covered


class SourcesStream(KeepsVendorFields, PerUserStream):
    """Every source account of every user, with its sync status."""

    name = "sources"
    primary_keys = ("human_id", "id", "source")
    schema = schemas.SOURCES

    def spooled_records(self) -> t.Iterable[dict]:
        """The sources read while checking each user for changes."""
        for check in self._coordinator().checks():
            for source in check.sources:
                status = source.get("syncStatus") or {}
                yield {
                    **source,
                    "human_id": check.user.human_id,
                    "client_user_id": check.user.client_user_id,
                    "synched_at": status.get("synchedAt"),
                    "sync_status": status.get("status"),
                    "sync_details": status.get("details"),
                }


class UserDataStream(KeepsVendorFields, PerUserStream):
    """One data endpoint of every changed user: a list, read page by page."""

    path: str
    single = False
    primary_keys: tuple[str, ...] = ("human_id", "id")
    replication_key: str | None = "updatedAt"
    is_sorted = False


class ProfileStream(UserDataStream):
    """Human API /profile of every changed user: one object a user, without an id."""

    name = "profile"
    path = "/profile"
    single = True
    primary_keys = ("human_id",)
    # Read whole for every changed user (one object); its updatedAt may be missing.
    replication_key = None
    schema = schemas.PROFILE


def _data_stream(name: str, path: str, schema: dict) -> type[UserDataStream]:
    attrs = {
        "name": name,
        "path": path,
        "schema": schema,
        "__doc__": f"Human API {path} of every changed user.",
    }
    stream_type = type(f"{name.title().replace('_', '')}Stream", (UserDataStream,), attrs)
    return t.cast("type[UserDataStream]", stream_type)


def _path(name: str) -> str:
    if name in schemas.MEDICAL_SCHEMAS:
        return f"/medical/{name}"
    return f"/{name}/readings" if name in schemas.READINGS else f"/{name}"


DATA_STREAMS: tuple[type[UserDataStream], ...] = (
    *(_data_stream(name, _path(name), schema) for name, schema in schemas.MEDICAL_SCHEMAS.items()),
    ProfileStream,
    *(_data_stream(name, _path(name), schema) for name, schema in schemas.WELLNESS_SCHEMAS.items()),
)


class UserSyncStatusStream(PerUserStream):
    """One record per user per run: what the tap found, so you see who must reconnect."""

    name = MARKERS_STREAM
    primary_keys = ("human_id",)
    schema = schemas.USER_SYNC_STATUS

    def spooled_records(self) -> t.Iterable[dict]:
        """Each user's outcome."""
        for check in self._coordinator().checks():
            yield {
                "human_id": check.user.human_id,
                "client_user_id": check.user.client_user_id,
                "checked_at": check.checked_at,
                "outcome": check.outcome,
                "detail": check.detail,
                "synched_at": format_time(check.synched_at) if check.synched_at else None,
            }


STREAM_TYPES: tuple[type[HumanAPIStream], ...] = (
    UsersStream,
    SourcesStream,
    *DATA_STREAMS,
    UserSyncStatusStream,
)
