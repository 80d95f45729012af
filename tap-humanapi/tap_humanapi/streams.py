"""The Human API streams: the admin users, each user's sources and records, and a status."""

from __future__ import annotations

import typing as t

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from tapkit.fidelity import KeepsVendorFields

from tap_humanapi import schemas
from tap_humanapi.users import MARKERS_STREAM, format_time

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_humanapi.users import Coordinator


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
        """The admin API's user list."""
        yield from self._coordinator().admin_users()


class PerUserStream(HumanAPIStream):
    """A stream of the per-user pass; the last one to finish saves the users' markers."""

    def user_records(self) -> t.Iterable[dict]:
        """Records of every user for this stream, in roster order."""
        raise NotImplementedError

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Emit the records; then, if every per-user stream is done, save the markers."""
        yield from self.user_records()
        coordinator = self._coordinator()
        if coordinator.finished(self.name) and (covered := coordinator.endpoint_names()):
            # Only now, after every per-user record of the run was written, may the
            # markers move: the SDK writes this state after this stream's records.
            bookmark = self.tap_state.setdefault("bookmarks", {}).setdefault(MARKERS_STREAM, {})
            bookmark["users"] = coordinator.markers()
            bookmark["streams"] = covered


class SourcesStream(KeepsVendorFields, PerUserStream):
    """Every source account of every user, with its sync status."""

    name = "sources"
    primary_keys = ("human_id", "id", "source")
    schema = schemas.SOURCES

    def user_records(self) -> t.Iterable[dict]:
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

    def user_records(self) -> t.Iterable[dict]:
        """The records spooled by the per-user pass."""
        return self._coordinator().records(self.name)


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

    def user_records(self) -> t.Iterable[dict]:
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
