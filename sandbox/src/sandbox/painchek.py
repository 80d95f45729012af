"""A fake PainChek integration API with seeded aged-care data.

Record shapes documented by PainChek (doc), at https://support.painchek.com/hc/en-us/
articles/... (the number is given), and served here field for field:

- doc: common fields, 6218595574159-Common-Fields: ``uuid``, ``created_at``,
  ``modified_at``, ``deleted_at``, ``update_stamp``, ``external_id`` (users, patients,
  sites; 6218596001807-Using-External-Ids), ``created_by_id``, ``modified_by_id``,
  ``device_id`` (upper-case in the sample), ``license``, ``license_name`` (the samples
  show ``"A89E0CC1-FD90/<company>/<licence start>"``).
- doc: patients, 6218611010447-Managing-Patients: the sample's keys in its order,
  ``gender`` m|f|x, ``nickname`` sometimes ``""``, ``deleted_reason`` an archive reason
  that one sample sends as the string "null".
- doc: assessments, 6218610974095-Managing-PainChek-Assessments and
  1500000030521-Managing-NRS-Assessments: patient and user names and external ids,
  ``user_position`` (PainChek mode only), ``user_source`` internal|external,
  ``json_version`` "v2"; top-level ``device`` is the device's UUID, equal to
  ``device_id``, and the sections sit in ``data`` (6249372515215-Webhook-Payloads).
  ``data.assessment`` {date, mode, pain_score, pain_level, is_editable, timing, and
  ``body_location`` in NRS mode} (6218610963343, 7975874854159); ``data.device``
  {manufacturer, model, os_type, os_version, app_version "x.y (build)", device_id}
  (6218595762703). PainChek mode adds the domains {score, comment, descriptors}:
  face (6218610935823; plus mode, initial_mode, camera, capture_seconds, frames,
  frame_errors), voice (6218610916111; plus voice_recording), movement
  (6218595728143), behaviour (6218595720207), body (360038169173), with the
  descriptor keys those pages list; ``score`` counts the true descriptors and
  ``pain_score`` sums the scores. NRS assessments have no domains.
- doc: sites, 6218611107727-Managing-Sites: ``type`` an integer 1..4, ``country`` a
  two-letter code. Admissions, 6218611050127-Managing-Admissions: ``patient`` and
  ``site`` are the full patient and site records. Users,
  6218611097999-Managing-Users: the sample's keys, ``role``
  license_admin|admin|user, ``phone`` and ``position`` sometimes ``""``. Licences,
  6218611082383-Managing-Licenses: ``number`` (the uuid's first 13 characters,
  upper-case, in the sample), ``start``, ``expiry``, ``is_expiring``, ``type`` an
  integer (1 Commercial, 2 Private), ``holder`` {first_name, last_name, email, phone,
  mobile, company_name, company_address, company_postcode, company_city,
  company_state, company_country, company_phone}.
- doc: ``POST /api/integration/auth/`` with form-encoded ``client_id`` and
  ``client_secret`` answers ``{"access_token", "token_type": "Bearer",
  "expires_in": 36000, "scope"}``; HTTP Basic ``username:password`` also works.
- doc: endpoints ``/api/patients/``, ``/api/assessments/`` (``?mode=painchek|nrs``),
  ``/api/sites/``, ``/api/account/users/``, ``/api/license/licenses/``.
- doc: Django REST Framework page-number pagination ``{"count", "next", "previous",
  "results"}`` with ``page`` and ``page_size``, default page size 50.
- doc: every table has an integer ``update_stamp``; each create, edit and delete sets it
  to that table's max + 1; ``sync=N`` returns rows with a strictly greater stamp
  (6218611193487-Syncing-Data-with-the-API).
- doc: deletes are soft (``deleted_at`` set, row still served); the error envelope
  ``{"code", "detail", "errors"}``.
- doc: webhooks (6249372515215-Webhook-Payloads and the webhook security page): one
  event, ``assessment_add``, body ``{"event": "assessment_add", "data": <the assessment
  exactly as the API serves it>}``, identical on every retry; headers
  ``X-PainChek-Webhook-Id`` (the subscription), ``X-PainChek-WH-Delivery-Id`` (one per
  event) and ``X-PainChek-WH-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` keyed
  with the subscription's secret; a non-2xx answer is retried up to a limit, then the
  event is dropped.

Assumed by this sandbox (assumed):

- assumed: the comments table and its shape (no page documents it): ``patient``,
  ``assessment``, ``user``, ``text`` and the common fields.
- assumed: the face descriptor keys after the four the page shows (brow_lowering,
  cheek_raising, tightening_eyelids, wrinkling_nose): raising_upper_lip,
  pulling_corner_lip, horizontal_mouth_stretch, parting_lips, closing_eyes (named
  after PainChek's published facial items); the activity domain (no page found) and
  its keys resisting_care, prolonged_resting, altered_sleep_cycle, altered_routines
  (from the Glossary's feature names); the value lists the pages lost: ``pain_level``
  none|mild|moderate|severe (PainChek bands 0-6, 7-11, 12-15, 16-42; NRS 0, 1-3,
  4-6, 7-10), ``timing`` rest|movement, face ``mode`` video|photo|manual and
  ``camera`` front|back.
- assumed: which optional fields are set how often; ``created_by_id`` and
  ``modified_by_id`` on every table but licences (users of the same licence), and
  ``device_id`` only on rows made in the app (assessments, comments and most
  patients), upper-case for iOS devices; licences carry ``created_at``,
  ``modified_at`` and ``update_stamp`` (PainChek's licence sample shows none of them);
  admissions carry the common fields, and ``start``/``end`` are date-times. An
  admission embeds its patient and site as they are when it is served (a nested
  serializer): editing a patient changes what its admissions show without changing
  their ``update_stamp``.
- assumed: the paths ``/api/admissions/`` and ``/api/comments/``.
- assumed: result order under ``sync`` defaults to ``update_stamp`` descending (the
  vendor's only example shows 760 before 759); ``asc`` and ``uuid`` are configurable.
  Pagination is a plain offset over that order computed per request, so rows edited
  mid-sync move between pages, as with a DRF queryset.
- assumed: maximum page size 1000; larger ``page_size`` values are silently capped.
- assumed: non-integer (or non-positive ``page_size``) ``sync``/``page``/``page_size``
  answer 400 with a field error (real DRF would ignore a bad ``page_size`` and answer
  404 for a bad ``page``); a page past the end answers 404 "Invalid page." (DRF);
  ``previous`` omits ``page`` when it points at page 1 and query parameters in
  ``next``/``previous`` are sorted (DRF).
- assumed: 401 codes ``not_authenticated`` and ``token_expired``; 403
  ``permission_denied`` for endpoints configured as forbidden; 404 ``not_found``;
  405 ``method_not_allowed``; auth accepts a JSON body as well as a form.
- assumed: the token is a random hex string; tokens expire after ``token_ttl`` seconds of
  wall-clock time, or all at once on ``revoke_tokens()``.
- assumed: fault behaviour (429 ``throttled`` with ``Retry-After``, HTML 5xx pages,
  dropped connections, slow answers, expiring tokens, truncated bodies) and the
  ``/_control/`` API, which has no vendor counterpart (see ``framework.py``).
- assumed: webhooks fire only for assessments inserted through ``mutate`` (or a
  schedule), never for edits or other tables; the subscription id (seeded unless
  given), the secret ``sandbox-webhook-secret``, ``Content-Type: application/json``,
  the compact JSON encoding and key order of the body, the retry timing
  (``framework.notify_to``) and the seeded drops, duplicates and bad signatures
  (``notify.py``).
- assumed: field values (names, sites, companies, device models, comment texts).
- assumed: one patient ``external_id`` per patient (no two patients share one), and
  the first eight patients carry the identifiers the other sandboxes' first patients
  carry too (``vocabulary.shared_identifier``), for the models' person crosswalk.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
import secrets
import time
import uuid as uuid_lib
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

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

TABLES = ("patients", "assessments", "sites", "admissions", "comments", "users", "licenses")
PATHS = {
    "patients": "/api/patients/",
    "assessments": "/api/assessments/",
    "sites": "/api/sites/",
    "admissions": "/api/admissions/",
    "comments": "/api/comments/",
    "users": "/api/account/users/",
    "licenses": "/api/license/licenses/",
}
AUTH_PATH = "/api/integration/auth/"
ORDERS = ("desc", "asc", "uuid")
MODES = ("painchek", "nrs")
DEFAULT_PAGE_SIZE = 50
# Webhooks (doc, 6249372515215-Webhook-Payloads and the webhook security page).
WEBHOOK_EVENT = "assessment_add"
WEBHOOK_ID_HEADER = "X-PainChek-Webhook-Id"
DELIVERY_ID_HEADER = "X-PainChek-WH-Delivery-Id"
SIGNATURE_HEADER = "X-PainChek-WH-Signature"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATA_START = int((datetime(2023, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds() * 1e6)
_DATA_END = int((datetime(2025, 5, 31, tzinfo=UTC) - _EPOCH).total_seconds() * 1e6)
_CLOCK_START = int((datetime(2025, 6, 1, tzinfo=UTC) - _EPOCH).total_seconds() * 1e6)
_DAY_US = 86_400_000_000

_F_NAMES = [
    "Margaret",
    "Dorothy",
    "Joan",
    "Betty",
    "Patricia",
    "Shirley",
    "Barbara",
    "Jean",
    "Valerie",
    "Maureen",
    "Beryl",
    "Gwen",
    "Irene",
    "Elsie",
    "Nancy",
    "Doris",
    "June",
    "Marjorie",
    "Audrey",
    "Edna",
    "Lorraine",
    "Heather",
    "Judith",
]
_M_NAMES = [
    "John",
    "William",
    "Robert",
    "Kenneth",
    "Ronald",
    "Peter",
    "Raymond",
    "Keith",
    "Graham",
    "Desmond",
    "Harold",
    "Arthur",
    "Bruce",
    "Colin",
    "Geoffrey",
    "Alan",
    "Norman",
    "Trevor",
    "Brian",
    "Leslie",
    "Francis",
    "Neville",
]
_LAST_NAMES = [
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Wilson",
    "Taylor",
    "Johnson",
    "White",
    "Martin",
    "Anderson",
    "Thompson",
    "Nguyen",
    "Thomas",
    "Walker",
    "Harris",
    "Lee",
    "Ryan",
    "Robinson",
    "Kelly",
    "King",
    "O'Brien",
    "Murphy",
    "Campbell",
    "Mitchell",
    "Clarke",
    "Evans",
    "Hughes",
    "Patel",
    "Papadopoulos",
    "Rossi",
    "Nowak",
    "Chen",
    "Singh",
    "MacDonald",
]
_NICKNAMES = [
    "Peggy",
    "Dot",
    "Bet",
    "Bill",
    "Bob",
    "Ken",
    "Ron",
    "Ray",
    "Des",
    "Jack",
    "Mick",
    "Bert",
    "Alf",
    "Nell",
    "Midge",
]
_STAFF_NAMES = [
    "Emma",
    "Olivia",
    "Chloe",
    "Priya",
    "Grace",
    "Mei",
    "Aisha",
    "Sophie",
    "Liam",
    "Noah",
    "Jack",
    "Ethan",
    "Arjun",
    "Tom",
    "Lucy",
    "Hannah",
    "Ravi",
    "Daniel",
    "Sarah",
    "Jessica",
    "Maria",
    "Joseph",
    "Ana",
    "Kiran",
]
_POSITIONS = (
    "Registered Nurse",
    "Enrolled Nurse",
    "Nurse",
    "Carer",
    "Personal Care Worker",
    "Clinical Care Manager",
    "Doctor",
    "Physiotherapist",
)
_ROLES = ("license_admin", "admin", "user")
_ROLE_WEIGHTS = (5, 15, 80)
_SITE_NAMES = [
    "Wattle",
    "Grove",
    "Banksia",
    "Jacaranda",
    "Bluegum",
    "Riverside",
    "Harbourview",
    "Lilly-Pilly",
    "Acacia",
    "Waratah",
    "Seaview",
    "Oakwood",
    "Ashford",
    "Meadowbank",
    "Hillcrest",
    "Kingfisher",
    "Elm-Lodge",
]
_SITE_SUFFIXES = ("Aged Care", "Care Home", "Residential Care", "Lodge", "Nursing Home")
_STREETS = (
    "Banksia Street",
    "Pacific Highway",
    "Church Street",
    "Victoria Road",
    "High Street",
    "King Street",
    "Station Road",
    "Park Avenue",
    "Mill Lane",
    "Queen Street",
)
_AU_PLACES = (
    ("Parramatta", "NSW", "2150", "02"),
    ("Hornsby", "NSW", "2077", "02"),
    ("Geelong", "VIC", "3220", "03"),
    ("Ballarat", "VIC", "3350", "03"),
    ("Toowoomba", "QLD", "4350", "07"),
    ("Townsville", "QLD", "4810", "07"),
    ("Adelaide", "SA", "5000", "08"),
    ("Fremantle", "WA", "6160", "08"),
    ("Hobart", "TAS", "7000", "03"),
    ("Canberra", "ACT", "2600", "02"),
)
_UK_PLACES = (
    ("Leeds", "West Yorkshire", "LS6 2AB", "0113"),
    ("Bristol", "Bristol", "BS8 1TH", "0117"),
    ("Norwich", "Norfolk", "NR2 3DD", "01603"),
    ("Chester", "Cheshire", "CH1 2HJ", "01244"),
    ("Harrogate", "North Yorkshire", "HG1 5LA", "01423"),
)
_HOLDERS = (
    "Banksia Care Group",
    "Southern Cross Aged Care",
    "Wattle Health",
    "Harbour Residential Care",
    "Anglia Care Homes",
    "Pennine Care Group",
    "Coastal Seniors Living",
)
_COMMERCIAL, _PRIVATE = 1, 2
# (manufacturer, model, os_type, os_version), spelt as in PainChek's device sample.
_DEVICES = (
    ("apple", "iphone13,2", "ios", "16.7.8"),
    ("apple", "iphone14,5", "ios", "17.4.1"),
    ("apple", "iphone14,6", "ios", "17.2"),
    ("apple", "ipad12,1", "ios", "17.4"),
    ("samsung", "sm-a536e", "android", "13"),
    ("samsung", "sm-x200", "android", "14"),
    ("google", "pixel 7", "android", "14"),
)
_APP_VERSIONS = ("5.1.4 (212)", "5.2.0 (230)", "5.2.3 (236)", "5.3.1 (251)")
_COMMENTS = (
    "Resident settled after repositioning.",
    "Paracetamol given as charted; review in 1 hour.",
    "Family informed of pain assessment results.",
    "Grimacing noted during transfer, physio referral made.",
    "Sleeping comfortably, no signs of distress.",
    "Refused morning shower; reassess later.",
    "Wound dressing changed, mild discomfort observed.",
    "GP notified of increased pain score.",
)
_UNITS = ("Banksia Wing", "Memory Support Unit", "Wattle Wing", "Respite", "East Wing")
_WARDS = ("A", "B", "C", "Dementia", "Palliative")
_ARCHIVE_REASONS = ("Discharged", "Transferred")
_DOMAIN_COMMENTS = (
    "Patient is protective of their left side",
    "Sweating was really noticeable today",
    "Calmer after morning tea",
    "Grimaced when standing",
    "Resisted personal care",
)
_BODY_LOCATIONS = ("neck and shoulders", "lower back", "left hip", "right knee", "abdomen")
_TIMINGS = ("rest", "movement")
# The 42 PainChek items by domain, keys as the domain pages spell them; the face keys
# after wrinkling_nose and all activity keys are assumed (see the docstring).
_DOMAINS = {
    "face": (
        "brow_lowering",
        "cheek_raising",
        "tightening_eyelids",
        "wrinkling_nose",
        "raising_upper_lip",
        "pulling_corner_lip",
        "horizontal_mouth_stretch",
        "parting_lips",
        "closing_eyes",
    ),
    "voice": (
        "noisy_sounds",
        "requesting_help",
        "groaning",
        "moaning",
        "crying",
        "screaming",
        "loudtalk",
        "howling",
        "sighing",
    ),
    "movement": (
        "altered_random_movement",
        "restlessness",
        "freezing",
        "guarding_touching",
        "moving_away",
        "abnormal_movement",
        "pacing_wandering",
    ),
    "behaviour": (
        "introvert",
        "verbally_offensive",
        "aggressive",
        "fear_or_dislike",
        "inappropriate_behaviour",
        "confused",
        "distressed",
    ),
    "activity": ("resisting_care", "prolonged_resting", "altered_sleep_cycle", "altered_routines"),
    "body": (
        "profuse_sweating",
        "pale_flushed",
        "feverish_cold",
        "rapid_breathing",
        "painful_injuries",
        "painful_conditions",
    ),
}
_MEDIA = "https://sandbox.painchek.example/media"


def _iso(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso_minute(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:00Z")


def _date(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%d")


def _date_us(iso_date: str) -> int:
    """Microseconds since the epoch of a YYYY-MM-DD date."""
    day = datetime.strptime(iso_date, "%Y-%m-%d").replace(tzinfo=UTC)
    return int((day - _EPOCH).total_seconds() * 1e6)


def _is_expiring(expiry: str, now: int) -> bool:
    return 0 <= _date_us(expiry) - now <= 90 * _DAY_US


def _pain_level(mode: str, score: int) -> str:
    bands = (0, 3, 6) if mode == "nrs" else (6, 11, 15)
    if score <= bands[0]:
        return "none"
    if score <= bands[1]:
        return "mild"
    return "moderate" if score <= bands[2] else "severe"


def _license_name(lic: dict[str, Any]) -> str:
    return f"{lic['number']}/{lic['holder']['company_name']}/{lic['start']}"


def _by_license(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["license"], []).append(row)
    return grouped


class _Table:
    """Rows of one table with cached JSON bytes and cached orderings.

    ``embeds`` names the keys holding another table's row (admissions' patient and
    site): those rows are served as they are now, so their changes drop the cache.
    """

    def __init__(
        self,
        name: str,
        mode_of: Callable[[dict[str, Any]], str] | None = None,
        embeds: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.rows: dict[str, dict[str, Any]] = {}
        self.max_stamp = 0
        self._mode_of = mode_of
        self._embeds = embeds
        self._embedded_in: dict[str, set[str]] = {}
        self._encoded: dict[str, bytes] = {}
        self._orders: dict[tuple[str, str | None], tuple[list[str], list[int]]] = {}

    def put(self, row: dict[str, Any]) -> None:
        self.rows[row["uuid"]] = row
        self.max_stamp = max(self.max_stamp, row["update_stamp"])
        self._encoded.pop(row["uuid"], None)
        self._orders.clear()
        for key in self._embeds:
            self._embedded_in.setdefault(row[key]["uuid"], set()).add(row["uuid"])

    def embedded_changed(self, uuid: str) -> None:
        """Another table's row ``uuid`` changed: re-encode the rows that embed it."""
        for own in self._embedded_in.get(uuid, ()):
            self._encoded.pop(own, None)

    def encoded(self, uuid: str) -> bytes:
        data = self._encoded.get(uuid)
        if data is None:
            data = self._encoded[uuid] = msgspec.json.encode(self.rows[uuid])
        return data

    def _ordered(self, order: str, mode: str | None) -> tuple[list[str], list[int]]:
        key = ("uuid" if order == "uuid" else "stamp", mode)
        cached = self._orders.get(key)
        if cached is None:
            rows: Iterable[dict[str, Any]] = self.rows.values()
            if mode is not None and self._mode_of is not None:
                rows = [row for row in rows if self._mode_of(row) == mode]
            sort_key = "uuid" if key[0] == "uuid" else "update_stamp"
            ordered = sorted(rows, key=lambda row: row[sort_key])
            cached = ([r["uuid"] for r in ordered], [r["update_stamp"] for r in ordered])
            self._orders[key] = cached
        return cached

    def select(
        self, order: str, sync: int | None, mode: str | None, offset: int, limit: int
    ) -> tuple[int, list[str]]:
        """Return (count of matching rows, uuids of the requested page)."""
        uuids, stamps = self._ordered(order, mode)
        if order == "uuid":
            if sync is not None:
                uuids = [u for u, s in zip(uuids, stamps, strict=True) if s > sync]
            return len(uuids), uuids[offset : offset + limit]
        low = bisect_right(stamps, sync) if sync is not None else 0
        count = len(uuids) - low
        if order == "asc":
            return count, uuids[low + offset : low + offset + limit]
        end = len(uuids) - offset
        start = max(low, end - limit)
        return count, (uuids[start:end][::-1] if end > start else [])


class _Generator:
    """Builds realistic rows from one seeded random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # Patients made so far, and the external ids they took: one external id is
        # one patient here, and the first patients share theirs with the other
        # sandboxes (vocabulary.shared_identifier).
        self._patients_made = 0
        self._externals: set[int] = set()

    def uuid(self) -> str:
        return str(uuid_lib.UUID(int=self.rng.getrandbits(128), version=4))

    def _times(self, created: int) -> tuple[str, str]:
        created_at = _iso(created)
        if self.rng.random() < 0.3:
            return created_at, _iso(created + self.rng.randrange(0, 20 * _DAY_US))
        return created_at, created_at

    def _phone(self, area: str) -> str:
        return f"{area} {self.rng.randrange(1000, 9999)} {self.rng.randrange(1000, 9999)}"

    def _mobile(self, *, uk: bool) -> str:
        rng = self.rng
        if uk:
            return f"07700 900{rng.randrange(100, 999)}"
        return f"04{rng.randrange(10, 99)} {rng.randrange(100, 999)} {rng.randrange(100, 999)}"

    def pick(
        self,
        grouped: Mapping[str, list[dict[str, Any]]],
        license: str,
        everyone: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Mostly a row of the same licence, sometimes any row."""
        same = grouped.get(license)
        return self.rng.choice(same if same and self.rng.random() < 0.95 else everyone)

    def sign(self, row: dict[str, Any], colleagues: list[dict[str, Any]]) -> None:
        """Fill ``created_by_id`` and ``modified_by_id`` with users of the row's licence."""
        rng = self.rng
        author = row.get("user")
        if author is None and colleagues and rng.random() < 0.95:
            author = rng.choice(colleagues)["uuid"]
            # A user's first account is made by PainChek, not by the user.
            author = None if author == row["uuid"] else author
        edited = row["modified_at"] != row["created_at"]
        row["created_by_id"] = author
        row["modified_by_id"] = rng.choice(colleagues)["uuid"] if edited and colleagues else author

    def license(self, created: int) -> dict[str, Any]:
        rng = self.rng
        uid = self.uuid()
        start = created + rng.randrange(0, 5 * _DAY_US)
        expiry = _date(start + rng.choice((1, 2, 3)) * 365 * _DAY_US)
        uk = rng.random() < 0.25
        city, state, postcode, area = rng.choice(_UK_PLACES if uk else _AU_PLACES)
        first, last = rng.choice(_STAFF_NAMES), rng.choice(_LAST_NAMES)
        company = rng.choice(_HOLDERS)
        domain = company.lower().replace(" ", "") + (".example.co.uk" if uk else ".example.com.au")
        created_at, modified_at = self._times(created)
        return {
            "uuid": uid,
            "number": uid[:13].upper(),
            "start": _date(start),
            "expiry": expiry,
            "is_expiring": _is_expiring(expiry, _CLOCK_START),
            "type": _COMMERCIAL if rng.random() < 0.85 else _PRIVATE,
            "holder": {
                "first_name": first,
                "last_name": last,
                "email": f"{first.lower()}@{domain}",
                "phone": self._phone(area),
                "mobile": self._mobile(uk=uk),
                "company_name": company,
                "company_address": f"{rng.randint(1, 240)} {rng.choice(_STREETS)}",
                "company_postcode": postcode,
                "company_city": city,
                "company_state": "Not applicable" if uk else state,
                "company_country": "GB" if uk else "AU",
                "company_phone": self._phone(area),
            },
            "deleted_at": None,
            "created_at": created_at,
            "modified_at": modified_at,
            "update_stamp": 0,
        }

    def site(self, created: int, lic: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        uk = lic["holder"]["company_country"] == "GB"
        city, state, postcode, area = rng.choice(_UK_PLACES if uk else _AU_PLACES)
        name = f"{rng.choice(_SITE_NAMES).replace('-', ' ')} {rng.choice(_SITE_SUFFIXES)}"
        slug = name.lower().replace(" ", "")
        created_at, modified_at = self._times(created)
        return {
            "uuid": self.uuid(),
            "license": lic["uuid"],
            "license_name": _license_name(lic),
            "type": rng.choices((1, 2, 3, 4), (10, 80, 8, 2))[0],
            "name": name,
            "phone": self._phone(area) if rng.random() < 0.9 else None,
            "email": f"reception@{slug}.example.{'co.uk' if uk else 'com.au'}"
            if rng.random() < 0.8
            else None,
            "address": f"{rng.randint(1, 240)} {rng.choice(_STREETS)}",
            "postcode": postcode,
            "city": city,
            "state": state,
            "country": "GB" if uk else "AU",
            "num_beds": rng.randrange(30, 160) if rng.random() < 0.85 else None,
            "created_at": created_at,
            "modified_at": modified_at,
            "deleted_at": None,
            "update_stamp": 0,
            "external_id": str(rng.randrange(100, 9999)) if rng.random() < 0.5 else None,
            "created_by_id": None,
            "modified_by_id": None,
            "device_id": None,
        }

    def user(
        self, created: int, lic: dict[str, Any], site: dict[str, Any] | None
    ) -> dict[str, Any]:
        rng = self.rng
        uid = self.uuid()
        first, last = rng.choice(_STAFF_NAMES), rng.choice(_LAST_NAMES)
        email_last = last.lower().replace("'", "")
        created_at, modified_at = self._times(created)
        return {
            "uuid": uid,
            "license": lic["uuid"],
            "license_name": _license_name(lic),
            "email": f"{first.lower()}.{email_last}{rng.randrange(1, 99)}@example.com",
            "first_name": first,
            "last_name": last,
            "phone": self._mobile(uk=False) if rng.random() < 0.6 else "",
            "institution": site["uuid"] if site else None,
            "institution_name": site["name"] if site else None,
            "position": rng.choice(_POSITIONS) if rng.random() < 0.85 else "",
            "avatar": f"{_MEDIA}/avatars/{uid}.jpg" if rng.random() < 0.1 else None,
            "has_activated": rng.random() < 0.92,
            "role": rng.choices(_ROLES, _ROLE_WEIGHTS)[0],
            "is_active": rng.random() < 0.9,
            "date_joined": created_at,
            "modified_at": modified_at,
            "full_site_access": rng.random() < 0.3,
            "external_id": f"EMP{rng.randrange(1, 99999):05d}" if rng.random() < 0.6 else None,
            "created_at": created_at,
            "deleted_at": None,
            "update_stamp": 0,
            "created_by_id": None,
            "modified_by_id": None,
            "device_id": None,
        }

    def patient(
        self, created: int, lic: dict[str, Any], device: dict[str, Any] | None
    ) -> dict[str, Any]:
        rng = self.rng
        gender = rng.choices(("f", "m", "x"), (60, 38, 2))[0]
        first = rng.choice(_F_NAMES if gender == "f" else _M_NAMES)
        birth = datetime(1920, 1, 1) + timedelta(days=rng.randrange(0, 40 * 365))
        roll = rng.random()
        reason = "null" if roll < 0.05 else rng.choice(_ARCHIVE_REASONS) if roll < 0.15 else None
        nick_roll = rng.random()
        nickname = rng.choice(_NICKNAMES) if nick_roll < 0.2 else "" if nick_roll < 0.3 else None
        uid = self.uuid()
        external = rng.randrange(1, 99999)
        while external in self._externals:  # taken: a longer number (room for any size)
            external = rng.randrange(100_000, 10**9)
        self._externals.add(external)
        ext_roll = rng.random()
        shared = vocabulary.shared_identifier(self._patients_made)
        self._patients_made += 1
        created_at, modified_at = self._times(created)
        return {
            "uuid": uid,
            "license": lic["uuid"],
            "license_name": _license_name(lic),
            "first_name": first,
            "last_name": rng.choice(_LAST_NAMES),
            "nickname": nickname,
            "gender": gender,
            "birth_date": birth.strftime("%Y-%m-%d"),
            "death_date": _date(created + rng.randrange(30, 400) * _DAY_US)
            if rng.random() < 0.03
            else None,
            "created_at": created_at,
            "modified_at": modified_at,
            "deleted_at": None,
            "deleted_reason": reason,
            "update_stamp": 0,
            "image": f"{_MEDIA}/patients/{uid}.jpg" if rng.random() < 0.3 else None,
            # A string: "001234" and "1234" are different patients.
            "external_id": shared or f"{external:06d}"
            if shared or ext_roll < 0.35
            else str(external)
            if ext_roll < 0.85
            else None,
            "training_record": rng.random() < 0.02,
            "created_by_id": None,
            "modified_by_id": None,
            "device_id": device["device_id"] if device else None,
        }

    def _face_capture(self) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        if roll >= 0.88:  # the assessor scored the face by hand
            return {
                "mode": "manual",
                "initial_mode": rng.choice(("video", "video", "photo", None)),
                "camera": None,
                "capture_seconds": None,
                "frames": None,
                "frame_errors": None,
            }
        mode = "video" if roll < 0.8 else "photo"
        seconds = rng.randint(3, 10) if mode == "video" else None
        return {
            "mode": mode,
            "initial_mode": mode if rng.random() < 0.7 else None,
            "camera": rng.choice(("back", "back", "front", "back", "front", None)),
            "capture_seconds": seconds,
            "frames": seconds * rng.randint(5, 8) if seconds else 1,
            "frame_errors": rng.choice((0, 0, 0, 1, 2)),
        }

    def _domain(self, domain: str, flags: dict[str, bool]) -> dict[str, Any]:
        rng = self.rng
        section: dict[str, Any] = {
            "score": sum(flags.values()),
            "comment": rng.choice(_DOMAIN_COMMENTS) if rng.random() < 0.08 else None,
        }
        if domain == "face":
            section |= self._face_capture()
        elif domain == "voice":
            recorded = rng.random() < 0.05
            section["voice_recording"] = f"recordings/{self.uuid()}.m4a" if recorded else None
        section["descriptors"] = flags
        return section

    def _summary(self, when: str, mode: str, score: int) -> dict[str, Any]:
        timing = self.rng.choice(_TIMINGS) if self.rng.random() < 0.9 else None
        return {
            "date": when,
            "mode": mode,
            "pain_score": score,
            "pain_level": _pain_level(mode, score),
            "is_editable": False,
            "timing": timing,
        }

    def _painchek_data(self, when: str, device: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        # Presence probability 0, 1/16, 1/8 or 1/4 per item, from ANDed random bit masks.
        depth = rng.choice((0, 4, 3, 2))
        mask = 0
        if depth:
            mask = (1 << 42) - 1
            for _ in range(depth):
                mask &= rng.getrandbits(42)
        domains: dict[str, Any] = {}
        bit = 0
        for domain, items in _DOMAINS.items():
            flags = {item: bool(mask >> (bit + i) & 1) for i, item in enumerate(items)}
            domains[domain] = self._domain(domain, flags)
            bit += len(items)
        summary = self._summary(when, "painchek", mask.bit_count())
        return {"assessment": summary, "device": dict(device), **domains}

    def _nrs_data(self, when: str, device: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        summary = self._summary(when, "nrs", rng.randint(0, 10))
        summary["body_location"] = rng.choice(_BODY_LOCATIONS) if rng.random() < 0.7 else None
        return {"assessment": summary, "device": dict(device)}

    def assessment(
        self,
        created: int,
        patient: dict[str, Any],
        user: dict[str, Any],
        device: dict[str, Any],
    ) -> dict[str, Any]:
        rng = self.rng
        # Devices upload late: the assessment happened before the row was created.
        when = _iso(created - rng.randrange(0, 3 * _DAY_US if rng.random() < 0.1 else 600_000_000))
        nrs = rng.random() < 0.25
        created_at, modified_at = self._times(created)
        row: dict[str, Any] = {
            "uuid": self.uuid(),
            "patient": patient["uuid"],
            "patient_first_name": patient["first_name"],
            "patient_last_name": patient["last_name"],
            "patient_external_id": patient["external_id"],
            "user": user["uuid"],
            "user_first_name": user["first_name"],
            "user_last_name": user["last_name"],
            "user_external_id": user["external_id"],
        }
        if not nrs:  # the NRS field table has no user_position
            row["user_position"] = user["position"]
        return row | {
            "user_source": "internal" if user["license"] == patient["license"] else "external",
            "json_version": "v2",
            "created_at": created_at,
            "modified_at": modified_at,
            "deleted_at": None,
            "update_stamp": 0,
            "device": device["device_id"],
            "device_id": device["device_id"],
            "license": patient["license"],
            "license_name": patient["license_name"],
            "created_by_id": None,
            "modified_by_id": None,
            "data": self._nrs_data(when, device) if nrs else self._painchek_data(when, device),
        }

    def device(self) -> dict[str, Any]:
        manufacturer, model, os_type, os_version = self.rng.choice(_DEVICES)
        device_id = self.uuid()
        return {
            "manufacturer": manufacturer,
            "model": model,
            "os_type": os_type,
            "os_version": os_version,
            "app_version": self.rng.choice(_APP_VERSIONS),
            # iOS vendor identifiers are upper-case, as in PainChek's samples.
            "device_id": device_id.upper() if os_type == "ios" else device_id,
        }

    def admission(
        self, created: int, patient: dict[str, Any], site: dict[str, Any]
    ) -> dict[str, Any]:
        rng = self.rng
        start = created - rng.randrange(0, 5 * _DAY_US)
        ended = rng.random() < 0.15
        created_at, modified_at = self._times(created)
        return {
            "uuid": self.uuid(),
            # The stored rows themselves: served as they are at request time.
            "patient": patient,
            "site": site,
            "start": _iso_minute(start),
            "end": _iso_minute(start + rng.randrange(5, 400) * _DAY_US) if ended else None,
            "unit": rng.choice(_UNITS) if rng.random() < 0.7 else None,
            "room": str(rng.randint(1, 60)) if rng.random() < 0.9 else None,
            "bed": rng.choice(("A", "B", "1")) if rng.random() < 0.6 else None,
            "ward": rng.choice(_WARDS) if rng.random() < 0.5 else None,
            "created_at": created_at,
            "modified_at": modified_at,
            "deleted_at": None,
            "update_stamp": 0,
            "license": patient["license"],
            "license_name": patient["license_name"],
            "created_by_id": None,
            "modified_by_id": None,
            "device_id": None,
        }

    def comment(
        self,
        created: int,
        patient: dict[str, Any],
        assessment: dict[str, Any] | None,
        user: dict[str, Any],
        device: dict[str, Any],
    ) -> dict[str, Any]:
        created_at, modified_at = self._times(created)
        about = assessment or patient
        return {
            "uuid": self.uuid(),
            "patient": assessment["patient"] if assessment else patient["uuid"],
            "assessment": assessment["uuid"] if assessment else None,
            "user": user["uuid"],
            "text": self.rng.choice(_COMMENTS),
            "created_at": created_at,
            "modified_at": modified_at,
            "deleted_at": None,
            "update_stamp": 0,
            "license": about["license"],
            "license_name": about["license_name"],
            "created_by_id": None,
            "modified_by_id": None,
            "device_id": device["device_id"],
        }


def _derived_sizes(patients: int, sizes: Mapping[str, int] | None) -> dict[str, int]:
    sites = max(3, patients // 50)
    derived = {
        "patients": patients,
        "sites": sites,
        "licenses": max(2, sites // 2),
        "users": max(5, patients // 20),
        "assessments": 4 * patients,
        "admissions": patients,
        "comments": patients // 2,
    }
    for table, size in (sizes or {}).items():
        if table not in derived:
            raise ValueError(f"unknown table {table!r} in sizes")
        derived[table] = int(size)
    parents = {
        "patients": ("licenses",),
        "sites": ("licenses",),
        "users": ("licenses",),
        "assessments": ("patients", "users"),
        "admissions": ("patients", "sites"),
        "comments": ("patients", "users"),
    }
    for child, needed in parents.items():
        for parent in needed:
            if derived[child] and not derived[parent]:
                raise ValueError(f"{child} need at least one row in {parent}")
    return derived


class PainChekSandbox(VendorSandbox):
    """The fake PainChek API; see the module docstring for what is doc and what assumed."""

    extra_stats = ("auth_requests", "tokens_issued")

    def __init__(
        self,
        seed: int = 1,
        patients: int = 200,
        *,
        order: str = "desc",
        latency_ms: int = 0,
        max_page_size: int = 1000,
        token_ttl: int = 36000,
        sizes: Mapping[str, int] | None = None,
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-client-secret",  # noqa: S107
        username: str = "sandbox-user",
        password: str = "sandbox-password",  # noqa: S107
        webhook_id: str | None = None,
        webhook_secret: str = "sandbox-webhook-secret",  # noqa: S107
        webhook_signature_prefix: str = "sha256=",
    ) -> None:
        super().__init__(latency_ms=latency_ms, seed=seed)
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.token_ttl = token_ttl
        # The webhook subscription: its id, secret and how the signature is labelled
        # (one version of PainChek's security page writes ``sha1=``).
        webhook_rng = random.Random(f"painchek-webhook-{seed}")
        self.webhook_id = webhook_id or str(
            uuid_lib.UUID(int=webhook_rng.getrandbits(128), version=4)
        )
        self.webhook_secret = webhook_secret
        self.webhook_signature_prefix = webhook_signature_prefix
        self._order = "desc"
        self._max_page_size = 1000
        self._forbidden: frozenset[str] = frozenset()
        self.configure(order=order, max_page_size=max_page_size)
        self._tokens: dict[str, float] = {}
        self._revoked: set[str] = set()
        self._issued: list[str] = []
        self._clock = _CLOCK_START
        self._mutation_rng = random.Random(f"painchek-mutations-{seed}")
        self._gen = _Generator(random.Random(seed))
        self._devices: list[dict[str, Any]] = []
        self._tables = {name: _Table(name) for name in TABLES}
        self._tables["assessments"] = _Table(
            "assessments", lambda r: r["data"]["assessment"]["mode"]
        )
        self._tables["admissions"] = _Table("admissions", embeds=("patient", "site"))
        self._populate(_derived_sizes(patients, sizes))
        # Inserted rows come from their own stream so data stays stable across mutations.
        self._gen.rng = self._mutation_rng

    # -- data -------------------------------------------------------------------------

    @property
    def tables(self) -> tuple[str, ...]:
        """Names of the tables."""
        return TABLES

    def records_in(self, payload: Any) -> list[dict[str, Any]]:
        """The records of a list answer: the objects in its ``results``."""
        results = payload.get("results") if isinstance(payload, dict) else None
        if isinstance(results, list):
            return [record for record in results if isinstance(record, dict)]
        return super().records_in(payload)

    def _populate(self, sizes: dict[str, int]) -> None:
        gen, rng = self._gen, self._gen.rng

        def times(n: int, floor: int = _DATA_START) -> list[int]:
            return sorted(rng.randrange(floor, _DATA_END) for _ in range(n))

        def rows_of(table: str) -> list[dict[str, Any]]:
            return list(self._tables[table].rows.values())

        def store(table: str, rows: list[dict[str, Any]]) -> None:
            rows.sort(key=lambda row: row["created_at"])
            stamp = 0
            for row in rows:
                stamp += rng.choice((1, 1, 1, 2, 3))
                row["update_stamp"] = stamp
                if rng.random() < 0.03:
                    row["deleted_at"] = row["modified_at"]
                self._tables[table].put(row)

        def signed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            for row in rows:
                gen.sign(row, staff.get(row["license"], []))
            return rows

        store("licenses", [gen.license(t) for t in times(sizes["licenses"])])
        licenses = rows_of("licenses")
        site_rows = [gen.site(t, rng.choice(licenses)) for t in times(sizes["sites"])]
        sites_of = _by_license(site_rows)
        user_rows = []
        for t in times(sizes["users"]):
            lic = rng.choice(licenses)
            home = sites_of.get(lic["uuid"]) if rng.random() < 0.7 else None
            user_rows.append(gen.user(t, lic, rng.choice(home) if home else None))
        staff = _by_license(user_rows)
        store("sites", signed(site_rows))
        store("users", signed(user_rows))
        users, sites = rows_of("users"), rows_of("sites")
        self._devices = [gen.device() for _ in range(max(3, len(sites) * 3))]
        store(
            "patients",
            signed(
                [
                    gen.patient(
                        t,
                        rng.choice(licenses),
                        rng.choice(self._devices) if rng.random() < 0.6 else None,
                    )
                    for t in times(sizes["patients"])
                ]
            ),
        )
        patients = rows_of("patients")
        assessments = []
        for t in times(sizes["assessments"]):
            patient = rng.choice(patients)
            user = gen.pick(staff, patient["license"], users)
            assessments.append(gen.assessment(t, patient, user, rng.choice(self._devices)))
        store("assessments", signed(assessments))
        sites_of = _by_license(sites)
        admissions = []
        for t in times(sizes["admissions"]):
            patient = rng.choice(patients)
            site = gen.pick(sites_of, patient["license"], sites)
            admissions.append(gen.admission(t, patient, site))
        store("admissions", signed(admissions))
        assessment_rows = rows_of("assessments")
        comments = []
        for t in times(sizes["comments"]):
            patient = rng.choice(patients)
            about = rng.choice(assessment_rows) if assessment_rows and rng.random() < 0.7 else None
            user = gen.pick(staff, (about or patient)["license"], users)
            comments.append(gen.comment(t, patient, about, user, rng.choice(self._devices)))
        store("comments", signed(comments))

    def _new_row(self, table: str, created: int) -> dict[str, Any]:
        gen, pick = self._gen, self._mutation_rng.choice

        def any_row(name: str) -> dict[str, Any]:
            rows = self._tables[name].rows
            if not rows:
                raise ControlError(f"cannot insert into {table}: {name} is empty")
            return rows[pick(list(rows))]

        def colleague(license: str) -> dict[str, Any]:
            users = list(self._tables["users"].rows.values())
            if not users:
                raise ControlError(f"cannot insert into {table}: users is empty")
            return gen.pick(_by_license(users), license, users)

        def device() -> dict[str, Any]:
            return pick(self._devices) if self._devices else gen.device()

        def maybe_assessment() -> dict[str, Any] | None:
            return any_row("assessments") if self._tables["assessments"].rows else None

        def assessment() -> dict[str, Any]:
            patient = any_row("patients")
            return gen.assessment(created, patient, colleague(patient["license"]), device())

        def comment() -> dict[str, Any]:
            patient, about = any_row("patients"), maybe_assessment()
            user = colleague((about or patient)["license"])
            return gen.comment(created, patient, about, user, device())

        def user() -> dict[str, Any]:
            lic = any_row("licenses")
            home = [s for s in self._tables["sites"].rows.values() if s["license"] == lic["uuid"]]
            return gen.user(created, lic, pick(home) if home else None)

        makers: dict[str, Callable[[], dict[str, Any]]] = {
            "licenses": lambda: gen.license(created),
            "sites": lambda: gen.site(created, any_row("licenses")),
            "users": user,
            "patients": lambda: gen.patient(created, any_row("licenses"), device()),
            "assessments": assessment,
            "admissions": lambda: gen.admission(created, any_row("patients"), any_row("sites")),
            "comments": comment,
        }
        row = makers[table]()
        if table != "licenses":
            users = self._tables["users"].rows.values()
            gen.sign(row, _by_license(users).get(row["license"], []))
        return row

    def _editor(self, row: dict[str, Any]) -> None:
        """Who made an edit or a delete: a user of the row's licence."""
        if "modified_by_id" not in row:
            return
        users = list(self._tables["users"].rows.values())
        colleagues = [u for u in users if u["license"] == row["license"]] or users
        if colleagues:
            row["modified_by_id"] = self._mutation_rng.choice(colleagues)["uuid"]

    def _edit(self, table: str, row: dict[str, Any]) -> None:
        rng = self._mutation_rng
        if table == "patients":
            row["nickname"] = rng.choice(_NICKNAMES)
            row["last_name"] = rng.choice(_LAST_NAMES)
        elif table == "assessments":
            # The patient's name and external id are copies, refreshed on an edit.
            patient = self._tables["patients"].rows.get(row["patient"], {})
            for key in ("first_name", "last_name", "external_id"):
                row[f"patient_{key}"] = patient.get(key, row[f"patient_{key}"])
        elif table == "sites":
            row["num_beds"] = rng.randrange(30, 160)
        elif table == "admissions":
            row["room"] = str(rng.randint(1, 60))
        elif table == "comments":
            row["text"] = rng.choice(_COMMENTS)
        elif table == "users":
            row["position"] = rng.choice(_POSITIONS)
        else:
            row["expiry"] = _date(self._clock + 365 * _DAY_US)
            row["is_expiring"] = _is_expiring(row["expiry"], self._clock)

    def _tick(self) -> str:
        self._clock += self._mutation_rng.randrange(1_000_000, 120_000_000)
        return _iso(self._clock)

    def _decoded(self, table: _Table, uuid: str) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.json.decode(table.encoded(uuid))
        return result

    def mutate(
        self, table: str, op: str, count: int = 1, uuids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Insert, update or soft-delete rows; each gets update_stamp = table max + 1.

        Without ``uuids``, update and delete pick ``count`` random rows not yet deleted
        (fewer if fewer remain); insert makes ``count`` new rows (or one per given uuid).
        """
        if table not in TABLES:
            raise ControlError(f"table must be one of {list(TABLES)}")
        if op not in ("insert", "update", "delete"):
            raise ControlError("op must be insert, update or delete")
        with self._lock:
            store = self._tables[table]
            changed = []
            if op == "insert":
                wanted = list(uuids) if uuids is not None else [None] * int(count)
                for new_uuid in wanted:
                    if new_uuid is not None and new_uuid in store.rows:
                        raise ControlError(f"uuid {new_uuid} already exists")
                    row = self._new_row(table, self._clock)
                    if new_uuid is not None:
                        row["uuid"] = str(new_uuid)
                    now = self._tick()
                    row["created_at"] = row["modified_at"] = now
                    if "created_by_id" in row:
                        row["modified_by_id"] = row["created_by_id"]
                    changed.append(row)
                    self._restamp(store, row)
                if table == "assessments":
                    self._notify_added(changed)
            else:
                for row in self._targets(store, count, uuids):
                    now = self._tick()
                    row["modified_at"] = now
                    self._editor(row)
                    if op == "delete":
                        row["deleted_at"] = now
                    else:
                        self._edit(table, row)
                    changed.append(row)
                    self._restamp(store, row)
            return [self._decoded(store, row["uuid"]) for row in changed]

    def _notify_added(self, rows: list[dict[str, Any]]) -> None:
        """Queue one ``assessment_add`` webhook per new assessment, ``data`` as served."""
        if not self.notifying:
            return
        store = self._tables["assessments"]
        added = self.vendor_fields_for(PATHS["assessments"])
        for row in rows:
            data = store.encoded(row["uuid"])
            if added:  # served with the vendor's extra fields, so sent with them too
                data = msgspec.json.encode({**msgspec.json.decode(data), **added})
            body = b'{"event":"%s","data":%s}' % (WEBHOOK_EVENT.encode(), data)
            ids = {
                "event": WEBHOOK_EVENT,
                "uuid": row["uuid"],
                "patient": row["patient"],
                "update_stamp": row["update_stamp"],
            }
            self.send_notification(body, ids)

    def notification_secret(self) -> str:
        """Webhooks are signed with the subscription's secret."""
        return self.webhook_secret

    def notification_headers(
        self, body: bytes, delivery_id: str, secret: str
    ) -> list[tuple[str, str]]:
        """The subscription, the delivery and ``sha256=<hex HMAC-SHA256 of the raw body>``."""
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return [
            (WEBHOOK_ID_HEADER, self.webhook_id),
            (DELIVERY_ID_HEADER, delivery_id),
            (SIGNATURE_HEADER, self.webhook_signature_prefix + digest),
        ]

    def _restamp(self, store: _Table, row: dict[str, Any]) -> None:
        row["update_stamp"] = store.max_stamp + 1
        store.put(row)
        self._tables["admissions"].embedded_changed(row["uuid"])

    def _targets(self, store: _Table, count: int, uuids: list[str] | None) -> list[dict[str, Any]]:
        if uuids is not None:
            missing = [u for u in uuids if u not in store.rows]
            if missing:
                raise ControlError(f"unknown uuids in {store.name}: {missing}")
            return [store.rows[u] for u in uuids]
        live = sorted(u for u, row in store.rows.items() if row["deleted_at"] is None)
        chosen = self._mutation_rng.sample(live, min(int(count), len(live)))
        return [store.rows[u] for u in chosen]

    def truth(self, table: str) -> list[dict[str, Any]]:
        """Return the current rows of ``table`` as the API serves them, deleted ones too."""
        if table not in TABLES:
            raise ControlError(f"table must be one of {list(TABLES)}")
        with self._lock:
            store = self._tables[table]
            body = b"[" + b",".join(store.encoded(u) for u in store.rows) + b"]"
        result: list[dict[str, Any]] = msgspec.json.decode(body)
        return result

    # -- settings and tokens ----------------------------------------------------------

    def configure(  # type: ignore[override]
        self,
        order: str | None = None,
        latency_ms: int | None = None,
        max_page_size: int | None = None,
        forbid: list[str] | None = None,
    ) -> None:
        """Change order, latency, maximum page size or forbidden (403) tables."""
        if order is not None and order not in ORDERS:
            raise ControlError(f"order must be one of {list(ORDERS)}")
        if max_page_size is not None and (
            isinstance(max_page_size, bool)
            or not isinstance(max_page_size, int)
            or max_page_size < 1
        ):
            raise ControlError("max_page_size must be a positive integer")
        if forbid is not None and not set(forbid) <= set(TABLES):
            raise ControlError(f"forbid must list tables from {list(TABLES)}")
        with self._lock:
            super().configure(latency_ms=latency_ms)
            if order is not None:
                self._order = order
            if max_page_size is not None:
                self._max_page_size = max_page_size
            if forbid is not None:
                self._forbidden = frozenset(forbid)

    def tap_config(self, **overrides: Any) -> dict[str, Any]:
        """Settings that point tap-painchek at this sandbox."""
        return {
            "api_url": self.url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            **overrides,
        }

    def issued_tokens(self) -> list[str]:
        """Every token this sandbox has issued, so tests can grep logs for them."""
        with self._lock:
            return list(self._issued)

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (they answer 401 token_expired)."""
        with self._lock:
            self._revoked.update(self._tokens)
            self._tokens.clear()

    def expire_tokens(self, request: Request | None = None) -> Response:
        """Revoke all tokens (whichever the request carries) and answer 401 token_expired."""
        self.revoke_tokens()
        return _error(401, "token_expired", "Token has expired.")

    def not_found(self) -> Response:
        """DRF's 404 for an unknown path."""
        return _error(404, "not_found", "Not found.")

    def control_routes(self) -> dict[tuple[str, str], Handler]:
        """Add token revocation to the generic control routes."""
        routes = super().control_routes()
        routes["POST", "/_control/revoke_tokens"] = self._control_revoke
        return routes

    def _control_revoke(self, _request: Request) -> Response:
        self.revoke_tokens()
        return json_response(200, {"ok": True})

    # -- API --------------------------------------------------------------------------

    def api_routes(self) -> dict[str, Handler]:
        """Auth plus one list endpoint per table."""
        routes: dict[str, Handler] = {AUTH_PATH: self._auth}
        for table, path in PATHS.items():
            routes[path] = self._lister(table)
        return routes

    def _auth(self, request: Request) -> Response:
        self.count("auth_requests")
        if request.method != "POST":
            return _method_not_allowed(request.method)
        content_type = request.headers.get("Content-Type") or ""
        try:
            if "json" in content_type:
                form = request.json()
                form = form if isinstance(form, dict) else {}
            else:
                form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        except (UnicodeDecodeError, msgspec.DecodeError):
            form = {}
        ok = secrets.compare_digest(
            str(form.get("client_id", "")).encode(), self.client_id.encode()
        ) & secrets.compare_digest(
            str(form.get("client_secret", "")).encode(), self.client_secret.encode()
        )
        if not ok:
            return _error(401, "invalid_client", "Invalid client credentials.")
        token = secrets.token_hex(20)
        with self._lock:
            self._tokens[token] = time.time() + self.token_ttl
            self._issued.append(token)
            self._stats.incr("tokens_issued")
        payload = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "scope": "integration",
        }
        return json_response(200, payload)

    def _authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization") or ""
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and credentials:
            token = credentials.strip()
            with self._lock:
                expiry = self._tokens.get(token)
                if expiry is not None and expiry > time.time():
                    return None
                if expiry is not None or token in self._revoked:
                    return _error(401, "token_expired", "Token has expired.")
            return _error(401, "not_authenticated", "Invalid token.")
        if scheme == "basic" and credentials:
            try:
                user, _, password = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            ok = secrets.compare_digest(user.encode(), self.username.encode()) & (
                secrets.compare_digest(password.encode(), self.password.encode())
            )
            if ok:
                return None
            return _error(401, "not_authenticated", "Invalid username/password.")
        return _error(401, "not_authenticated", "Authentication credentials were not provided.")

    def _lister(self, table: str) -> Handler:
        def handle(request: Request) -> Response:
            return self._list(table, request)

        return handle

    def _refuse(self, table: str, request: Request) -> Response | None:
        if request.method != "GET":
            return _method_not_allowed(request.method)
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        if table in self._forbidden:
            return _error(
                403, "permission_denied", "You do not have permission to perform this action."
            )
        return None

    def _list(self, table: str, request: Request) -> Response:
        refused = self._refuse(table, request)
        if refused is not None:
            return refused
        query = _list_query(table, request)
        if isinstance(query, Response):
            return query
        sync, page, page_size, mode = query
        if page < 1:
            return _error(404, "not_found", "Invalid page.")
        with self._lock:
            size = min(page_size, self._max_page_size)
            store = self._tables[table]
            count, uuids = store.select(self._order, sync, mode, (page - 1) * size, size)
            chunks = [store.encoded(u) for u in uuids]
        if page > 1 and not chunks:
            return _error(404, "not_found", "Invalid page.")
        next_url = _page_url(request, page + 1) if page * size < count else None
        previous_url = _page_url(request, page - 1) if page > 1 else None
        body = b"".join(
            (
                b'{"count":%d,"next":' % count,
                msgspec.json.encode(next_url),
                b',"previous":',
                msgspec.json.encode(previous_url),
                b',"results":[',
                b",".join(chunks),
                b"]}",
            )
        )
        return Response(200, body, records=len(chunks))


def _list_query(table: str, request: Request) -> tuple[int | None, int, int, str | None] | Response:
    """Parse sync, page, page_size and mode, or answer 400."""
    values: dict[str, int | None] = {}
    for name, minimum in (("sync", None), ("page", None), ("page_size", 1)):
        raw = request.param(name)
        try:
            values[name] = None if raw is None else int(raw)
        except ValueError:
            return _invalid(name, "A valid integer is required.")
        value = values[name]
        if minimum is not None and value is not None and value < minimum:
            return _invalid(name, f"Ensure this value is greater than or equal to {minimum}.")
    mode = request.param("mode") if table == "assessments" else None
    if mode is not None and mode not in MODES:
        return _invalid("mode", f"Select a valid choice. {mode} is not one of the choices.")
    page, page_size = values["page"], values["page_size"]
    return (
        values["sync"],
        1 if page is None else page,
        DEFAULT_PAGE_SIZE if page_size is None else page_size,
        mode,
    )


def _page_url(request: Request, page: int) -> str:
    # DRF's replace_query_param / remove_query_param: other params kept, keys sorted.
    query = {k: v for k, v in request.query if k != "page"}
    if page > 1:
        query["page"] = str(page)
    encoded = urlencode(sorted(query.items()))
    return f"{request.base_url}{request.path}" + (f"?{encoded}" if encoded else "")


def _error(
    status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None
) -> Response:
    headers = [("WWW-Authenticate", 'Bearer realm="api"')] if status == 401 else []
    return json_response(status, {"code": code, "detail": detail, "errors": errors or []}, headers)


def _invalid(field: str, detail: str) -> Response:
    return _error(
        400, "invalid", f"Invalid value for {field}.", [{"field": field, "detail": detail}]
    )


def _method_not_allowed(method: str) -> Response:
    return _error(405, "method_not_allowed", f'Method "{method}" not allowed.')
