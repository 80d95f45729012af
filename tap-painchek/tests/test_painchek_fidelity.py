"""Every field PainChek documents reaches the output, and nothing it sends is dropped.

One test per endpoint: a record carrying every documented field (non-null, nested
objects filled, values from PainChek's support pages where they give one) plus a field
nobody documents goes through the tap; each documented field lands with its value, the
unknown one lands in ``extra_fields``, every record validates against its SCHEMA and
the SDK never logs that it dropped a field.
"""

from __future__ import annotations

import copy
import json
import logging
import typing as t

import pytest
from painchek_helpers import API, page
from tap_painchek.streams import STREAM_TYPES
from tapkit.fidelity import EXTRA
from tapkit.testing import DROPPED_WARNING, schema_errors

UNKNOWN = {"triage_colour": "amber"}
KEPT = "kept in the extra_fields column"

COMMON = {
    "uuid": "7f58e25c-ba8a-47d5-b7d6-1377428b14fa",
    "created_at": "2017-09-26T02:16:28.850000Z",
    "modified_at": "2017-11-13T02:17:35.662737Z",
    "deleted_at": "2018-02-01T00:00:00.000000Z",
    "update_stamp": 760,
    "created_by_id": "0a9fcde4-39c1-410e-85bd-d43d6efae577",
    "modified_by_id": "0a9fcde4-39c1-410e-85bd-d43d6efae577",
    "device_id": "87EFD095-F650-4011-9546-C9553A2BD3BC",
    "license": "a89e0cc1-fd90-4721-b09b-7f527f5ff626",
    "license_name": "A89E0CC1-FD90/ePAT Technologies Ltd/2018-08-25",
}
PATIENT = {
    **COMMON,
    "first_name": "Enola",
    "last_name": "Gay",
    "nickname": "Rose",
    "gender": "f",
    "birth_date": "1951-11-14",
    "death_date": "2019-05-01",
    "deleted_reason": "Discharged",
    "image": "https://ua.ap.painchek.com/media/patients/7f58e25c.jpg",
    "external_id": "Patient1",
    "training_record": False,
}
SITE = {
    **COMMON,
    "uuid": "ac80058b-45b4-48f8-af2f-164a29de5090",
    "update_stamp": 62,
    "type": 3,
    "name": "The Hospice",
    "phone": "0414769470",
    "email": "a@b.com",
    "address": "15 Smith Street",
    "postcode": "4000",
    "city": "Somewhere",
    "state": "NSW",
    "country": "AU",
    "num_beds": 20,
    "external_id": "S-1",
}
USER = {
    **COMMON,
    "uuid": "c0d06995-87dd-4437-a92e-338f53b7dba5",
    "email": "user_e@painchek.com",
    "first_name": "User",
    "last_name": "E",
    "phone": "0414 000 111",
    "institution": "ac80058b-45b4-48f8-af2f-164a29de5090",
    "institution_name": "The Hospice",
    "position": "Nurse",
    "avatar": "https://ua.ap.painchek.com/media/avatars/c0d06995.jpg",
    "has_activated": True,
    "role": "user",
    "is_active": True,
    "full_site_access": True,
    "date_joined": "2017-08-28T12:13:38.364000Z",
    "external_id": "EMP1",
}
LICENCE = {
    "uuid": "a89e0cc1-fd90-4721-b09b-7f527f5ff626",
    "number": "A89E0CC1-FD90",
    "start": "2017-08-25",
    "expiry": "2018-12-31",
    "is_expiring": False,
    "type": 2,
    "holder": {
        "first_name": "Wile E",
        "last_name": "Coyote",
        "email": "wile.e.coyote@acme.com",
        "phone": "0414 000 111",
        "mobile": "0414 000 111",
        "company_name": "ACME Ltd",
        "company_address": "35 Orange Street",
        "company_postcode": "2000",
        "company_city": "Sydney",
        "company_state": "Not applicable",
        "company_country": "AU",
        "company_phone": "0414 000 111",
    },
    "deleted_at": "2019-01-01T00:00:00.000000Z",
    "created_at": "2017-08-25T00:00:00.000000Z",
    "modified_at": "2017-08-25T00:00:00.000000Z",
    "update_stamp": 5,
}
DEVICE = {
    "manufacturer": "apple",
    "model": "iphone7,2",
    "os_type": "ios",
    "os_version": "10.3",
    "app_version": "1.20 (1)",
    "device_id": "1F4325EE-94F2-47B0-97A3-E8BCF123DAEC",
}


def _domain(descriptors: str, **more: t.Any) -> dict:
    flags = {name: i % 2 == 0 for i, name in enumerate(descriptors.split())}
    return {"score": sum(flags.values()), "comment": "Noted", **more, "descriptors": flags}


SECTIONS = {
    "assessment": {
        "date": "2018-03-20T22:41:07.530228Z",
        "mode": "painchek",
        "pain_score": 15,
        "pain_level": "moderate",
        "is_editable": False,
        "timing": "movement",
    },
    "face": _domain(
        "brow_lowering cheek_raising tightening_eyelids wrinkling_nose raising_upper_lip",
        mode="video",
        initial_mode="video",
        camera="front",
        capture_seconds=3,
        frames=20,
        frame_errors=1,
    ),
    "voice": _domain(
        "noisy_sounds requesting_help groaning moaning crying screaming loudtalk howling sighing",
        voice_recording="recordings/03824b1c.m4a",
    ),
    "movement": _domain(
        "altered_random_movement restlessness freezing guarding_touching moving_away "
        "abnormal_movement pacing_wandering"
    ),
    "behaviour": _domain(
        "introvert verbally_offensive aggressive fear_or_dislike inappropriate_behaviour "
        "confused distressed"
    ),
    "activity": _domain("resisting_care prolonged_resting altered_sleep_cycle"),
    "body": _domain(
        "profuse_sweating pale_flushed feverish_cold rapid_breathing painful_injuries "
        "painful_conditions"
    ),
}
ASSESSMENT = {
    **COMMON,
    "uuid": "03824b1c-e7f4-4898-bc82-3ec7d39232f9",
    "patient": "9c2fa320-f080-4f2f-bc30-d5f2234c675e",
    "patient_first_name": "Fred",
    "patient_last_name": "Smith",
    "patient_external_id": "1098",
    "user": "c5fff8fd-e022-4ba4-a35d-ddee6b9fa276",
    "user_first_name": "Mary",
    "user_last_name": "Smith",
    "user_external_id": "EMP7",
    "user_position": "Nurse",
    "user_source": "internal",
    "json_version": "v2",
    "device": "85352119-04e5-4549-8245-79c27e1cddda",
    "device_id": "85352119-04e5-4549-8245-79c27e1cddda",
}
ADMISSION = {
    **COMMON,
    "uuid": "5d7a1bb6-8f1c-4f0e-9a43-0c6a2b0d9b11",
    "patient": PATIENT,
    "site": SITE,
    "start": "2017-11-24T08:21:00+10",
    "end": "2018-01-10T09:00:00Z",
    "unit": "Memory Support Unit",
    "room": "123",
    "bed": "A",
    "ward": "East",
}
COMMENT = {  # assumed: no PainChek page documents comments
    **COMMON,
    "patient": PATIENT["uuid"],
    "assessment": ASSESSMENT["uuid"],
    "user": USER["uuid"],
    "text": "Resident settled after repositioning.",
}
PATHS = {stream.name: stream.path for stream in STREAM_TYPES}


@pytest.fixture(autouse=True)
def _token(requests_mock):
    requests_mock.post(
        f"{API}/api/integration/auth/", json={"access_token": "unit-token-abc", "expires_in": 36000}
    )


@pytest.fixture
def sync(requests_mock, run_tap, base_config, caplog):
    """Serve ``rows`` on the stream's path; the stream's records, checked as every test wants."""

    def run(stream: str, *rows: dict, config: dict | None = None) -> list[dict]:
        requests_mock.get(f"{API}{PATHS[stream]}", json=page(copy.deepcopy(list(rows))))
        with caplog.at_level(logging.INFO):
            result = run_tap({**base_config, **(config or {})}, streams=[stream])
        assert schema_errors(result.messages) == []
        assert DROPPED_WARNING not in caplog.text
        # The guard's one warning shows the tap's logs reach caplog.
        assert f"Stream '{stream}': {KEPT}, fields its schema does not declare: " in caplog.text
        records = result.records(stream)
        assert len(records) == len(rows)
        return records

    return run


def _assert_landed(sent: dict, record: dict, **changed: t.Any) -> None:
    """Every field sent is in the record with its value (or the changed value given)."""
    for name, value in sent.items():
        if name in UNKNOWN:
            assert record[EXTRA][name] == value
        else:
            assert record[name] == changed.get(name, value), name


@pytest.mark.parametrize(
    ("stream", "sent"),
    [("patients", PATIENT), ("sites", SITE), ("users", USER), ("comments", COMMENT)],
)
def test_flat_records_land_whole(sync, stream, sent):
    (record,) = sync(stream, sent | UNKNOWN)
    _assert_landed(sent | UNKNOWN, record)
    assert record[EXTRA] == UNKNOWN
    assert record["is_deleted"] is True


def test_licences_keep_the_holder_and_load_type_as_a_string(sync):
    (record,) = sync("licenses", LICENCE | UNKNOWN)
    _assert_landed(LICENCE | UNKNOWN, record, type="2")
    assert record["holder"]["company_state"] == "Not applicable"
    assert record[EXTRA] == UNKNOWN  # the integer type is not a misfit: codes are strings


def test_admissions_embed_patient_and_site_and_promote_their_uuids(sync):
    (record,) = sync("admissions", ADMISSION | UNKNOWN)
    _assert_landed(ADMISSION | UNKNOWN, record)
    assert record["patient"]["first_name"] == "Enola"
    assert record["site"]["type"] == 3
    assert (record["patient_uuid"], record["site_uuid"]) == (PATIENT["uuid"], SITE["uuid"])
    assert record[EXTRA] == UNKNOWN


def test_admissions_sent_with_ids_keep_them_and_still_join(sync, caplog):
    sent = ADMISSION | {"patient": PATIENT["uuid"], "site": SITE["uuid"]} | UNKNOWN
    (record,) = sync("admissions", sent)
    assert (record["patient_uuid"], record["site_uuid"]) == (PATIENT["uuid"], SITE["uuid"])
    assert record[EXTRA] == {"patient": PATIENT["uuid"], "site": SITE["uuid"], **UNKNOWN}
    assert "patient" not in record
    assert "patient (sent as string)" in caplog.text


def test_assessments_with_sections_in_data(sync):
    nrs = ASSESSMENT | {
        "uuid": "b505c2c1-552c-4590-a8f5-ebc440c80583",
        "data": {
            "assessment": {
                "date": "2021-03-20T22:41:07.530228Z",
                "mode": "nrs",
                "pain_score": 5,
                "pain_level": "moderate",
                "is_editable": False,
                "timing": "movement",
                "body_location": "neck and shoulders",
            },
            "device": DEVICE,
        },
    }
    del nrs["user_position"]  # not on the NRS page
    painchek = ASSESSMENT | {"data": {**SECTIONS, "device": DEVICE}}
    record, nrs_record = sync("assessments", painchek | UNKNOWN, nrs)
    _assert_landed(painchek | UNKNOWN, record)
    assert record[EXTRA] == UNKNOWN
    assert record["data"]["face"]["descriptors"]["raising_upper_lip"] is True
    assert (record["assessed_at"], record["mode"], record["timing"]) == (
        "2018-03-20T22:41:07.530228Z",
        "painchek",
        "movement",
    )
    assert (record["pain_score"], record["pain_level"]) == (15, "moderate")
    assert not set(SECTIONS) & set(record)
    _assert_landed(nrs, nrs_record)
    assert (nrs_record["mode"], nrs_record["pain_score"]) == ("nrs", 5)
    assert nrs_record["data"]["assessment"]["body_location"] == "neck and shoulders"


def test_assessments_with_sections_at_the_top_level(sync, caplog):
    # The field table's reading: sections beside `patient`, `device` the details object.
    sent = ASSESSMENT | SECTIONS | {"device": DEVICE} | UNKNOWN
    (record,) = sync("assessments", sent)
    _assert_landed({k: v for k, v in sent.items() if k != "device"}, record)
    assert "data" not in record
    assert record["face"]["capture_seconds"] == 3
    assert (record["assessed_at"], record["mode"], record["pain_score"]) == (
        "2018-03-20T22:41:07.530228Z",
        "painchek",
        15,
    )
    # The device details object is not the documented device UUID: kept whole.
    assert "device" not in record
    assert record[EXTRA] == {"device": DEVICE, **UNKNOWN}
    assert "device (sent as object)" in caplog.text


def test_nested_records_flatten_into_valid_columns(sync):
    config = {"flattening_enabled": True, "flattening_max_depth": 3}
    (record,) = sync("admissions", ADMISSION | UNKNOWN, config=config)
    assert record["patient__first_name"] == "Enola"
    assert record["site__num_beds"] == 20
    (record,) = sync(
        "assessments",
        ASSESSMENT | {"data": {**SECTIONS, "device": DEVICE}} | UNKNOWN,
        config=config,
    )
    assert record["data__voice__descriptors__loudtalk"] is True
    # Descriptors whose keys PainChek's pages do not all list stay one JSON column.
    assert json.loads(record["data__face__descriptors"]) == SECTIONS["face"]["descriptors"]
    assert record["data__device__model"] == "iphone7,2"
    assert record["pain_score"] == 15
