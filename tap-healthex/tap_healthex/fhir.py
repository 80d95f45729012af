"""FHIR R4 bundles: streamed resource by resource, and a few columns promoted per type."""

from __future__ import annotations

import re
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# FHIR resource type -> stream; every other type goes to OTHER, so nothing is dropped.
STREAM_OF_TYPE = {
    "Patient": "patient",
    "Condition": "condition",
    "Observation": "observation",
    "MedicationRequest": "medication_request",
    "MedicationStatement": "medication_statement",
    "AllergyIntolerance": "allergy_intolerance",
    "Immunization": "immunization",
    "Procedure": "procedure",
    "Encounter": "encounter",
    "DiagnosticReport": "diagnostic_report",
    "DocumentReference": "document_reference",
}
OTHER = "fhir_other"
_TYPE_NAME = re.compile(r"^[A-Za-z]{1,64}$")


class NotFhir(Exception):  # noqa: N818 - a reason, recorded on the file
    """The file is not a readable FHIR R4 Bundle; the message holds no file content."""


def bundle_resources(path: Path) -> Iterator[dict]:
    """The resources of a Bundle file, one entry at a time (memory stays flat)."""
    # Imported here: a run that reads no delivery (the API streams, a no-change run)
    # does not pay for it at start-up.
    import ijson  # noqa: PLC0415

    try:
        with path.open("rb") as file:
            kind = next(ijson.items(file, "resourceType"), None)
        if kind != "Bundle":
            shown = kind if isinstance(kind, str) and _TYPE_NAME.match(kind) else "missing"
            msg = f"not a FHIR Bundle (resourceType {shown})"
            raise NotFhir(msg)
        with path.open("rb") as file:
            for entry in ijson.items(file, "entry.item", use_float=True):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(resource, dict) or not isinstance(
                    resource.get("resourceType"), str
                ):
                    msg = "a Bundle entry without a resource"
                    raise NotFhir(msg)
                if not isinstance(resource.get("id"), str):
                    kind = resource["resourceType"]
                    shown = kind if _TYPE_NAME.match(kind) else "FHIR"
                    msg = f"a {shown} resource without an id"
                    raise NotFhir(msg)
                yield resource
    except ijson.JSONError:
        msg = "not valid JSON"
        raise NotFhir(msg) from None


def obj(value: t.Any) -> dict:
    """The value if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _coding(concept: t.Any) -> dict:
    """The first coding of a CodeableConcept, with its text as a fallback display."""
    if not isinstance(concept, dict):
        return {}
    codings = concept.get("coding") or [{}]
    first = codings[0] if isinstance(codings[0], dict) else {}
    return {
        "code": first.get("code"),
        "code_system": first.get("system"),
        "display": first.get("display") or concept.get("text"),
    }


def _status(value: t.Any) -> t.Any:
    """A plain status, or a CodeableConcept status (clinicalStatus) reduced to its code."""
    return _coding(value).get("code") if isinstance(value, dict) else value


def _first(resource: dict, *names: str) -> t.Any:
    for name in names:
        value = resource.get(name)
        if isinstance(value, dict) and "start" in value:
            value = value["start"]
        if value is not None:
            return value
    return None


def promote(stream: str, resource: dict) -> dict[str, t.Any]:
    """The columns a warehouse user filters on most, per resource type."""
    r = resource
    if stream == "patient":
        name = (r.get("name") or [{}])[0] if isinstance(r.get("name"), list) else {}
        given = name.get("given") or [None]
        return {
            "family": name.get("family"),
            "given": given[0],
            "birth_date": r.get("birthDate"),
            "gender": r.get("gender"),
        }
    if stream == "encounter":
        period = obj(r.get("period"))
        klass = obj(r.get("class"))
        return {
            "status": r.get("status"),
            "class_code": klass.get("code"),
            "period_start": period.get("start"),
            "period_end": period.get("end"),
        }
    if stream == "document_reference":
        return {**_coding(r.get("type")), "status": r.get("status"), "effective": r.get("date")}
    if stream == OTHER:
        return {}
    concept = {
        "medication_request": "medicationCodeableConcept",
        "medication_statement": "medicationCodeableConcept",
        "immunization": "vaccineCode",
    }.get(stream, "code")
    columns = {
        **_coding(r.get(concept)),
        "status": _status(r.get("status") or r.get("clinicalStatus")),
        "effective": _first(
            r,
            "effectiveDateTime",
            "effectivePeriod",
            "onsetDateTime",
            "authoredOn",
            "occurrenceDateTime",
            "performedDateTime",
            "performedPeriod",
            "recordedDate",
            "issued",
        ),
    }
    if stream == "observation":
        quantity = obj(r.get("valueQuantity"))
        columns |= {"value": quantity.get("value"), "unit": quantity.get("unit")}
    return columns


PROMOTED: dict[str, tuple[str, ...]] = {
    "patient": ("family", "given", "birth_date", "gender"),
    "encounter": ("status", "class_code", "period_start", "period_end"),
    "observation": ("code", "code_system", "display", "status", "effective", "value", "unit"),
    OTHER: (),
}
CODED = ("code", "code_system", "display", "status", "effective")
