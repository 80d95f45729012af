"""A fake HealthEx (patient-consented record retrieval for research projects).

Behaviours documented by the vendor (doc), per ``vendor-api-notes.md`` and the pages named:

- doc (docs.healthex.io/authentication): ``POST /v1/auth/token`` with JSON ``{apiKey,
  apiSecret}`` answers ``{token}``, a JWT valid 24 hours (here ``token_ttl`` seconds),
  sent as ``Authorization: Bearer``.
- doc (docs.healthex.io/api/update-patient-data and /update-patient-data):
  ``POST /v1/projects/{projectId}/recruitment/identified-patients/{patientId}/
  $updateData`` with an optional body ``{"skipInteractive": bool}`` answers 201 (the
  guide; the reference says 200) ``{message, patientActionNeededReason,
  skippedFacilitiesCount, counts {skippedExistingFacilities, changedExistingFacilities,
  unchangedExistingFacilities, retrievedNewFacilities, skippedNewFacilities},
  retrievalId, code}``; ``message`` is ``IN_PROGRESS_NO_ACTION_NEEDED`` (then with a
  ``retrievalId``) or ``PATIENT_ACTION_NEEDED`` (then with a reason of ``REASONS``).
  404 for an unknown project or patient, 403 when not authorised, an error when the
  study is paused or not active.
- doc (docs.healthex.io/api/get-consent-records): consent records take ``limit``
  (default 100, at most 1000), ``offset`` and an ``If-Modified-Since`` header (an RFC
  2822 date: only records modified after it), and answer ``{"total", "results":
  [{"consentRecord": {...}}]}``. A consent record is ``{id, patientId, studyId,
  studyVersionId, consentType (DATA_AUTHORIZATION, PATIENT_DIRECTED_DATA_EXCHANGE,
  FUTURE_DATA_USE), consentStatus (OPTED_IN, OPTED_OUT), timestamp,
  expirationTimestamp, consentStats (optional), studySnapshotId,
  consentConfigSnapshotId, consentUIFlow, uiHash, language,
  fullRecordWithoutRestrictedData (optional), consentDataResourceScopes[],
  consentDataSensitivityScopes[]}``, with no ``updatedAt`` or other modification time.
- doc (docs.demo.healthex.dev/accessing-patient-data): after an ``$updateData``
  HealthEx pushes the data to the customer's S3 bucket or SFTP server under a path
  template with ``{orgId}``, ``{projectId}``, ``{healthexPatientId}`` and
  ``{externalId}``.

Behaviours assumed by this sandbox (assumed):

- assumed: the consent list's path ``GET /v1/projects/{projectId}/consent-records``
  (the page's path was not readable), its order (by the time a record last changed,
  then ``id``; offsets count into that order per request, so a record changed while a
  client pages moves to the end), that ``If-Modified-Since`` compares that time,
  strictly after, to the millisecond (an ISO-8601 date is accepted too; a bad value
  answers 400), and no sibling keys beside ``consentRecord``. The documentation types
  ``studyId``, ``studyVersionId``, the snapshot ids, ``uiHash`` and ``language`` as
  objects without properties while its examples show strings: strings here, and
  ``studyId`` is the project id. ``consentStats``' inner fields are assumed.
- assumed: every answer carries a ``Date`` header with the simulated clock (below),
  the clock consent changes are stamped with.
- assumed: ``GET /v1/projects/{projectId}/recruitment/identified-patients`` (nothing
  public documents a patient list) answers ``{"data": [...], "total", "limit",
  "offset"}`` with ``{id, referenceId, externalId, firstName, lastName, dateOfBirth,
  email, phone, status, createdAt, updatedAt}`` ordered by ``createdAt`` then ``id``;
  ``limit`` defaults to 100; outside 1..1000 or a negative ``offset`` answers 400.
  Patients' ``status`` values.
- assumed: the ``$updateData`` answer's ``code`` is its HTTP status; the facility
  counts' values.
- assumed: error bodies ``{"error": CODE, "message": text}``: 401 ``UNAUTHORIZED``
  (missing, unknown, expired or revoked token; bad credentials), 404 ``NOT_FOUND``, 403
  ``FORBIDDEN`` (every path of a project configured as forbidden), 409
  ``STUDY_NOT_ACTIVE`` (``$updateData`` in a project configured as paused; its lists
  still answer), 400 ``BAD_REQUEST``, 405 ``METHOD_NOT_ALLOWED``.
- assumed: the token is HS256-signed with a key of the sandbox; it is valid while the
  sandbox knows it and ``exp`` (wall clock) has not passed.
- assumed: each patient has a fixed scripted ``$updateData`` outcome, mostly
  ``IN_PROGRESS_NO_ACTION_NEEDED``; consent reasons follow ``set_consent`` (opted out:
  ``CONSENT_REVOKED``; opted in again: in progress). ``$`` may be sent as ``%24``.
- assumed: the delivery layout and file format: one FHIR R4 Bundle (``type:
  collection``, entries ``{fullUrl, resource}``) per retrieval at ``{orgId}/{projectId}/
  {healthexPatientId}/{retrievalId}/bundle.json`` under the S3 prefix or the SFTP root.
  A retrieval repeats the patient's Patient, Organization and Practitioner resources
  unchanged and adds new clinical resources stamped with the retrieval time. At start,
  every patient with a consent record that says yes (expired ones included) has one
  bundle delivered. With ``delivery_delay_seconds`` 0 the bundle is delivered before the
  201 answer; otherwise a timer delivers it later.
- assumed: every field value (names, codes, clinical content); a simulated clock
  (milliseconds, strictly increasing, starting 2025-06-01) stamps records, consent
  changes and retrievals.
- assumed: the ``expire`` fault revokes the token the request carries and answers 401;
  on the token endpoint it answers normally. Faults apply to the API and, drawn from the
  same rate and seed, to clients' S3 requests and SFTP file opens (``delivery.py``).
  Other faults and the ``/_control/`` API are the framework's (``framework.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import msgspec

from sandbox import vocabulary
from sandbox.delivery import Delivery, MemoryDelivery, S3Delivery, SftpDelivery
from sandbox.framework import (
    ControlError,
    Handler,
    Request,
    Response,
    VendorSandbox,
    html_error,
    json_response,
)

TOKEN_PATH = "/v1/auth/token"  # noqa: S105
IN_PROGRESS = "IN_PROGRESS_NO_ACTION_NEEDED"
ACTION_NEEDED = "PATIENT_ACTION_NEEDED"
REASONS = (
    "CONSENT_EXPIRED",
    "CONSENT_NOT_FOUND",
    "CONSENT_REVOKED",
    "UNLOCKED_OR_NO_TARGETED_LIST",
    "AUTHENTICATION_EXPIRED",
    "AUTHENTICATION_NEEDED_NEW_FACILITY",
)
CONSENT_REASONS = ("CONSENT_EXPIRED", "CONSENT_NOT_FOUND", "CONSENT_REVOKED")
DELIVERIES = ("s3", "sftp", "both", "none")
TABLES = ("identified_patients", "consent_records")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
FHIR_BASE = "https://api.healthex.io/FHIR/R4"
BUNDLE_NAME = "bundle.json"

_PATIENTS_PATH = re.compile(r"/v1/projects/([^/]+)/recruitment/identified-patients")
_CONSENTS_PATH = re.compile(r"/v1/projects/([^/]+)/consent-records")
_UPDATE_PATH = re.compile(
    r"/v1/projects/([^/]+)/recruitment/identified-patients/([^/]+)/\$updateData"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000
_YEAR_MS = 365 * _DAY_MS
_CLOCK_START = int((datetime(2025, 6, 1, tzinfo=UTC) - _EPOCH).total_seconds() * 1000)
_SYSTEMS = {
    "SNOMED": "http://snomed.info/sct",
    "LOINC": "http://loinc.org",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "ICD10": "http://hl7.org/fhir/sid/icd-10-cm",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "CPT": "http://www.ama-assn.org/go/cpt",
}
_UCUM = "http://unitsofmeasure.org"
# The documented enums of a consent record (docs.healthex.io/api/get-consent-records).
CONSENT_TYPES = ("DATA_AUTHORIZATION", "PATIENT_DIRECTED_DATA_EXCHANGE", "FUTURE_DATA_USE")
OPTED_IN, OPTED_OUT = "OPTED_IN", "OPTED_OUT"
RESOURCE_SCOPES = (
    "CONTACT_INFO", "MEDICATIONS", "ALLERGIES", "DIAGNOSES", "LABS", "DEMOGRAPHICS",
    "CLINICAL_NOTES", "VISITS", "DIAGNOSTIC_REPORTS", "CLINICAL_VITALS", "PROCEDURES",
    "IMMUNIZATIONS", "IMAGING", "TREATMENT_PLAN", "GENOMIC_DATA", "FAMILY_HISTORY",
    "SOCIAL_HISTORY", "ADMINISTRATIVE_AND_BILLING",
)  # fmt: skip
SENSITIVITY_SCOPES = (
    "NORMAL", "HIV_OR_STI", "SUBSTANCE_USE_OR_DRUG_ABUSE", "MENTAL_HEALTH", "GENETIC_TESTING",
    "REPRODUCTIVE_HEALTH_DATA", "PSYCHOTHERAPY_NOTES", "SUD_PART_2", "SICKLE_CELL",
)  # fmt: skip
# When a consent record last changed: the sandbox's own bookkeeping, never served.
_MODIFIED = "_modified"
_ENCOUNTER_CLASS = {"Emergency": "EMER", "Telehealth": "VR"}


def _iso(ms: int) -> str:
    d = _EPOCH + timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def _error(status: int, code: str, message: str) -> Response:
    headers = [("WWW-Authenticate", "Bearer")] if status == 401 else []
    return json_response(status, {"error": code, "message": message}, headers)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": _SYSTEMS[system], "code": code, "display": display}


def _concept(text: str, *codings: dict[str, str]) -> dict[str, Any]:
    return {"coding": list(codings), "text": text}


def _quantity(value: float | int, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": _UCUM, "code": unit}


def _category(code: str) -> list[dict[str, Any]]:
    system = "http://terminology.hl7.org/CodeSystem/observation-category"
    return [{"coding": [{"system": system, "code": code}]}]


@dataclass
class _Patient:
    record: dict[str, Any]
    project_id: str
    gender: str
    reason: str | None  # scripted $updateData outcome; None: in progress
    consents: list[dict[str, Any]] = field(default_factory=list)
    retrievals: int = 0

    @property
    def id(self) -> str:
        return str(self.record["id"])


@dataclass
class _Delivered:
    key: str
    size: int
    last_modified: str
    project_id: str | None
    patient_id: str | None
    retrieval_id: str | None
    resource_count: int | None  # None: not a bundle the sandbox made

    def public(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "size": self.size,
            "last_modified": self.last_modified,
            "project_id": self.project_id,
            "patient_id": self.patient_id,
            "retrieval_id": self.retrieval_id,
            "resource_count": self.resource_count,
        }


class _Chart:
    """Builds one patient's FHIR resources from a seeded random generator."""

    def __init__(self, rng: random.Random, patient: _Patient, now: int) -> None:
        self.rng = rng
        self.patient = patient
        self.now = now
        self.updated = _iso(now)
        self.subject = {"reference": f"Patient/{patient.id}"}
        born = datetime.fromisoformat(patient.record["dateOfBirth"]).replace(tzinfo=UTC)
        self.adult_from = max(
            int((born - _EPOCH).total_seconds() * 1000) + 18 * _YEAR_MS, now - 12 * _YEAR_MS
        )

    def _resource(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {
            "resourceType": kind,
            "id": _uuid(self.rng),
            "meta": {"lastUpdated": self.updated},
            **fields,
        }

    def _when(self) -> str:
        return _iso(self.rng.randrange(self.adult_from, self.now - _DAY_MS))

    def _measure(self, low: float, high: float, decimals: int) -> float | int:
        value = self.rng.uniform(low * 0.85, high * 1.15)
        return round(value, decimals) if decimals else round(value)

    # -- the stable part: the same in every retrieval of the patient ------------------

    def stable(self, org_rng: random.Random) -> list[dict[str, Any]]:
        """Patient, Organization and Practitioner, from the patient's own generator."""
        record, rng = self.patient.record, org_rng
        created = record["createdAt"]
        _, _, org_name, city, state = rng.choice(vocabulary.MEDICAL_SOURCES)
        org_id, practitioner_id = _uuid(rng), _uuid(rng)
        street = f"{rng.randint(10, 9999)} {rng.choice(vocabulary.STREETS)}"
        home_city, home_state, zip_prefix = rng.choice(vocabulary.CITIES)
        patient = {
            "resourceType": "Patient",
            "id": self.patient.id,
            "meta": {"lastUpdated": created},
            "identifier": [
                {
                    "use": "usual",
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                "code": "MR",
                            }
                        ]
                    },
                    "system": "urn:oid:2.16.840.1.113883.3.8901",
                    "value": f"MRN{rng.randrange(10**7, 10**8)}",
                },
                {"system": "https://healthex.io/externalId", "value": record["externalId"]},
            ],
            "active": True,
            "name": [
                {"use": "official", "family": record["lastName"], "given": [record["firstName"]]}
            ],
            "telecom": [
                {"system": "phone", "value": record["phone"], "use": "mobile"},
                {"system": "email", "value": record["email"]},
            ],
            "gender": self.patient.gender,
            "birthDate": record["dateOfBirth"],
            "address": [
                {
                    "line": [street],
                    "city": home_city,
                    "state": home_state,
                    "postalCode": f"{zip_prefix}{rng.randrange(0, 100):02d}",
                }
            ],
            "managingOrganization": {"reference": f"Organization/{org_id}"},
        }
        organization = {
            "resourceType": "Organization",
            "id": org_id,
            "meta": {"lastUpdated": created},
            "identifier": [
                {"system": "http://hl7.org/fhir/sid/us-npi", "value": f"1{rng.randrange(10**9)}"}
            ],
            "name": org_name,
            "address": [{"city": city, "state": state, "country": "US"}],
        }
        family, given = self._clinician_name(rng.choice(vocabulary.CLINICIANS))
        practitioner = {
            "resourceType": "Practitioner",
            "id": practitioner_id,
            "meta": {"lastUpdated": created},
            "identifier": [
                {"system": "http://hl7.org/fhir/sid/us-npi", "value": f"1{rng.randrange(10**9)}"}
            ],
            "name": [{"family": family, "given": [given], "prefix": ["Dr."]}],
        }
        self.organization = {"reference": f"Organization/{org_id}"}
        self.practitioner = {"reference": f"Practitioner/{practitioner_id}"}
        return [patient, organization, practitioner]

    @staticmethod
    def _clinician_name(name: str) -> tuple[str, str]:
        parts = name.removeprefix("Dr. ").split()
        return parts[-1], parts[0]

    # -- the clinical part: new in every retrieval ------------------------------------

    def clinical(self) -> list[dict[str, Any]]:
        """Encounters and everything recorded in them: about 25 to 75 resources."""
        rng = self.rng
        resources: list[dict[str, Any]] = []
        makers: tuple[tuple[Callable[[], dict[str, Any]], int, int], ...] = (
            (self.condition, 2, 5),
            (self.vital, 6, 14),
            (self.medication_request, 1, 4),
            (self.medication_statement, 1, 3),
            (self.allergy, 0, 2),
            (self.immunization, 1, 4),
            (self.procedure, 1, 3),
            (self.document, 1, 2),
            (self.care_plan, 0, 1),
        )
        for _ in range(rng.randint(2, 4)):
            resources.append(self.encounter())
        for make, low, high in makers:
            resources.extend(make() for _ in range(rng.randint(low, high)))
        for _ in range(rng.randint(1, 3)):
            labs = [self.lab() for _ in range(rng.randint(2, 5))]
            resources.extend(labs)
            resources.append(self.report(labs))
        return resources

    def encounter(self) -> dict[str, Any]:
        kind, cpt, label = self.rng.choice(vocabulary.ENCOUNTERS)
        start = self.rng.randrange(self.adult_from, self.now - _DAY_MS)
        end = start + self.rng.randrange(15, 240) * 60_000
        act = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
        encounter = self._resource(
            "Encounter",
            status="finished",
            **{"class": {"system": act, "code": _ENCOUNTER_CLASS.get(kind, "AMB")}},
            type=[_concept(kind, _coding("CPT", cpt, label))],
            subject=self.subject,
            participant=[{"individual": self.practitioner}],
            period={"start": _iso(start), "end": _iso(end)},
            serviceProvider=self.organization,
        )
        self.encounter_ref = {"reference": f"Encounter/{encounter['id']}"}
        return encounter

    def condition(self) -> dict[str, Any]:
        name, icd, snomed = self.rng.choice(vocabulary.PROBLEMS)
        status = self.rng.choice(("active", "active", "resolved", "inactive"))
        clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
        category = "http://terminology.hl7.org/CodeSystem/condition-category"
        return self._resource(
            "Condition",
            clinicalStatus={"coding": [{"system": clinical, "code": status}]},
            category=[{"coding": [{"system": category, "code": "problem-list-item"}]}],
            code=_concept(name, _coding("ICD10", icd, name), _coding("SNOMED", snomed, name)),
            subject=self.subject,
            onsetDateTime=self._when(),
            recorder=self.practitioner,
        )

    def _observation(
        self, row: tuple[str, str, str, float, float, int], category: str
    ) -> dict[str, Any]:
        name, loinc, unit, low, high, decimals = row
        return self._resource(
            "Observation",
            status="final",
            category=_category(category),
            code=_concept(name, _coding("LOINC", loinc, name)),
            subject=self.subject,
            encounter=self.encounter_ref,
            effectiveDateTime=self._when(),
            valueQuantity=_quantity(self._measure(low, high, decimals), unit),
        )

    def vital(self) -> dict[str, Any]:
        return self._observation(self.rng.choice(vocabulary.VITALS), "vital-signs")

    def lab(self) -> dict[str, Any]:
        row = self.rng.choice(vocabulary.LABS)
        observation = self._observation(row, "laboratory")
        observation["referenceRange"] = [
            {"low": _quantity(row[3], row[2]), "high": _quantity(row[4], row[2])}
        ]
        return observation

    def report(self, labs: list[dict[str, Any]]) -> dict[str, Any]:
        v2 = "http://terminology.hl7.org/CodeSystem/v2-0074"
        return self._resource(
            "DiagnosticReport",
            status="final",
            category=[{"coding": [{"system": v2, "code": "LAB"}]}],
            code=_concept("Laboratory report", _coding("LOINC", "11502-2", "Laboratory report")),
            subject=self.subject,
            encounter=self.encounter_ref,
            effectiveDateTime=labs[0]["effectiveDateTime"],
            issued=self.updated,
            performer=[self.organization],
            result=[{"reference": f"Observation/{lab['id']}"} for lab in labs],
        )

    def _medication(self) -> tuple[dict[str, Any], str, str]:
        name, rxcui, dosage, route = self.rng.choice(vocabulary.MEDICATIONS)
        return _concept(name, _coding("RXNORM", rxcui, name)), dosage, route

    def medication_request(self) -> dict[str, Any]:
        medication, dosage, _ = self._medication()
        return self._resource(
            "MedicationRequest",
            status=self.rng.choice(("active", "active", "completed", "stopped")),
            intent="order",
            medicationCodeableConcept=medication,
            subject=self.subject,
            encounter=self.encounter_ref,
            authoredOn=self._when(),
            requester=self.practitioner,
            dosageInstruction=[{"text": dosage}],
        )

    def medication_statement(self) -> dict[str, Any]:
        medication, dosage, _ = self._medication()
        return self._resource(
            "MedicationStatement",
            status=self.rng.choice(("active", "completed", "intended")),
            medicationCodeableConcept=medication,
            subject=self.subject,
            effectiveDateTime=self._when(),
            dosage=[{"text": dosage}],
        )

    def allergy(self) -> dict[str, Any]:
        name, code, system = self.rng.choice(vocabulary.ALLERGENS)
        clinical = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
        reaction = self.rng.choice(vocabulary.REACTIONS)
        return self._resource(
            "AllergyIntolerance",
            clinicalStatus={"coding": [{"system": clinical, "code": "active"}]},
            type="allergy",
            category=["medication" if system == "RXNORM" else "environment"],
            criticality=self.rng.choice(("low", "high")),
            code=_concept(name, _coding(system, code, name)),
            patient=self.subject,
            recordedDate=self._when(),
            reaction=[
                {
                    "manifestation": [{"text": reaction}],
                    "severity": self.rng.choice(("mild", "moderate", "severe")),
                }
            ],
        )

    def immunization(self) -> dict[str, Any]:
        name, cvx = self.rng.choice(vocabulary.VACCINES)
        return self._resource(
            "Immunization",
            status="completed",
            vaccineCode=_concept(name, _coding("CVX", cvx, name)),
            patient=self.subject,
            occurrenceDateTime=self._when(),
            primarySource=True,
            lotNumber=f"{self.rng.choice('ABCDEFGH')}{self.rng.randrange(1000, 9999)}",
        )

    def procedure(self) -> dict[str, Any]:
        name, snomed, cpt = self.rng.choice(vocabulary.PROCEDURES)
        return self._resource(
            "Procedure",
            status="completed",
            code=_concept(name, _coding("SNOMED", snomed, name), _coding("CPT", cpt, name)),
            subject=self.subject,
            encounter=self.encounter_ref,
            performedDateTime=self._when(),
            performer=[{"actor": self.practitioner}],
        )

    def document(self) -> dict[str, Any]:
        title, loinc, extension, content_type = self.rng.choice(vocabulary.REPORTS)
        document_id = _uuid(self.rng)
        return self._resource(
            "DocumentReference",
            status="current",
            type=_concept(title, _coding("LOINC", loinc, title)),
            subject=self.subject,
            date=self.updated,
            author=[self.practitioner],
            content=[
                {
                    "attachment": {
                        "contentType": content_type,
                        "url": f"{FHIR_BASE}/Binary/{document_id}",
                        "title": f"{title}.{extension}",
                    }
                }
            ],
            context={"encounter": [self.encounter_ref]},
        )

    def care_plan(self) -> dict[str, Any]:
        name, _ = self.rng.choice(vocabulary.PLANS)
        return self._resource(
            "CarePlan",
            status=self.rng.choice(("active", "completed")),
            intent="plan",
            title=name,
            description=name,
            subject=self.subject,
            encounter=self.encounter_ref,
            created=self._when(),
            author=self.practitioner,
        )


def _entry(resource: dict[str, Any]) -> bytes:
    url = f"{FHIR_BASE}/{resource['resourceType']}/{resource['id']}"
    return msgspec.json.encode({"fullUrl": url, "resource": resource})


def _write_bundle(
    out: IO[bytes],
    bundle_id: str,
    timestamp: str,
    resources: Iterable[dict[str, Any]],
    pad: tuple[int, Callable[[], dict[str, Any]]] | None = None,
) -> int:
    """Stream a collection Bundle to ``out``; pad to ``pad[0]`` bytes. Return the count."""
    head = {"resourceType": "Bundle", "id": bundle_id, "type": "collection"}
    out.write(msgspec.json.encode({**head, "timestamp": timestamp})[:-1] + b',"entry":[')
    count = 0
    for resource in resources:
        out.write((b"," if count else b"") + _entry(resource))
        count += 1
    if pad is not None:
        size, make = pad
        while out.tell() < size:
            out.write((b"," if count else b"") + _entry(make()))
            count += 1
    out.write(b"]}")
    return count


def _parse_since(value: str) -> int | None:
    """``If-Modified-Since`` as epoch milliseconds, or None if it is not a date."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int((parsed.astimezone(UTC) - _EPOCH).total_seconds() * 1000)


def _served(consent: dict[str, Any]) -> dict[str, Any]:
    """A consent record as the API serves it, without the sandbox's bookkeeping."""
    return {key: value for key, value in consent.items() if key != _MODIFIED}


def _limits(request: Request) -> tuple[int, int] | Response:
    """``limit`` and ``offset`` of a list request, or the 400 answer."""
    numbers = {}
    for name, default in (("limit", DEFAULT_LIMIT), ("offset", 0)):
        raw = request.param(name)
        try:
            numbers[name] = default if raw is None else int(raw)
        except ValueError:
            return _error(400, "BAD_REQUEST", f"{name} must be an integer")
    limit, offset = numbers["limit"], numbers["offset"]
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        return _error(400, "BAD_REQUEST", f"limit must be 1..{MAX_LIMIT}, offset >= 0")
    return limit, offset


class HealthExSandbox(VendorSandbox):
    """The fake HealthEx; see the module docstring for what is doc and what assumed."""

    extra_stats = ("auth_requests", "tokens_issued", "list_requests", "update_requests")

    def __init__(
        self,
        seed: int = 1,
        projects: Iterable[str] = ("proj-a", "proj-b"),
        patients_per_project: int = 10,
        *,
        org_id: str = "org-1",
        delivery: str = "s3",
        api_key: str = "sandbox-api-key",
        api_secret: str = "sandbox-api-secret",  # noqa: S107
        delivery_delay_seconds: float = 0,
        latency_ms: int = 0,
        token_ttl: int = 86400,
        prefix: str = "healthex",
        s3_bucket: str | None = None,
        sftp_username: str = "healthex",
        sftp_password: str = "sandbox-sftp-password",  # noqa: S107
        sftp_key_type: str = "ssh-ed25519",
    ) -> None:
        super().__init__(latency_ms=latency_ms, seed=seed)
        if delivery not in DELIVERIES:
            raise ControlError(f"delivery must be one of {list(DELIVERIES)}")
        self.org_id = org_id
        self.delivery = delivery
        self.api_key = api_key
        self.api_secret = api_secret
        self.token_ttl = token_ttl
        self.delivery_delay_seconds = float(delivery_delay_seconds)
        self.paused_projects: set[str] = set()
        self.forbidden_projects: set[str] = set()
        self._signing_key = secrets.token_bytes(32)
        self._tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self._issued: list[str] = []
        self._clock = _CLOCK_START
        self._rng = random.Random(f"healthex-{seed}")
        self._mutation_rng = random.Random(f"healthex-mutations-{seed}")
        self._projects = list(dict.fromkeys(projects))
        self._patients: dict[str, _Patient] = {}
        self._files: dict[str, _Delivered] = {}
        self._update_log: list[dict[str, Any]] = []
        self._timers: set[threading.Timer] = set()
        self._pending: list[tuple[_Patient, str, int]] = []  # initial retrievals
        self._workdir: Path | None = None
        self._s3 = (
            S3Delivery(
                prefix.strip("/") + "/",
                s3_bucket,
                draw=self._draw_delivery_fault,
                slow_seconds=lambda: self.faults.slow_seconds,
            )
            if delivery in ("s3", "both")
            else None
        )
        self._sftp = (
            SftpDelivery(
                "/" + prefix.strip("/"),
                sftp_username,
                sftp_password,
                sftp_key_type,
                draw=self._draw_delivery_fault,
                slow_seconds=lambda: self.faults.slow_seconds,
            )
            if delivery in ("sftp", "both")
            else None
        )
        self._memory = MemoryDelivery() if delivery == "none" else None
        self._populate(int(patients_per_project))

    def _draw_delivery_fault(self) -> str | None:
        """A fault for a client's S3 request or SFTP file, from the API's rate and seed."""
        with self._lock:
            fault = self.faults.draw()
            if fault is not None:
                self.count("faults_injected")
            return fault

    # -- seeded data ------------------------------------------------------------------

    def _populate(self, per_project: int) -> None:
        rng = self._rng
        total = per_project * len(self._projects)
        action_needed = max(min(len(REASONS), total // 2), round(total * 0.2))
        order = list(range(total))
        rng.shuffle(order)
        reasons = {order[i]: REASONS[i % len(REASONS)] for i in range(action_needed)}
        for index in range(total):
            project = self._projects[index // per_project]
            created = _CLOCK_START - rng.randrange(30 * _DAY_MS, 400 * _DAY_MS)
            patient = self._new_patient(
                rng, index, project, created, reason=reasons.get(index), spread=20 * _DAY_MS
            )
            self._patients[patient.id] = patient
        for patient in sorted(self._patients.values(), key=lambda p: p.record["createdAt"]):
            if any(c["consentStatus"] == OPTED_IN for c in patient.consents):
                self._pending.append((patient, self._next_retrieval(patient), self._tick()))

    def _new_patient(
        self,
        rng: random.Random,
        index: int,
        project: str,
        created: int,
        *,
        reason: str | None,
        spread: int = 0,
    ) -> _Patient:
        """A patient made at ``created``, edited and consenting within ``spread`` ms."""
        gender = rng.choice(("female", "male"))
        first, last = rng.choice(vocabulary.FIRST_NAMES[gender]), rng.choice(vocabulary.LAST_NAMES)
        birth = datetime(1940, 1, 1) + timedelta(days=rng.randrange(0, 62 * 365))
        updated = created + rng.randrange(0, spread + 1)
        record = {
            "id": _uuid(rng),
            "referenceId": f"HX-{rng.randrange(16**8):08X}",
            "externalId": vocabulary.shared_identifier(index) or f"EXT-{index + 1:06d}",
            "firstName": first,
            "lastName": last,
            "dateOfBirth": birth.strftime("%Y-%m-%d"),
            "email": f"{first}.{last}".lower().replace("'", "")
            + f"{rng.randrange(99)}@example.com",
            "phone": f"+1{rng.randrange(201, 989)}555{rng.randrange(10000):04d}",
            "status": "CONSENTED",
            "createdAt": _iso(created),
            "updatedAt": _iso(updated),
        }
        patient = _Patient(record, project, gender, reason)
        if reason != "CONSENT_NOT_FOUND":
            types = ["DATA_AUTHORIZATION"]
            if rng.random() < 0.5:
                types.append(rng.choice(CONSENT_TYPES[1:]))
            for kind in types:
                signed = created + rng.randrange(0, spread // 2 + 1)
                patient.consents.append(self._consent(rng, patient, kind, signed, reason))
        if reason in ("CONSENT_NOT_FOUND", "CONSENT_REVOKED"):
            record["status"] = "INVITED" if reason == "CONSENT_NOT_FOUND" else "WITHDRAWN"
        return patient

    def _consent(
        self, rng: random.Random, patient: _Patient, kind: str, signed: int, reason: str | None
    ) -> dict[str, Any]:
        """A consent record in the documented shape, plus its private modification time."""
        expires = signed + 3 * _YEAR_MS
        if reason == "CONSENT_EXPIRED":  # signed over a year before the clock starts
            signed = _CLOCK_START - rng.randrange(380 * _DAY_MS, 500 * _DAY_MS)
            expires = signed + _YEAR_MS
        modified = signed
        if reason == "CONSENT_REVOKED":
            modified = signed + rng.randrange(_DAY_MS, 20 * _DAY_MS)
        scopes = sorted(rng.sample(RESOURCE_SCOPES, rng.randint(3, len(RESOURCE_SCOPES))))
        sensitive = ["NORMAL", *rng.sample(SENSITIVITY_SCOPES[1:], rng.randint(0, 3))]
        record: dict[str, Any] = {
            "id": _uuid(rng),
            "patientId": patient.id,
            "studyId": patient.project_id,
            "studyVersionId": f"{patient.project_id}-v{rng.randint(1, 4)}",
            "consentType": kind,
            "consentStatus": OPTED_OUT if reason == "CONSENT_REVOKED" else OPTED_IN,
            "timestamp": _iso(signed),
            "expirationTimestamp": _iso(expires),
            "studySnapshotId": _uuid(rng),
            "consentConfigSnapshotId": _uuid(rng),
            "consentUIFlow": "PATIENT_DIRECTED_DATA_EXCHANGE",
            "uiHash": f"{rng.getrandbits(160):040x}",
            "language": rng.choice(("en", "en", "en", "es")),
            "consentDataResourceScopes": scopes,
            "consentDataSensitivityScopes": sorted(sensitive),
        }
        # Optional in the documentation: present on most records, not all.
        if rng.random() < 0.8:
            record["consentStats"] = {
                "pagesViewed": rng.randint(3, 12),
                "timeSpentSeconds": rng.randint(40, 900),
            }
        if rng.random() < 0.7:
            record["fullRecordWithoutRestrictedData"] = rng.random() < 0.6
        record[_MODIFIED] = modified
        return record

    def _tick(self) -> int:
        self._clock += self._mutation_rng.randrange(1000, 120_000)
        return self._clock

    def _next_retrieval(self, patient: _Patient) -> str:
        patient.retrievals += 1
        rng = random.Random(f"healthex-{self.seed}-{patient.id}-{patient.retrievals}")
        return _uuid(rng)

    @property
    def tables(self) -> tuple[str, ...]:
        """``identified_patients`` and ``consent_records``."""
        return TABLES

    # -- lifecycle --------------------------------------------------------------------

    def _stores(self) -> list[Delivery]:
        return [s for s in (self._sftp, self._s3, self._memory) if s is not None]

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the delivery servers, deliver the initial bundles, then serve the API."""
        self._workdir = Path(tempfile.mkdtemp(prefix="healthex-sandbox-"))
        try:
            for store in self._stores():
                store.start()
            with self._lock:
                pending, self._pending = self._pending, []
            for patient, retrieval_id, when in pending:
                self._deliver(patient, retrieval_id, when)
        except BaseException:
            self._stop_deliveries()
            raise
        return super().start(host, port)

    def stop(self) -> None:
        """Stop the API, pending deliveries and the delivery servers."""
        super().stop()
        self._stop_deliveries()

    def _stop_deliveries(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        for store in self._stores():
            store.stop()
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    @property
    def s3_endpoint_url(self) -> str | None:
        """The S3 endpoint (None without S3 delivery)."""
        return self._s3.endpoint_url if self._s3 else None

    @property
    def s3_bucket(self) -> str | None:
        """The delivery bucket."""
        return self._s3.bucket if self._s3 else None

    @property
    def s3_prefix(self) -> str | None:
        """The key prefix deliveries lie under (ends with ``/``)."""
        return self._s3.prefix if self._s3 else None

    @property
    def sftp_host(self) -> str | None:
        """The SFTP host (None without SFTP delivery)."""
        return self._sftp.host if self._sftp else None

    @property
    def sftp_port(self) -> int | None:
        """The SFTP port."""
        return self._sftp.port if self._sftp else None

    @property
    def sftp_username(self) -> str | None:
        """The SFTP user name."""
        return self._sftp.username if self._sftp else None

    @property
    def sftp_password(self) -> str | None:
        """The SFTP password (the sandbox's own test credential)."""
        return self._sftp.password if self._sftp else None

    @property
    def sftp_root(self) -> str | None:
        """The remote directory deliveries lie under, as the client sees it."""
        return self._sftp.root if self._sftp else None

    @property
    def sftp_client_key(self) -> str | None:
        """A private key (OpenSSH format) the SFTP server accepts for ``sftp_username``."""
        return self._sftp.client_key_text if self._sftp else None

    @property
    def sftp_host_key_line(self) -> str | None:
        """A known_hosts line for ``[127.0.0.1]:port``."""
        return self._sftp.host_key_line if self._sftp else None

    @property
    def sftp_directory(self) -> Path | None:
        """The local directory the SFTP client sees as ``/``."""
        return self._sftp.directory if self._sftp else None

    def tap_config(self, delivery: str | None = None, **overrides: Any) -> dict[str, Any]:
        """Settings that point tap-healthex at this sandbox and one of its deliveries."""
        info = self.delivery_info()
        kind = delivery or ("none" if self.delivery == "both" else self.delivery)
        config = {
            "api_url": self.url,
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "project_ids": list(self.projects),
            "delivery_type": kind,
        }
        if kind == "s3":
            config |= {
                "s3_endpoint_url": info["s3_endpoint_url"],
                "s3_bucket": info["s3_bucket"],
                "s3_prefix": info["s3_prefix"],
                "aws_region": info["s3_region"],
                "aws_access_key_id": info["s3_access_key_id"],
                "aws_secret_access_key": info["s3_secret_access_key"],
            }
        elif kind == "sftp":
            config |= {
                "sftp_host": info["sftp_host"],
                "sftp_port": info["sftp_port"],
                "sftp_username": info["sftp_username"],
                "sftp_password": info["sftp_password"],
                "sftp_root": info["sftp_root"],
                "sftp_known_hosts": info["sftp_host_key_line"],
            }
        return config | overrides

    def delivery_info(self) -> dict[str, Any]:
        """Coordinates of the delivery servers (None where not delivering)."""
        return {
            "delivery": self.delivery,
            "org_id": self.org_id,
            "s3_endpoint_url": self.s3_endpoint_url,
            "s3_bucket": self.s3_bucket,
            "s3_prefix": self.s3_prefix,
            "s3_access_key_id": "testing" if self._s3 else None,
            "s3_secret_access_key": "testing" if self._s3 else None,
            "s3_region": "us-east-1" if self._s3 else None,
            "sftp_host": self.sftp_host,
            "sftp_port": self.sftp_port,
            "sftp_username": self.sftp_username,
            "sftp_password": self.sftp_password,
            "sftp_root": self.sftp_root,
            "sftp_host_key_line": self.sftp_host_key_line,
            "sftp_client_key": self.sftp_client_key,
        }

    # -- deliveries -------------------------------------------------------------------

    def _temp_path(self) -> Path:
        if self._workdir is None:
            raise ControlError("the sandbox is not started")
        return self._workdir / secrets.token_hex(8)

    def _put(self, key: str, path: Path, meta: _Delivered) -> None:
        for store in self._stores():
            store.put(key, path)
        with self._lock:
            self._files[key] = meta

    def _generated(
        self, patient: _Patient, retrieval_id: str, when: int
    ) -> tuple[_Chart, list[dict[str, Any]]]:
        """The chart and resources of one retrieval: the same for the same seed."""
        chart = _Chart(random.Random(f"healthex-{self.seed}-{retrieval_id}"), patient, when)
        stable = chart.stable(random.Random(f"healthex-{self.seed}-{patient.id}"))
        return chart, [*stable, *chart.clinical()]

    def _deliver(
        self,
        patient: _Patient,
        retrieval_id: str,
        when: int,
        resources: list[dict[str, Any]] | None = None,
        size_mb: float | None = None,
    ) -> str:
        key = f"{self.org_id}/{patient.project_id}/{patient.id}/{retrieval_id}/{BUNDLE_NAME}"
        chart, generated = self._generated(patient, retrieval_id, when)
        pad = None
        if size_mb is not None:
            chart.encounter()  # gives the padding observations an encounter to point at
            pad = (int(float(size_mb) * 1024 * 1024), chart.vital)
        path = self._temp_path()
        try:
            with path.open("wb") as out:
                content = generated if resources is None else resources
                count = _write_bundle(out, _uuid(chart.rng), _iso(when), content, pad)
            meta = _Delivered(
                key,
                path.stat().st_size,
                _iso(int(time.time() * 1000)),
                patient.project_id,
                patient.id,
                retrieval_id,
                count,
            )
            self._put(key, path, meta)
        finally:
            path.unlink(missing_ok=True)
        return key

    def _facility_counts(self, patient: _Patient, retrieval_id: str | None) -> dict[str, int]:
        """The documented facility metrics of a retrieval (zeros when none starts)."""
        names = (
            "skippedExistingFacilities",
            "changedExistingFacilities",
            "unchangedExistingFacilities",
            "retrievedNewFacilities",
            "skippedNewFacilities",
        )
        if retrieval_id is None:
            return dict.fromkeys(names, 0)
        rng = random.Random(f"healthex-{self.seed}-{retrieval_id}-facilities")
        first = patient.retrievals == 1
        values = (
            0 if first else rng.randint(0, 1),
            0 if first else rng.randint(0, 2),
            0 if first else rng.randint(0, 2),
            1 if first else rng.randint(0, 1),
            rng.choice((0, 0, 0, 1)),
        )
        return dict(zip(names, values, strict=True))

    def write_bundle(
        self,
        project_id: str,
        patient_id: str,
        resources: list[dict[str, Any]] | None = None,
        size_mb: float | None = None,
    ) -> str:
        """Deliver a new retrieval of a patient now; return its key.

        ``resources`` replaces the generated content; ``size_mb`` pads the bundle with
        Observations to about that size, streamed to disk and uploaded from there.
        """
        with self._lock:
            patient = self._patient(project_id, patient_id)
            retrieval_id = self._next_retrieval(patient)
            when = self._tick()
        return self._deliver(patient, retrieval_id, when, resources, size_mb)

    def write_file(self, key: str, data: bytes) -> str:
        """Deliver arbitrary bytes at ``key`` (relative to the delivery root)."""
        parts = key.split("/")
        layout = len(parts) == 5 and parts[0] == self.org_id and parts[4] == BUNDLE_NAME
        path = self._temp_path()
        try:
            path.write_bytes(data)
            meta = _Delivered(
                key,
                len(data),
                _iso(int(time.time() * 1000)),
                parts[1] if layout else None,
                parts[2] if layout else None,
                parts[3] if layout else None,
                None,
            )
            self._put(key, path, meta)
        finally:
            path.unlink(missing_ok=True)
        return key

    def delivered(self) -> list[dict[str, Any]]:
        """Every delivered file in delivery order; ``resource_count`` None: not a bundle."""
        with self._lock:
            return [meta.public() for meta in self._files.values()]

    def read_file(self, key: str) -> bytes:
        """The bytes of one delivered file."""
        with self._lock:
            if key not in self._files:
                raise ControlError(f"nothing delivered at {key!r}")
        return self._stores()[0].read(key)

    def bundle_resources(self, key: str) -> list[dict[str, Any]]:
        """The resources of one delivered bundle."""
        bundle = msgspec.json.decode(self.read_file(key))
        return [entry["resource"] for entry in bundle["entry"]]

    def truth_resources(self) -> list[dict[str, Any]]:
        """Every resource of every bundle the sandbox made, with where it was delivered.

        Each item: ``{project_id, patient_id, retrieval_id, key, resource}``.
        """
        with self._lock:
            bundles = [m for m in self._files.values() if m.resource_count is not None]
        return [
            {
                "project_id": meta.project_id,
                "patient_id": meta.patient_id,
                "retrieval_id": meta.retrieval_id,
                "key": meta.key,
                "resource": resource,
            }
            for meta in bundles
            for resource in self.bundle_resources(meta.key)
        ]

    # -- reading and changing the data ------------------------------------------------

    def _patient(self, project_id: str, patient_id: str) -> _Patient:
        patient = self._patients.get(patient_id)
        if patient is None or patient.project_id != project_id:
            raise ControlError(f"no patient {patient_id!r} in project {project_id!r}")
        return patient

    @property
    def projects(self) -> list[str]:
        """The project ids."""
        return list(self._projects)

    def patient_ids(self, project_id: str | None = None, outcome: str | None = None) -> list[str]:
        """Patient ids, optionally of one project and one ``$updateData`` outcome.

        ``outcome`` is ``IN_PROGRESS_NO_ACTION_NEEDED`` or a reason of ``REASONS``.
        """
        with self._lock:
            return [
                p.id
                for p in self._patients.values()
                if project_id in (None, p.project_id)
                and outcome in (None, self._outcome(p) or IN_PROGRESS)
            ]

    def _outcome(self, patient: _Patient) -> str | None:
        """The reason action is needed, or None (in progress)."""
        if patient.reason is not None and patient.reason not in CONSENT_REASONS:
            return patient.reason
        primary = patient.consents[0] if patient.consents else None
        if primary is None:
            return "CONSENT_NOT_FOUND"
        if primary["consentStatus"] != OPTED_IN:
            return "CONSENT_REVOKED"
        if primary["expirationTimestamp"] <= _iso(self._clock):
            return "CONSENT_EXPIRED"
        return None

    def truth(self, table: str) -> list[dict[str, Any]]:
        """The rows of ``table`` in the order the API serves them."""
        if table not in TABLES:
            raise ControlError(f"table must be one of {list(TABLES)}")
        with self._lock:
            if table == "identified_patients":
                rows = sorted(
                    (p.record for p in self._patients.values()),
                    key=lambda r: (r["createdAt"], r["id"]),
                )
                return [dict(row) for row in rows]
            consents = sorted(
                (c for p in self._patients.values() for c in p.consents),
                key=lambda r: (r[_MODIFIED], r["id"]),
            )
            return [_served(consent) for consent in consents]

    def set_consent(self, patient_id: str, consented: bool) -> dict[str, Any]:
        """Record a patient consenting or revoking; return the changed consent record.

        The patient's first consent record changes (one is made if there is none) with
        the next clock time; ``$updateData`` then follows it.
        """
        with self._lock:
            patient = self._patients.get(patient_id)
            if patient is None:
                raise ControlError(f"unknown patient {patient_id!r}")
            now = self._tick()
            if not patient.consents:
                patient.consents.append(
                    self._consent(self._mutation_rng, patient, CONSENT_TYPES[0], now, None)
                )
            consent = patient.consents[0]
            consent.update(
                consentStatus=OPTED_IN if consented else OPTED_OUT,
                timestamp=_iso(now),
                expirationTimestamp=_iso(now + _YEAR_MS),
                **{_MODIFIED: now},
            )
            patient.record.update(
                status="CONSENTED" if consented else "WITHDRAWN", updatedAt=_iso(now)
            )
            return _served(consent)

    def mutate(
        self, table: str, op: str, count: int = 1, uuids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Change rows with the next clock times; return the new row versions.

        ``identified_patients``: update changes phone and email, delete removes the
        patient (``$updateData`` answers 404), insert adds an in-progress patient.
        ``consent_records``: update renews a consent, delete removes one; insert adds a
        ``FUTURE_DATA_USE`` consent to a patient with only a ``DATA_AUTHORIZATION`` one.
        """
        if table not in TABLES:
            raise ControlError(f"table must be one of {list(TABLES)}")
        if op not in ("insert", "update", "delete"):
            raise ControlError("op must be insert, update or delete")
        with self._lock:
            if table == "identified_patients":
                return self._mutate_patients(op, int(count), uuids)
            return self._mutate_consents(op, int(count), uuids)

    def _pick(self, rows: list[dict[str, Any]], count: int, ids: list[str] | None) -> list[Any]:
        if ids is None:
            rows = sorted(rows, key=lambda r: r["id"])
            return self._mutation_rng.sample(rows, min(count, len(rows)))
        by_id = {row["id"]: row for row in rows}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise ControlError(f"unknown ids: {missing}")
        return [by_id[i] for i in ids]

    def _mutate_patients(self, op: str, count: int, ids: list[str] | None) -> list[dict[str, Any]]:
        rng = self._mutation_rng
        if op == "insert":
            made = []
            for n in range(count):
                project = rng.choice(self._projects)
                patient = self._new_patient(
                    rng, len(self._patients), project, self._tick(), reason=None
                )
                if ids is not None and n < len(ids):
                    patient.record["id"] = ids[n]
                    for consent in patient.consents:
                        consent["patientId"] = ids[n]
                self._patients[patient.id] = patient
                made.append(dict(patient.record))
            return made
        chosen = self._pick([p.record for p in self._patients.values()], count, ids)
        changed = []
        for record in chosen:
            if op == "delete":
                del self._patients[record["id"]]
            else:
                record.update(
                    phone=f"+1{rng.randrange(201, 989)}555{rng.randrange(10000):04d}",
                    updatedAt=_iso(self._tick()),
                )
            changed.append(dict(record))
        return changed

    def _mutate_consents(self, op: str, count: int, ids: list[str] | None) -> list[dict[str, Any]]:
        rng = self._mutation_rng
        if op == "insert":
            lacking = [
                p
                for p in self._patients.values()
                if len(p.consents) == 1 and p.consents[0]["consentType"] == CONSENT_TYPES[0]
            ]
            made = []
            for patient in rng.sample(lacking, min(count, len(lacking))):
                consent = self._consent(rng, patient, "FUTURE_DATA_USE", self._tick(), None)
                patient.consents.append(consent)
                made.append(_served(consent))
            return made
        owners = {c["id"]: p for p in self._patients.values() for c in p.consents}
        chosen = self._pick([c for p in self._patients.values() for c in p.consents], count, ids)
        changed = []
        for consent in chosen:
            now = self._tick()
            if op == "delete":
                owners[consent["id"]].consents.remove(consent)
            else:
                consent.update(
                    timestamp=_iso(now),
                    expirationTimestamp=_iso(now + _YEAR_MS),
                    **{_MODIFIED: now},
                )
            changed.append(_served(consent))
        return changed

    def update_requests(self) -> list[dict[str, Any]]:
        """Every ``$updateData`` call that carried a valid token, in order."""
        with self._lock:
            return [dict(item) for item in self._update_log]

    def configure(
        self,
        latency_ms: int | None = None,
        paused_projects: list[str] | None = None,
        forbidden_projects: list[str] | None = None,
        delivery_delay_seconds: float | None = None,
    ) -> None:
        """Change latency, paused (409) and forbidden (403) projects, delivery delay."""
        with self._lock:
            super().configure(latency_ms=latency_ms)
            if paused_projects is not None:
                self.paused_projects = {str(p) for p in paused_projects}
            if forbidden_projects is not None:
                self.forbidden_projects = {str(p) for p in forbidden_projects}
            if delivery_delay_seconds is not None:
                if float(delivery_delay_seconds) < 0:
                    raise ControlError("delivery_delay_seconds must be >= 0")
                self.delivery_delay_seconds = float(delivery_delay_seconds)

    def schedule_ops(self) -> Mapping[str, Callable[..., object]]:
        """Consent changes and new bundles can be scheduled too."""
        return {"set_consent": self.set_consent, "write_bundle": self.write_bundle}

    # -- tokens -----------------------------------------------------------------------

    def issued_tokens(self) -> list[str]:
        """Every token issued, so tests can grep logs for them."""
        with self._lock:
            return list(self._issued)

    def revoke_tokens(self) -> None:
        """Invalidate every issued token."""
        with self._lock:
            self._tokens.clear()

    def expire_tokens(self, request: Request | None = None) -> Response | None:
        """Revoke the token the request carries; see the module docstring."""
        bearer = _bearer_token(request) if request is not None else None
        if request is None:
            self.revoke_tokens()
        elif bearer is None:
            return None
        else:
            with self._lock:
                self._tokens.pop(bearer, None)
        return _error(401, "UNAUTHORIZED", "The token has expired.")

    def _issue_token(self) -> str:
        now = int(time.time())
        header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
        claims = {
            "iss": "https://api.healthex.io",
            "sub": self.api_key,
            "iat": now,
            "exp": now + self.token_ttl,
            "jti": secrets.token_hex(16),
        }
        signing_input = f"{header}.{_b64url(msgspec.json.encode(claims))}"
        signature = hmac.new(self._signing_key, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64url(signature)}"
        with self._lock:
            self._tokens[token] = now + self.token_ttl
            self._issued.append(token)
            self._stats.incr("tokens_issued")
        return token

    def _authenticated(self, request: Request) -> Response | None:
        """None when the request carries a valid token, else the 401 answer."""
        bearer = _bearer_token(request)
        with self._lock:
            expires = self._tokens.get(bearer or "")
        if expires is None or expires <= time.time():
            return _error(401, "UNAUTHORIZED", "A valid Bearer token is required.")
        return None

    # -- API --------------------------------------------------------------------------

    def api_routes(self) -> dict[str, Handler]:
        """The token endpoint; project paths are matched in ``handle_api``."""
        return {TOKEN_PATH: self._token}

    def handle_api(self, request: Request) -> Response:
        """Route project paths by pattern (``$`` may arrive as ``%24``), else exact paths."""
        path = unquote(request.path)
        routes: tuple[tuple[re.Pattern[str], Callable[..., Response]], ...] = (
            (_UPDATE_PATH, self._update_data),
            (_PATIENTS_PATH, self._list_patients),
            (_CONSENTS_PATH, self._list_consents),
        )
        for pattern, handler in routes:
            match = pattern.fullmatch(path)
            if match is not None:
                try:
                    return self._dated(handler(request, *match.groups()))
                except Exception:
                    traceback.print_exc(file=sys.stderr)
                    return html_error(500)
        return self._dated(super().handle_api(request))

    def _dated(self, response: Response) -> Response:
        """The answer with a ``Date`` header: the simulated clock, as an HTTP date."""
        with self._lock:
            now = _EPOCH + timedelta(milliseconds=self._clock)
        return replace(response, headers=[*response.headers, ("Date", format_datetime(now, True))])

    def records_in(self, payload: Any) -> list[dict[str, Any]]:
        """Consent records inside their ``results`` items, patients in ``data``."""
        if not isinstance(payload, dict):
            return super().records_in(payload)
        if isinstance(payload.get("results"), list):
            return [r["consentRecord"] for r in payload["results"] if "consentRecord" in r]
        data = payload.get("data")
        return super().records_in(data) if isinstance(data, list) else [payload]

    def not_found(self) -> Response:
        """Answer an unknown path."""
        return _error(404, "NOT_FOUND", "Not found.")

    def _token(self, request: Request) -> Response:
        self.count("auth_requests")
        if request.method != "POST":
            return _error(405, "METHOD_NOT_ALLOWED", "Use POST.")
        body = _json_object(request)
        if body is None:
            return _error(400, "BAD_REQUEST", "The body must be a JSON object.")
        ok = secrets.compare_digest(
            str(body.get("apiKey", "")).encode(), self.api_key.encode()
        ) & secrets.compare_digest(
            str(body.get("apiSecret", "")).encode(), self.api_secret.encode()
        )
        if not ok:
            return _error(401, "UNAUTHORIZED", "Invalid API key or secret.")
        return json_response(200, {"token": self._issue_token()})

    def _project_check(self, request: Request, method: str, project_id: str) -> Response | None:
        if request.method != method:
            return _error(405, "METHOD_NOT_ALLOWED", f"Use {method}.")
        refused = self._authenticated(request)
        if refused is not None:
            return refused
        if project_id not in self._projects:
            return _error(404, "NOT_FOUND", f"Project {project_id} not found.")
        if project_id in self.forbidden_projects:
            return _error(403, "FORBIDDEN", f"Not authorised for project {project_id}.")
        return None

    def _page(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        limits = _limits(request)
        if isinstance(limits, Response):
            return limits
        limit, offset = limits
        page = rows[offset : offset + limit]
        body = {"data": page, "total": len(rows), "limit": limit, "offset": offset}
        return Response(200, msgspec.json.encode(body), records=len(page))

    def _list_patients(self, request: Request, project_id: str) -> Response:
        self.count("list_requests")
        refused = self._project_check(request, "GET", project_id)
        if refused is not None:
            return refused
        rows = [r for r in self.truth("identified_patients") if self._in(r["id"], project_id)]
        return self._page(request, rows)

    def _in(self, patient_id: str, project_id: str) -> bool:
        patient = self._patients.get(patient_id)
        return patient is not None and patient.project_id == project_id

    def _list_consents(self, request: Request, project_id: str) -> Response:
        self.count("list_requests")
        refused = self._project_check(request, "GET", project_id)
        if refused is not None:
            return refused
        with self._lock:
            owners = [p for p in self._patients.values() if p.project_id == project_id]
            consents = sorted(
                (c for p in owners for c in p.consents), key=lambda r: (r[_MODIFIED], r["id"])
            )
        header = request.headers.get("If-Modified-Since")
        if header is not None:
            since = _parse_since(header)
            if since is None:
                return _error(400, "BAD_REQUEST", "If-Modified-Since must be an RFC 2822 date")
            consents = [c for c in consents if c[_MODIFIED] > since]
        limits = _limits(request)
        if isinstance(limits, Response):
            return limits
        limit, offset = limits
        page = [{"consentRecord": _served(c)} for c in consents[offset : offset + limit]]
        body = {"total": len(consents), "results": page}
        return Response(200, msgspec.json.encode(body), records=len(page))

    def _update_data(self, request: Request, project_id: str, patient_id: str) -> Response:
        self.count("update_requests")
        refused = self._project_check(request, "POST", project_id)
        if refused is not None and refused.status in (401, 405):
            return refused
        body = _json_object(request)
        skip = body.get("skipInteractive", False) if body is not None else None
        if refused is None and not isinstance(skip, bool):
            refused = _error(400, "BAD_REQUEST", "The body must be {skipInteractive?: boolean}.")
        with self._lock:
            patient = self._patients.get(patient_id)
            when = self._tick()
            log = {
                "project_id": project_id,
                "patient_id": patient_id,
                "time": _iso(when),
                "skip_interactive": skip if isinstance(skip, bool) else None,
            }
            if refused is None and (patient is None or patient.project_id != project_id):
                refused = _error(404, "NOT_FOUND", f"Patient {patient_id} not found.")
            if refused is None and project_id in self.paused_projects:
                refused = _error(
                    409, "STUDY_NOT_ACTIVE", f"Study {project_id} is paused or not active."
                )
            if refused is not None or patient is None:
                self._update_log.append(
                    {
                        **log,
                        "status": refused.status if refused else 404,
                        "outcome": None,
                        "retrieval_id": None,
                    }
                )
                return refused or self.not_found()
            reason = self._outcome(patient)
            retrieval_id = None if reason else self._next_retrieval(patient)
            self._update_log.append(
                {
                    **log,
                    "status": 201,
                    "outcome": reason or IN_PROGRESS,
                    "retrieval_id": retrieval_id,
                }
            )
        counts = self._facility_counts(patient, retrieval_id)
        if retrieval_id is not None:
            self._schedule_delivery(patient, retrieval_id, when)
        answer: dict[str, Any] = {
            "message": ACTION_NEEDED if reason else IN_PROGRESS,
            "skippedFacilitiesCount": counts["skippedExistingFacilities"]
            + counts["skippedNewFacilities"],
            "counts": counts,
            "code": 201,
        }
        # Both optional in the documentation, each present only when it applies.
        if reason:
            answer["patientActionNeededReason"] = reason
        if retrieval_id is not None:
            answer["retrievalId"] = retrieval_id
        return json_response(201, answer)

    def _schedule_delivery(self, patient: _Patient, retrieval_id: str, when: int) -> None:
        if self.delivery_delay_seconds <= 0:
            self._deliver(patient, retrieval_id, when)
            return

        def deliver() -> None:
            with self._lock:
                if timer not in self._timers:
                    return  # stopped meanwhile
                self._timers.discard(timer)
            try:
                self._deliver(patient, retrieval_id, when)
            except Exception:
                if self._workdir is not None:  # not a delivery cut short by stop()
                    traceback.print_exc(file=sys.stderr)

        timer = threading.Timer(self.delivery_delay_seconds, deliver)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    # -- control API ------------------------------------------------------------------

    def control_routes(self) -> dict[tuple[str, str], Handler]:
        """Add deliveries, consent changes, the $updateData log and token revocation."""
        routes = super().control_routes()
        p = "/_control/"
        routes["POST", p + "configure"] = routes["POST", p + "config"]
        routes["GET", p + "delivery"] = lambda _r: json_response(200, self.delivery_info())
        routes["GET", p + "delivered"] = lambda _r: json_response(200, self.delivered())
        routes["GET", p + "update_requests"] = lambda _r: json_response(200, self.update_requests())
        routes["GET", p + "bundle"] = self._control_bundle
        routes["GET", p + "truth_resources"] = lambda _r: json_response(200, self.truth_resources())
        routes["GET", p + "patients"] = self._control_patients
        routes["POST", p + "write_bundle"] = self._control_write_bundle
        routes["POST", p + "write_file"] = self._control_write_file
        routes["POST", p + "set_consent"] = self._control_set_consent
        routes["POST", p + "revoke_tokens"] = self._control_revoke
        return routes

    def _control_bundle(self, request: Request) -> Response:
        return json_response(200, self.bundle_resources(str(request.param("key"))))

    def _control_patients(self, request: Request) -> Response:
        ids = self.patient_ids(request.param("project_id"), request.param("outcome"))
        return json_response(200, ids)

    def _control_write_bundle(self, request: Request) -> Response:
        return json_response(200, {"key": self.write_bundle(**self._control_body(request))})

    def _control_write_file(self, request: Request) -> Response:
        body = self._control_body(request)
        if "data_base64" in body:
            data = base64.b64decode(body["data_base64"])
        else:
            data = str(body["data"]).encode()
        return json_response(200, {"key": self.write_file(str(body["key"]), data)})

    def _control_set_consent(self, request: Request) -> Response:
        return json_response(200, self.set_consent(**self._control_body(request)))

    def _control_revoke(self, _request: Request) -> Response:
        self.revoke_tokens()
        return json_response(200, {"ok": True})


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
