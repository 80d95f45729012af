"""JSON schemas of the Human API streams.

Vendor fields keep Human API's names (``createdAt``, ``sourceData``); the fields the
tap adds to every record are ``human_id`` and ``client_user_id``. Ids and codes are
strings. ``codes``, ``organization`` and ``sourceData`` stay objects, as sent.
"""

from __future__ import annotations

from singer_sdk import typing as th

_KINDS: dict[str, th.JSONTypeHelper] = {
    "string": th.StringType(nullable=True),
    "datetime": th.DateTimeType(nullable=True),
    "number": th.NumberType(nullable=True),
    "integer": th.IntegerType(nullable=True),
    "boolean": th.BooleanType(nullable=True),
    "object": th.ObjectType(additional_properties=True, nullable=True),
    "array": th.ArrayType(th.AnyType(), nullable=True),
}


def _props(fields: dict[str, tuple[str, str]]) -> list[th.Property]:
    return [
        th.Property(name, _KINDS[kind], description=text) for name, (kind, text) in fields.items()
    ]


USER_KEYS = {
    "human_id": ("string", "Added by the tap: the user's Human API id (humanId)."),
    "client_user_id": ("string", "Added by the tap: the app's own id for the user."),
}
_REQUIRED_USER_KEYS = [
    th.Property(name, th.StringType(nullable=False), required=True, description=text)
    for name, (_kind, text) in USER_KEYS.items()
]
RECORD = {
    "id": ("string", "Human API's record id (24 hex)."),
    "createdAt": ("datetime", "When Human API first stored the record (its clock)."),
    "updatedAt": ("datetime", "When Human API last updated it (its clock); the incremental key."),
    "source": ("string", "Medical: the source account id; wellness: the source name."),
    "sourceData": ("object", "The source's own fields, as sent."),
}
MEDICAL = {
    **RECORD,
    "organization": ("object", "The provider organisation {id, name, href}."),
    "codes": ("array", "Codes [{name, code, codeSystem, codeSystemName}] (SNOMED, LOINC, ...)."),
}
WELLNESS = {
    **RECORD,
    "userId": ("string", "Human API's user id on wellness records."),
    "humanId": ("string", "The user's humanId as sent on wellness records."),
}


def typed(**kinds: str) -> dict[str, tuple[str, str]]:
    """Type-specific fields of a record type, described once with their vendor names."""
    return {name: (kind, f"Human API's {name}.") for name, kind in kinds.items()}


def data_schema(
    kind: dict[str, tuple[str, str]], extra: dict[str, tuple[str, str]], *, single: bool = False
) -> dict:
    """A data stream's schema: the user's keys, the record fields, type-specific fields."""
    fields = {**kind, **extra}
    id_prop = []
    if not single:  # single objects (profile, demographics) are keyed by the user alone
        id_prop = [
            th.Property(
                "id", th.StringType(nullable=False), required=True, description=fields.pop("id")[1]
            )
        ]
    return th.PropertiesList(*_REQUIRED_USER_KEYS, *id_prop, *_props(fields)).to_dict()


USERS = th.PropertiesList(
    th.Property(
        "humanId",
        th.StringType(nullable=False),
        required=True,
        description="The user's Human API id; the primary key.",
    ),
    *_props(
        {
            "clientUserId": ("string", "The app's own id for the user."),
            "clientUserEmail": ("string", "The user's email as the app gave it (PHI)."),
            "firstName": ("string", "First name (PHI)."),
            "lastName": ("string", "Last name (PHI)."),
            "dateOfBirth": ("string", "Date of birth (PHI)."),
            "status": ("string", "Account status, e.g. active or deleted."),
            "createdAt": ("datetime", "When the user was created."),
            "updatedAt": ("datetime", "When the user was last updated."),
        }
    ),
).to_dict()

SOURCES = th.PropertiesList(
    *_REQUIRED_USER_KEYS,
    th.Property(
        "id", th.StringType(nullable=False), required=True, description="The source account id."
    ),
    th.Property(
        "source",
        th.StringType(nullable=False),
        required=True,
        description="The source, e.g. a portal or device name.",
    ),
    *_props(
        {
            "sourceName": ("string", "Display name of the source."),
            "connectedSince": ("datetime", "When the user connected it."),
            "organization": ("object", "The provider organisation, for medical sources."),
            "historySync": ("object", "{status, oldestDate}: the initial history sync."),
            "resync": ("object", "{active}: whether a resync is running."),
            "syncStatus": (
                "object",
                "{status, details, synchedAt}: the last sync (Human API clock).",
            ),
            "synched_at": ("datetime", "Added by the tap: syncStatus.synchedAt as a column."),
            "sync_status": ("string", "Added by the tap: syncStatus.status as a column."),
            "sync_details": ("string", "Added by the tap: syncStatus.details as a column."),
        }
    ),
).to_dict()

USER_SYNC_STATUS = th.PropertiesList(
    *_REQUIRED_USER_KEYS,
    *_props(
        {
            "checked_at": ("datetime", "When the tap checked the user's sources (tap's clock)."),
            "outcome": ("string", "synced, unchanged, token_rejected, needs_reauth or error."),
            "detail": ("string", "Why, without PHI: a status and vendor code, or a count."),
            "synched_at": ("datetime", "Newest syncStatus.synchedAt of the user's sources."),
        }
    ),
).to_dict()
