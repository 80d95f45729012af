"""JSON schemas of the PainChek streams, written from PainChek's support pages.

Every field is named and typed as https://support.painchek.com documents it (the
pages are listed in the README); ids and codes are strings. Nested objects declare
their documented inner fields and accept others; where PainChek's list of inner keys is
incomplete (face and activity descriptors) the object is kept whole, as sent. A field
PainChek sends that is not declared here lands in ``extra_fields`` (see
``tapkit.fidelity``). ``is_deleted`` and the promoted columns are the tap's additions.
"""

from __future__ import annotations

import typing as t

from tapkit.schema import (
    Schema,
    boolean,
    date,
    date_time,
    integer,
    obj,
    open_object,
    stream_schema,
    string,
)

KEYS = ("uuid", "update_stamp")

# Common Fields (article 6218595574159): on users, patients, assessments, "etc.".
_COMMON: dict[str, Schema] = {
    "uuid": string("Primary key: the record's UUID."),
    "created_at": date_time("When the record was created (UTC)."),
    "modified_at": date_time(
        "When the record was last modified (UTC). Unreliable for syncing: devices upload late."
    ),
    "deleted_at": date_time("When the record was soft-deleted; null while it is live."),
    "update_stamp": integer(
        "Per-table change counter: every create, edit and delete sets it to the table's "
        "max + 1. The replication key."
    ),
    "created_by_id": string("UUID of the user who created the record."),
    "modified_by_id": string("UUID of the user who last modified the record."),
    "device_id": string("UUID of the device the record was made on (often upper-case)."),
    "license": string("UUID of the licence the record belongs to."),
    "license_name": string("Name of that licence, e.g. 'A89E0CC1-FD90/PainChek Ltd/2018-08-25'."),
}
_EXTERNAL_ID = string(
    "The customer's own identifier (users, patients, sites). A string: '1' and '001' "
    "are different ids."
)
_IS_DELETED = boolean("Added by the tap: true when deleted_at is set (a soft delete).")

# Managing Patients (article 6218611010447).
_PATIENT: dict[str, Schema] = {
    **_COMMON,
    "first_name": string("Patient's first name (PHI)."),
    "last_name": string("Patient's last name (PHI)."),
    "nickname": string("Preferred name (PHI); may be empty."),
    "gender": string("m, f or x."),
    "birth_date": date("Date of birth, YYYY-MM-DD (PHI)."),
    "death_date": date("Date of death, if recorded (in PainChek's sample, not its field table)."),
    "deleted_reason": string(
        "Archive reason (null while not archived). NOT a delete marker; the vendor's "
        "string 'null' is loaded as null."
    ),
    "image": string("URL of the patient's profile image."),
    "external_id": _EXTERNAL_ID,
    "training_record": boolean("True for training records (default false)."),
}

# Managing Sites (article 6218611107727).
_SITE: dict[str, Schema] = {
    **_COMMON,
    "type": integer("Site type: 1 Hospital, 2 Care Home, 3 Hospice, 4 Private."),
    "name": string("Site name."),
    "phone": string("Phone number."),
    "email": string("Contact email."),
    "address": string("Address, line one."),
    "postcode": string("Postcode (a string: leading zeros matter)."),
    "city": string("City."),
    "state": string("State or region."),
    "country": string("Two-letter country code, e.g. AU."),
    "num_beds": integer("Number of beds."),
    "external_id": _EXTERNAL_ID,
}


def _domain(name: str, descriptors: Schema, **more: Schema) -> Schema:
    return obj(
        f"The {name} domain: score, comment and the descriptors observed.",
        score=integer("How many descriptors are true."),
        comment=string("The assessor's comment."),
        **more,
        descriptors=descriptors,
    )


def _flags(description: str, names: str) -> Schema:
    return obj(description, **{name: boolean() for name in names.split()})


# The assessment sections (articles 6218610963343, 7975874854159, 6218595762703 and the
# domain object pages). The Webhook-Payloads page (6249372515215) shows them inside
# `data`; the field table lists them beside `patient`: both layouts are declared.
_ASSESSMENT_SECTIONS: dict[str, Schema] = {
    "assessment": obj(
        "The assessment summary.",
        date=date_time("When the assessment was made (ISO 8601 with a time zone)."),
        mode=string("painchek or nrs."),
        pain_score=integer("PainChek: the sum of the domain scores (0-42). NRS: 0-10."),
        pain_level=string("none, mild, moderate or severe."),
        is_editable=boolean("Always false."),
        timing=string("When in the care routine it was made (e.g. movement); null pre-v2."),
        body_location=string("NRS only: where the pain is."),
    ),
    "face": _domain(
        "face",
        # Only four of the nine keys are documented (the page is cut off).
        open_object("Nine facial descriptors (true/false); kept whole, as sent."),
        mode=string("How the face was assessed (video, photo or manual)."),
        initial_mode=string("The mode first tried, when it fell back to manual."),
        camera=string("Camera used, e.g. front."),
        capture_seconds=integer("Seconds of video captured."),
        frames=integer("Frames analysed (video or photo)."),
        frame_errors=integer("Frames that could not be analysed."),
    ),
    "voice": _domain(
        "voice",
        _flags(
            "Voice descriptors (true/false).",
            "noisy_sounds requesting_help groaning moaning crying screaming loudtalk "
            "howling sighing",
        ),
        voice_recording=string("Relative path or URL of the voice recording."),
    ),
    "movement": _domain(
        "movement",
        _flags(
            "Movement descriptors (true/false).",
            "altered_random_movement restlessness freezing guarding_touching moving_away "
            "abnormal_movement pacing_wandering",
        ),
    ),
    "behaviour": _domain(
        "behaviour",
        _flags(
            "Behaviour descriptors (true/false).",
            "introvert verbally_offensive aggressive fear_or_dislike "
            "inappropriate_behaviour confused distressed",
        ),
    ),
    # No page documents the activity object: its four descriptor keys are unknown.
    "activity": _domain(
        "activity", open_object("Four activity descriptors (true/false); kept whole, as sent.")
    ),
    "body": _domain(
        "body",
        _flags(
            "Body descriptors (true/false).",
            "profuse_sweating pale_flushed feverish_cold rapid_breathing painful_injuries "
            "painful_conditions",
        ),
    ),
}
_DEVICE_DETAILS = obj(
    "The device that recorded the assessment.",
    manufacturer=string(),
    model=string(),
    os_type=string(),
    os_version=string(),
    app_version=string("App version with its build in brackets, e.g. '1.20 (1)'."),
    device_id=string("The device's UUID."),
)
_SECTIONS = ", ".join(_ASSESSMENT_SECTIONS)


def _schema(properties: t.Mapping[str, Schema]) -> Schema:
    return stream_schema({**properties, "is_deleted": _IS_DELETED}, keys=KEYS)


PATIENTS = _schema(_PATIENT)

ASSESSMENTS = _schema(
    {
        **_COMMON,
        "patient": string("UUID of the assessed patient."),
        "patient_first_name": string("Patient's first name (PHI)."),
        "patient_last_name": string("Patient's last name (PHI)."),
        "patient_external_id": string("The patient's external id."),
        "user": string("UUID of the user who made the assessment."),
        "user_first_name": string("That user's first name."),
        "user_last_name": string("That user's last name."),
        "user_external_id": string("That user's external id."),
        "user_position": string("That user's job role (PainChek mode only)."),
        "user_source": string(
            "internal (the user has the patient's licence) or external (another licence)."
        ),
        "json_version": string("Version of the assessment format; v2 is current."),
        # The Webhook-Payloads sample sends the device's UUID here (equal to device_id)
        # and the device details in data.device. A tenant that sends the details object
        # here instead keeps it whole in extra_fields.device.
        "device": string("UUID of the device that recorded the assessment (= device_id)."),
        "data": obj(
            f"The assessment data: {_SECTIONS} and device.",
            **_ASSESSMENT_SECTIONS,
            device=_DEVICE_DETAILS,
        ),
        # The same sections when a tenant sends them at the top level, beside `patient`.
        **{
            name: {**section, "description": f"{section['description']} Top-level layout."}
            for name, section in _ASSESSMENT_SECTIONS.items()
        },
        "assessed_at": date_time("Added by the tap, from assessment.date: when it was made."),
        "mode": string("Added by the tap, from assessment.mode: painchek or nrs."),
        "pain_score": integer("Added by the tap, from assessment.pain_score."),
        "pain_level": string("Added by the tap, from assessment.pain_level."),
        "timing": string("Added by the tap, from assessment.timing."),
    }
)

SITES = _schema(_SITE)

ADMISSIONS = _schema(
    {
        **_COMMON,
        "patient": obj("The admitted patient's record, embedded.", **_PATIENT),
        "site": obj("The site's record, embedded.", **_SITE),
        # "Date/Time" in the field table; the integration example writes
        # "2017-11-24T08:21:00+10", which is not RFC 3339: kept as sent.
        "start": string("Start of the admission, as sent (a date-time)."),
        "end": string("End of the admission, as sent; null for the current admission."),
        "unit": string("Unit."),
        "room": string("Room."),
        "bed": string("Bed."),
        "ward": string("Ward."),
        "patient_uuid": string("Added by the tap, from patient.uuid: for joins."),
        "site_uuid": string("Added by the tap, from site.uuid: for joins."),
    }
)

# No PainChek page documents comments: this shape is assumed.
COMMENTS = _schema(
    {
        **_COMMON,
        "patient": string("UUID of the patient the comment is about."),
        "assessment": string("UUID of the related assessment, if any."),
        "user": string("UUID of the author."),
        "text": string("Comment text (may contain PHI)."),
    }
)

# Managing Users (article 6218611097999).
USERS = _schema(
    {
        **_COMMON,
        "email": string("Email address, also the login."),
        "first_name": string("First name."),
        "last_name": string("Last name."),
        "phone": string("Phone number; may be empty."),
        "institution": string("UUID of the user's site."),
        "institution_name": string("Name of that site."),
        "position": string("Job role, e.g. Doctor, Nurse or Carer; may be empty."),
        "avatar": string("URL of the user's picture."),
        "has_activated": boolean("Whether the user has activated the account."),
        "role": string("license_admin, admin or user."),
        "is_active": boolean("Whether the account is active."),
        "full_site_access": boolean("Access to every site (ignored for license_admin)."),
        "date_joined": date_time("When the account was created."),
        "external_id": _EXTERNAL_ID,
    }
)

# Managing Licenses (article 6218611082383). Its sample is complete and has no licence,
# author or device fields: those common fields are not declared (kept in extra_fields
# if a tenant sends them). It has no timestamps or update_stamp either, but the sync
# guide gives every table an update_stamp: the tap reads licences by it.
LICENSES = _schema(
    {
        **{key: _COMMON[key] for key in ("uuid", "created_at", "modified_at", "deleted_at")},
        "update_stamp": _COMMON["update_stamp"],
        "number": string("Licence number, e.g. A89E0CC1-FD90."),
        "start": date("First day of the licence."),
        "expiry": date("Expiry date of the licence."),
        "is_expiring": boolean("Whether the licence expires soon."),
        # PainChek documents an integer; codes are strings here (the column was a string
        # before), so 2 is loaded as "2".
        "type": string("Licence type code: '1' Commercial (institutional), '2' Private."),
        "holder": obj(
            "The licence holder: a person and their company.",
            first_name=string(),
            last_name=string(),
            email=string(),
            phone=string(),
            mobile=string(),
            company_name=string(),
            company_address=string(),
            company_postcode=string(),
            company_city=string(),
            company_state=string(),
            company_country=string(),
            company_phone=string(),
        ),
    }
)
