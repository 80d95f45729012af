"""The Human API streams: the admin users, each user's sources and records, and a status."""

from __future__ import annotations

import typing as t

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from tapkit.fidelity import KeepsVendorFields

from tap_humanapi import schemas
from tap_humanapi.schemas import MEDICAL, RECORD, WELLNESS, typed
from tap_humanapi.users import MARKERS_STREAM, format_time

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_humanapi.users import Coordinator

S, D, N, OBJ, A, B = "string", "datetime", "number", "object", "array", "boolean"


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
    """One data endpoint of every changed user."""

    path: str
    single = False
    primary_keys = ("human_id", "id")
    replication_key = "updatedAt"
    is_sorted = False

    def user_records(self) -> t.Iterable[dict]:
        """The records spooled by the per-user pass."""
        return self._coordinator().records(self.name)


def _data_stream(
    name: str, path: str, kind: dict, extra: dict, *, single: bool = False
) -> type[UserDataStream]:
    attrs = {
        "name": name,
        "path": path,
        "single": single,
        "schema": schemas.data_schema(kind, extra, single=single),
        "__doc__": f"Human API {path} of every changed user.",
    }
    if single:
        attrs["primary_keys"] = ("human_id",)
    return t.cast("type[UserDataStream]", type(f"{name.title()}Stream", (UserDataStream,), attrs))


MEDICAL_TYPES: dict[str, dict] = {
    "allergies": typed(name=S, reaction=S, severity=S, status=S, dateTime=D),
    "encounters": typed(type=S, dateTime=D, endDateTime=D, provider=OBJ),
    "functional_statuses": typed(name=S, value=S, dateTime=D),
    "immunizations": typed(name=S, dateTime=D, route=S),
    "instructions": typed(name=S, text=S, dateTime=D),
    "issues": typed(name=S, status=S, onset=S),  # a date or a date-time, as sent
    "medications": typed(
        name=S, dosage=S, route=S, status=S, startedAt=D, stoppedAt=D, prescriber=S
    ),
    "narratives": typed(name=S, text=S, dateTime=D),
    "organizations": typed(name=S, address=OBJ, phone=S),
    "plans_of_care": typed(name=S, type=S, status=S, dateTime=D),
    "procedures": typed(name=S, performer=S, dateTime=D),
    "social_history": typed(name=S, value=S, startDate=S),
    "test_results": typed(name=S, value=S, unit=S, referenceRange=S, interpretation=S, dateTime=D),
    "vitals": typed(name=S, value=S, unit=S, dateTime=D),
    "reports": typed(name=S, type=S, contentType=S, dateTime=D),
}
SINGLE_TYPES: dict[str, tuple[str, dict, dict]] = {
    "demographics": (
        "/medical/demographics",
        MEDICAL,
        typed(
            firstName=S,
            lastName=S,
            dob=S,
            gender=S,
            race=S,
            ethnicity=S,
            language=S,
            maritalStatus=S,
            addresses=A,
            phones=A,
            emails=A,
        ),
    ),
    "profile": (
        "/profile",
        RECORD,
        typed(humanId=S, userId=S, email=S, firstName=S, lastName=S),
    ),
}
READINGS = (
    "heart_rate",
    "blood_glucose",
    "blood_pressure",
    "blood_oxygen",
    "bmi",
    "body_fat",
    "height",
    "weight",
)
WELLNESS_TYPES: dict[str, tuple[str, dict]] = {
    "activities": (
        "/activities",
        typed(
            type=S, startTime=D, endTime=D, tzOffset=S, duration=N, distance=N, steps=N, calories=N
        ),
    ),
    "sleeps": (
        "/sleeps",
        typed(
            day=S,
            startTime=D,
            endTime=D,
            mainSleep=B,
            timeInBed=N,
            timeAsleep=N,
            timeAwake=N,
            efficiency=N,
        ),
    ),
    "locations": ("/locations", typed(latitude=N, longitude=N, startTime=D, endTime=D)),
    **{
        # A reading's value is a number, or an object (blood pressure: systolic, diastolic).
        kind: (
            f"/{kind}/readings",
            typed(type=S, value=OBJ if kind == "blood_pressure" else N, unit=S, timestamp=D),
        )
        for kind in READINGS
    },
}

DATA_STREAMS: tuple[type[UserDataStream], ...] = (
    *(_data_stream(n, f"/medical/{n}", MEDICAL, extra) for n, extra in MEDICAL_TYPES.items()),
    *(
        _data_stream(n, path, kind, extra, single=True)
        for n, (path, kind, extra) in SINGLE_TYPES.items()
    ),
    *(_data_stream(n, path, WELLNESS, extra) for n, (path, extra) in WELLNESS_TYPES.items()),
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
