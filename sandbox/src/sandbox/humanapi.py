"""A fake Human API (patient-authorised medical and wellness records) with seeded users.

Behaviours documented by the vendor (doc), per ``vendor-api-notes.md``:

- doc: user access tokens from ``POST /v1/connect/token`` with JSON ``{client_id,
  client_secret, client_user_id, type: "access"}`` answering ``{access_token,
  expires_in, token_type: "Bearer", refresh_token}``; a user with no connected source,
  or a deleted user, is refused with a 4xx.
- doc: the app token from ``POST /v1/admin/token`` ``{client_id, client_secret, type:
  "client"}`` answering ``{client_token, expires_in}``, and ``GET /api/v1/users?offset=N``
  with it: a bare array of ``{humanId, clientUserId, clientUserEmail, firstName,
  lastName, dateOfBirth, status, createdAt, updatedAt}``, paged until an empty page.
- doc: ``GET /v1/human/sources`` (``id``, ``source``, ``sourceName``, ``connectedSince``,
  ``organization``, ``historySync``, ``resync``, ``syncStatus {status, synchedAt}``),
  the medical types under ``/v1/human/medical/``, ``/v1/human/profile``, and the
  wellness types ``activities``, ``sleeps``, ``locations`` and ``/<kind>/readings``.
- doc/wire: lists are bare JSON arrays with ``limit`` (default 50, max 500),
  ``offset``, ``created_since``, ``updated_since``, ``created_before``,
  ``updated_before`` and ``source``; headers ``X-Total-Count`` and ``Link`` with
  ``rel="next"`` / ``rel="prev"`` joined by a comma without a space.
- doc/wire: records carry a 24-hex ``id``, ``createdAt`` / ``updatedAt`` (ISO-8601 with
  milliseconds and ``Z``, on Human API's clock), ``source`` (medical: the source account
  id; wellness: the source name) and ``sourceData``; medical records carry
  ``organization {id, name, href}`` and ``codes [{name, code, codeSystem,
  codeSystemName}]`` and lack ``humanId``, wellness records carry ``userId`` and
  ``humanId``. ``demographics`` and ``profile`` answer one object, or 404.
- doc: ``syncStatus.status`` values ``inProgress``, ``ok`` and ``noDataAvailable``.

Behaviours assumed by this sandbox (assumed):

- assumed: one port serves the auth, admin and data hosts (data under ``/v1/human``).
- assumed: ``created_since`` / ``updated_since`` are inclusive (``>=``), ``*_before``
  exclusive (``<``); times without an offset are UTC; a bad time, ``limit`` outside
  1..500 or a negative ``offset`` answers 400. Lists are ordered by ``updatedAt``
  ascending, then ``id``; ``offset`` counts into that order per request. ``source``
  matches the record's ``source`` field exactly. ``start_date``/``end_date`` are
  ignored. ``/sources`` answers every source of the user, unpaged.
- assumed: error bodies ``{"error": code, "message": text}``; 401 codes
  ``unauthorized`` (no bearer token), ``invalid_token`` (unknown token, or a client
  token where a user token is needed and vice versa) and ``token_expired``
  (expired, revoked, or the user was deleted); the token endpoint answers 401
  ``invalid_client``, 400 ``invalid_request``, 404 ``user_not_found`` for an unknown
  or deleted user and 400 ``no_connected_sources`` for a user without a source;
  ``type: "session"`` is accepted like ``"access"``. 404 ``not_found``, 405
  ``method_not_allowed``. Tokens expire after ``token_ttl`` seconds of wall-clock time.
- assumed: a failed sync shows as ``syncStatus {status: "failed", details:
  "reauthenticationRequired" | "sourceUnavailable", synchedAt}`` where ``synchedAt`` is
  the last successful sync; ``details`` is present only for ``failed``.
- assumed: a simulated server clock (ms, strictly increasing, starting 2025-06-01) stamps
  every change; a source sync stamps its new and edited records and the source's
  ``synchedAt`` with the same time, so a record's ``updatedAt`` is never after its
  source's ``synchedAt``. Deleted users keep their data but it is no longer served
  (``truth`` leaves it out); ``mutate`` delete removes a record without a trace.
- assumed: the ``expire`` fault revokes every token of the user (or app) whose token the
  request carries and answers 401 ``token_expired``; on the token endpoints, which carry
  no bearer token, it revokes that user's (or the app's) tokens and answers normally.
  Other faults and the ``/_control/`` API are the framework's (see ``framework.py``).
- assumed: every field value (names, codes, sources, organizations, readings), the
  ``profile`` fields, reports' ``contentType``, and which stream a table is named.
"""

from __future__ import annotations

import math
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import msgspec

from sandbox.framework import (
    ControlError,
    Handler,
    Request,
    Response,
    VendorSandbox,
    json_response,
)

API_PREFIX = "/v1/human"
TOKEN_PATH = "/v1/connect/token"  # noqa: S105
ADMIN_TOKEN_PATH = "/v1/admin/token"  # noqa: S105
USERS_PATH = "/api/v1/users"
MEDICAL_LISTS = (
    "allergies",
    "encounters",
    "functional_statuses",
    "immunizations",
    "instructions",
    "issues",
    "medications",
    "narratives",
    "organizations",
    "plans_of_care",
    "procedures",
    "social_history",
    "test_results",
    "vitals",
    "reports",
)
READING_KINDS = (
    "heart_rate",
    "blood_glucose",
    "blood_pressure",
    "blood_oxygen",
    "bmi",
    "body_fat",
    "height",
    "weight",
)
MEDICAL_TABLES = (*MEDICAL_LISTS, "demographics")
WELLNESS_TABLES = (
    "profile",
    "activities",
    "sleeps",
    "locations",
    *(f"{kind}_readings" for kind in READING_KINDS),
)
SINGLE_TABLES = ("demographics", "profile")
DATA_TABLES = (*MEDICAL_TABLES, *WELLNESS_TABLES)
TABLES = (*DATA_TABLES, "sources")
# Table -> path under the data URL (API_PREFIX).
PATHS = {
    **{table: f"/medical/{table}" for table in MEDICAL_TABLES},
    "profile": "/profile",
    "activities": "/activities",
    "sleeps": "/sleeps",
    "locations": "/locations",
    **{f"{kind}_readings": f"/{kind}/readings" for kind in READING_KINDS},
    "sources": "/sources",
}
SYNC_STATUSES = ("ok", "inProgress", "noDataAvailable", "failed")
FAILURE_DETAILS = ("reauthenticationRequired", "sourceUnavailable")
USER_GROUPS = ("served", "deleted", "no_source", "reauthentication_required", "source_unavailable")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
USERS_PAGE_SIZE = 50

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000
_CLOCK_START = int((datetime(2025, 6, 1, tzinfo=UTC) - _EPOCH).total_seconds() * 1000)
_USERS_START = int((datetime(2023, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds() * 1000)
_USERS_END = _CLOCK_START - 60 * _DAY_MS

_SYSTEMS = {
    "SNOMED": ("2.16.840.1.113883.6.96", "SNOMED CT"),
    "LOINC": ("2.16.840.1.113883.6.1", "LOINC"),
    "RXNORM": ("2.16.840.1.113883.6.88", "RxNorm"),
    "ICD10": ("2.16.840.1.113883.6.90", "ICD-10-CM"),
    "CVX": ("2.16.840.1.113883.12.292", "CVX"),
    "CPT": ("2.16.840.1.113883.6.12", "CPT-4"),
}
# Medical sources: (source, sourceName, organization name, city, state).
_MEDICAL_SOURCES = (
    ("starfishmedical", "Starfish Medical", "Starfish Medical Group", "San Francisco", "CA"),
    ("kaiserpermanente", "Kaiser Permanente", "Kaiser Permanente Oakland", "Oakland", "CA"),
    ("stanfordhealthcare", "Stanford MyHealth", "Stanford Health Care", "Palo Alto", "CA"),
    ("sutterhealth", "Sutter Health My Health Online", "Sutter Health", "Sacramento", "CA"),
    ("mayoclinic", "Mayo Clinic Patient Portal", "Mayo Clinic", "Rochester", "MN"),
    ("questdiagnostics", "Quest Diagnostics MyQuest", "Quest Diagnostics", "Secaucus", "NJ"),
    ("nyulangone", "NYU Langone Health MyChart", "NYU Langone Health", "New York", "NY"),
    ("atriumhealth", "Atrium Health MyAtriumHealth", "Atrium Health", "Charlotte", "NC"),
)
# Wellness sources: source -> (sourceName, tables it provides).
_WELLNESS_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "fitbit": (
        "Fitbit",
        ("activities", "sleeps", "heart_rate_readings", "weight_readings", "bmi_readings"),
    ),
    "garmin": ("Garmin Connect", ("activities", "sleeps", "locations", "heart_rate_readings")),
    "applehealth": (
        "Apple Health",
        (
            "activities",
            "sleeps",
            "locations",
            "heart_rate_readings",
            "blood_oxygen_readings",
            "height_readings",
            "weight_readings",
        ),
    ),
    "withings": (
        "Withings",
        ("weight_readings", "bmi_readings", "body_fat_readings", "blood_pressure_readings"),
    ),
    "omron": ("Omron Connect", ("blood_pressure_readings", "heart_rate_readings")),
    "dexcom": ("Dexcom", ("blood_glucose_readings",)),
    "oura": ("Oura", ("sleeps", "activities", "heart_rate_readings")),
}
_FIRST_NAMES = {
    "female": (
        "Maria", "Jennifer", "Linda", "Elizabeth", "Susan", "Jessica", "Sarah", "Karen",
        "Lisa", "Nancy", "Ashley", "Emily", "Michelle", "Amanda", "Melissa", "Rebecca",
        "Laura", "Priya", "Mei", "Aaliyah", "Guadalupe", "Fatima", "Keisha", "Rosa",
    ),
    "male": (
        "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph",
        "Thomas", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Kevin",
        "Jose", "Luis", "Wei", "Arjun", "DeShawn", "Tyrone", "Hiroshi", "Omar",
    ),
}  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Nguyen",
    "Patel", "Kim", "Okafor", "O'Connor", "Chen", "Washington", "Kowalski", "Yamamoto",
)  # fmt: skip
_CITIES = (
    ("San Francisco", "CA", "941"), ("Oakland", "CA", "946"), ("Sacramento", "CA", "958"),
    ("Rochester", "MN", "559"), ("New York", "NY", "100"), ("Charlotte", "NC", "282"),
    ("Austin", "TX", "787"), ("Denver", "CO", "802"), ("Seattle", "WA", "981"),
)  # fmt: skip
_STREETS = ("Oak St", "Maple Ave", "Cedar Ln", "Pine St", "Elm St", "Washington Blvd",
            "Lakeview Dr", "Sunset Ave", "Hillside Rd", "Park Pl")  # fmt: skip
_CLINICIANS = (
    "Dr. Anita Desai", "Dr. Michael Chen", "Dr. Sarah Goldberg", "Dr. Robert Okafor",
    "Dr. Laura Martinez", "Dr. James Whitfield", "Dr. Emily Nakamura", "Dr. Samuel Brooks",
)  # fmt: skip
# (name, code, system[, alternative code, alternative system])
_ALLERGENS = (
    ("Penicillin G", "7980", "RXNORM"),
    ("Sulfamethoxazole", "10180", "RXNORM"),
    ("Aspirin", "1191", "RXNORM"),
    ("Codeine", "2670", "RXNORM"),
    ("Peanut (substance)", "762952008", "SNOMED"),
    ("Latex (substance)", "111088007", "SNOMED"),
    ("Bee venom (substance)", "288328004", "SNOMED"),
    ("Shellfish (substance)", "227037002", "SNOMED"),
)
_REACTIONS = ("Hives", "Rash", "Anaphylaxis", "Nausea", "Swelling", "Wheezing", "Itching")
_PROBLEMS = (
    ("Essential hypertension", "I10", "59621000"),
    ("Type 2 diabetes mellitus without complications", "E11.9", "44054006"),
    ("Hyperlipidemia, unspecified", "E78.5", "55822004"),
    ("Asthma, unspecified, uncomplicated", "J45.909", "195967001"),
    ("Major depressive disorder, single episode", "F32.9", "35489007"),
    ("Gastro-esophageal reflux disease without esophagitis", "K21.9", "235595009"),
    ("Hypothyroidism, unspecified", "E03.9", "40930008"),
    ("Unilateral primary osteoarthritis of knee", "M17.9", "239873007"),
    ("Migraine, unspecified, not intractable", "G43.909", "37796009"),
    ("Obesity, unspecified", "E66.9", "414916001"),
    ("Chronic kidney disease, stage 3 unspecified", "N18.30", "433144002"),
)
_MEDICATIONS = (
    ("Lisinopril 10 MG Oral Tablet", "314076", "1 tablet by mouth daily", "oral"),
    ("Metformin hydrochloride 500 MG Oral Tablet", "861007", "1 tablet twice daily", "oral"),
    ("Atorvastatin 20 MG Oral Tablet", "617310", "1 tablet at bedtime", "oral"),
    ("Levothyroxine Sodium 0.05 MG Oral Tablet", "966222", "1 tablet every morning", "oral"),
    ("Amlodipine 5 MG Oral Tablet", "197361", "1 tablet by mouth daily", "oral"),
    ("Omeprazole 20 MG Delayed Release Oral Capsule", "198053", "1 capsule daily", "oral"),
    ("Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", "745679", "2 puffs as needed",
     "inhalation"),
    ("Sertraline 50 MG Oral Tablet", "312940", "1 tablet by mouth daily", "oral"),
    ("Ibuprofen 600 MG Oral Tablet", "197806", "1 tablet every 6 hours as needed", "oral"),
)  # fmt: skip
_VACCINES = (
    ("Influenza, seasonal, injectable, preservative free", "140"),
    ("COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", "208"),
    ("Tdap", "115"),
    ("Pneumococcal conjugate PCV 13", "133"),
    ("Zoster vaccine recombinant", "187"),
    ("Hepatitis B, adult", "43"),
    ("HPV, 9-valent", "165"),
    ("MMR", "03"),
)
# (name, LOINC, unit, low, high, decimals)
_LABS = (
    ("Hemoglobin A1c/Hemoglobin.total in Blood", "4548-4", "%", 4.0, 5.6, 1),
    ("Glucose [Mass/volume] in Serum or Plasma", "2345-7", "mg/dL", 70, 99, 0),
    ("Cholesterol [Mass/volume] in Serum or Plasma", "2093-3", "mg/dL", 125, 200, 0),
    ("Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "13457-7", "mg/dL",
     0, 100, 0),
    ("Cholesterol in HDL [Mass/volume] in Serum or Plasma", "2085-9", "mg/dL", 40, 90, 0),
    ("Triglyceride [Mass/volume] in Serum or Plasma", "2571-8", "mg/dL", 0, 150, 0),
    ("Creatinine [Mass/volume] in Serum or Plasma", "2160-0", "mg/dL", 0.6, 1.3, 2),
    ("Hemoglobin [Mass/volume] in Blood", "718-7", "g/dL", 12.0, 17.5, 1),
    ("Thyrotropin [Units/volume] in Serum or Plasma", "3016-3", "mIU/L", 0.4, 4.0, 2),
    ("Potassium [Moles/volume] in Serum or Plasma", "2823-3", "mmol/L", 3.5, 5.1, 1),
    ("Leukocytes [#/volume] in Blood by Automated count", "6690-2", "10*3/uL", 4.5, 11.0, 1),
)  # fmt: skip
_VITALS = (
    ("Body weight", "29463-7", "kg", 48.0, 125.0, 1),
    ("Body height", "8302-2", "cm", 150.0, 195.0, 1),
    ("Heart rate", "8867-4", "/min", 52, 100, 0),
    ("Systolic blood pressure", "8480-6", "mm[Hg]", 100, 160, 0),
    ("Diastolic blood pressure", "8462-4", "mm[Hg]", 60, 100, 0),
    ("Body temperature", "8310-5", "Cel", 36.1, 37.9, 1),
    ("Respiratory rate", "9279-1", "/min", 12, 20, 0),
    ("Oxygen saturation in Arterial blood by Pulse oximetry", "59408-5", "%", 93, 100, 0),
    ("Body mass index (BMI) [Ratio]", "39156-5", "kg/m2", 18.5, 38.0, 1),
)
_PROCEDURES = (
    ("Colonoscopy", "73761001", "45378"),
    ("Appendectomy", "80146002", "44950"),
    ("Extracapsular cataract extraction", "54885007", "66984"),
    ("Screening mammography", "24623002", "77067"),
    ("Electrocardiographic procedure", "29303009", "93000"),
    ("Laparoscopic cholecystectomy", "45595009", "47562"),
    ("Removal of tooth", "55162003", "D7140"),
)
_ENCOUNTERS = (
    ("Office Visit", "99213", "Office or other outpatient visit, established patient"),
    ("Office Visit", "99214", "Office or other outpatient visit, established patient"),
    ("Emergency", "99283", "Emergency department visit"),
    ("Annual Physical", "99396", "Periodic preventive medicine, 40-64 years"),
    ("Telehealth", "99442", "Telephone evaluation and management service"),
)
_FUNCTIONAL = (
    ("Ambulates independently", "Independent"),
    ("Activities of daily living", "Independent"),
    ("Uses walker", "Requires assistance"),
    ("Hearing", "Mild impairment"),
    ("Cognitive function", "Alert and oriented"),
)
_SOCIAL = (
    ("Tobacco smoking status", "72166-2", ("Never smoker", "Former smoker", "Current smoker")),
    ("Alcoholic drinks per drinking day", "11287-0", ("0", "1", "2", "3-4")),
    ("History of Occupation", "11341-5", ("Teacher", "Retired", "Engineer", "Nurse")),
    ("Exercise activity", "73985-4", ("None", "1-2 days/week", "3-5 days/week")),
)
_INSTRUCTIONS = (
    "Low sodium diet education provided.",
    "Take medications with food.",
    "Monitor blood glucose before breakfast and report values above 180 mg/dL.",
    "Return to clinic if symptoms worsen.",
    "Walk 30 minutes daily as tolerated.",
)
_PLANS = (
    ("Follow up with cardiology in 3 months", "referral"),
    ("Repeat hemoglobin A1c in 3 months", "lab order"),
    ("Schedule screening colonoscopy", "procedure"),
    ("Annual diabetic eye exam", "referral"),
    ("Physical therapy twice weekly for 6 weeks", "therapy"),
)
_NARRATIVES = (
    ("Assessment and Plan", "51847-2", "Stable. Continue current regimen; recheck labs."),
    ("History of Present Illness", "10164-2", "Patient reports intermittent headaches."),
    ("Chief Complaint", "10154-3", "Follow-up of chronic conditions."),
    ("Review of Systems", "10187-3", "Negative except as noted in HPI."),
)
_REPORTS = (
    ("Discharge Summary", "18842-5", "pdf", "application/pdf"),
    ("Laboratory Report", "11502-2", "pdf", "application/pdf"),
    ("Continuity of Care Document", "34133-9", "ccd", "application/xml"),
    ("Radiology Report", "18748-4", "pdf", "application/pdf"),
)
_ACTIVITY_TYPES = ("walking", "running", "cycling", "swimming", "workout", "hiking")
_READING_UNITS = {
    "heart_rate": ("bpm", 52, 120, 0),
    "blood_glucose": ("mg/dL", 70, 190, 0),
    "blood_oxygen": ("%", 92, 100, 0),
    "bmi": ("kg/m2", 18.5, 36.0, 1),
    "body_fat": ("%", 12.0, 38.0, 1),
    "height": ("cm", 150.0, 195.0, 1),
    "weight": ("kg", 48.0, 125.0, 1),
}


def _iso(ms: int) -> str:
    d = _EPOCH + timedelta(milliseconds=ms)
    return (
        f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:"
        f"{d.second:02d}.{d.microsecond // 1000:03d}Z"
    )


def _day(ms: int) -> str:
    return _iso(ms)[:10]


def _code(name: str, code: str, system: str) -> dict[str, str]:
    oid, system_name = _SYSTEMS[system]
    return {"name": name, "code": code, "codeSystem": oid, "codeSystemName": system_name}


def _error(status: int, code: str, message: str) -> Response:
    headers = []
    if status == 401:
        headers.append(("WWW-Authenticate", 'Bearer error="invalid_token"'))
    return json_response(status, {"error": code, "message": message}, headers)


@dataclass
class _Token:
    human_id: str | None  # None: the app's client token
    expires: float


@dataclass
class _User:
    admin: dict[str, Any]
    user_id: str
    gender: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def human_id(self) -> str:
        return str(self.admin["humanId"])


class _Generator:
    """Builds realistic records from one seeded random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.oldest: dict[str, int] = {}  # source id -> historySync.oldestDate in ms
        self.medical: dict[str, Callable[[int], tuple[dict[str, Any], list[dict[str, str]]]]] = {
            "allergies": self._allergy,
            "encounters": self._encounter,
            "functional_statuses": self._functional,
            "immunizations": self._immunization,
            "instructions": self._instruction,
            "issues": self._issue,
            "medications": self._medication,
            "narratives": self._narrative,
            "organizations": self._organization,
            "plans_of_care": self._plan,
            "procedures": self._procedure,
            "social_history": self._social,
            "test_results": self._test_result,
            "vitals": self._vital,
            "reports": self._report,
        }

    def hex24(self) -> str:
        return f"{self.rng.getrandbits(96):024x}"

    def _measure(self, low: float, high: float, decimals: int) -> float | int:
        # Mostly in range, sometimes a little outside it, as real results are.
        value = self.rng.uniform(low * 0.85, high * 1.15)
        return round(value, decimals) if decimals else round(value)

    def user(self, index: int, created: int) -> _User:
        rng = self.rng
        gender = rng.choice(("female", "male"))
        first, last = rng.choice(_FIRST_NAMES[gender]), rng.choice(_LAST_NAMES)
        birth = datetime(1940, 1, 1) + timedelta(days=rng.randrange(0, 62 * 365))
        email = f"{first}.{last}".lower().replace("'", "") + f"{rng.randrange(1, 99)}@example.com"
        admin = {
            "humanId": self.hex24(),
            "clientUserId": f"patient-{index + 1:05d}",
            "clientUserEmail": email,
            "firstName": first,
            "lastName": last,
            "dateOfBirth": birth.strftime("%Y-%m-%d"),
            "status": "active",
            "createdAt": _iso(created),
            "updatedAt": _iso(created),
        }
        return _User(admin, self.hex24(), gender)

    def source(self, slug: str, connected: int, synched: int) -> dict[str, Any]:
        rng = self.rng
        medical = next((s for s in _MEDICAL_SOURCES if s[0] == slug), None)
        oldest = connected - rng.randrange(365, 8 * 365) * _DAY_MS
        source: dict[str, Any] = {
            "id": self.hex24(),
            "source": slug,
            "sourceName": medical[1] if medical else _WELLNESS_SOURCES[slug][0],
            "connectedSince": _iso(connected),
        }
        if medical:
            org_id = self.hex24()
            source["organization"] = {
                "id": org_id,
                "name": medical[2],
                "href": f"https://api.humanapi.co/v1/human/medical/organizations/{org_id}",
            }
        self.oldest[source["id"]] = oldest
        source["historySync"] = {"status": "completed", "oldestDate": _iso(oldest)}
        source["resync"] = {"active": False}
        source["syncStatus"] = {"status": "ok", "synchedAt": _iso(synched)}
        return source

    def medical_record(
        self, table: str, source: dict[str, Any], created: int, updated: int
    ) -> dict[str, Any]:
        when = self.rng.randrange(self.oldest[source["id"]], created)
        fields, codes = self.medical[table](when)
        return {
            "id": self.hex24(),
            **fields,
            "codes": codes,
            "organization": source["organization"],
            "source": source["id"],
            "sourceData": {"portal": source["source"], "documentId": self.hex24()},
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
        }

    def demographics(
        self, user: _User, source: dict[str, Any], created: int, updated: int
    ) -> dict[str, Any]:
        rng, admin = self.rng, user.admin
        city, state, zip_prefix = rng.choice(_CITIES)
        return {
            "id": self.hex24(),
            "firstName": admin["firstName"],
            "lastName": admin["lastName"],
            "dob": admin["dateOfBirth"],
            "gender": user.gender,
            "race": rng.choice(("White", "Black or African American", "Asian", "Other")),
            "ethnicity": rng.choice(("Not Hispanic or Latino", "Hispanic or Latino")),
            "language": rng.choice(("English", "English", "Spanish", "Chinese")),
            "maritalStatus": rng.choice(("Married", "Single", "Divorced", "Widowed")),
            "addresses": [
                {
                    "line": [f"{rng.randint(10, 9999)} {rng.choice(_STREETS)}"],
                    "city": city,
                    "state": state,
                    "postalCode": f"{zip_prefix}{rng.randrange(0, 100):02d}",
                }
            ],
            "phones": [{"type": "mobile", "number": f"+1 415 555 {rng.randrange(0, 10000):04d}"}],
            "emails": [admin["clientUserEmail"]],
            "codes": [],
            "organization": source["organization"],
            "source": source["id"],
            "sourceData": {"portal": source["source"]},
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
        }

    def wellness_record(
        self, table: str, user: _User, source: dict[str, Any], created: int, updated: int
    ) -> dict[str, Any]:
        rng = self.rng
        start = created - rng.randrange(0, 2 * _DAY_MS)
        if table == "activities":
            fields = self._activity(start)
        elif table == "sleeps":
            fields = self._sleep(start)
        elif table == "locations":
            fields = {
                "latitude": round(rng.uniform(25.0, 48.0), 6),
                "longitude": round(rng.uniform(-123.0, -71.0), 6),
                "startTime": _iso(start),
                "endTime": _iso(start + rng.randrange(60_000, 4 * 3_600_000)),
            }
        else:
            fields = self._reading(table.removesuffix("_readings"), start)
        return {
            "id": self.hex24(),
            "userId": user.user_id,
            "humanId": user.human_id,
            **fields,
            "source": source["source"],
            "sourceData": {"deviceId": source["id"][:12]},
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
        }

    def profile(
        self, user: _User, source: dict[str, Any], created: int, updated: int
    ) -> dict[str, Any]:
        return {
            "id": self.hex24(),
            "userId": user.user_id,
            "humanId": user.human_id,
            "email": user.admin["clientUserEmail"],
            "firstName": user.admin["firstName"],
            "lastName": user.admin["lastName"],
            "source": source["source"],
            "sourceData": {},
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
        }

    # -- type-specific fields -----------------------------------------------------------

    def _allergy(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        rng = self.rng
        name, code, system = rng.choice(_ALLERGENS)
        fields = {
            "name": name.removesuffix(" (substance)"),
            "reaction": rng.choice(_REACTIONS),
            "severity": rng.choice(("mild", "moderate", "severe")),
            "status": rng.choice(("active", "active", "inactive")),
            "dateTime": _iso(when),
        }
        return fields, [_code(name, code, system)]

    def _issue(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        name, icd, snomed = self.rng.choice(_PROBLEMS)
        fields = {
            "name": name,
            "onset": _day(when),
            "status": self.rng.choice(("active", "active", "resolved", "inactive")),
        }
        return fields, [_code(name, icd, "ICD10"), _code(name, snomed, "SNOMED")]

    def _medication(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        rng = self.rng
        name, rxcui, dosage, route = rng.choice(_MEDICATIONS)
        status = rng.choice(("active", "active", "completed", "discontinued"))
        fields = {
            "name": name,
            "dosage": dosage,
            "route": route,
            "status": status,
            "startedAt": _iso(when),
            "stoppedAt": None
            if status == "active"
            else _iso(when + rng.randrange(7, 400) * _DAY_MS),
            "prescriber": rng.choice(_CLINICIANS),
        }
        return fields, [_code(name, rxcui, "RXNORM")]

    def _immunization(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        name, cvx = self.rng.choice(_VACCINES)
        fields = {"name": name, "dateTime": _iso(when), "route": "intramuscular"}
        return fields, [_code(name, cvx, "CVX")]

    def _test_result(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        name, loinc, unit, low, high, decimals = self.rng.choice(_LABS)
        value = self._measure(low, high, decimals)
        fields = {
            "name": name,
            "value": str(value),
            "unit": unit,
            "referenceRange": f"{low}-{high}",
            "interpretation": "Normal" if low <= value <= high else "Abnormal",
            "dateTime": _iso(when),
        }
        return fields, [_code(name, loinc, "LOINC")]

    def _vital(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        name, loinc, unit, low, high, decimals = self.rng.choice(_VITALS)
        fields = {
            "name": name,
            "value": str(self._measure(low, high, decimals)),
            "unit": unit,
            "dateTime": _iso(when),
        }
        return fields, [_code(name, loinc, "LOINC")]

    def _encounter(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        kind, cpt, label = self.rng.choice(_ENCOUNTERS)
        fields = {
            "dateTime": _iso(when),
            "endDateTime": _iso(when + self.rng.randrange(15, 240) * 60_000),
            "type": kind,
            "provider": {"name": self.rng.choice(_CLINICIANS), "role": "attending"},
        }
        return fields, [_code(label, cpt, "CPT")]

    def _procedure(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        name, snomed, cpt = self.rng.choice(_PROCEDURES)
        fields = {"name": name, "dateTime": _iso(when), "performer": self.rng.choice(_CLINICIANS)}
        return fields, [_code(name, snomed, "SNOMED"), _code(name, cpt, "CPT")]

    def _functional(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        name, value = self.rng.choice(_FUNCTIONAL)
        fields = {"name": name, "value": value, "dateTime": _iso(when)}
        return fields, [_code("Functional status assessment note", "47420-5", "LOINC")]

    def _social(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        name, loinc, values = self.rng.choice(_SOCIAL)
        fields = {"name": name, "value": self.rng.choice(values), "startDate": _day(when)}
        return fields, [_code(name, loinc, "LOINC")]

    def _instruction(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        text = self.rng.choice(_INSTRUCTIONS)
        fields = {"name": "Patient instructions", "text": text, "dateTime": _iso(when)}
        return fields, [_code("Instructions", "69730-0", "LOINC")]

    def _plan(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        name, kind = self.rng.choice(_PLANS)
        fields = {
            "name": name,
            "type": kind,
            "status": self.rng.choice(("planned", "active", "completed")),
            "dateTime": _iso(when),
        }
        return fields, [_code("Plan of care note", "18776-5", "LOINC")]

    def _narrative(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        name, loinc, text = self.rng.choice(_NARRATIVES)
        fields = {"name": name, "text": text, "dateTime": _iso(when)}
        return fields, [_code(name, loinc, "LOINC")]

    def _organization(self, _when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        rng = self.rng
        _, _, name, city, state = rng.choice(_MEDICAL_SOURCES)
        fields = {
            "name": name,
            "address": {
                "line": [f"{rng.randint(100, 4999)} {rng.choice(_STREETS)}"],
                "city": city,
                "state": state,
            },
            "phone": f"+1 800 555 {rng.randrange(0, 10000):04d}",
        }
        return fields, []

    def _report(self, when: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
        name, loinc, kind, content_type = self.rng.choice(_REPORTS)
        fields = {"name": name, "type": kind, "contentType": content_type, "dateTime": _iso(when)}
        return fields, [_code(name, loinc, "LOINC")]

    def _activity(self, start: int) -> dict[str, Any]:
        rng = self.rng
        kind = rng.choice(_ACTIVITY_TYPES)
        duration = rng.randrange(600, 7200)
        on_foot = kind in ("walking", "running", "hiking")
        return {
            "type": kind,
            "startTime": _iso(start),
            "endTime": _iso(start + duration * 1000),
            "tzOffset": rng.choice(("-08:00", "-07:00", "-05:00")),
            "duration": duration,
            "distance": round(duration * rng.uniform(0.8, 4.5), 1),
            "steps": round(duration * rng.uniform(1.2, 2.6)) if on_foot else 0,
            "calories": round(duration * rng.uniform(0.08, 0.2)),
        }

    def _sleep(self, start: int) -> dict[str, Any]:
        rng = self.rng
        in_bed = rng.randrange(300, 600)
        awake = rng.randrange(5, 60)
        return {
            "day": _day(start),
            "startTime": _iso(start),
            "endTime": _iso(start + in_bed * 60_000),
            "mainSleep": True,
            "timeInBed": in_bed,
            "timeAsleep": in_bed - awake,
            "timeAwake": awake,
            "efficiency": round(100 * (in_bed - awake) / in_bed),
        }

    def _reading(self, kind: str, start: int) -> dict[str, Any]:
        rng = self.rng
        value: Any
        if kind == "blood_pressure":
            value, unit = (
                {"systolic": rng.randint(100, 165), "diastolic": rng.randint(60, 105)},
                "mmHg",
            )
        else:
            unit, low, high, decimals = _READING_UNITS[kind]
            value = self._measure(low, high, decimals)
        return {"type": kind, "value": value, "unit": unit, "timestamp": _iso(start)}


def _ceil_ms(value: str) -> int | None:
    """A query time as ms, rounded up so that ``>=``/``<`` on ms stay exact; None if bad."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return math.ceil(micros / 1000)


@dataclass(frozen=True)
class _ListQuery:
    limit: int
    offset: int
    filters: tuple[tuple[str, str, str], ...]  # (field, ">=" | "<" | "==", value)

    def matches(self, record: dict[str, Any]) -> bool:
        for name, op, value in self.filters:
            have = record[name]
            if (op == ">=" and have < value) or (op == "<" and have >= value):
                return False
            if op == "==" and have != value:
                return False
        return True


_TIME_FILTERS = (
    ("created_since", "createdAt", ">="),
    ("updated_since", "updatedAt", ">="),
    ("created_before", "createdAt", "<"),
    ("updated_before", "updatedAt", "<"),
)


def _list_query(request: Request) -> _ListQuery | Response:
    """Parse limit, offset and the filters, or answer 400."""
    numbers = {}
    for name, default, low, high in (
        ("limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        ("offset", 0, 0, None),
    ):
        raw = request.param(name)
        try:
            numbers[name] = default if raw is None else int(raw)
        except ValueError:
            return _error(400, "invalid_request", f"{name} must be an integer")
        if numbers[name] < low or (high is not None and numbers[name] > high):
            bounds = f"between {low} and {high}" if high else f">= {low}"
            return _error(400, "invalid_request", f"{name} must be {bounds}")
    filters = []
    for param, name, op in _TIME_FILTERS:
        raw = request.param(param)
        if raw is None:
            continue
        ms = _ceil_ms(raw)
        if ms is None:
            return _error(400, "invalid_request", f"{param} must be an ISO-8601 time")
        filters.append((name, op, _iso(ms)))
    source = request.param("source")
    if source is not None:
        filters.append(("source", "==", source))
    return _ListQuery(numbers["limit"], numbers["offset"], tuple(filters))


def _link(request: Request, offset: int) -> str:
    query = [(k, v) for k, v in request.query if k != "offset"] + [("offset", str(offset))]
    return f"{request.base_url}{request.path}?{urlencode(query)}"


class HumanAPISandbox(VendorSandbox):
    """The fake Human API; see the module docstring for what is doc and what assumed."""

    extra_stats = (
        "token_requests",
        "tokens_issued",
        "admin_requests",
        "sources_requests",
        "data_requests",
    )

    def __init__(
        self,
        seed: int = 1,
        users: int = 50,
        *,
        latency_ms: int = 0,
        token_ttl: int = 86400,
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-client-secret",  # noqa: S107
    ) -> None:
        super().__init__(latency_ms=latency_ms)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self._tokens: dict[str, _Token] = {}
        self._revoked: set[str] = set()
        self._issued: list[str] = []
        self._clock = _CLOCK_START
        self._mutation_rng = random.Random(f"humanapi-mutations-{seed}")
        self._gen = _Generator(random.Random(seed))
        self._users: list[_User] = []
        self._by_client: dict[str, _User] = {}
        self._by_human: dict[str, _User] = {}
        self._source_tables: dict[str, tuple[str, ...]] = {}
        self._owner: dict[str, tuple[_User, str]] = {}  # record id -> (user, table)
        self._encoded: dict[str, bytes] = {}
        self._populate(int(users))
        # Later records come from their own stream so the seeded data stays stable.
        self._gen.rng = self._mutation_rng

    @property
    def api_url(self) -> str:
        """The data URL (Human API's ``https://api.humanapi.co/v1/human``)."""
        return self.url + API_PREFIX

    @property
    def tables(self) -> tuple[str, ...]:
        """Names of the data tables plus ``sources``."""
        return TABLES

    # -- seeded data ------------------------------------------------------------------

    def _groups(self, count: int) -> dict[int, str]:
        """Choose which users are deleted, have no source, or have a failing source."""
        rng = self._gen.rng
        wanted = [
            ("deleted", max(1, round(count * 0.05))),
            ("reauthentication_required", max(1, round(count * 0.05))),
            ("source_unavailable", max(1, round(count * 0.02))),
            ("no_source", max(1, round(count * 0.02))),
        ]
        free = list(range(count))
        rng.shuffle(free)
        groups: dict[int, str] = {}
        for group, size in wanted:
            for _ in range(min(size, len(free) - 1)):  # keep at least one plain user
                groups[free.pop()] = group
        return groups

    def _populate(self, count: int) -> None:
        rng = self._gen.rng
        groups = self._groups(count)
        created = sorted(rng.randrange(_USERS_START, _USERS_END) for _ in range(count))
        for index, when in enumerate(created):
            user = self._gen.user(index, when)
            self._users.append(user)
            self._by_client[user.admin["clientUserId"]] = user
            self._by_human[user.human_id] = user
            group = groups.get(index)
            if group != "no_source":
                failure = {
                    "reauthentication_required": "reauthenticationRequired",
                    "source_unavailable": "sourceUnavailable",
                }.get(group or "")
                self._connect_sources(user, when, failure)
            if group == "deleted":
                deleted_at = _iso(rng.randrange(_USERS_END, _CLOCK_START - _DAY_MS))
                user.admin.update(status="deleted", updatedAt=deleted_at)

    def _connect_sources(self, user: _User, created: int, failure: str | None) -> None:
        rng, gen = self._gen.rng, self._gen
        count = rng.choice((1, 1, 2, 2, 2, 3))
        failing = rng.randrange(count) if failure else -1
        medical = [s[0] for s in _MEDICAL_SOURCES]
        wellness = list(_WELLNESS_SOURCES)
        slugs = rng.sample(medical, 2) + rng.sample(wellness, 2)
        kinds = [rng.random() < 0.7 for _ in range(count)]  # True: a medical portal
        chosen = [slugs.pop(0) if is_medical else slugs.pop() for is_medical in kinds]
        for position, slug in enumerate(chosen):
            # Users join at least 60 days before the clock starts and connect within 30,
            # so every synchedAt below is after connectedSince.
            connected = created + rng.randrange(0, 30 * _DAY_MS)
            # A failing source last synced days ago; a healthy one within the last days.
            ago = (5, 29) if position == failing else (0, 3)
            synched = _CLOCK_START - rng.randrange(
                ago[0] * _DAY_MS + 3_600_000, ago[1] * _DAY_MS + 7_200_000
            )
            source = gen.source(slug, connected, synched)
            user.sources.append(source)
            self._seed_records(user, source, connected, synched)
            if position == failing:
                source["syncStatus"] = {
                    "status": "failed",
                    "details": failure,
                    "synchedAt": _iso(synched),
                }
        user.sources.sort(key=lambda s: s["connectedSince"])

    def _seed_records(
        self, user: _User, source: dict[str, Any], connected: int, synched: int
    ) -> None:
        rng = self._gen.rng
        if "organization" in source:
            tables = rng.sample(MEDICAL_LISTS, rng.randint(8, 14))
            counts = {table: rng.randint(1, 8) for table in tables}
            if "demographics" not in user.records:
                counts["demographics"] = 1
        else:
            tables = list(_WELLNESS_SOURCES[source["source"]][1])
            no_data = rng.random() < 0.05
            counts = {table: 0 if no_data else rng.randint(1, 8) for table in tables}
            if "profile" not in user.records:
                counts["profile"] = 1
            if no_data:
                source["syncStatus"]["status"] = "noDataAvailable"
        self._source_tables[source["id"]] = tuple(tables)
        if rng.random() < 0.03 and source["syncStatus"]["status"] == "ok":
            source["syncStatus"]["status"] = "inProgress"
        for table, size in counts.items():
            for _ in range(size):
                made = rng.randrange(connected, synched)
                edited = made if rng.random() < 0.7 else rng.randrange(made, synched)
                self._store(user, table, self._make(table, user, source, made, edited))

    def _make(
        self, table: str, user: _User, source: dict[str, Any], created: int, updated: int
    ) -> dict[str, Any]:
        gen = self._gen
        if table == "demographics":
            return gen.demographics(user, source, created, updated)
        if table == "profile":
            return gen.profile(user, source, created, updated)
        if table in MEDICAL_TABLES:
            return gen.medical_record(table, source, created, updated)
        return gen.wellness_record(table, user, source, created, updated)

    def _store(self, user: _User, table: str, record: dict[str, Any]) -> None:
        rows = user.records.setdefault(table, {})
        if table in SINGLE_TABLES:
            for old in rows:
                self._owner.pop(old, None)
                self._encoded.pop(old, None)
            rows.clear()
        # Records are replaced, never edited in place, so a list read under the lock
        # stays consistent after the lock is released.
        rows[record["id"]] = record
        self._owner[record["id"]] = (user, table)
        self._encoded.pop(record["id"], None)

    def _encode(self, record: dict[str, Any]) -> bytes:
        data = self._encoded.get(record["id"])
        if data is None:
            data = self._encoded[record["id"]] = msgspec.json.encode(record)
        return data

    def _source_of(self, user: _User, record: dict[str, Any]) -> dict[str, Any]:
        return next(s for s in user.sources if record["source"] in (s["id"], s["source"]))

    # -- reading the data -------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        """Admin records of every user, deleted ones included (``status: "deleted"``)."""
        with self._lock:
            return [dict(user.admin) for user in self._users]

    def client_user_ids(self, group: str | None = None) -> list[str]:
        """Every clientUserId in admin order, or those of one group of ``USER_GROUPS``.

        Groups: ``served`` (a token is granted), ``deleted``, ``no_source`` (active, no
        connected source), ``reauthentication_required`` and ``source_unavailable`` (active
        with a source failing so).
        """
        if group is not None and group not in USER_GROUPS:
            raise ControlError(f"group must be one of {list(USER_GROUPS)}")
        with self._lock:
            return [
                user.admin["clientUserId"]
                for user in self._users
                if group is None or group in self._groups_of(user)
            ]

    def _groups_of(self, user: _User) -> set[str]:
        if user.admin["status"] == "deleted":
            return {"deleted"}
        if not user.sources:
            return {"no_source"}
        groups = {"served"}
        for source in user.sources:
            details = source["syncStatus"].get("details")
            if details == "reauthenticationRequired":
                groups.add("reauthentication_required")
            elif details == "sourceUnavailable":
                groups.add("source_unavailable")
        return groups

    def truth(self, table: str) -> list[dict[str, Any]]:
        """Every record of ``table`` the API serves, across users, each with ``humanId``.

        Deleted users' data is not served, so it is left out.
        """
        if table not in TABLES:
            raise ControlError(f"table must be one of {list(TABLES)}")
        with self._lock:
            chunks: list[tuple[str, bytes]] = []
            for user in self._users:
                if user.admin["status"] == "deleted":
                    continue
                if table == "sources":
                    rows = [msgspec.json.encode(s) for s in user.sources]
                else:
                    rows = [self._encode(r) for r in self._ordered(user, table)]
                chunks.extend((user.human_id, row) for row in rows)
        result = []
        for human_id, row in chunks:
            record = msgspec.json.decode(row)
            record.setdefault("humanId", human_id)
            result.append(record)
        return result

    def _ordered(self, user: _User, table: str) -> list[dict[str, Any]]:
        rows = user.records.get(table, {}).values()
        return sorted(rows, key=lambda r: (r["updatedAt"], r["id"]))

    def _user(self, client_user_id: str) -> _User:
        user = self._by_client.get(client_user_id)
        if user is None:
            raise ControlError(f"unknown client_user_id {client_user_id!r}")
        return user

    # -- changing the data ------------------------------------------------------------

    def _tick(self) -> int:
        self._clock += self._mutation_rng.randrange(1000, 120_000)
        return self._clock

    def source_sync(
        self, client_user_id: str, new: int = 2, updated: int = 2, source_id: str | None = None
    ) -> None:
        """Complete a sync of the user's sources (or of one) at a new server time.

        Each synced source gets ``new`` records and ``updated`` edited ones spread over its
        data types, all stamped with the sync time, then ``syncStatus {status: "ok",
        synchedAt: <that time>}``.
        """
        with self._lock:
            user = self._user(client_user_id)
            sources = [s for s in user.sources if source_id in (None, s["id"])]
            if not sources:
                raise ControlError("the user has no such connected source")
            now = self._tick()
            for source in sources:
                self._sync_source(user, source, now, int(new), int(updated))

    def _sync_source(
        self, user: _User, source: dict[str, Any], now: int, new: int, updated: int
    ) -> None:
        rng = self._mutation_rng
        # Chosen before the new records exist, so `updated` counts older records only.
        mine = sorted(
            (record["id"], table)
            for table, rows in user.records.items()
            for record in rows.values()
            if self._source_of(user, record) is source
        )
        edits = rng.sample(mine, min(updated, len(mine)))
        tables = self._source_tables[source["id"]]
        for _ in range(new):
            table = rng.choice(tables)
            self._store(user, table, self._make(table, user, source, now, now))
        for record_id, table in edits:
            self._edit(user, table, record_id, now)
        source["syncStatus"] = {"status": "ok", "synchedAt": _iso(now)}

    def _edit(self, user: _User, table: str, record_id: str, now: int) -> dict[str, Any]:
        old = user.records[table][record_id]
        source = self._source_of(user, old)
        record = self._make(table, user, source, now, now)
        record.update(id=old["id"], createdAt=old["createdAt"])
        self._store(user, table, record)
        return record

    def set_sync_status(
        self,
        client_user_id: str,
        status: str = "failed",
        details: str | None = "reauthenticationRequired",
        source_id: str | None = None,
    ) -> None:
        """Set a source's (default: the user's first) ``syncStatus``; synchedAt is kept."""
        if status not in SYNC_STATUSES:
            raise ControlError(f"status must be one of {list(SYNC_STATUSES)}")
        if status == "failed" and details not in FAILURE_DETAILS:
            raise ControlError(f"details must be one of {list(FAILURE_DETAILS)}")
        with self._lock:
            user = self._user(client_user_id)
            source = next((s for s in user.sources if source_id in (None, s["id"])), None)
            if source is None:
                raise ControlError("the user has no such connected source")
            sync = {"status": status, "synchedAt": source["syncStatus"]["synchedAt"]}
            if status == "failed":
                sync = {"status": status, "details": details, "synchedAt": sync["synchedAt"]}
            source["syncStatus"] = sync

    def delete_user(self, client_user_id: str) -> None:
        """Delete a user: their tokens stop working and no new token is granted."""
        with self._lock:
            user = self._user(client_user_id)
            user.admin.update(status="deleted", updatedAt=_iso(self._tick()))
            self._revoke_where(lambda token: token.human_id == user.human_id)

    def mutate(
        self, table: str, op: str, count: int = 1, uuids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Insert, update or (hard) delete records of a data table as a source sync would.

        ``uuids`` are record ids. Each change gets a new server time, which also becomes
        the source's ``synchedAt``. Returns the new versions (deleted: the last one).
        """
        if table not in DATA_TABLES:
            raise ControlError(f"table must be one of {list(DATA_TABLES)}")
        if op not in ("insert", "update", "delete"):
            raise ControlError("op must be insert, update or delete")
        with self._lock:
            if op == "insert":
                changed = [
                    self._insert(table, record_id) for record_id in self._insert_ids(count, uuids)
                ]
            else:
                changed = [
                    self._change(op, user, table, rid)
                    for user, rid in self._targets(table, count, uuids)
                ]
            return [self._with_human_id(user, record) for user, record in changed]

    def _insert_ids(self, count: int, uuids: list[str] | None) -> list[str | None]:
        if uuids is None:
            return [None] * int(count)
        taken = [u for u in uuids if u in self._owner]
        if taken:
            raise ControlError(f"ids already exist: {taken}")
        return list(uuids)

    def _insert(self, table: str, record_id: str | None) -> tuple[_User, dict[str, Any]]:
        candidates = [
            (user, source)
            for user in self._users
            if user.admin["status"] == "active"
            for source in user.sources
            if self._provides(source, table)
            and not (table in SINGLE_TABLES and user.records.get(table))
        ]
        if not candidates:
            raise ControlError(f"no user can take a new {table} record")
        user, source = self._mutation_rng.choice(candidates)
        now = self._tick()
        record = self._make(table, user, source, now, now)
        if record_id is not None:
            record["id"] = str(record_id)
        self._store(user, table, record)
        source["syncStatus"] = {"status": "ok", "synchedAt": _iso(now)}
        return user, record

    def _provides(self, source: dict[str, Any], table: str) -> bool:
        if table in ("demographics", "organizations"):
            return "organization" in source
        if table == "profile":
            return "organization" not in source
        return table in self._source_tables[source["id"]]

    def _targets(self, table: str, count: int, uuids: list[str] | None) -> list[tuple[_User, str]]:
        if uuids is not None:
            missing = [u for u in uuids if self._owner.get(u, (None, None))[1] != table]
            if missing:
                raise ControlError(f"unknown ids in {table}: {missing}")
            return [(self._owner[u][0], u) for u in uuids]
        live = sorted(
            (user.admin["clientUserId"], record_id)
            for user in self._users
            if user.admin["status"] == "active"
            for record_id in user.records.get(table, {})
        )
        chosen = self._mutation_rng.sample(live, min(int(count), len(live)))
        return [(self._by_client[client], record_id) for client, record_id in chosen]

    def _change(
        self, op: str, user: _User, table: str, record_id: str
    ) -> tuple[_User, dict[str, Any]]:
        now = self._tick()
        if op == "update":
            record = self._edit(user, table, record_id, now)
        else:
            record = user.records[table].pop(record_id)
            self._owner.pop(record_id, None)
            self._encoded.pop(record_id, None)
        self._source_of(user, record)["syncStatus"] = {"status": "ok", "synchedAt": _iso(now)}
        return user, record

    @staticmethod
    def _with_human_id(user: _User, record: dict[str, Any]) -> dict[str, Any]:
        copy: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(record))
        copy.setdefault("humanId", user.human_id)
        return copy

    def schedule_ops(self) -> Mapping[str, Callable[..., object]]:
        """Source syncs, sync status changes and user deletions can be scheduled too."""
        return {
            "source_sync": self.source_sync,
            "set_sync_status": self.set_sync_status,
            "delete_user": self.delete_user,
        }

    # -- tokens -----------------------------------------------------------------------

    def tap_config(self, **overrides: Any) -> dict[str, Any]:
        """Settings that point tap-humanapi at this sandbox (one port, three hosts)."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "auth_url": self.url,
            "admin_url": self.url,
            "api_url": self.api_url,
            **overrides,
        }

    def issued_tokens(self) -> list[str]:
        """Every token issued (access, refresh and client), so tests can grep logs for them."""
        with self._lock:
            return list(self._issued)

    def _revoke_where(self, condition: Callable[[_Token], bool]) -> None:
        with self._lock:
            doomed = [key for key, token in self._tokens.items() if condition(token)]
            for key in doomed:
                del self._tokens[key]
            self._revoked.update(doomed)

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (they answer 401 token_expired)."""
        self._revoke_where(lambda _token: True)

    def expire_tokens(self, request: Request | None = None) -> Response | None:
        """Revoke the tokens of whoever the request speaks for; see the module docstring."""
        if request is None:
            self.revoke_tokens()
            return _error(401, "token_expired", "The access token has expired.")
        bearer = _bearer_token(request)
        with self._lock:
            if bearer is None:
                owner = self._token_request_owner(request)
                self._revoke_where(lambda token: token.human_id == owner)
                return None
            token = self._tokens.get(bearer)
            if token is not None:
                self._revoke_where(lambda other: other.human_id == token.human_id)
        return _error(401, "token_expired", "The access token has expired.")

    def _token_request_owner(self, request: Request) -> str | None:
        if request.path != TOKEN_PATH:
            return None
        body = _json_object(request)
        user = self._by_client.get(str(body.get("client_user_id"))) if body else None
        return user.human_id if user else ""

    def not_found(self) -> Response:
        """Answer an unknown path."""
        return _error(404, "not_found", "Not found.")

    def configure(self, latency_ms: int | None = None) -> None:
        """Change the injected latency."""
        with self._lock:
            super().configure(latency_ms=latency_ms)

    def control_routes(self) -> dict[tuple[str, str], Handler]:
        """Add users, source syncs, sync status, user deletion and token revocation."""
        routes = super().control_routes()
        p = "/_control/"
        routes["GET", p + "users"] = self._control_users
        routes["POST", p + "source_sync"] = self._control_call(self.source_sync)
        routes["POST", p + "sync_status"] = self._control_call(self.set_sync_status)
        routes["POST", p + "delete_user"] = self._control_call(self.delete_user)
        routes["POST", p + "revoke_tokens"] = self._control_call(self.revoke_tokens)
        return routes

    def _control_users(self, request: Request) -> Response:
        group = request.param("group")
        if group is None:
            return json_response(200, self.users())
        return json_response(200, self.client_user_ids(group))

    def _control_call(self, method: Callable[..., object]) -> Handler:
        def handle(request: Request) -> Response:
            method(**self._control_body(request))
            return json_response(200, {"ok": True})

        return handle

    # -- API --------------------------------------------------------------------------

    def api_routes(self) -> dict[str, Handler]:
        """Token endpoints, the admin users list, and one path per data table."""
        routes: dict[str, Handler] = {
            TOKEN_PATH: self._user_token,
            ADMIN_TOKEN_PATH: self._client_token,
            USERS_PATH: self._users_page,
        }
        for table, path in PATHS.items():
            routes[API_PREFIX + path] = self._lister(table)
        return routes

    def _credentials_ok(self, body: dict[str, Any]) -> bool:
        return secrets.compare_digest(
            str(body.get("client_id", "")).encode(), self.client_id.encode()
        ) & secrets.compare_digest(
            str(body.get("client_secret", "")).encode(), self.client_secret.encode()
        )

    def _grant(self, human_id: str | None, refresh: bool) -> list[str]:
        keys = [secrets.token_urlsafe(32) for _ in range(2 if refresh else 1)]
        with self._lock:
            self._tokens[keys[0]] = _Token(human_id, time.time() + self.token_ttl)
            self._issued.extend(keys)
            self._stats.incr("tokens_issued")
        return keys

    def _token_body(self, request: Request, types: tuple[str, ...]) -> dict[str, Any] | Response:
        """The JSON body of a token request with valid credentials, or the error answer."""
        if request.method != "POST":
            return _error(405, "method_not_allowed", "Use POST.")
        body = _json_object(request)
        if body is None:
            return _error(400, "invalid_request", "The body must be a JSON object.")
        if not self._credentials_ok(body):
            return _error(401, "invalid_client", "Invalid client credentials.")
        if body.get("type") not in types:
            return _error(400, "invalid_request", f"type must be one of {list(types)}.")
        return body

    def _user_token(self, request: Request) -> Response:
        self.count("token_requests")
        body = self._token_body(request, ("access", "session"))
        if isinstance(body, Response):
            return body
        with self._lock:
            user = self._by_client.get(str(body.get("client_user_id")))
            if user is None or user.admin["status"] == "deleted":
                return _error(404, "user_not_found", "No such user.")
            if not user.sources:
                return _error(400, "no_connected_sources", "The user has no connected source.")
            human_id = user.human_id
        access, refresh = self._grant(human_id, refresh=True)
        payload = {
            "access_token": access,
            "expires_in": self.token_ttl,
            "token_type": "Bearer",
            "refresh_token": refresh,
        }
        return json_response(200, payload)

    def _client_token(self, request: Request) -> Response:
        self.count("admin_requests")
        body = self._token_body(request, ("client",))
        if isinstance(body, Response):
            return body
        (token,) = self._grant(None, refresh=False)
        return json_response(200, {"client_token": token, "expires_in": self.token_ttl})

    def _authenticate(self, request: Request, client: bool) -> _Token | Response:
        """The valid token of the request, of the wanted kind, or a 401 answer."""
        bearer = _bearer_token(request)
        if bearer is None:
            return _error(401, "unauthorized", "A Bearer token is required.")
        with self._lock:
            token = self._tokens.get(bearer)
            if token is None:
                if bearer in self._revoked:
                    return _error(401, "token_expired", "The access token has expired.")
                return _error(401, "invalid_token", "The access token is invalid.")
            if token.expires <= time.time():
                return _error(401, "token_expired", "The access token has expired.")
        if (token.human_id is None) != client:
            return _error(401, "invalid_token", "The access token is invalid for this resource.")
        return token

    def _users_page(self, request: Request) -> Response:
        self.count("admin_requests")
        if request.method != "GET":
            return _error(405, "method_not_allowed", "Use GET.")
        token = self._authenticate(request, client=True)
        if isinstance(token, Response):
            return token
        raw = request.param("offset") or "0"
        if not raw.isdigit():
            return _error(400, "invalid_request", "offset must be an integer >= 0")
        offset = int(raw)
        with self._lock:
            page = [dict(u.admin) for u in self._users[offset : offset + USERS_PAGE_SIZE]]
        return Response(200, msgspec.json.encode(page), records=len(page))

    def _lister(self, table: str) -> Handler:
        def handle(request: Request) -> Response:
            return self._list(table, request)

        return handle

    def _list(self, table: str, request: Request) -> Response:
        self.count("sources_requests" if table == "sources" else "data_requests")
        if request.method != "GET":
            return _error(405, "method_not_allowed", "Use GET.")
        token = self._authenticate(request, client=False)
        if isinstance(token, Response):
            return token
        user = self._by_human[str(token.human_id)]
        if table == "sources":
            with self._lock:
                body = msgspec.json.encode(user.sources)
                count = len(user.sources)
            return Response(200, body, headers=[("X-Total-Count", str(count))], records=count)
        if table in SINGLE_TABLES:
            return self._single(user, table)
        query = _list_query(request)
        if isinstance(query, Response):
            return query
        with self._lock:
            matching = [r for r in self._ordered(user, table) if query.matches(r)]
            page = matching[query.offset : query.offset + query.limit]
            chunks = [self._encode(record) for record in page]
        return Response(
            200,
            b"[" + b",".join(chunks) + b"]",
            headers=_page_headers(request, query, len(matching)),
            records=len(chunks),
        )

    def _single(self, user: _User, table: str) -> Response:
        with self._lock:
            rows = list(user.records.get(table, {}).values())
            body = self._encode(rows[0]) if rows else None
        if body is None:
            return _error(404, "not_found", f"No {table} for this user.")
        return Response(200, body, records=1)


def _page_headers(request: Request, query: _ListQuery, total: int) -> list[tuple[str, str]]:
    links = []
    if query.offset + query.limit < total:
        links.append(f'<{_link(request, query.offset + query.limit)}>; rel="next"')
    if query.offset > 0:
        links.append(f'<{_link(request, max(0, query.offset - query.limit))}>; rel="prev"')
    headers = [("X-Total-Count", str(total))]
    if links:
        headers.append(("Link", ",".join(links)))  # no space after the comma, as on the wire
    return headers


def _bearer_token(request: Request) -> str | None:
    scheme, _, credentials = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = request.json()
    except msgspec.DecodeError:
        return None
    return body if isinstance(body, dict) else None
