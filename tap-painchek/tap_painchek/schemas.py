"""JSON schemas of the PainChek streams, from the vendor's documented record shapes.

Ids, codes and external ids are strings; ``update_stamp`` is an integer. Nested
vendor objects whose inner shape is not documented (assessment ``data`` sections,
``device``) stay objects that accept any property, so nothing the vendor sends
is dropped.
"""

from __future__ import annotations

from singer_sdk import typing as th


def _prop(name: str, kind: th.JSONTypeHelper, description: str) -> th.Property:
    return th.Property(name, kind, description=description)


def _str(name: str, description: str) -> th.Property:
    return _prop(name, th.StringType(nullable=True), description)


def _ts(name: str, description: str) -> th.Property:
    return _prop(name, th.DateTimeType(nullable=True), description)


def _date(name: str, description: str) -> th.Property:
    return _prop(name, th.DateType(nullable=True), description)


def _int(name: str, description: str) -> th.Property:
    return _prop(name, th.IntegerType(nullable=True), description)


def _bool(name: str, description: str) -> th.Property:
    return _prop(name, th.BooleanType(nullable=True), description)


def _object(name: str, description: str) -> th.Property:
    return _prop(name, th.ObjectType(additional_properties=True, nullable=True), description)


# Every PainChek table carries these; `is_deleted` is added by the tap.
_COMMON = (
    th.Property("uuid", th.StringType(nullable=False), required=True, description="Primary key."),
    th.Property(
        "update_stamp",
        th.IntegerType(nullable=False),
        required=True,
        description=(
            "Per-table change counter: every create, edit and delete sets it to the "
            "table's max + 1. The replication key."
        ),
    ),
    _ts("created_at", "When the row was created (device or server time)."),
    _ts(
        "modified_at",
        "When the row was last modified. Unreliable for syncing: devices upload late.",
    ),
    _ts("deleted_at", "When the row was soft-deleted; null while it is live."),
    _prop(
        "is_deleted",
        th.BooleanType(nullable=False),
        "Added by the tap: true when deleted_at is set (a soft delete at PainChek).",
    ),
)
_LICENSED = (
    _str("license", "UUID of the licence the row belongs to."),
    _str("license_name", "Name of that licence."),
)
_EXTERNAL_ID = _str(
    "external_id",
    "The customer's own identifier. A string: '1' and '001' are different ids.",
)


def _schema(*properties: th.Property) -> dict:
    return th.PropertiesList(*_COMMON, *properties).to_dict()


PATIENTS = _schema(
    *_LICENSED,
    _str("first_name", "Patient's first name (PHI)."),
    _str("last_name", "Patient's last name (PHI)."),
    _str("nickname", "Preferred name (PHI)."),
    _str("gender", "m, f or x."),
    _date("birth_date", "Date of birth (PHI)."),
    _date("death_date", "Date of death, if recorded."),
    _str(
        "deleted_reason",
        "Archive reason (e.g. discharged). NOT a delete marker; the vendor's string "
        "'null' is loaded as null.",
    ),
    _str("image", "URL of the patient's photo, if any."),
    _EXTERNAL_ID,
    _bool("training_record", "True for training/demo patients."),
)

ASSESSMENTS = _schema(
    *_LICENSED,
    _str("patient", "UUID of the assessed patient."),
    _str("patient_first_name", "Patient's first name at assessment time (PHI)."),
    _str("patient_last_name", "Patient's last name at assessment time (PHI)."),
    _str("user", "UUID of the user who assessed."),
    _str("user_position", "Position of that user (e.g. RN)."),
    _str("json_version", "Version of the assessment data format."),
    _object("device", "Device that recorded the assessment, as sent by the vendor."),
    _object(
        "data",
        "The whole assessment document: assessment, face, voice, movement, behaviour, "
        "activity and body sections, kept as sent.",
    ),
    _ts("assessed_at", "Promoted from data.assessment.date: when the assessment was made."),
    _str("mode", "Promoted from data.assessment.mode: painchek or nrs."),
    _int("pain_score", "Promoted from data.assessment.pain_score."),
    _str("pain_level", "Promoted from data.assessment.pain_level: none, mild, moderate, severe."),
)

SITES = _schema(
    *_LICENSED,
    _int("type", "Site type, 1 to 4."),
    _str("name", "Site name."),
    _str("phone", "Phone number."),
    _str("email", "Contact email."),
    _str("address", "Street address."),
    _str("postcode", "Postcode (a string: leading zeros matter)."),
    _str("city", "City."),
    _str("state", "State or region."),
    _str("country", "Country."),
    _int("num_beds", "Number of beds."),
    _EXTERNAL_ID,
)

ADMISSIONS = _schema(
    _str("patient", "UUID of the admitted patient."),
    _str("site", "UUID of the site."),
    # The vendor does not document these types (dates are seen): kept as sent.
    _str("start", "Start of the admission, as sent (a date or a date-time)."),
    _str("end", "End of the admission, as sent; null while ongoing."),
    _str("unit", "Unit."),
    _str("room", "Room."),
    _str("bed", "Bed."),
    _str("ward", "Ward."),
)

COMMENTS = _schema(
    _str("patient", "UUID of the patient the comment is about."),
    _str("assessment", "UUID of the related assessment, if any."),
    _str("user", "UUID of the author."),
    _str("text", "Comment text (may contain PHI)."),
)

USERS = _schema(
    *_LICENSED,
    _str("email", "User's email."),
    _str("first_name", "User's first name."),
    _str("last_name", "User's last name."),
    _str("position", "Position, e.g. RN or carer."),
    _str("role", "Role in PainChek."),
    _bool("is_active", "Whether the account is active."),
    _ts("date_joined", "When the account was created."),
    _EXTERNAL_ID,
)

LICENSES = _schema(
    _str("number", "Licence number."),
    _date("start", "Start of the licence."),
    _date("expiry", "Expiry of the licence."),
    _str("type", "Licence type."),
    _str("holder", "Licence holder (organisation)."),
)
