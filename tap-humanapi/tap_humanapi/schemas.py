"""JSON schemas of the Human API streams, written from Human API's documentation.

Vendor fields keep Human API's names and case (``createdAt``, ``sourceData``,
``providerID``); the tap adds ``human_id`` and ``client_user_id`` to every record,
and ``extra_fields`` (``tapkit.fidelity``) keeps whatever a schema does not declare.
Every description ends with where the field's name and shape come from:

- [doc]: a Human API reference page of v2.1-v2.3 (``DOC_PAGES`` names it per stream);
- [v1 doc]: the 2015 v1 reference (reference.humanapi.co root), the only public page
  for several medical endpoints;
- [OA]: Human API's Admin API OpenAPI file (the users list);
- [wire]: recorded responses of Human API's demo user (2014 wellness, 2020 medical);
- [model]: a public C# client whose model classes copy the reference's field tables,
  for endpoints without a public page;
- [assumed]: nowhere public; the tap needs it (a key) or the sandbox defines it;
- [tap]: added by this tap.

Where the documentation and the wire disagree the schema declares what tenants are
sent: ``sourceData`` is documented as a String but always arrives as an object;
medical records carry neither ``humanId`` nor ``sourceData`` (samples and wire) though
the common record properties list both; a vital's ``results[].value`` is documented as
a String and sent as a Number, so nested values that may be either accept both (at
the top level one type is declared, and the guard keeps another in ``extra_fields``).
Date fields that real data sends as dates or non-ISO strings (``dob`` "05/20/1971", a
2015 ``dateTime`` "Mon Jul 07 2014 14:40:26 GMT-0700 (PDT)", a sleep's ``day``,
``dateOfBirth``) are strings without a date-time format.
"""

from __future__ import annotations

import typing as t

from tapkit.schema import (
    array,
    boolean,
    date_time,
    number,
    obj,
    open_object,
    stream_schema,
    string,
)

Schema = dict[str, t.Any]

_REFERENCE = "https://reference.humanapi.co"
# Each data stream's reference page (the one whose fields the schema follows first).
DOC_PAGES: dict[str, str] = {
    "users": f"{_REFERENCE}/reference/getuserslist",
    "sources": f"{_REFERENCE}/v2.3/reference/sources",
    "allergies": f"{_REFERENCE}/v2.2/reference/allergies",
    "demographics": f"{_REFERENCE}/v2.1/reference/demographics",
    "encounters": f"{_REFERENCE}/v2.1/reference/encounters",
    "medications": f"{_REFERENCE}/v2.1/reference/medications",
    "test_results": f"{_REFERENCE}/v2.2/reference/test-results",
    "vitals": f"{_REFERENCE}/v2.1/reference/vitals",
    "reports": f"{_REFERENCE}/v2.3/docs/reports",
    "profile": f"{_REFERENCE}/v2.1/reference/profile-1",
    "activities": f"{_REFERENCE}/v2.2/reference/activities",
    "sleeps": f"{_REFERENCE}/v2.3/reference/sleeps",
    "heart_rate": f"{_REFERENCE}/v2.3/reference/heart-rate",
    # Only in the v1 reference (the site's root page) and recorded responses.
    **dict.fromkeys(
        (
            "immunizations",
            "issues",
            "narratives",
            "organizations",
            "locations",
            "blood_glucose",
            "blood_pressure",
            "blood_oxygen",
            "bmi",
            "body_fat",
            "height",
            "weight",
        ),
        f"{_REFERENCE}/",
    ),
}
# No public field list: fields from recorded responses, the C# model, or assumed.
UNDOCUMENTED = (
    "functional_statuses",
    "instructions",
    "plans_of_care",
    "procedures",
    "social_history",
    "reports",
)


def text_or_number(description: str = "") -> Schema:
    """A nested value documented as a String that tenants are also sent as a Number."""
    node: Schema = {"type": ["string", "number", "null"]}
    if description:
        node["description"] = description
    return node


# -- shared objects (doc: Medical API Introduction, reference.humanapi.co/reference) ----

CODE = obj(
    "A code.",
    name=string("Display name."),
    code=string("The code."),
    codeSystem=string("The code system's OID, e.g. 2.16.840.1.113883.6.1."),
    codeSystemName=string("The code system, e.g. LOINC, RxNorm, SNOMED-CT, CVX, ICD-10-CM."),
    inferred=boolean("True if Human API inferred the code rather than the source sending it."),
)


def codes(description: str) -> Schema:
    """An array of code objects."""
    return array(description, CODE)


ORGANIZATION = {
    "id": string("The organization's id."),
    "name": string("Its name."),
    "href": string("Its path on the API, /medical/organizations/<id>."),
}
ADDRESS = obj(
    "An address.",
    street=array("Street lines.", string()),
    city=string(),
    state=string(),
    zip=string(),
    country=string(),
)
NAME = obj(
    "A person's name.",
    prefix=string(),
    given=array("Given names.", string()),
    family=string(),
)
PATIENT = obj("The patient as the source names them.", name=string("Their name."))


def organization(tag: str = "[doc]") -> Schema:
    """The provider organization of a medical record."""
    return obj(f"The provider organization {{id, name, href}} {tag}.", **ORGANIZATION)


def ccd(tag: str) -> Schema:
    """Where the CCD the record came from lives on the API."""
    return obj(
        f"The source CCD {{id, href}} the record came from {tag}.", id=string(), href=string()
    )


def patient(tag: str = "[doc]") -> Schema:
    """The patient object of a medical record."""
    return {**PATIENT, "description": f"The patient as the source names them {{name}} {tag}."}


# -- every stream -----------------------------------------------------------------------

USER_KEYS: dict[str, Schema] = {
    "human_id": string("The user's Human API id (humanId) [tap]."),
    "client_user_id": string("The app's own id for the user (clientUserId) [tap]."),
}
# Common record properties (doc: reference.humanapi.co/v2.1/reference, every record).
# Medical records, in the documentation's samples and on the wire, carry neither
# humanId nor sourceData (human_id holds the user's id); three carry no source.
MEDICAL: dict[str, Schema] = {
    "id": string("Human API's id of the record (24 hex) [doc]."),
    "source": string(
        "The originating source's id (24 hex, also its organization's id); a name such as "
        "emr-1-320 in older data [doc]."
    ),
    "createdAt": date_time("When Human API first stored the record, on its clock [doc]."),
    "updatedAt": date_time(
        "When Human API last updated the record, on its clock; the incremental key [doc]."
    ),
}
NO_SOURCE: dict[str, Schema] = {k: v for k, v in MEDICAL.items() if k != "source"}
WELLNESS: dict[str, Schema] = {
    "id": MEDICAL["id"],
    "humanId": string("The user's Human API id, as sent [doc]."),
    "userId": string("Human API's older user id (deprecated: use humanId) [doc]."),
    "source": string("The originating source's lower-case name, e.g. fitbit [doc]."),
    "sourceData": open_object(
        "The source's own fields, e.g. {manual}; documented as a String, sent as an "
        "object [doc/wire]."
    ),
    "createdAt": MEDICAL["createdAt"],
    "updatedAt": MEDICAL["updatedAt"],
}


def _data(fields: t.Mapping[str, Schema], *, single: bool = False) -> Schema:
    # A single object (/profile) is keyed by its user alone, and its reference's sample
    # lacks the updatedAt its field table lists: it is read whole, not by updatedAt.
    keys = ("human_id", "client_user_id") + (() if single else ("id", "updatedAt"))
    return stream_schema({**USER_KEYS, **fields}, keys=keys)


def _assumed_times(what: str) -> dict[str, Schema]:
    return {
        "createdAt": date_time(f"When Human API first stored the {what} [assumed]."),
        "updatedAt": date_time(
            f"When Human API last updated the {what}; the incremental key [assumed]."
        ),
    }


# -- medical endpoints ------------------------------------------------------------------

_ALLERGIES = {
    **MEDICAL,
    "name": string("The allergy, e.g. Penicillin [doc]."),
    "allergen": obj(
        "The allergen {name, codes} [doc; name: wire].",
        name=string(),
        codes=codes("Codes of the allergen."),
    ),
    "reactionsFull": array(
        "The reactions {name, codes, reactionType {name, codes}} [doc].",
        obj(
            "A reaction.",
            name=string(),
            codes=codes("Codes of the reaction."),
            reactionType=obj("The kind of reaction.", name=string(), codes=codes("Its codes.")),
        ),
    ),
    "severity": string("Severity, e.g. unknown [v1 doc]."),
    "status": string("Status, e.g. Active [wire]."),
    "dateRange": obj(
        "When the allergy applies {start, end} [wire; end assumed].",
        start=date_time(),
        end=date_time(),
    ),
    "patient": patient(),
    "organization": organization(),
    "codes": codes("Codes of the allergy (RxNorm, SNOMED-CT) [doc]."),
    "ccd": ccd("[model]"),
}

_ENCOUNTER_MEDICATION = obj(
    "A medication of the visit.",
    name=string(),
    productName=string(),
    dosageInfo=string(),
    instructions=string(),
    genericProductIndicator=string(),
    ndcCode=string(),
    canRefill=boolean(),
    hasPendingRefill=boolean(),
    startDate=date_time(),
    endDate=date_time(),
    codes=codes("Its codes."),
)
_ENCOUNTERS = {
    **MEDICAL,
    "dateTime": date_time("When the visit took place [doc]."),
    "visitType": string("The kind of visit, e.g. Office Visit [doc]."),
    "provider": obj(
        "The provider seen {name, departmentName, address} [doc; address: wire].",
        name=string(),
        departmentName=string(),
        address=string(),
    ),
    "diagnoses": array("Diagnoses {name, ...} [doc].", obj("A diagnosis.", name=string())),
    "reasons": array("Reasons for the visit [doc].", string()),
    "orders": array(
        "Orders placed {name, type, codeType, procedureCode, expectedDate, expireDate, "
        "codes} [doc].",
        obj(
            "An order.",
            name=string(),
            type=string("e.g. Lab, Procedures."),
            codeType=string("e.g. CPT(R), Custom, or an OID."),
            procedureCode=string(),
            expectedDate=date_time(),
            expireDate=date_time(),
            codes=codes("Its codes."),
        ),
    ),
    "medications": array("Medications of the visit [doc].", _ENCOUNTER_MEDICATION),
    "patientInstruction": string("Instructions given to the patient [doc]."),
    "followUpInstructions": string("Follow-up instructions [v1 doc]."),
    "vitals": open_object("Vitals taken at the visit [v1 doc]."),
    "vitalSigns": array("Vital signs of the visit; always empty when seen [wire]."),
    "plansOfCare": array("Plans of care of the visit; always empty when seen [wire]."),
    "problems": array("Problems of the visit; always empty when seen [wire]."),
    "testResults": array("Test results of the visit; always empty when seen [wire]."),
    "patient": patient(),
    "organization": organization(),
    "codes": codes("Codes of the encounter type [doc]."),
    "ccd": ccd("[wire]"),
}

_AMOUNT = {"number": text_or_number(), "unit": string()}
_MEDICATIONS = {
    **MEDICAL,
    "name": string("The medication as prescribed [doc]."),
    "status": string("e.g. Active [doc]."),
    "startDate": date_time("When it was started [doc]."),
    "endDate": date_time("When it ends or ended [doc]."),
    "details": obj(
        "Structured dosing {dosage {form, value}, frequency {number, unit}, route, "
        "strength {number, unit}} [doc].",
        dosage=obj("Dose.", form=string(), value=text_or_number()),
        frequency=obj("How often.", **_AMOUNT),
        route=string("e.g. enteral_oral."),
        strength=obj("Strength.", **_AMOUNT),
    ),
    "dosageInfo": string("Dose as text, e.g. 10 MG tablet [doc]."),
    "instructions": string("Instructions, e.g. take 1 tab by mouth daily [doc]."),
    "ndcCode": string("NDC code, if provided [doc]."),
    "genericProductIndicator": string("Generic product indicator [doc]."),
    "commonBrandName": string("Brand name, if provided [doc]."),
    "productName": string("Product name, if provided [doc]."),
    "provider": string("The prescriber, e.g. Jacob Smith, MD [doc]."),
    "providerID": string("The prescriber's id at the source [doc]."),
    "pharmacy": obj(
        "The pharmacy, if provided {iD, name, address, phone, hours} [v1 doc].",
        iD=string(),
        name=string(),
        address=string(),
        phone=string(),
        hours=string(),
    ),
    "expiration": date_time("When the prescription expires, if provided [v1 doc]."),
    "refillsRemaining": string(
        "Refills left; documented as a Number, kept as text like refillsTotal [v1 doc]."
    ),
    "refillsTotal": string(
        "Refills prescribed; documented as a Number, sent as a String [v1 doc/wire]."
    ),
    "patient": patient(),
    "organization": organization(),
    "codes": codes("Codes of the medication (RxNorm, NDC) [doc]."),
    "ccd": ccd("[wire]"),
}

_TEST_RESULTS = {
    **MEDICAL,
    "name": string("The test or panel, e.g. LAB TOTAL PROTEIN+ALB [doc]."),
    "components": array(
        "One per analyte {name, value, unit, low, high, refRange, flag, "
        "componentComments, codes} [doc; flag: v1 doc].",
        obj(
            "An analyte's result.",
            name=string(),
            value=text_or_number("Documented as a String."),
            unit=string(),
            low=text_or_number("Low end of the reference range."),
            high=text_or_number("High end of the reference range."),
            refRange=string("The reference range as text."),
            flag=string("e.g. L, H, A."),
            componentComments=string(),
            codes=codes("Codes of the analyte (LOINC)."),
        ),
    ),
    "resultDateTime": date_time("When the result was reported [doc]."),
    "status": string("e.g. Final result [doc]."),
    "orderedBy": string("Who ordered the test [doc]."),
    "recipients": array(
        "Who received the result {objectID, name, isPCP, recipTemplate} [doc].",
        obj(
            "A recipient.",
            objectID=string(),
            name=string(),
            isPCP=boolean(),
            recipTemplate=string(),
        ),
    ),
    "specimen": string("The specimen [doc]."),
    "device": string("The device [doc]."),
    "comments": string("Comments [doc]."),
    "narrative": string("Narrative [doc]."),
    "impression": string("Impression [doc]."),
    "transcriptions": string("Transcriptions [doc]."),
    "allResults": array(
        "Deprecated list of results {name, value, unit, resultDateTime} [doc].",
        obj(
            "A result.",
            name=string(),
            value=text_or_number(),
            unit=string(),
            resultDateTime=date_time(),
        ),
    ),
    "patient": patient(),
    "organization": organization(),
    "codes": codes("Codes of the test (LOINC) [doc]."),
    "ccd": ccd("[wire]"),
}

_VITALS = {
    **MEDICAL,
    "dateTime": string(
        "When the vitals were taken; documented as a String, ISO-8601 in recent data and "
        "a JavaScript date string in older data [doc]."
    ),
    "author": string("Who recorded them [doc]."),
    "results": array(
        "One per measurement {name, value, unit, codes} [doc]; also normalizedName, raw "
        "and values [wire].",
        obj(
            "A measurement.",
            name=string(),
            value=text_or_number("Documented as a String, sent as a Number."),
            unit=string(),
            codes=codes("Codes of the measurement (LOINC)."),
            normalizedName=string(),
            raw=obj(
                "The value as the source sent it.",
                name=string(),
                value=text_or_number(),
                unit=string(),
                codes=codes("Its codes."),
            ),
            values=array(
                "The value in other units.",
                obj("A value.", value=text_or_number(), unit=string()),
            ),
        ),
    ),
    "name": string("The patient's name as the source sent it [wire]."),
    "organization": organization(),
    "codes": codes("Codes of the vitals set [model/wire]."),
    "ccd": ccd("[wire]"),
}

_DEMOGRAPHICS = {
    **NO_SOURCE,
    "name": {**NAME, "description": "The patient's name {prefix, given[], family} [doc]."},
    "address": {
        **ADDRESS,
        "description": "The patient's address {street[], city, state, zip, country} [doc].",
    },
    "dob": string("Date of birth as the source wrote it, e.g. 05/20/1971 (PHI) [doc]."),
    "dobDateTime": date_time("Date of birth as an ISO-8601 time (PHI) [doc]."),
    "gender": string("Gender, e.g. female [doc]."),
    "genderCodes": codes("Codes of the gender (SNOMED-CT) [doc]."),
    "race": string("Race [doc]."),
    "raceCodes": codes("Codes of the race [doc]."),
    "ethnicity": string("Ethnicity [doc]."),
    "ethnicityCodes": codes("Codes of the ethnicity [doc]."),
    "language": string("Preferred language, e.g. eng [doc]."),
    "languageCodes": codes("Codes of the language [doc]."),
    "maritalStatus": string("Marital status, e.g. married [doc]."),
    "maritalStatusCodes": codes("Codes of the marital status [doc]."),
    "provider": obj(
        "The patient's provider {address, organization, phone} [doc; phone: wire].",
        address=ADDRESS,
        organization=string(),
        phone=string(),
    ),
    "organization": organization(),
    "ccd": ccd("[doc]"),
}

_FUNCTIONAL_STATUSES = {
    **MEDICAL,
    "name": string("The functional status [model]."),
    "dateTime": string("When it was recorded; its format is not documented [model]."),
    "codes": codes("Its codes [model]."),
    "organization": organization("[assumed]"),
    "ccd": ccd("[model]"),
}

_IMMUNIZATIONS = {
    **MEDICAL,
    "name": string("The vaccine, e.g. Tetanus+Dip ADULT (Td) [v1 doc]."),
    "dates": array("When it was given [v1 doc].", date_time()),
    "patient": patient("[v1 doc]"),
    "organization": organization("[v1 doc]"),
    "codes": codes("Codes of the vaccine (CVX, NDC) [model/wire]."),
    "ccd": ccd("[model]"),
}

_INSTRUCTIONS = {
    **MEDICAL,
    "name": string("The kind of instruction, e.g. discharge instructions [model]."),
    "text": string("The instruction's text [model]."),
    "dateTime": string("When it was given; its format is not documented [model]."),
    "codes": codes("Its codes [model]."),
    "organization": organization("[assumed]"),
    "ccd": ccd("[model]"),
}

_ISSUES = {
    **MEDICAL,
    "name": string("The problem, e.g. Essential hypertension [v1 doc]."),
    "status": string("e.g. Active [wire]."),
    "dateTime": date_time("When it was noted [wire]."),
    "patient": patient("[v1 doc]"),
    "organization": organization("[v1 doc]"),
    "codes": codes("Codes of the problem (ICD-10-CM, SNOMED-CT) [wire]."),
    "ccd": ccd("[wire]"),
}

_NARRATIVES = {
    **MEDICAL,
    "dateTime": string(
        "When it was written; a JavaScript date string in the v1 sample, ISO-8601 on the "
        "wire [v1 doc]."
    ),
    "author": string("Who wrote it [v1 doc]."),
    "entries": array(
        "Sections {title, text} [v1 doc]; templateIds [wire].",
        obj("A section.", title=string(), text=string(), templateIds=array("", string())),
    ),
    "organization": organization("[v1 doc]"),
    "ccd": ccd("[wire]"),
}

_ORGANIZATIONS = {
    **NO_SOURCE,
    **_assumed_times("organization"),
    "name": string("The organization's name [v1 doc]."),
    "imageUrl": string("Its logo [v1 doc]."),
}

_PLANS_OF_CARE = {
    **MEDICAL,
    "name": string("What is planned, e.g. Colonoscopy [wire]."),
    "text": string("The plan as text [wire]."),
    "type": string("e.g. Appointment [wire]."),
    "date": date_time("When it is planned [wire]."),
    "specialty": string("The specialty, e.g. Gastroenterology [wire]."),
    "provider": obj(
        "The provider {name {given[], family}, departmentName, address} [wire].",
        name=NAME,
        departmentName=string(),
        address=string(),
    ),
    "organization": organization("[wire]"),
    "codes": codes("Its codes [wire]."),
    "ccd": ccd("[model]"),
}

_PROCEDURES = {
    **MEDICAL,
    "name": string("The procedure, e.g. Colonoscopy [wire]."),
    "dateTime": date_time("When it was performed [wire]."),
    "performer": obj(
        "Who performed it {organizationName, address, phone} [wire].",
        organizationName=string(),
        address=string(),
        phone=string(),
    ),
    "specimenCodes": codes("Codes of specimens taken [wire]."),
    "deviceCodes": codes("Codes of devices used [wire]."),
    "organization": organization("[wire]"),
    "codes": codes("Codes of the procedure (CPT-4, SNOMED-CT) [wire]."),
    "ccd": ccd("[wire]"),
}

_SOCIAL_HISTORY = {
    **NO_SOURCE,
    "entries": array(
        "Observations {name, dateTime, codes}, e.g. Never smoker [wire].",
        obj("An observation.", name=string(), dateTime=date_time(), codes=codes("Its codes.")),
    ),
    "organization": organization("[wire]"),
    "ccd": ccd("[wire]"),
}

_REPORTS = {
    **MEDICAL,
    "source": string("The originating source's id [assumed]."),
    **_assumed_times("report"),
    "id": string("The report's id, e.g. <24 hex>-000000-<24 hex> [doc]."),
    "name": string(
        "The report's code, e.g. timeline, ccdraw, highlights (public client code reads "
        "it) [assumed]."
    ),
}

MEDICAL_SCHEMAS: dict[str, Schema] = {
    "allergies": _data(_ALLERGIES),
    "demographics": _data(_DEMOGRAPHICS),
    "encounters": _data(_ENCOUNTERS),
    "functional_statuses": _data(_FUNCTIONAL_STATUSES),
    "immunizations": _data(_IMMUNIZATIONS),
    "instructions": _data(_INSTRUCTIONS),
    "issues": _data(_ISSUES),
    "medications": _data(_MEDICATIONS),
    "narratives": _data(_NARRATIVES),
    "organizations": _data(_ORGANIZATIONS),
    "plans_of_care": _data(_PLANS_OF_CARE),
    "procedures": _data(_PROCEDURES),
    "social_history": _data(_SOCIAL_HISTORY),
    "test_results": _data(_TEST_RESULTS),
    "vitals": _data(_VITALS),
    "reports": _data(_REPORTS),
}

# -- wellness endpoints -----------------------------------------------------------------

PROFILE = _data(
    {
        "humanId": string("The user's Human API id [doc]."),
        "userId": string("Human API's older user id (deprecated: use humanId) [doc]."),
        "email": string("The user's email (PHI) [doc]."),
        "defaultTimeZone": obj("The user's time zone {name} [doc].", name=string()),
        "createdAt": date_time("When the user was created [doc]."),
        "updatedAt": date_time(
            "When the profile was last updated [doc: field table; missing in the sample]."
        ),
    },
    single=True,
)

_TZ_OFFSET = string("The local time's offset from UTC, +/-hh:mm [doc].")
_ACTIVITIES = {
    **WELLNESS,
    "type": string("e.g. walking, running, cycling, unknown [doc]."),
    "startTime": date_time("Start, UTC [doc]."),
    "endTime": date_time("End, UTC [doc]."),
    "tzOffset": _TZ_OFFSET,
    "timeZone": string("The local time zone, e.g. America/Los_Angeles [doc]."),
    "duration": number("Seconds [doc]."),
    "distance": number("Meters [doc]."),
    "steps": number("Steps [doc]."),
    "calories": number("Calories [doc]."),
    "timeSeries": open_object("Series (heartRate, gps, ...), sent with time_series=true [doc]."),
}
_MINUTES = "Minutes [doc]."
_SLEEPS = {
    **WELLNESS,
    "day": string("The day the sleep belongs to, YYYY-MM-DD [doc]."),
    "startTime": date_time("Start, UTC [doc]."),
    "endTime": date_time("End, UTC [doc]."),
    "tzOffset": _TZ_OFFSET,
    "mainSleep": boolean("Whether it is the main sleep of the day [doc]."),
    "timeAsleep": number(_MINUTES),
    "timeAwake": number(_MINUTES),
    "efficiency": number("Percent of time in bed asleep [doc]."),
    "timeToFallAsleep": number(_MINUTES),
    "timeAfterWakeup": number(_MINUTES),
    "timeInBed": number(_MINUTES),
    "numberOfWakeups": number("Times woken up [doc]."),
    "timeSeries": open_object(
        "Series {type, intervalInMillis, values}, sent with time_series=true [doc]."
    ),
}
_LOCATIONS = {
    **{k: v for k, v in WELLNESS.items() if k != "sourceData"},  # none in v1 doc or wire
    "name": string("The place, e.g. Home [v1 doc]."),
    "type": string("The kind of place [v1 doc]."),
    "location": obj("The coordinates {lat, lon} [v1 doc].", lat=number(), lon=number()),
    "startTime": date_time("Arrival, UTC [model/wire]."),
    "endTime": date_time("Departure, UTC [model/wire]."),
    "timestamp": date_time("When the location was recorded [v1 doc]."),
    "tzOffset": string("The local time's offset from UTC, +/-hh:mm [model]."),
}
_READING = {
    **WELLNESS,
    "timestamp": date_time("When it was measured [doc]."),
    "tzOffset": _TZ_OFFSET,
    "value": number("The measurement [doc]."),
    "unit": string("Its unit, e.g. bpm, mg/dL, SpO2, kg/m2, percent, mm, kg [doc]."),
}
_NOTES = {"notes": string("The user's notes [v1 doc/wire].")}
_READINGS: dict[str, dict[str, Schema]] = {
    "heart_rate": _READING,
    "blood_glucose": {
        **_READING,
        **_NOTES,
        "mealTag": string("e.g. before or after a meal [v1 doc/wire]."),
        "medicationTag": string("e.g. before or after medication [v1 doc/wire]."),
    },
    "blood_pressure": {
        **{k: v for k, v in _READING.items() if k != "value"},
        "systolic": number("Systolic pressure; documented as a String, sent as a Number [wire]."),
        "diastolic": number("Diastolic pressure; documented as a String, sent as a Number [wire]."),
        "heartRate": number("Heart rate taken with it; sent as a Number [wire]."),
        "unit": string("The pressures' unit, mmHg [wire]."),
    },
    "blood_oxygen": {**_READING, **_NOTES},
    "bmi": _READING,
    "body_fat": _READING,
    "height": _READING,
    "weight": _READING,
}
READINGS = tuple(_READINGS)
WELLNESS_SCHEMAS: dict[str, Schema] = {
    "activities": _data(_ACTIVITIES),
    "sleeps": _data(_SLEEPS),
    "locations": _data(_LOCATIONS),
    **{kind: _data(fields) for kind, fields in _READINGS.items()},
}

# -- the admin users and the sources ----------------------------------------------------

USERS = stream_schema(
    {
        "humanId": string("The user's Human API id; the primary key [OA]."),
        "clientUserId": string("The app's own id for the user [OA examples]."),
        "clientUserEmail": string("The user's email as the app gave it (PHI) [OA]."),
        "firstName": string("First name (PHI) [OA]."),
        "lastName": string("Last name (PHI) [OA]."),
        "dateOfBirth": string("Date of birth (PHI); documented as a date-time, kept as sent [OA]."),
        "status": string("Account status, e.g. Invited [OA]."),
        "createdAt": date_time("When the user was created [OA]."),
        "updatedAt": date_time("When the user was last updated [OA]."),
        "suggestedSources": array("Sources suggested to the user in Connect [OA].", string()),
        "inviteLink": string("The user's Connect invitation link [OA]."),
        "orders": array(
            "The user's orders {orderId, orderType, orderTypeAlias, orderStatus, "
            "reportsAvailable, dataAvailable} [OA].",
            obj(
                "An order.",
                orderId=string(),
                orderType=string(),
                orderTypeAlias=string(),
                orderStatus=string(),
                reportsAvailable=boolean(),
                dataAvailable=boolean(),
            ),
        ),
    },
    keys=("humanId",),
)

SOURCES = stream_schema(
    {
        **USER_KEYS,
        "id": string("The source account's id (not unique across users) [doc]."),
        "source": string("The source: a medical source's id, or a wellness source's name [doc]."),
        "sourceName": string("The source's display name [doc]."),
        "connectedSince": date_time("When the user connected it [doc]."),
        "supportedDataTypes": array("Data types it provides (deprecated) [doc].", string()),
        "devices": array("Its devices, or a medical source's id (deprecated) [doc].", string()),
        "organization": organization(),
        "historySync": obj(
            "The initial history sync {status, oldestDate} [doc].",
            status=string("completed, not_started or not_supported."),
            oldestDate=date_time(),
        ),
        "syncStatus": obj(
            "The last sync {status, details, synchedAt, newestDate} on Human API's clock "
            "[doc; lastNotificationDate: wire].",
            status=string("ok, inProgress, noDataAvailable, not_started, failed."),
            details=string(),
            synchedAt=date_time(),
            newestDate=date_time("Deprecated."),
            lastNotificationDate=date_time(),
        ),
        "resync": obj("Whether a resync is running {active} [doc].", active=boolean()),
        "expectedSyncDuration": number("Expected minutes of a sync, may be null [doc]."),
        "externalId": string("The source's external id [model]."),
        "timeZone": string("The source's time zone [model]."),
        "synched_at": date_time("syncStatus.synchedAt as a column [tap]."),
        "sync_status": string("syncStatus.status as a column [tap]."),
        "sync_details": string("syncStatus.details as a column [tap]."),
    },
    keys=("human_id", "client_user_id", "id", "source"),
)


# -- the tap's own report ---------------------------------------------------------------


USER_SYNC_STATUS: Schema = {
    "type": "object",
    "properties": {
        **{name: {**node, "type": ["string"]} for name, node in USER_KEYS.items()},
        "checked_at": date_time("When the tap checked the user's sources (tap's clock)."),
        "outcome": string("synced, unchanged, token_rejected, needs_reauth or error."),
        "detail": string("Why, without PHI: a status and vendor code, or a count."),
        "synched_at": date_time("Newest syncStatus.synchedAt of the user's sources."),
    },
    "required": list(USER_KEYS),
}
