"""A fake Human API (patient-authorised medical and wellness records) with seeded users.

It serves the record shapes Human API documents (``vendor-api-notes.md``, section
"Documented record shapes"), optional and rare fields included at realistic rates, so
a tap meets what a tenant is sent. Each behaviour is marked doc (a reference page,
named), wire (recorded responses of Human API's demo user: 2014 wellness,
github.com/steveblackmon/humanapi-streams; 2020 medical,
github.com/rootstrap/ehr-api-research) or assumed.

Auth, users and lists:

- doc (vendor-api-notes.md): user access tokens from ``POST /v1/connect/token`` with
  JSON ``{client_id, client_secret, client_user_id, type: "access"}`` answering
  ``{access_token, expires_in, token_type: "Bearer", refresh_token}``; a user with no
  connected source, or a deleted user, gets a 4xx.
- doc: the app token from ``POST /v1/admin/token`` ``{client_id, client_secret, type:
  "client"}`` answering ``{client_token, expires_in}``.
- doc (reference.humanapi.co/reference/getuserslist, OpenAPI ``user``): ``GET
  /api/v1/users?offset=N`` with the client token, a bare array of ``{humanId (32 hex),
  clientUserId, clientUserEmail, firstName, lastName, dateOfBirth (an ISO date-time),
  status, createdAt, updatedAt}``, some with ``suggestedSources`` (about 40%), an invited
  user with ``status: "Invited"`` and an ``inviteLink``, a few with ``orders`` (one in
  20); paged until an empty page.
- doc/wire: lists are bare JSON arrays with ``limit`` (default 50, max 500),
  ``offset``, ``created_since``, ``updated_since``, ``created_before``,
  ``updated_before`` and ``source``; headers ``X-Total-Count`` and ``Link`` with
  ``rel="next"`` / ``rel="prev"`` joined by a comma without a space.

Sources (doc: reference.humanapi.co/v2.3/reference/sources and the source-sync-status
guide; wire 2014):

- ``{id, source, sourceName, supportedDataTypes, devices, connectedSince, historySync
  {status, oldestDate}, syncStatus {status, details, synchedAt, newestDate}}``; a
  medical source's ``source`` is its 24-hex id (also its organization's id and its one
  ``devices`` entry) and it adds ``organization``, ``resync {active}`` and
  ``expectedSyncDuration`` (minutes, null for about 20%); a wellness source's
  ``source`` is its lower-case name, its ``supportedDataTypes`` the types it provides,
  and its ``syncStatus`` has ``lastNotificationDate`` (wire) but no ``details``.
- doc: ``syncStatus.status`` ``ok`` (medical: ``details: "ok"``), ``inProgress``,
  ``noDataAvailable``.

Records (every data type answers a list but ``/profile``, one object or 404):

- doc (reference.humanapi.co/v2.1/reference, common record properties): a 24-hex
  ``id``, ``createdAt`` / ``updatedAt`` (ISO-8601 with milliseconds and ``Z``, on
  Human API's clock) and ``source``; wellness records carry ``userId``, ``humanId``
  and ``sourceData`` (an object, though documented as a String). wire: medical records
  carry neither ``humanId`` nor ``sourceData``; their ``source`` is the source's id;
  ``demographics`` and ``social_history`` have no ``source``. Medical records carry
  ``organization {id, name, href: "/medical/organizations/<id>"}``, ``codes [{name,
  code, codeSystem, codeSystemName, inferred}]`` and often ``ccd {id, href}`` (wire).
- test_results (doc: v2.2/reference/test-results): a panel ``name`` and 1-12
  ``components [{name, value, unit, low, high, refRange, flag, codes}]`` (values are
  strings), ``resultDateTime``, ``status``, ``orderedBy``, ``patient {name}``,
  ``allResults: []``; rarely ``recipients``, ``comments``, ``narrative``,
  ``impression``, ``transcriptions``, ``specimen``, ``device``.
- vitals (doc: v2.1/reference/vitals; wire): ``dateTime``, ``author``, 1-6 ``results
  [{name, normalizedName, value, unit, codes, raw, values}]`` whose ``value`` is a
  Number (wire) and sometimes a String (doc); ``dateTime`` is a JavaScript date string
  on about 5% (old data, as in the 2015 sample).
- medications (doc: v2.1/reference/medications; v1 doc): ``name``, ``status``,
  ``startDate``, ``endDate``, ``details {dosage {form, value}, frequency {number,
  unit}, route, strength {number, unit}}`` (strings), ``dosageInfo``,
  ``instructions``, ``productName``, ``provider``, and at lower rates ``ndcCode``,
  ``genericProductIndicator``, ``commonBrandName``, ``providerID``, ``refillsTotal``
  (a String, wire), ``refillsRemaining`` (a Number, v1 doc), ``expiration``,
  ``pharmacy {iD, name, address, phone, hours}``.
- allergies (doc: v2.1 and v2.2/reference/allergies; wire): ``name``, ``allergen {name,
  codes}``, ``reactionsFull [{name, codes, reactionType {name, codes}}]``, ``patient``,
  ``status``, ``dateRange {start}``, sometimes ``severity``.
- encounters (doc: v2.1/reference/encounters; wire): ``dateTime``, ``visitType``,
  ``provider {name, departmentName, address}``, ``diagnoses``, ``reasons``, ``orders
  [{name, type, codeType, procedureCode, expectedDate, codes}]``, ``medications``,
  ``patientInstruction``, ``patient``, and the always-empty ``vitalSigns``,
  ``plansOfCare``, ``problems``, ``testResults`` (wire); rarely
  ``followUpInstructions`` (v1 doc).
- demographics (doc: v2.1/reference/demographics; wire): a list, usually one record per
  medical source and sometimes two, of ``{name {given, family}, address {street, city,
  state, zip, country}, dob ("MM/DD/YYYY"), dobDateTime, gender, genderCodes, race,
  raceCodes, ethnicity, ethnicityCodes, language, languageCodes, maritalStatus,
  maritalStatusCodes, provider {address, organization, phone}, ccd, organization}``.
- immunizations, issues, narratives, organizations (v1 doc, the reference's root page;
  wire): immunization ``{name, dates, patient, codes}``; issue ``{name, patient,
  codes}`` with ``status``, ``dateTime`` (about a quarter) and ``ccd``; narrative
  ``{dateTime, author, entries [{title, text, templateIds}]}``; organization ``{id,
  name, imageUrl}``.
- plans_of_care, procedures, social_history (wire only): ``{name, text, date, type,
  codes, provider {name {given, family}, departmentName, address}, specialty}``;
  ``{name, dateTime, performer {phone, address, organizationName}, codes,
  specimenCodes, deviceCodes}``; ``{entries [{dateTime, name, codes}]}``.
- functional_statuses, instructions (no page, no recorded response; the fields of a
  public C# model of the reference): ``{name, dateTime, codes}``, ``{name, text,
  dateTime, codes}``.
- profile (doc: v2.1/reference/profile-1): ``{userId, humanId, email, defaultTimeZone
  {name}, createdAt, updatedAt}``, no ``id``.
- activities (doc: v2.2/reference/activities): ``type``, ``startTime``, ``endTime``,
  ``tzOffset``, ``duration``, ``distance``, ``steps``, ``calories``, ``sourceData
  {manual}``, rarely ``timeZone``; sleeps (doc: v2.2/v2.3/reference/sleeps): ``day``,
  ``startTime``, ``endTime``, ``tzOffset``, ``mainSleep``, ``timeAsleep``,
  ``timeAwake``, ``efficiency``, ``timeToFallAsleep``, ``timeAfterWakeup``,
  ``timeInBed``, ``numberOfWakeups``; locations (v1 doc, wire): ``name``, ``location
  {lat, lon}``, ``startTime``, ``endTime``, often ``tzOffset``.
- readings (doc: v2.1 and v2.3/reference/heart-rate; v1 doc and wire for the other
  kinds): ``timestamp``, ``tzOffset`` (about 90%), ``value``, ``unit`` (bpm, mg/dL,
  SpO2, kg/m2, percent, mm, kg); blood_glucose adds ``notes``, ``mealTag``,
  ``medicationTag``, blood_oxygen ``notes``; blood_pressure has ``systolic``,
  ``diastolic`` and ``heartRate`` at the top level, ``unit: "mmHg"`` and no ``value``.
- ``timeSeries`` (activities, sleeps: only with ``time_series=true``) is not served.

Behaviours assumed by this sandbox (assumed):

- one port serves the auth, admin and data hosts (data under ``/v1/human``).
- ``created_since`` / ``updated_since`` are inclusive (``>=``), ``*_before``
  exclusive (``<``); times without an offset are UTC; a bad time, ``limit`` outside
  1..500 or a negative ``offset`` answers 400. Lists are ordered by ``updatedAt``
  ascending, then ``id``; ``offset`` counts into that order per request. ``source``
  matches the record's ``source`` field exactly (records without one never match).
  ``start_date``/``end_date`` are ignored. ``/sources`` answers every source of the
  user, unpaged.
- error bodies ``{"error": code, "message": text}``; 401 codes ``unauthorized`` (no
  bearer token), ``invalid_token`` (unknown token, or a client token where a user token
  is needed and vice versa) and ``token_expired`` (expired, revoked, or the user was
  deleted); the token endpoint answers 401 ``invalid_client``, 400
  ``invalid_request``, 404 ``user_not_found`` for an unknown or deleted user and 400
  ``no_connected_sources`` for a user without a source; ``type: "session"`` is
  accepted like ``"access"``. 404 ``not_found``, 405 ``method_not_allowed``. Tokens
  expire after ``token_ttl`` seconds of wall-clock time.
- admin ``status`` is ``active`` for a connected user and ``deleted`` for a deleted one
  (only ``Invited`` is documented).
- a failed sync shows as ``syncStatus {status: "failed", details:
  "reauthenticationRequired" | "sourceUnavailable", synchedAt}`` where ``synchedAt`` is
  the last successful sync; ``details`` is present only for ``failed`` and a medical
  ``ok``.
- the fields of ``reports`` (``/medical/reports``, documented as a list of report
  metadata without a field table): ``{id: "<24 hex>-000000-<24 hex>" (the guide's
  example id), name (a report code: timeline, ccdraw, ...), source, createdAt,
  updatedAt}``; ``createdAt`` / ``updatedAt`` of ``organizations``; ``updatedAt`` on
  ``/profile`` (in the reference's table, not in its sample).
- a simulated server clock (ms, strictly increasing, starting 2025-06-01) stamps every
  change; a source sync stamps its new and edited records and the source's
  ``synchedAt`` with the same time, so a record's ``updatedAt`` is never after its
  source's ``synchedAt``. Deleted users keep their data but it is no longer served
  (``truth`` leaves it out); ``mutate`` delete removes a record without a trace.
- the ``expire`` fault revokes every token of the user (or app) whose token the request
  carries and answers 401 ``token_expired``; on the token endpoints, which carry no
  bearer token, it revokes that user's (or the app's) tokens and answers normally.
  Other faults and the ``/_control/`` API are the framework's (see ``framework.py``).
- notifications (doc: sent on new or updated user data and on sync status updates, a
  POST that must be answered within 3 s, may be discarded; body a JSON array of
  ``{humanId, clientId, userId, clientUserId, updatedAt, action, endpoint, property,
  topic, value, clientData}``; ``X-HumanAPI-Signature`` an HMAC-SHA1 with the client
  secret over the payload, a timestamp and a nonce). Assumed: one POST per user per
  change (a source sync, a ``mutate`` call, a ``set_sync_status``), one object per
  changed endpoint (``medical/vitals``, ``heart_rate/readings``, ``profile``,
  ``sources``), ``action`` ``created`` when the endpoint gained a record and
  ``updated`` otherwise (a deletion too), ``updatedAt`` the change's server time (a
  status change: the latest server time), ``property``, ``topic``, ``value`` and
  ``clientData`` null; the timestamp (wall-clock unix seconds) and nonce (the delivery
  id) in ``X-HumanAPI-Timestamp`` and ``X-HumanAPI-Nonce``, the signature the base64 of
  HMAC-SHA1(client secret, raw body + timestamp + nonce); deleting a user notifies
  nothing. Retries, drops, duplicates and bad signatures are ``notify.py``'s.
- every field value (names, codes, sources, organizations, readings) and the rates of
  optional fields (a rare field comes on every n-th record, so that even a small
  sandbox shows it), and which stream a table is named.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import random
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import msgspec

from sandbox import vocabulary
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
SINGLE_TABLES = ("profile",)
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
# Notifications (doc: the header; assumed: where the timestamp and nonce travel).
SIGNATURE_HEADER = "X-HumanAPI-Signature"
TIMESTAMP_HEADER = "X-HumanAPI-Timestamp"
NONCE_HEADER = "X-HumanAPI-Nonce"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
USERS_PAGE_SIZE = 50
# Medical records the wire (or the v1 sample) shows without a `source`.
_NO_SOURCE = frozenset({"demographics", "organizations", "social_history"})
# Token answers are objects too, but no records.
_TOKEN_KEYS = frozenset({"access_token", "client_token"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000
_CLOCK_START = int((datetime(2025, 6, 1, tzinfo=UTC) - _EPOCH).total_seconds() * 1000)
_USERS_START = int((datetime(2023, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds() * 1000)
_USERS_END = _CLOCK_START - 60 * _DAY_MS
_PDT = timezone(timedelta(hours=-7))

_SYSTEMS = {
    "SNOMED": ("2.16.840.1.113883.6.96", "SNOMED-CT"),
    "LOINC": ("2.16.840.1.113883.6.1", "LOINC"),
    "RXNORM": ("2.16.840.1.113883.6.88", "RxNorm"),
    "ICD10": ("2.16.840.1.113883.6.90", "ICD-10-CM"),
    "CVX": ("2.16.840.1.113883.12.292", "CVX"),
    "CPT": ("2.16.840.1.113883.6.12", "CPT-4"),
    "ACT": ("2.16.840.1.113883.5.4", "ActCode"),
}
# Wellness sources: source -> (sourceName, tables it provides, devices).
_WELLNESS_SOURCES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "fitbit": (
        "Fitbit",
        ("activities", "sleeps", "heart_rate_readings", "weight_readings", "bmi_readings"),
        ("Charge 5", "Aria Air"),
    ),
    "garmin": (
        "Garmin Connect",
        ("activities", "sleeps", "locations", "heart_rate_readings"),
        ("Forerunner 255",),
    ),
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
        (),
    ),
    "withings": (
        "Withings",
        ("weight_readings", "bmi_readings", "body_fat_readings", "blood_pressure_readings"),
        ("Body+", "BPM Connect"),
    ),
    "omron": ("Omron Connect", ("blood_pressure_readings", "heart_rate_readings"), ()),
    "dexcom": ("Dexcom", ("blood_glucose_readings",), ("G7",)),
    "oura": ("Oura", ("sleeps", "activities", "heart_rate_readings"), ()),
}
_TYPE_NAMES = {  # a wellness table -> its name in supportedDataTypes
    "activities": "activities",
    "sleeps": "sleeps",
    "locations": "locations",
    **{f"{kind}_readings": kind for kind in READING_KINDS},
}
# (given, family)
_CLINICIANS = (
    ("Anita", "Desai"), ("Michael", "Chen"), ("Sarah", "Goldberg"), ("Robert", "Okafor"),
    ("Laura", "Martinez"), ("James", "Whitfield"), ("Emily", "Nakamura"), ("Samuel", "Brooks"),
)  # fmt: skip
_DEPARTMENTS = ("Internal Medicine", "Family Medicine", "Cardiology", "Endocrinology",
                "Gastroenterology", "Orthopedics", "Emergency Department")  # fmt: skip
_ALLERGENS = (
    ("Penicillin G", "7980", "RXNORM"),
    ("Sulfamethoxazole", "10180", "RXNORM"),
    ("Aspirin", "1191", "RXNORM"),
    ("Codeine", "2670", "RXNORM"),
    ("Metformin", "6809", "RXNORM"),
    ("Peanut (substance)", "762952008", "SNOMED"),
    ("Latex (substance)", "111088007", "SNOMED"),
    ("Bee venom (substance)", "288328004", "SNOMED"),
    ("Shellfish (substance)", "227037002", "SNOMED"),
)
# (name, SNOMED-CT)
_REACTIONS = (
    ("Hives", "247472004"), ("Rash", "271807003"), ("Anaphylaxis", "39579001"),
    ("Nausea", "422587007"), ("Swelling", "65124004"), ("Wheezing", "56018004"),
)  # fmt: skip
# (name, RxNorm, productName, commonBrandName, form, strength, unit, route,
#  (frequency number, unit), instructions)
_MEDICATIONS = (
    ("lisinopril (ZESTRIL) 10 MG tablet", "314076", "lisinopril", "ZESTRIL", "tablet", "10",
     "mg", "enteral_oral", ("1", "day"), "Take 1 tablet by mouth daily."),
    ("metformin (GLUCOPHAGE) 500 MG tablet", "861007", "metformin", "GLUCOPHAGE", "tablet",
     "500", "mg", "enteral_oral", ("2", "day"), "Take 1 tablet by mouth twice daily."),
    ("atorvastatin (LIPITOR) 20 MG tablet", "617310", "atorvastatin", "LIPITOR", "tablet",
     "20", "mg", "enteral_oral", ("1", "day"), "Take 1 tablet by mouth at bedtime."),
    ("levothyroxine (SYNTHROID) 50 MCG tablet", "966222", "levothyroxine", "SYNTHROID",
     "tablet", "50", "mcg", "enteral_oral", ("1", "day"), "Take 1 tablet every morning."),
    ("omeprazole (PRILOSEC) 20 MG capsule", "198053", "omeprazole", "PRILOSEC", "capsule",
     "20", "mg", "enteral_oral", ("1", "day"), "Take 1 capsule by mouth daily."),
    ("albuterol (PROVENTIL HFA) 90 MCG/ACT inhaler", "745679", "albuterol", "PROVENTIL HFA",
     "puff", "90", "mcg", "respiratory_inhalation", ("1", "as-needed"),
     "Inhale 2 puffs every 4 hours as needed."),
    ("loratadine (CLARITIN) 10 MG tablet", "311372", "loratadine", "CLARITIN", "tablet",
     "10", "mg", "enteral_oral", ("1", "as-needed"), "Take 1 tab by mouth as needed."),
    ("sertraline (ZOLOFT) 50 MG tablet", "312940", "sertraline", "ZOLOFT", "tablet", "50",
     "mg", "enteral_oral", ("1", "day"), "Take 1 tablet by mouth daily."),
)  # fmt: skip
_PHARMACIES = (("CVS Pharmacy #4321", "100 Market St"), ("Walgreens #1187", "55 Elm St"))
_VACCINES = (
    ("Influenza Vaccine, Quadrivalent, PF", "150"),
    ("COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", "208"),
    ("Tdap", "115"),
    ("Pneumococcal conjugate PCV 13", "133"),
    ("Zoster vaccine recombinant", "187"),
    ("Hepatitis B, adult", "43"),
    ("Tetanus+Dip ADULT (Td)", "09"),
)
# Analytes: (name, LOINC, unit, low, high, decimals)
_ANALYTES = {
    "a1c": ("Hemoglobin A1c", "4548-4", "%", 4.0, 5.6, 1),
    "glucose": ("Glucose", "2345-7", "mg/dL", 70, 99, 0),
    "bun": ("Urea Nitrogen (BUN)", "3094-0", "mg/dL", 7, 20, 0),
    "creatinine": ("Creatinine", "2160-0", "mg/dL", 0.6, 1.3, 2),
    "sodium": ("Sodium", "2951-2", "mmol/L", 135, 145, 0),
    "potassium": ("Potassium", "2823-3", "mmol/L", 3.5, 5.1, 1),
    "chloride": ("Chloride", "2075-0", "mmol/L", 98, 107, 0),
    "co2": ("Carbon Dioxide", "2028-9", "mmol/L", 22, 29, 0),
    "calcium": ("Calcium", "17861-6", "mg/dL", 8.6, 10.3, 1),
    "protein": ("Protein Total, Serum", "2885-2", "g/dL", 5.7, 8.3, 1),
    "albumin": ("Albumin", "1751-7", "g/dL", 3.5, 5.0, 1),
    "alt": ("ALT (SGPT)", "1742-6", "U/L", 7, 56, 0),
    "ast": ("AST (SGOT)", "1920-8", "U/L", 10, 40, 0),
    "cholesterol": ("Cholesterol, Total", "2093-3", "mg/dL", 125, 200, 0),
    "ldl": ("LDL Cholesterol Calc", "13457-7", "mg/dL", 0, 100, 0),
    "hdl": ("HDL Cholesterol", "2085-9", "mg/dL", 40, 90, 0),
    "triglycerides": ("Triglycerides", "2571-8", "mg/dL", 0, 150, 0),
    "wbc": ("WBC", "6690-2", "10*3/uL", 4.5, 11.0, 1),
    "rbc": ("RBC", "789-8", "10*6/uL", 4.2, 5.9, 2),
    "hemoglobin": ("Hemoglobin", "718-7", "g/dL", 12.0, 17.5, 1),
    "hematocrit": ("Hematocrit", "4544-3", "%", 36.0, 50.0, 1),
    "platelets": ("Platelets", "777-3", "10*3/uL", 150, 400, 0),
    "tsh": ("TSH", "3016-3", "mIU/L", 0.4, 4.0, 2),
}
# Panels: (name, LOINC, analytes); a result reports some or all of its analytes.
_PANELS = (
    ("COMPREHENSIVE METABOLIC PANEL", "24323-8", ("glucose", "bun", "creatinine", "sodium",
     "potassium", "chloride", "co2", "calcium", "protein", "albumin", "alt", "ast")),
    ("BASIC METABOLIC PANEL", "51990-0", ("glucose", "bun", "creatinine", "sodium",
     "potassium", "chloride", "co2", "calcium")),
    ("LIPID PANEL", "57698-3", ("cholesterol", "ldl", "hdl", "triglycerides")),
    ("CBC W/O DIFFERENTIAL", "57021-8", ("wbc", "rbc", "hemoglobin", "hematocrit",
     "platelets")),
    ("LAB TOTAL PROTEIN+ALB", "2885-2", ("protein", "albumin")),
    ("HEMOGLOBIN A1C", "4548-4", ("a1c",)),
    ("TSH", "3016-3", ("tsh",)),
)  # fmt: skip
# (name, normalizedName, LOINC, unit, low, high, decimals)
_VITALS = (
    ("Weight", "weight", "29463-7", "kg", 48.0, 125.0, 1),
    ("Height", "height", "8302-2", "cm", 150.0, 195.0, 1),
    ("Pulse", "heart_rate", "8867-4", "/min", 52, 100, 0),
    ("BP Systolic", "systolic", "8480-6", "mm[Hg]", 100, 160, 0),
    ("BP Diastolic", "diastolic", "8462-4", "mm[Hg]", 60, 100, 0),
    ("Temperature", "temperature", "8310-5", "Cel", 36.1, 37.9, 1),
    ("Respiratory Rate", "respiration_rate", "9279-1", "/min", 12, 20, 0),
    ("SpO2", "oxygen_saturation", "59408-5", "%", 93, 100, 0),
    ("BMI", "bmi", "39156-5", "kg/m2", 18.5, 38.0, 1),
)
# (name, SNOMED-CT, CPT-4)
_PROCEDURES = (
    ("Colonoscopy", "73761001", "45378"),
    ("TOTAL HIP ARTHROPLASTY", "52734007", "27130"),
    ("Extracapsular cataract extraction", "54885007", "66984"),
    ("Screening mammography", "24623002", "77067"),
    ("Electrocardiographic procedure", "29303009", "93000"),
    ("ANESTHESIA BLOCK SPINAL", "231249005", "62282"),
    ("Laparoscopic cholecystectomy", "45595009", "47562"),
)
# (visitType, ActCode)
_VISITS = (
    ("Office Visit", "AMB"), ("Office Visit", "AMB"), ("Telemedicine", "VR"),
    ("Hospital Encounter", "IMP"), ("Emergency", "EMER"), ("Annual Physical", "AMB"),
)  # fmt: skip
_FUNCTIONAL = (
    ("Ambulates independently", "165245003"),
    ("Independent in activities of daily living", "371153006"),
    ("Walks with walker", "1237004"),
    ("Mild hearing loss", "425915003"),
    ("Alert and oriented", "248234008"),
)
# (name, LOINC, values)
_SOCIAL = (
    ("Smoking Status", "72166-2", ("Never smoker", "Former smoker", "Current every day smoker")),
    ("Alcohol use", "11331-6", ("No alcohol use", "Social drinker")),
    ("Occupation", "11341-5", ("Teacher", "Retired", "Engineer", "Nurse")),
)
_INSTRUCTIONS = (
    ("patient instructions", "Low sodium diet education provided."),
    ("discharge instructions", "Return to clinic if symptoms worsen."),
    ("patient instructions", "Monitor blood glucose before breakfast; report values over 180."),
    ("medication instructions", "Take medications with food."),
)
# (name, specialty, type)
_PLANS = (
    ("Colonoscopy", "Gastroenterology", "Appointment"),
    ("Cardiology follow-up", "Cardiology", "Appointment"),
    ("Hemoglobin A1c", "Endocrinology", "Lab"),
    ("Diabetic eye exam", "Ophthalmology", "Referral"),
    ("Physical therapy", "Physical Therapy", "Procedure"),
)
_NARRATIVES = (
    ("Assessment and Plan", "Stable. Continue current regimen; recheck labs in 3 months."),
    ("History of Present Illness", "Patient reports intermittent headaches for two weeks."),
    ("Reason for Visit", "Follow-up of chronic conditions."),
    ("Review of Systems", "Negative except as noted in HPI."),
)
_ORG_NAMES = ("Genesis Health System", "Bay Area Lab Services", "Valley Imaging Center",
              "Community Pharmacy Network", "Northside Family Practice")  # fmt: skip
_REPORT_CODES = ("unity", "healthcheck", "highlights", "ccdraw", "apidata", "timeline")
_ACTIVITY_TYPES = ("walking", "running", "cycling", "swimming", "workout", "hiking", "unknown")
_PLACES = ("Home", "Work", "Gym", "Park", "Grocery Store", "Cafe")
_TIME_ZONES = (("-08:00", "America/Los_Angeles"), ("-07:00", "America/Denver"),
               ("-05:00", "America/New_York"))  # fmt: skip
_READING_UNITS = {
    "heart_rate": ("bpm", 52, 120, 0),
    "blood_glucose": ("mg/dL", 70, 190, 0),
    "blood_oxygen": ("SpO2", 92, 100, 0),
    "bmi": ("kg/m2", 18.5, 36.0, 1),
    "body_fat": ("percent", 12.0, 38.0, 1),
    "height": ("mm", 1500, 1950, 0),
    "weight": ("kg", 48.0, 125.0, 1),
}


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _day(ms: int) -> str:
    return _iso(ms)[:10]


def _js_date(ms: int) -> str:
    """A time as JavaScript's Date.toString() writes it, as older Human API data has."""
    local = (_EPOCH + timedelta(milliseconds=ms)).astimezone(_PDT)
    return local.strftime("%a %b %d %Y %H:%M:%S GMT-0700 (PDT)")


def _source_hex(slug: str) -> str:
    return hashlib.sha256(slug.encode()).hexdigest()[:24]


def _code(name: str, code: str, system: str, *, inferred: bool | None = False) -> dict[str, Any]:
    oid, system_name = _SYSTEMS[system]
    found: dict[str, Any] = {
        "name": name,
        "code": code,
        "codeSystem": oid,
        "codeSystemName": system_name,
    }
    if inferred is not None:
        found["inferred"] = inferred
    return found


def _rid(record: dict[str, Any]) -> str:
    """A record's key in the sandbox: its id, or (a profile has none) its humanId."""
    return str(record.get("id") or record["humanId"])


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

    @property
    def full_name(self) -> str:
        return f"{self.admin['firstName']} {self.admin['lastName']}"


def _sync_status(source: dict[str, Any], status: str, synched: str) -> dict[str, Any]:
    """A source's ``syncStatus`` after a sync at ``synched``: medical ``ok`` has details."""
    found: dict[str, Any] = {"status": status}
    if status == "ok" and "organization" in source:
        found["details"] = "ok"
    found["synchedAt"] = synched
    found["newestDate"] = synched
    if "organization" not in source:
        found["lastNotificationDate"] = synched[:-4] + "000Z"  # whole seconds, as sent
    return found


Fields = dict[str, Any]


class _Generator:
    """Builds realistic records from one seeded random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.oldest: dict[str, int] = {}  # source id -> historySync.oldestDate in ms
        self._rare: dict[str, int] = {}
        self.medical: dict[str, Callable[[_User, int], Fields]] = {
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
            "demographics": self._demographics,
        }

    def hex24(self) -> str:
        return f"{self.rng.getrandbits(96):024x}"

    def chance(self, rate: float) -> bool:
        return self.rng.random() < rate

    def rare(self, field_name: str, every: int) -> bool:
        """True on every ``every``-th call for a field, the first included.

        Rare fields come at their rate yet show up in even a small sandbox, whose
        every declared field a test run must see.
        """
        seen = self._rare.get(field_name, 0)
        self._rare[field_name] = seen + 1
        return seen % every == 0

    def _measure(self, low: float, high: float, decimals: int) -> float | int:
        # Mostly in range, sometimes a little outside it, as real results are.
        value = self.rng.uniform(low * 0.85, high * 1.15)
        return round(value, decimals) if decimals else round(value)

    def user(self, index: int, created: int) -> _User:
        rng = self.rng
        gender = rng.choice(("female", "male"))
        first, last = rng.choice(vocabulary.FIRST_NAMES[gender]), rng.choice(vocabulary.LAST_NAMES)
        birth = datetime(1940, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(0, 62 * 365))
        email = f"{first}.{last}".lower().replace("'", "") + f"{rng.randrange(1, 99)}@example.com"
        admin: dict[str, Any] = {
            "humanId": f"{rng.getrandbits(128):032x}",
            "clientUserId": vocabulary.shared_identifier(index) or f"patient-{index + 1:05d}",
            "clientUserEmail": email,
            "firstName": first,
            "lastName": last,
            "dateOfBirth": birth.strftime("%Y-%m-%dT00:00:00.000Z"),
            "status": "active",
            "createdAt": _iso(created),
            "updatedAt": _iso(created),
        }
        if self.chance(0.4):
            admin["suggestedSources"] = [rng.choice(vocabulary.MEDICAL_SOURCES)[1]]
        if self.rare("orders", 20):  # apps that order records retrieval
            order_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            admin["orders"] = [
                {
                    "orderId": str(order_id),
                    "orderType": "default",
                    "orderStatus": rng.choice(("Completed", "Pended")),
                    "reportsAvailable": True,
                    "dataAvailable": True,
                }
            ]
        return _User(admin, self.hex24(), gender)

    def invited(self, user: _User) -> None:
        """A user who was invited and has connected nothing yet."""
        user.admin["status"] = "Invited"
        user.admin["inviteLink"] = f"https://connect.humanapi.co/invite/{self.hex24()}"

    def source(self, slug: str, connected: int, synched: int) -> dict[str, Any]:
        rng = self.rng
        medical = next((s for s in vocabulary.MEDICAL_SOURCES if s[0] == slug), None)
        oldest = connected - rng.randrange(365, 8 * 365) * _DAY_MS
        source: dict[str, Any] = {"id": self.hex24()}
        if medical:
            source_id = _source_hex(slug)
            source.update(
                source=source_id,
                sourceName=medical[1],
                supportedDataTypes=[],
                devices=[source_id],
                connectedSince=_iso(connected),
                historySync={"status": "completed", "oldestDate": _iso(oldest)},
                organization={
                    "id": source_id,
                    "name": medical[2],
                    "href": f"/medical/organizations/{source_id}",
                },
                resync={"active": False},
                expectedSyncDuration=None if self.chance(0.2) else rng.choice((5, 10, 15, 30)),
            )
        else:
            name, tables, devices = _WELLNESS_SOURCES[slug]
            source.update(
                source=slug,
                sourceName=name,
                supportedDataTypes=[_TYPE_NAMES[table] for table in tables],
                devices=list(devices),
                connectedSince=_iso(connected),
                historySync={"status": "completed", "oldestDate": _iso(oldest)},
            )
            if self.rare("sources.externalId", 20):  # only in the C# model of an older reference
                source.update(externalId=self.hex24(), timeZone=rng.choice(_TIME_ZONES)[1])
        self.oldest[source["id"]] = oldest
        source["syncStatus"] = _sync_status(source, "ok", _iso(synched))
        return source

    def medical_record(
        self, table: str, user: _User, source: dict[str, Any], created: int, updated: int
    ) -> dict[str, Any]:
        when = self.rng.randrange(self.oldest[source["id"]], created)
        record: dict[str, Any] = {"id": self.hex24()}
        if table not in _NO_SOURCE:
            record["source"] = source["source"]
        record["createdAt"] = _iso(created)
        record["updatedAt"] = _iso(updated)
        record.update(self.medical[table](user, when))
        if table not in ("organizations", "reports"):
            record["organization"] = dict(source["organization"])
        return record

    def wellness_record(
        self, table: str, user: _User, source: dict[str, Any], created: int, updated: int
    ) -> dict[str, Any]:
        rng = self.rng
        start = created - rng.randrange(0, 2 * _DAY_MS)
        record: dict[str, Any] = {"id": self.hex24(), "userId": user.user_id}
        if table == "activities":
            record.update(self._activity(start))
        elif table == "sleeps":
            record.update(self._sleep(start))
        elif table == "locations":
            record.update(self._location(start))
        else:
            record.update(self._reading(table.removesuffix("_readings"), start))
        record["source"] = source["source"]
        if table != "locations":  # wire: locations come without sourceData
            record.setdefault("sourceData", {})
        record.update(createdAt=_iso(created), updatedAt=_iso(updated), humanId=user.human_id)
        return record

    def profile(self, user: _User, created: int, updated: int) -> dict[str, Any]:
        return {
            "userId": user.user_id,
            "createdAt": _iso(created),
            "email": user.admin["clientUserEmail"],
            "defaultTimeZone": {"name": self.rng.choice(_TIME_ZONES)[1]},
            "humanId": user.human_id,
            "updatedAt": _iso(updated),
        }

    # -- shared pieces ------------------------------------------------------------------

    def _patient(self, user: _User) -> dict[str, str]:
        # The 2020 recording sends an empty name; documentation samples a full one.
        return {"name": "" if self.chance(0.2) else user.full_name}

    def _ccd(self, rate: float) -> Fields:
        if not self.chance(rate):
            return {}
        ccd_id = self.hex24()
        return {"ccd": {"id": ccd_id, "href": f"/medical/ccds/{ccd_id}"}}

    def _clinician(self) -> str:
        given, family = self.rng.choice(_CLINICIANS)
        return f"{given} {family}, MD"

    def _address(self) -> dict[str, Any]:
        rng = self.rng
        city, state, zip_prefix = rng.choice(vocabulary.CITIES)
        return {
            "street": [f"{rng.randint(10, 9999)} {rng.choice(vocabulary.STREETS)}"],
            "city": city,
            "state": state,
            "zip": f"{zip_prefix}{rng.randrange(0, 100):02d}",
            "country": "US",
        }

    def _one_line_address(self) -> str:
        address = self._address()
        return f"{address['street'][0]}, {address['city']}, {address['state']}, {address['zip']}"

    def _phone(self) -> str:
        return f"({self.rng.randint(201, 989)}) 555-{self.rng.randrange(0, 10000):04d}"

    def _value(self, low: float, high: float, decimals: int) -> str:
        value = self._measure(low, high, decimals)
        return f"{value:.{decimals}f}"

    # -- medical types ------------------------------------------------------------------

    def _allergy(self, user: _User, when: int) -> Fields:
        rng = self.rng
        allergen, code, system = rng.choice(_ALLERGENS)
        name = allergen.removesuffix(" (substance)")
        fields: Fields = {"name": name, "patient": self._patient(user)}
        fields["codes"] = [_code(name, code, system)]
        if self.chance(0.8):
            fields["status"] = rng.choice(("Active", "Active", "Inactive"))
        fields["allergen"] = {"name": name, "codes": [_code(allergen, code, system, inferred=None)]}
        reactions = []
        for reaction, snomed in rng.sample(_REACTIONS, rng.choice((0, 1, 1, 1, 2))):
            kind: Fields = {"codes": []}  # as recorded: a reaction type without a name
            if self.chance(0.3):
                allergic = _code("Allergic reaction", "419076005", "SNOMED")
                kind = {"name": "Allergic reaction", "codes": [allergic]}
            codes = [_code(reaction, snomed, "SNOMED")]
            reactions.append({"name": reaction, "reactionType": kind, "codes": codes})
        fields["reactionsFull"] = reactions
        if self.chance(0.6):
            fields["dateRange"] = {"start": _iso(when)}
            if self.chance(0.1):
                fields["dateRange"]["end"] = _iso(when + self.rng.randrange(30, 900) * _DAY_MS)
        if self.chance(0.33):
            fields["severity"] = rng.choice(("unknown", "mild", "moderate", "severe"))
        return fields | self._ccd(0.1)

    def _demographics(self, user: _User, when: int) -> Fields:
        rng, admin = self.rng, user.admin
        birth = admin["dateOfBirth"]
        married = rng.choice(("married", "single", "divorced", "widowed"))
        fields: Fields = {
            "address": self._address(),
            **self._ccd(0.7),
            "dob": f"{birth[5:7]}/{birth[8:10]}/{birth[:4]}",
            "dobDateTime": birth,
            "gender": user.gender,
            "genderCodes": [
                {
                    "code": "703118005" if user.gender == "female" else "703117000",
                    "codeSystemName": "SNOMED-CT",
                    "inferred": True,
                }
            ],
            "language": rng.choice(("eng", "eng", "eng", "spa", "zho")),
            "languageCodes": [],
            "maritalStatus": married,
            "maritalStatusCodes": [
                {"code": married[0].upper(), "codeSystemName": "MaritalStatus", "inferred": True}
            ],
            "name": {"family": admin["lastName"], "given": [admin["firstName"]]},
            "provider": {"address": self._address(), "organization": rng.choice(_ORG_NAMES)},
            "raceCodes": [],
            "ethnicityCodes": [],
        }
        if self.chance(0.3):
            fields["name"]["given"].append(rng.choice("ABCDEJKLMRS"))
        if self.chance(0.5):
            fields["provider"]["phone"] = self._phone()
        if self.chance(0.7):
            fields["ethnicity"] = rng.choice(("Not Hispanic or Latino", "Hispanic or Latino"))
        if self.chance(0.6):
            fields["race"] = rng.choice(("White", "Black or African American", "Asian", "Other"))
        return fields

    def _encounter(self, user: _User, when: int) -> Fields:
        rng = self.rng
        visit, act = rng.choice(_VISITS)
        given, family = rng.choice(_CLINICIANS)
        problems = rng.sample(vocabulary.PROBLEMS, rng.choice((0, 1, 1, 2, 3)))
        fields: Fields = {
            "dateTime": _iso(when),
            "codes": [_code(visit, act, "ACT")],
            "diagnoses": [{"name": p[0]} for p in problems],
            "medications": [
                self._encounter_medication(when) for _ in range(rng.choice((0, 0, 1, 2)))
            ],
            "orders": [self._order(when) for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))],
            "patient": self._patient(user),
            "patientInstruction": "" if self.chance(0.7) else rng.choice(_INSTRUCTIONS)[1],
            "plansOfCare": [],
            "problems": [],
            "provider": {
                "name": f"{given} {family}",
                "departmentName": rng.choice(_DEPARTMENTS),
                "address": self._one_line_address(),
            },
            "reasons": [p[0] for p in problems[:1]],
            "testResults": [],
            "visitType": visit,
            "vitalSigns": [],
        }
        if self.rare("encounters.followUpInstructions", 20):
            fields["followUpInstructions"] = "Follow up in 3 months."
        if self.rare("encounters.vitals", 33):
            fields["vitals"] = {}  # v1 doc: an Object whose fields it does not name
        return fields | self._ccd(0.8)

    def _encounter_medication(self, when: int) -> Fields:
        med = self.rng.choice(_MEDICATIONS)
        found: Fields = {
            "instructions": med[9],
            "name": med[0],
            "productName": med[2],
            "dosageInfo": f"{med[5]} {med[6].upper()} {med[4]}",
            "startDate": _iso(when - 30 * _DAY_MS),
            "codes": [_code(med[0], med[1], "RXNORM", inferred=None)],
        }
        if self.chance(0.3):
            found["endDate"] = _iso(when + 90 * _DAY_MS)
        return found

    def _order(self, when: int) -> Fields:
        rng = self.rng
        if self.chance(0.5):
            name, _snomed, cpt = rng.choice(_PROCEDURES)
            kind = "Procedures"
        else:
            name, cpt = rng.choice(_PANELS)[:2]
            kind = "Lab"
        return {
            "name": name,
            "codeType": _SYSTEMS["CPT"][0],
            "expectedDate": _iso(when + rng.randrange(1, 60) * _DAY_MS),
            "procedureCode": cpt,
            "type": kind,
            "codes": [_code(name, cpt, "CPT", inferred=None)],
        }

    def _functional(self, user: _User, when: int) -> Fields:
        name, snomed = self.rng.choice(_FUNCTIONAL)
        fields = {"name": name, "dateTime": _iso(when), "codes": [_code(name, snomed, "SNOMED")]}
        return fields | self._ccd(0.5)

    def _immunization(self, user: _User, when: int) -> Fields:
        name, cvx = self.rng.choice(_VACCINES)
        dates = [_iso(when)]
        if self.chance(0.15):
            dates.append(_iso(when + self.rng.randrange(21, 60) * _DAY_MS))
        fields = {
            "name": name,
            "dates": dates,
            "patient": self._patient(user),
            "codes": [_code(name, cvx, "CVX")],
        }
        return fields | self._ccd(0.3)

    def _instruction(self, user: _User, when: int) -> Fields:
        name, text = self.rng.choice(_INSTRUCTIONS)
        code = _code("Instructions", "69730-0", "LOINC")
        fields = {"name": name, "text": text, "dateTime": _iso(when), "codes": [code]}
        return fields | self._ccd(0.5)

    def _issue(self, user: _User, when: int) -> Fields:
        name, icd, snomed = self.rng.choice(vocabulary.PROBLEMS)
        codes = [_code(name, icd, "ICD10")]
        if self.chance(0.5):
            codes.append(_code(name, snomed, "SNOMED", inferred=True))
        fields: Fields = {"codes": codes, "name": name, "patient": self._patient(user)}
        if self.chance(0.25):
            fields["dateTime"] = _iso(when)
        if self.chance(0.25):
            fields["status"] = self.rng.choice(("Active", "Active", "Resolved"))
        return fields | self._ccd(0.65)

    def _medication(self, user: _User, when: int) -> Fields:
        rng = self.rng
        name, rxcui, product, brand, form, strength, unit, route, freq, how = rng.choice(
            _MEDICATIONS
        )
        status = rng.choice(("Active", "Active", "Active", "Completed", "Discontinued"))
        fields: Fields = {"name": name, "instructions": how, "productName": product}
        fields["dosageInfo"] = f"{strength} {unit.upper()} {form}"
        fields["provider"] = self._clinician()
        fields["status"] = status
        fields["startDate"] = _iso(when)
        if status != "Active" or self.chance(0.3):
            fields["endDate"] = _iso(when + rng.randrange(7, 400) * _DAY_MS)
        if self.chance(0.8):
            fields["details"] = {
                "dosage": {"form": form, "value": "1"},
                "frequency": {"number": freq[0], "unit": freq[1]},
                "route": route,
                "strength": {"number": strength, "unit": unit},
            }
        if self.chance(0.4):
            fields["commonBrandName"] = brand
        if self.chance(0.5):
            fields["ndcCode"] = f"{rng.randrange(10000):04d}-{rng.randrange(10000):04d}-01"
            fields["genericProductIndicator"] = f"{rng.getrandbits(46):014d}"[:14]
        if self.chance(0.6):
            fields["providerID"] = str(rng.randrange(10000, 99999))
        if self.chance(0.3):
            total = rng.choice((0, 1, 3, 5, 11))
            fields["refillsTotal"] = str(total * 30 if self.chance(0.2) else total)
            fields["refillsRemaining"] = rng.randint(0, total)
        if self.rare("medications.expiration", 10):
            fields["expiration"] = _iso(when + 365 * _DAY_MS)
        if self.rare("medications.pharmacy", 20):
            pharmacy, street = rng.choice(_PHARMACIES)
            fields["pharmacy"] = {
                "iD": str(rng.randrange(1000, 9999)),
                "name": pharmacy,
                "address": street,
                "phone": self._phone(),
                "hours": "Mon-Fri 9am-9pm",
            }
        fields["patient"] = self._patient(user)
        fields["codes"] = [_code(name, rxcui, "RXNORM")]
        return fields | self._ccd(0.7)

    def _narrative(self, user: _User, when: int) -> Fields:
        rng = self.rng
        entries = [
            {"text": text, "title": title, "templateIds": []}
            for title, text in rng.sample(_NARRATIVES, rng.randint(1, 3))
        ]
        fields: Fields = {
            "dateTime": _js_date(when) if self.chance(0.05) else _iso(when),
            "author": self._clinician(),
            "entries": entries,
        }
        return fields | self._ccd(0.8)

    def _organization(self, user: _User, when: int) -> Fields:
        name = self.rng.choice(_ORG_NAMES)
        return {"name": name, "imageUrl": name.split()[0] + ".PNG"}

    def _plan(self, user: _User, when: int) -> Fields:
        rng = self.rng
        name, specialty, kind = rng.choice(_PLANS)
        given, family = rng.choice(_CLINICIANS)
        return {
            "name": name,
            "text": kind,
            "date": _iso(when + rng.randrange(7, 200) * _DAY_MS),
            "codes": [{"name": "encounter", "inferred": False}],
            "type": kind,
            "provider": {
                "name": {"given": [given], "family": family},
                "departmentName": rng.choice(_DEPARTMENTS),
                "address": self._one_line_address(),
            },
            "specialty": specialty,
        } | self._ccd(0.3)

    def _procedure(self, user: _User, when: int) -> Fields:
        name, snomed, cpt = self.rng.choice(_PROCEDURES)
        performer: Fields = {"phone": self._phone(), "address": self._one_line_address()}
        if self.chance(0.4):
            performer["organizationName"] = self.rng.choice(_ORG_NAMES)
        codes = [_code(name, cpt, "CPT")]
        if self.chance(0.4):
            codes.append(_code(name, snomed, "SNOMED", inferred=True))
        fields = {
            "name": name,
            "dateTime": _iso(when),
            "performer": performer,
            "codes": codes,
            "specimenCodes": [],
            "deviceCodes": [],
        }
        return fields | self._ccd(0.9)

    def _social(self, user: _User, when: int) -> Fields:
        rng = self.rng
        entries = []
        for name, loinc, values in rng.sample(_SOCIAL, rng.randint(1, 3)):
            code = {"name": name, "code": loinc, "codeSystemName": "LOINC"}
            entries.append({"dateTime": _iso(when), "name": rng.choice(values), "codes": [code]})
        return {"entries": entries} | self._ccd(0.5)

    def _test_result(self, user: _User, when: int) -> Fields:
        rng = self.rng
        panel, loinc, analytes = rng.choice(_PANELS)
        keep = [a for a in analytes if len(analytes) < 3 or self.chance(0.9)] or list(analytes)
        fields: Fields = {
            "allResults": [],
            "components": [self._component(_ANALYTES[a]) for a in keep],
            "codes": [_code(panel, loinc, "LOINC")],
            "name": panel,
            "patient": self._patient(user),
        }
        optional = {
            "orderedBy": (0.7, self._clinician),
            "resultDateTime": (0.9, lambda: _iso(when)),
            "status": (0.85, lambda: rng.choice(("Final result", "Final", "Preliminary"))),
            "comments": (0.1, lambda: "Specimen received at room temperature."),
            "narrative": (0.05, lambda: "Results reviewed with patient."),
            "impression": (0.05, lambda: "No acute findings."),
            "transcriptions": (0.03, lambda: "Transcribed by lab staff."),
            "specimen": (0.05, lambda: rng.choice(("Blood", "Serum", "Urine"))),
            "device": (0.02, lambda: "Cobas 8000"),
        }
        for name, (rate, make) in optional.items():
            rare = rate <= 0.1
            if self.rare(f"test_results.{name}", round(1 / rate)) if rare else self.chance(rate):
                fields[name] = make()
        if self.chance(0.15):
            given, family = rng.choice(_CLINICIANS)
            fields["recipients"] = [
                {
                    "isPCP": True,
                    "name": f"{given} {family}, MD",
                    "objectID": str(rng.randrange(10000, 99999)),
                    "recipTemplate": "WPMessageRecipientTemplateUnknown",
                }
            ]
        return fields | self._ccd(0.6)

    def _component(self, analyte: tuple[str, str, str, float, float, int]) -> Fields:
        name, loinc, unit, low, high, decimals = analyte
        value = self._value(low, high, decimals)
        component: Fields = {
            "codes": [_code(name, loinc, "LOINC", inferred=None)],
            "high": f"{high}",
            "low": f"{low}",
            "name": name,
            "unit": unit,
            "value": value,
        }
        if self.chance(0.5):
            component["refRange"] = f"{low}-{high}"
        if not low <= float(value) <= high and self.chance(0.7):
            component["flag"] = "L" if float(value) < low else "H"
        if self.chance(0.05):
            component["componentComments"] = "Verified by repeat analysis."
        return component

    def _vital(self, user: _User, when: int) -> Fields:
        rng = self.rng
        results = [self._vital_result(v) for v in rng.sample(_VITALS, rng.randint(1, 6))]
        fields: Fields = {"dateTime": _js_date(when) if self.chance(0.05) else _iso(when)}
        if self.chance(0.6):
            fields["author"] = self._clinician()
        if self.chance(0.5):
            fields["name"] = user.full_name
        fields["results"] = results
        fields["codes"] = []
        return fields | self._ccd(0.7)

    def _vital_result(self, vital: tuple[str, str, str, str, float, float, int]) -> Fields:
        name, normalized, loinc, unit, low, high, decimals = vital
        value = self._measure(low, high, decimals)
        code = _code(name, loinc, "LOINC", inferred=None)
        result: Fields = {"name": name}
        if self.chance(0.7):
            result["normalizedName"] = normalized
        result["unit"] = unit
        result["value"] = f"{value}" if self.chance(0.1) else value  # doc: String; wire: Number
        if self.chance(0.3):
            result["raw"] = {"name": name, "unit": unit, "value": f"{value}", "codes": [code]}
            result["values"] = [{"value": value, "unit": unit}]
        result["codes"] = [code]
        return result

    def _report(self, user: _User, when: int) -> Fields:
        code = self.rng.choice(_REPORT_CODES)
        return {"id": f"{self.hex24()}-000000-{self.hex24()}", "name": code}

    # -- wellness types -----------------------------------------------------------------

    def _tz(self, rate: float) -> Fields:
        return {"tzOffset": self.rng.choice(_TIME_ZONES)[0]} if self.chance(rate) else {}

    def _activity(self, start: int) -> Fields:
        rng = self.rng
        kind = rng.choice(_ACTIVITY_TYPES)
        duration = rng.randrange(30, 7200)
        on_foot = kind in ("walking", "running", "hiking")
        fields: Fields = {
            "startTime": _iso(start),
            "endTime": _iso(start + duration * 1000),
            **self._tz(0.95),
            "type": kind,
            "duration": duration,
            "distance": round(duration * rng.uniform(0.8, 4.5), 1),
            "steps": round(duration * rng.uniform(1.2, 2.6)) if on_foot else 0,
            "calories": round(duration * rng.uniform(0.0, 0.2)),
            "sourceData": {"manual": self.chance(0.05)},
        }
        if self.rare("activities.timeZone", 10):
            fields["timeZone"] = rng.choice(_TIME_ZONES)[1]
        return fields

    def _sleep(self, start: int) -> Fields:
        rng = self.rng
        in_bed = rng.randrange(60, 600)
        awake = rng.randrange(0, min(60, in_bed // 3))
        fields: Fields = {
            "day": _day(start + in_bed * 60_000),
            "startTime": _iso(start),
            "endTime": _iso(start + in_bed * 60_000),
            **self._tz(0.95),
            "mainSleep": in_bed >= 180 and not self.chance(0.05),
            "timeAsleep": in_bed - awake,
            "timeAwake": awake,
            "efficiency": round(100 * (in_bed - awake) / in_bed),
            "timeToFallAsleep": rng.randrange(0, 30),
            "timeAfterWakeup": rng.randrange(0, 15),
            "timeInBed": in_bed,
        }
        if self.chance(0.9):
            fields["numberOfWakeups"] = rng.randrange(0, 8)
        return fields

    def _location(self, start: int) -> Fields:
        rng = self.rng
        fields: Fields = {
            "startTime": _iso(start),
            "endTime": _iso(start + rng.randrange(60_000, 4 * 3_600_000)),
            **self._tz(0.6),
            "name": rng.choice(_PLACES),
            "location": {
                "lon": round(rng.uniform(-123.0, -71.0), 9),
                "lat": round(rng.uniform(25.0, 48.0), 9),
            },
        }
        if self.rare("locations.timestamp", 20):  # v1 doc fields, not in the 2014 recording
            fields.update(timestamp=_iso(start), type=rng.choice(("home", "work", "place")))
        return fields

    def _reading(self, kind: str, start: int) -> Fields:
        rng = self.rng
        fields: Fields = {"timestamp": _iso(start), **self._tz(0.9)}
        if kind == "blood_pressure":
            fields.update(
                systolic=rng.randint(100, 165),
                diastolic=rng.randint(60, 105),
                unit="mmHg",
                heartRate=rng.randint(52, 110),
            )
            return fields
        unit, low, high, decimals = _READING_UNITS[kind]
        fields.update(value=self._measure(low, high, decimals), unit=unit)
        if kind in ("blood_glucose", "blood_oxygen"):
            fields["notes"] = "" if self.chance(0.8) else "after a walk"
        if kind == "blood_glucose":
            fields["mealTag"] = rng.choice(("", "", "before_meal", "after_meal"))
            fields["medicationTag"] = rng.choice(("", "", "", "before_medication"))
        return fields


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
            have = record.get(name)
            if have is None:
                return False
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
        super().__init__(latency_ms=latency_ms, seed=seed)
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
        # Keyed by a record's id (a profile's: its humanId, see _rid).
        self._owner: dict[str, tuple[_User, str]] = {}  # -> (user, table)
        self._record_source: dict[str, str] = {}  # -> the id of the source it came from
        self._encoded: dict[str, bytes] = {}
        # What the operation under way changed, notified when it ends:
        # (user, table, action, server time).
        self._changes: list[tuple[_User, str, str, int]] = []
        # Token, sources and data requests per client user id (since the last reset).
        self._user_requests: dict[str, int] = {}
        self._populate(int(users))
        # Later records come from their own stream so the seeded data stays stable.
        self._gen.rng = self._mutation_rng

    def user_requests(self) -> dict[str, int]:
        """Requests per client user id (tokens, sources, data) since start or reset."""
        with self._lock:
            return dict(self._user_requests)

    def reset_stats(self) -> None:
        """Zero the counters, the per-user ones too."""
        super().reset_stats()
        with self._lock:
            self._user_requests.clear()

    def _count_user(self, user: _User) -> None:
        with self._lock:
            key = str(user.admin["clientUserId"])
            self._user_requests[key] = self._user_requests.get(key, 0) + 1

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
            if group == "no_source":
                self._gen.invited(user)
            else:
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
        medical = [s[0] for s in vocabulary.MEDICAL_SOURCES]
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
            counts["demographics"] = 2 if rng.random() < 0.1 else 1  # wire: 1 a source
        else:
            tables = list(_WELLNESS_SOURCES[source["source"]][1])
            no_data = rng.random() < 0.05
            counts = {table: 0 if no_data else rng.randint(1, 8) for table in tables}
            if "profile" not in user.records:
                counts["profile"] = 1
            if no_data:
                source["syncStatus"] = _sync_status(source, "noDataAvailable", _iso(synched))
        self._source_tables[source["id"]] = tuple(tables)
        if rng.random() < 0.03 and source["syncStatus"]["status"] == "ok":
            source["syncStatus"] = _sync_status(source, "inProgress", _iso(synched))
        for table, size in counts.items():
            for _ in range(size):
                made = rng.randrange(connected, synched)
                edited = made if rng.random() < 0.7 else rng.randrange(made, synched)
                self._store(user, table, self._make(table, user, source, made, edited), source)

    def _make(
        self, table: str, user: _User, source: dict[str, Any], created: int, updated: int
    ) -> dict[str, Any]:
        gen = self._gen
        if table == "profile":
            return gen.profile(user, created, updated)
        if table in MEDICAL_TABLES:
            return gen.medical_record(table, user, source, created, updated)
        return gen.wellness_record(table, user, source, created, updated)

    def _store(
        self, user: _User, table: str, record: dict[str, Any], source: dict[str, Any]
    ) -> None:
        rows = user.records.setdefault(table, {})
        key = _rid(record)
        if table in SINGLE_TABLES:
            for old in rows:
                self._forget(old)
            rows.clear()
        # Records are replaced, never edited in place, so a list read under the lock
        # stays consistent after the lock is released.
        rows[key] = record
        self._owner[key] = (user, table)
        # Not every record names its source (demographics, social_history, profile).
        self._record_source[key] = source["id"]
        self._encoded.pop(key, None)

    def _forget(self, key: str) -> None:
        self._owner.pop(key, None)
        self._record_source.pop(key, None)
        self._encoded.pop(key, None)

    def _encode(self, record: dict[str, Any]) -> bytes:
        key = _rid(record)
        data = self._encoded.get(key)
        if data is None:
            data = self._encoded[key] = msgspec.json.encode(record)
        return data

    def _source_of(self, user: _User, record: dict[str, Any]) -> dict[str, Any]:
        source_id = self._record_source[_rid(record)]
        return next(s for s in user.sources if s["id"] == source_id)

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
        return sorted(rows, key=lambda r: (r["updatedAt"], _rid(r)))

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
            try:
                for source in sources:
                    self._sync_source(user, source, now, int(new), int(updated))
            finally:
                self._notify_changes()

    def _sync_source(
        self, user: _User, source: dict[str, Any], now: int, new: int, updated: int
    ) -> None:
        rng = self._mutation_rng
        # Chosen before the new records exist, so `updated` counts older records only.
        mine = sorted(
            (key, table)
            for table, rows in user.records.items()
            for key in rows
            if self._record_source[key] == source["id"]
        )
        edits = rng.sample(mine, min(updated, len(mine)))
        tables = self._source_tables[source["id"]]
        for _ in range(new):
            table = rng.choice(tables)
            self._store(user, table, self._make(table, user, source, now, now), source)
            self._changes.append((user, table, "created", now))
        for key, table in edits:
            self._edit(user, table, key, now)
            self._changes.append((user, table, "updated", now))
        source["syncStatus"] = _sync_status(source, "ok", _iso(now))
        self._changes.append((user, "sources", "updated", now))

    def _edit(self, user: _User, table: str, key: str, now: int) -> dict[str, Any]:
        old = user.records[table][key]
        source = self._source_of(user, old)
        record = self._make(table, user, source, now, now)
        if "id" in old:
            record["id"] = old["id"]
        record["createdAt"] = old["createdAt"]
        self._store(user, table, record, source)
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
            synched = source["syncStatus"]["synchedAt"]
            if status == "failed":
                source["syncStatus"] = {"status": status, "details": details, "synchedAt": synched}
            else:
                source["syncStatus"] = _sync_status(source, status, synched)
            # A status change moves no clock: it is notified at the latest server time.
            self._changes.append((user, "sources", "updated", self._clock))
            self._notify_changes()

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

        ``uuids`` are record ids (a profile, which has none: its humanId; an insert into
        ``profile`` takes none). Each change gets a new server time, which also becomes
        the source's ``synchedAt``. Returns the new versions (deleted: the last one).
        """
        if table not in DATA_TABLES:
            raise ControlError(f"table must be one of {list(DATA_TABLES)}")
        if op not in ("insert", "update", "delete"):
            raise ControlError("op must be insert, update or delete")
        with self._lock:
            try:
                if op == "insert":
                    changed = [
                        self._insert(table, record_id)
                        for record_id in self._insert_ids(table, count, uuids)
                    ]
                else:
                    changed = [
                        self._change(op, user, table, rid)
                        for user, rid in self._targets(table, count, uuids)
                    ]
            finally:
                self._notify_changes()
            return [self._with_human_id(user, record) for user, record in changed]

    def _insert_ids(self, table: str, count: int, uuids: list[str] | None) -> list[str | None]:
        if uuids is None:
            return [None] * int(count)
        if table in SINGLE_TABLES:
            raise ControlError(f"{table} records have no id: insert them without uuids")
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
        self._store(user, table, record, source)
        source["syncStatus"] = _sync_status(source, "ok", _iso(now))
        self._changes += [(user, table, "created", now), (user, "sources", "updated", now)]
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
        source = self._source_of(user, user.records[table][record_id])
        if op == "update":
            record = self._edit(user, table, record_id, now)
        else:
            record = user.records[table].pop(record_id)
            self._forget(record_id)
        source["syncStatus"] = _sync_status(source, "ok", _iso(now))
        # A deletion is notified as an update of the endpoint (no "deleted" action known).
        self._changes += [(user, table, "updated", now), (user, "sources", "updated", now)]
        return user, record

    def _notify_changes(self) -> None:
        """Notify what the operation changed: one POST per user, one object per endpoint."""
        changes, self._changes = self._changes, []
        if not self.notifying:
            return
        by_user: dict[str, dict[str, tuple[str, int]]] = {}
        users: dict[str, _User] = {}
        for user, table, action, when in changes:
            users[user.human_id] = user
            endpoints = by_user.setdefault(user.human_id, {})
            seen_action, seen_when = endpoints.get(table, ("updated", when))
            created = "created" in (action, seen_action)
            endpoints[table] = ("created" if created else "updated", max(when, seen_when))
        for human_id, endpoints in by_user.items():
            user = users[human_id]
            objects = [
                self._notification_object(user, table, action, when)
                for table, (action, when) in endpoints.items()
            ]
            ids = {
                "humanId": human_id,
                "clientUserId": user.admin["clientUserId"],
                "endpoints": [obj["endpoint"] for obj in objects],
            }
            self.send_notification(msgspec.json.encode(objects), ids)

    def _notification_object(
        self, user: _User, table: str, action: str, when: int
    ) -> dict[str, Any]:
        # The documented keys; property, topic, value and clientData belong to other
        # events (order status) and are null for data updates (assumed).
        return {
            "humanId": user.human_id,
            "clientId": self.client_id,
            "userId": user.user_id,
            "clientUserId": user.admin["clientUserId"],
            "updatedAt": _iso(when),
            "action": action,
            "endpoint": PATHS[table].lstrip("/"),
            "property": None,
            "topic": None,
            "value": None,
            "clientData": None,
        }

    def notification_secret(self) -> str:
        """Notifications are signed with the app's client secret."""
        return self.client_secret

    def notification_headers(
        self, body: bytes, delivery_id: str, secret: str
    ) -> list[tuple[str, str]]:
        """Timestamp, nonce (the delivery id) and base64 HMAC-SHA1 of body + both (assumed)."""
        timestamp = str(int(time.time()))
        signed = body + timestamp.encode() + delivery_id.encode()
        digest = hmac.new(secret.encode(), signed, hashlib.sha1).digest()
        return [
            (TIMESTAMP_HEADER, timestamp),
            (NONCE_HEADER, delivery_id),
            (SIGNATURE_HEADER, base64.b64encode(digest).decode()),
        ]

    @staticmethod
    def _with_human_id(user: _User, record: dict[str, Any]) -> dict[str, Any]:
        copy: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(record))
        copy.setdefault("humanId", user.human_id)
        return copy

    def records_in(self, payload: Any) -> list[dict[str, Any]]:
        """The records of an answer: a list's objects, or /profile's one object.

        Token answers are objects too, but no records.
        """
        if isinstance(payload, dict):
            return [] if _TOKEN_KEYS & payload.keys() else [payload]
        return super().records_in(payload)

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
            self._count_user(user)  # the lock is reentrant
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
        self._count_user(user)
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
