"""Every field Human API documents reaches the output, and nothing it sends is dropped.

One test per endpoint: a record carrying every documented field (non-null, nested
objects filled; values from the reference's samples and recorded responses where they
give one) plus a field nobody documents goes through the tap; each documented field
lands with its value, the unknown one lands in ``extra_fields``, every record
validates against its SCHEMA and the SDK never logs that it dropped a field. Another
check shows each record below is complete: it fills every field its stream declares.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import typing as t
from pathlib import Path

import pytest
from humanapi_helpers import FakeHumanAPI
from tap_humanapi import schemas
from tap_humanapi.streams import DATA_STREAMS, SourcesStream, UsersStream
from tapkit.fidelity import EXTRA
from tapkit.testing import DROPPED_WARNING, schema_errors

UNKNOWN = {"riskAdjustment": {"model": "v24", "score": 0.731}}
KEPT = "kept in the extra_fields column, fields its schema does not declare: riskAdjustment"
TAP_ADDED = {"human_id", "client_user_id", EXTRA, "synched_at", "sync_status", "sync_details"}
USER = "cu-1"

# -- shared objects, as the reference's samples and the 2020 recording show them -------

ORG = {
    "id": "55a83bdc8d1eb1420aa1a71b",
    "name": "Starfleet Medical",
    "href": "/medical/organizations/55a83bdc8d1eb1420aa1a71b",
}
CCD = {"id": "5e6674555ee4bf2b0da2f4e7", "href": "/medical/ccds/5e6674555ee4bf2b0da2f4e7"}
PATIENT = {"name": "Maxwell Forrest"}


def code(name: str, value: str, system: str, system_name: str) -> dict:
    return {
        "name": name,
        "code": value,
        "codeSystem": system,
        "codeSystemName": system_name,
        "inferred": False,
    }


RXNORM = code("Metformin", "6809", "2.16.840.1.113883.6.88", "RxNorm")
LOINC = code("Protein Total, Serum", "2885-2", "2.16.840.1.113883.6.1", "LOINC")
SNOMED = code("Rash", "271807003", "2.16.840.1.113883.6.96", "SNOMED-CT")
CPT = code("TOTAL HIP ARTHROPLASTY", "27130", "2.16.840.1.113883.6.12", "CPT-4")
ADDRESS = {
    "street": ["123 Lucas Drive"],
    "city": "SAN FRANCISCO",
    "state": "CA",
    "zip": "95131",
    "country": "USA",
}
NAME = {"prefix": "Mr.", "given": ["Archer", "B"], "family": "Archer"}
MEDICAL = {
    "id": "5e6674555ee4bf075aa2f4ea",
    "source": "55a83bdc8d1eb1420aa1a71b",
    "createdAt": "2020-03-09T16:52:38.042Z",
    "updatedAt": "2020-03-09T16:52:38.042Z",
}
NO_SOURCE = {k: v for k, v in MEDICAL.items() if k != "source"}
WELLNESS = {
    "id": "550b8a8e834dd16f259683b2",
    "userId": "52e20cb2fff56aac62000001",
    "humanId": "5dc2527186aaf9de560e5841f1a44bd6",
    "source": "ihealth",
    "sourceData": {"manual": False},
    "createdAt": "2015-03-20T02:48:46.945Z",
    "updatedAt": "2015-03-20T02:48:46.945Z",
}
READING = {
    **WELLNESS,
    "timestamp": "2015-03-19T22:48:26.000Z",
    "tzOffset": "-07:00",
    "value": 66,
    "unit": "bpm",
}

# -- one complete record per endpoint ---------------------------------------------------

DOCUMENTED: dict[str, dict[str, t.Any]] = {
    "allergies": {
        **MEDICAL,
        "name": "Metformin",
        "allergen": {"name": "Metformin", "codes": [RXNORM]},
        "reactionsFull": [
            {
                "name": "Rash-Mild",
                "codes": [SNOMED],
                "reactionType": {"name": "Allergic reaction", "codes": [SNOMED]},
            }
        ],
        "severity": "unknown",
        "status": "Active",
        "dateRange": {"start": "2020-01-12T10:00:00.000Z", "end": "2020-02-12T10:00:00.000Z"},
        "patient": PATIENT,
        "organization": ORG,
        "codes": [RXNORM],
        "ccd": CCD,
    },
    "demographics": {
        **NO_SOURCE,
        "name": NAME,
        "address": ADDRESS,
        "dob": "05/20/1971",
        "dobDateTime": "1971-05-20T00:00:00.000Z",
        "gender": "male",
        "genderCodes": [code("male", "703117000", "2.16.840.1.113883.6.96", "SNOMED-CT")],
        "race": "White",
        "raceCodes": [code("White", "2106-3", "2.16.840.1.113883.6.238", "Race & Ethnicity")],
        "ethnicity": "Not Hispanic or Latino",
        "ethnicityCodes": [
            code("Not Hispanic or Latino", "2186-5", "2.16.840.1.113883.6.238", "CDC")
        ],
        "language": "eng",
        "languageCodes": [code("English", "eng", "1.0.639.2", "ISO 639-2")],
        "maritalStatus": "married",
        "maritalStatusCodes": [code("Married", "M", "2.16.840.1.113883.5.2", "MaritalStatus")],
        "provider": {
            "address": ADDRESS,
            "organization": "Starfleet Medical",
            "phone": "(650) 555-1212",
        },
        "organization": ORG,
        "ccd": CCD,
    },
    "encounters": {
        **MEDICAL,
        "dateTime": "2019-11-26T09:06:00.000Z",
        "visitType": "Hospital Encounter",
        "provider": {
            "name": "Susan Stethoscope",
            "departmentName": "Nocebo Medicine Department",
            "address": "4321 Main St., Othertown, CA, 98765",
        },
        "diagnoses": [{"name": "Primary osteoarthritis of left hip"}],
        "reasons": ["Primary osteoarthritis of left hip"],
        "orders": [
            {
                "name": "TOTAL HIP ARTHROPLASTY",
                "type": "Procedures",
                "codeType": "2.16.840.1.113883.6.12",
                "procedureCode": "27130",
                "expectedDate": "2019-11-26T10:00:00.000Z",
                "expireDate": "2020-11-26T10:00:00.000Z",
                "codes": [CPT],
            }
        ],
        "medications": [
            {
                "name": "ALBUTEROL IN",
                "productName": "ALBUTEROL IN",
                "dosageInfo": "90 MCG inhaler",
                "instructions": "take as directed as needed",
                "genericProductIndicator": "44201010103420",
                "ndcCode": "0173-0682-20",
                "canRefill": True,
                "hasPendingRefill": False,
                "startDate": "2019-08-12T00:00:00.000Z",
                "endDate": "2019-11-12T00:00:00.000Z",
                "codes": [RXNORM],
            }
        ],
        "patientInstruction": "Keep the wound dry.",
        "followUpInstructions": "Follow up in 2 weeks.",
        "vitals": {"bloodPressure": "120/80"},
        "vitalSigns": [{"name": "Pulse", "value": 72}],
        "plansOfCare": [{"name": "Physical therapy"}],
        "problems": [{"name": "Hip pain"}],
        "testResults": [{"name": "CBC"}],
        "patient": PATIENT,
        "organization": ORG,
        "codes": [code("Hospital Encounter", "IMP", "2.16.840.1.113883.5.4", "ActCode")],
        "ccd": CCD,
    },
    "functional_statuses": {
        **MEDICAL,
        "name": "Ambulates independently",
        "dateTime": "2019-11-26T09:06:00.000Z",
        "codes": [SNOMED],
        "organization": ORG,
        "ccd": CCD,
    },
    "immunizations": {
        **MEDICAL,
        "name": "Influenza Vaccine, Quadrivalent, PF",
        "dates": ["2020-01-13T00:00:00.000Z"],
        "patient": PATIENT,
        "organization": ORG,
        "codes": [code("Influenza", "150", "2.16.840.1.113883.12.292", "CVX")],
        "ccd": CCD,
    },
    "instructions": {
        **MEDICAL,
        "name": "discharge instructions",
        "text": "Return to clinic if symptoms worsen.",
        "dateTime": "2019-11-27T10:00:00.000Z",
        "codes": [LOINC],
        "organization": ORG,
        "ccd": CCD,
    },
    "issues": {
        **MEDICAL,
        "name": "Primary osteoarthritis of left hip",
        "status": "Active",
        "dateTime": "2019-11-12T00:00:00.000Z",
        "patient": PATIENT,
        "organization": ORG,
        "codes": [code("Osteoarthritis", "M16.12", "2.16.840.1.113883.6.90", "ICD-10-CM")],
        "ccd": CCD,
    },
    "medications": {
        **MEDICAL,
        "name": "loratadine (CLARITIN) 10 MG tablet",
        "status": "Active",
        "startDate": "2012-01-26T00:00:00.000Z",
        "endDate": "2014-01-26T00:00:00.000Z",
        "details": {
            "dosage": {"form": "tablet", "value": "1"},
            "frequency": {"number": "1", "unit": "as-needed"},
            "route": "enteral_oral",
            "strength": {"number": "10", "unit": "mg"},
        },
        "dosageInfo": "10 MG tablet",
        "instructions": "Take 1 tab by mouth as needed (allergies).",
        "ndcCode": "0781-5077-01",
        "genericProductIndicator": "41550030000320",
        "commonBrandName": "CLARITIN",
        "productName": "loratadine",
        "provider": "Isaias Kingston, MD",
        "providerID": "34665",
        "pharmacy": {
            "iD": "4321",
            "name": "CVS Pharmacy",
            "address": "100 Market St",
            "phone": "(415) 555-0100",
            "hours": "Mon-Fri 9am-9pm",
        },
        "expiration": "2015-01-26T00:00:00.000Z",
        "refillsRemaining": 3,  # documented as a Number: lands as its text
        "refillsTotal": "30",  # a String on the wire
        "patient": PATIENT,
        "organization": ORG,
        "codes": [RXNORM],
        "ccd": CCD,
    },
    "narratives": {
        **MEDICAL,
        "dateTime": "Mon Jul 07 2014 14:40:26 GMT-0700 (PDT)",
        "author": "Sam Scribesalot",
        "entries": [{"title": "Reason for Visit", "text": "Follow-up.", "templateIds": ["1.2"]}],
        "organization": ORG,
        "ccd": CCD,
    },
    "organizations": {
        **NO_SOURCE,
        "id": "53c050ac51c69003200aa9b5",
        "name": "Genesis Health System",
        "imageUrl": "Genesis.PNG",
    },
    "plans_of_care": {
        **MEDICAL,
        "name": "Colonoscopy",
        "text": "Appointment",
        "type": "Appointment",
        "date": "2020-12-13T09:00:00.000Z",
        "specialty": "Gastroenterology",
        "provider": {
            "name": {"prefix": "Dr.", "given": ["Jimmy"], "family": "Wang"},
            "departmentName": "Nocebo Medicine Department",
            "address": "4321 Main St., Othertown, CA, 98765",
        },
        "organization": ORG,
        "codes": [{**LOINC, "name": "encounter"}],
        "ccd": CCD,
    },
    "procedures": {
        **MEDICAL,
        "name": "ANESTHESIA BLOCK SPINAL",
        "dateTime": "2019-11-26T12:32:27.000Z",
        "performer": {
            "organizationName": "Starfleet Medical",
            "address": "9876 Main St., Wherever, CA, 98765",
            "phone": "(650) 555-1212",
        },
        "specimenCodes": [SNOMED],
        "deviceCodes": [SNOMED],
        "organization": ORG,
        "codes": [CPT],
        "ccd": CCD,
    },
    "social_history": {
        **NO_SOURCE,
        "entries": [
            {
                "name": "Never smoker",
                "dateTime": "2020-01-26T10:00:00.000Z",
                "codes": [code("Smoking Status", "266919005", "2.16.840.1.113883.6.96", "SNOMED")],
            }
        ],
        "organization": ORG,
        "ccd": CCD,
    },
    "test_results": {
        **MEDICAL,
        "name": "LAB TOTAL PROTEIN+ALB",
        "components": [
            {
                "name": "Protein Total, Serum",
                "value": "7.1",
                "unit": "g/dL",
                "low": "5.7",
                "high": "8.3",
                "refRange": "5.7-8.3",
                "flag": "N",
                "componentComments": "Verified.",
                "codes": [LOINC],
            },
            {"name": "Albumin", "value": 4.2, "unit": "g/dL", "low": 3.5, "high": 5.0},
        ],
        "resultDateTime": "2010-09-10T04:00:00.000Z",
        "status": "Final result",
        "orderedBy": "James Kirk, MD",
        "recipients": [
            {
                "objectID": "50006",
                "name": "Jean-Luc Picard, MD",
                "isPCP": True,
                "recipTemplate": "WPMessageRecipientTemplateUnknown",
            }
        ],
        "specimen": "Serum",
        "device": "Cobas 8000",
        "comments": "Specimen received at room temperature.",
        "narrative": "Results reviewed with patient.",
        "impression": "Normal.",
        "transcriptions": "None.",
        "allResults": [
            {
                "name": "Protein Total, Serum",
                "value": "7.1",
                "unit": "g/dL",
                "resultDateTime": "2010-09-10T04:00:00.000Z",
            }
        ],
        "patient": PATIENT,
        "organization": ORG,
        "codes": [LOINC],
        "ccd": CCD,
    },
    "vitals": {
        **MEDICAL,
        "dateTime": "2019-11-26T09:06:00.000Z",
        "author": "Susan Stethoscope",
        "results": [
            {
                "name": "Pulse",
                "normalizedName": "heart_rate",
                "value": 72,  # a Number on the wire
                "unit": "/min",
                "codes": [LOINC],
                "raw": {"name": "Pulse", "value": "72", "unit": "/min", "codes": [LOINC]},
                "values": [{"value": 72, "unit": "/min"}],
            },
            {"name": "Weight", "value": "81.6", "unit": "kg"},  # a String in the docs
        ],
        "name": "Arthuretta Plasty",
        "organization": ORG,
        "codes": [LOINC],
        "ccd": CCD,
    },
    "reports": {
        **MEDICAL,
        "id": "631842b9075d9b00110b61c7-000000-000000000000000000000000",
        "name": "timeline",
    },
    "profile": {
        "userId": "52e20cb2fff56aac62000001",
        "humanId": "5dc2527186aaf9de560e5841f1a44bd6",
        "email": "user@example.com",
        "defaultTimeZone": {"name": "UTC"},
        "createdAt": "2014-01-24T06:48:18.361Z",
        "updatedAt": "2014-01-24T06:48:18.361Z",
    },
    "activities": {
        **WELLNESS,
        "type": "walking",
        "startTime": "2015-03-23T14:29:34.000Z",
        "endTime": "2015-03-23T14:30:17.000Z",
        "tzOffset": "-04:00",
        "timeZone": "America/New_York",
        "duration": 43,
        "distance": 29,
        "steps": 57,
        "calories": 0,
        "timeSeries": {"heartRate": {"intervalInMillis": 1000, "values": [72, 74]}},
    },
    "sleeps": {
        **WELLNESS,
        "day": "2015-03-23",
        "startTime": "2015-03-23T02:50:27.000Z",
        "endTime": "2015-03-23T09:21:54.000Z",
        "tzOffset": "-07:00",
        "mainSleep": True,
        "timeAsleep": 362,
        "timeAwake": 28,
        "efficiency": 57,
        "timeToFallAsleep": 12,
        "timeAfterWakeup": 0,
        "timeInBed": 391,
        "numberOfWakeups": 3,
        "timeSeries": {"sleepStages": {"type": "stage", "intervalInMillis": 30000, "values": []}},
    },
    "locations": {
        **{k: v for k, v in WELLNESS.items() if k != "sourceData"},
        "name": "Home",
        "type": "home",
        "location": {"lon": -95.387643141, "lat": 29.7466154162},
        "startTime": "2014-10-07T19:09:51.000Z",
        "endTime": "2014-10-07T20:29:17.000Z",
        "timestamp": "2014-10-07T19:09:51.000Z",
        "tzOffset": "-05:00",
    },
    "heart_rate": READING,
    "blood_glucose": {
        **READING,
        "value": 500,
        "unit": "mg/dL",
        "notes": "after a walk",
        "mealTag": "after_meal",
        "medicationTag": "before_medication",
    },
    "blood_pressure": {
        **{k: v for k, v in READING.items() if k != "value"},
        "systolic": 119,
        "diastolic": 79,
        "heartRate": 77,
        "unit": "mmHg",
    },
    "blood_oxygen": {**READING, "value": 98, "unit": "SpO2", "notes": "at rest"},
    "bmi": {**READING, "value": 24.3, "unit": "kg/m2"},
    "body_fat": {**READING, "value": 21.5, "unit": "percent"},
    "height": {**READING, "value": 1778, "unit": "mm"},
    "weight": {**READING, "value": 77.1, "unit": "kg"},
    "sources": {
        "id": "551ac6ef15eab1445e527c64",
        "source": "55a83bdc8d1eb1420aa1a71b",
        "sourceName": "Starfleet Medical",
        "connectedSince": "2018-07-20T21:07:13.136Z",
        "supportedDataTypes": ["activities"],
        "devices": ["55a83bdc8d1eb1420aa1a71b"],
        "organization": ORG,
        "historySync": {"status": "completed", "oldestDate": "2015-03-21T00:00:00.000Z"},
        "syncStatus": {
            "status": "ok",
            "details": "ok",
            "synchedAt": "2026-01-01T00:00:00.000Z",
            "newestDate": "2018-04-20T19:06:11.151Z",
            "lastNotificationDate": "2018-04-20T19:06:11.000Z",
        },
        "resync": {"active": True},
        "expectedSyncDuration": 12.5,
        "externalId": "ext-1",
        "timeZone": "America/Los_Angeles",
    },
    "users": {
        "humanId": "f0e4cfc59516be96512c3d98e48b5abf",
        "clientUserId": USER,
        "clientUserEmail": "jane@smith.com",
        "firstName": "Jane",
        "lastName": "Smith",
        "dateOfBirth": "1968-02-13T00:00:00.000Z",
        "status": "Invited",
        "createdAt": "2025-02-06T12:00:00.000Z",
        "updatedAt": "2025-02-06T12:00:00.000Z",
        "suggestedSources": ["Starfleet Medical"],
        "inviteLink": "https://connect.humanapi.co/invite/abc",
        "orders": [
            {
                "orderId": "08780acf-9f05-4391-8bb5-6d775efdc430",
                "orderType": "default",
                "orderTypeAlias": "Records",
                "orderStatus": "Completed",
                "reportsAvailable": True,
                "dataAvailable": True,
            }
        ],
    },
}
# What the tap changes on purpose: a number sent where a string is declared is its text.
LANDS_AS = {("medications", "refillsRemaining"): "3"}
SCHEMAS = {
    **{stream.name: stream.schema for stream in DATA_STREAMS},
    "sources": SourcesStream.schema,
    "users": UsersStream.schema,
}
PATHS = {stream.name: stream.path for stream in DATA_STREAMS}


def _gaps(node: dict, value: t.Any, path: str = "") -> list[str]:
    """Where ``value`` lacks a field ``node`` declares, or holds one it does not."""
    if isinstance(value, list):  # every declared field in some item
        items = node.get("items") or {}
        if not all(isinstance(item, dict) for item in value):
            return [gap for item in value for gap in _gaps(items, item, path + "[]")]
        merged = {k: v for item in value for k, v in item.items() if v not in (None, [], {})}
        return _gaps(items, merged, path + "[]")
    declared = node.get("properties")
    if declared is None or not isinstance(value, dict):
        return []
    gaps = [f"{path}.{name} undeclared" for name in value if name not in declared]
    for name, inner in declared.items():
        if value.get(name) in (None, [], {}) and name not in TAP_ADDED:
            gaps.append(f"{path}.{name} missing")
        elif name in value:
            gaps.extend(_gaps(inner, value[name], f"{path}.{name}"))
    return gaps


def test_every_stream_has_a_documented_record():
    assert set(DOCUMENTED) == set(SCHEMAS)


@pytest.mark.parametrize("stream", sorted(DOCUMENTED))
def test_each_documented_record_fills_exactly_what_its_schema_declares(stream):
    assert _gaps(SCHEMAS[stream], DOCUMENTED[stream]) == []


@pytest.fixture
def sync(requests_mock, run_tap, base_config, caplog):
    """Serve one record of ``stream`` and return the one it lands as, checked."""

    def run(stream: str, sent: dict, config: dict | None = None) -> dict:
        fake = FakeHumanAPI(requests_mock, users=1)
        if stream == "users":
            fake.users[0] = copy.deepcopy(sent)
        elif stream == "sources":
            fake.sources[USER] = [copy.deepcopy(sent)]
        else:
            fake.serve(PATHS[stream], USER, copy.deepcopy(sent))
        with caplog.at_level(logging.INFO):
            result = run_tap({**base_config, **(config or {})}, streams=[stream])
        assert schema_errors(result.messages) == []
        assert DROPPED_WARNING not in caplog.text
        assert f"Stream '{stream}': {KEPT}" in caplog.text  # names the field, once
        assert caplog.text.count(f"Stream '{stream}': kept") == 1
        (record,) = result.records(stream)
        return record

    return run


@pytest.mark.parametrize("stream", sorted(DOCUMENTED))
def test_a_documented_record_lands_whole_and_the_unknown_field_in_extra_fields(sync, stream):
    sent = {**DOCUMENTED[stream], **UNKNOWN}
    record = sync(stream, sent)
    for name, value in DOCUMENTED[stream].items():
        assert record[name] == LANDS_AS.get((stream, name), value), name
    assert record[EXTRA] == UNKNOWN
    if stream != "users":
        assert record["human_id"] == "000000000000000000000001"
        assert record["client_user_id"] == USER
    if stream == "sources":
        assert record["synched_at"] == sent["syncStatus"]["synchedAt"]
        assert (record["sync_status"], record["sync_details"]) == ("ok", "ok")


@pytest.mark.parametrize("stream", ["medications", "test_results", "demographics", "sources"])
def test_with_flattening_every_documented_inner_field_gets_its_column(sync, stream):
    flattening = {"flattening_enabled": True, "flattening_max_depth": 3}
    record = sync(stream, {**DOCUMENTED[stream], **UNKNOWN}, flattening)
    assert json.loads(record[EXTRA]) == UNKNOWN  # no documented inner field among them
    for name, value in DOCUMENTED[stream].items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                if isinstance(inner_value, dict):
                    continue  # flattened one level further
                landed = record[f"{name}__{inner}"]
                if isinstance(inner_value, list):  # a list stays one JSON column
                    landed = json.loads(landed)
                assert landed == inner_value, (name, inner)


def test_each_stream_names_its_page_in_the_readme_and_each_field_its_source():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for stream in SCHEMAS:
        assert stream in schemas.DOC_PAGES or stream in schemas.UNDOCUMENTED, stream
        if stream in schemas.DOC_PAGES:
            assert f"({schemas.DOC_PAGES[stream]})" in readme, stream
        for name, node in SCHEMAS[stream]["properties"].items():
            tag = re.search(r"\[([^\]]+)\]\.?$", node["description"])
            assert name == EXTRA or tag, (stream, name)
