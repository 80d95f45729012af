"""The taps skip singer-sdk's per-record work that changes nothing: output unchanged.

``KeepsVendorFields`` streams set ``TYPE_CONFORMANCE_LEVEL = NONE`` because the record
guard already makes every record fit its schema, write RECORD lines without the SDK's
walk that pops deselected properties when none is deselected, and move a bookmark
once per STATE message rather than once per record. These tests run every tap over
its sandbox both ways (the SDK's root-level conformance and its own per-record steps,
and ours) and require the same messages, STATE included; and a deselected property is
still left out.
"""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from tap_healthex.tap import TapHealthEx
from tap_humanapi.tap import TapHumanAPI
from tap_painchek.tap import TapPainChek
from tapkit.fidelity import KeepsVendorFields
from tapkit.testing import sync

# Stamped by the tap at run time, so never equal between two runs.
RUN_TIMES = ("checked_at", "read_at")


def _records(messages: list[dict]) -> list[tuple[str, dict]]:
    return [(m["stream"], m["record"]) for m in _comparable(messages) if m["type"] == "RECORD"]


def _comparable(messages: list[dict]) -> list[dict]:
    """Every message, but the times the tap stamps at run time."""
    kept = []
    for message in messages:
        if message["type"] == "STATE":
            kept.append(_without_signposts(message))
            continue
        if message["type"] != "RECORD":
            kept.append(message)
            continue
        record = {k: v for k, v in message["record"].items() if k not in RUN_TIMES}
        kept.append({**message, "record": record, "time_extracted": "stamped"})
    return kept


def _without_signposts(value: t.Any) -> t.Any:
    """A state with its signposts (the time a run started reading a stream) masked."""
    if isinstance(value, dict):
        return {
            k: "stamped" if k == "replication_key_signpost" else _without_signposts(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_signposts(v) for v in value]
    return value


def _states_within_a_stream(messages: list[dict]) -> int:
    """STATE messages between two RECORDs of one stream (not only at a stream's end)."""
    found, last_stream, state_since = 0, None, False
    for message in messages:
        if message["type"] == "STATE":
            state_since = True
        elif message["type"] == "RECORD":
            found += state_since and message["stream"] == last_stream
            last_stream, state_since = message["stream"], False
    return found


# The SDK's per-record steps that KeepsVendorFields replaces with cheaper ones.
SDK_STEPS = (
    "_write_record_message",
    "_process_record",
    "_increment_stream_state",
    "_write_state_message",
    "_finalize_state",
)


VENDORS = {
    "painchek": ("make_painchek_sandbox", {"patients": 200}, TapPainChek, {"page_size": 50}),
    "humanapi": ("make_humanapi_sandbox", {"users": 8}, TapHumanAPI, {}),
    "healthex": (
        "make_healthex_sandbox",
        {"patients_per_project": 4, "delivery": "s3"},
        TapHealthEx,
        {},
    ),
}


def _config(sandbox: t.Any, name: str, extra: dict) -> dict:
    base = sandbox.tap_config("s3") if name == "healthex" else sandbox.tap_config()
    return {**base, **extra}


@pytest.mark.parametrize("flattened", [False, True], ids=["plain", "flattened"])
@pytest.mark.parametrize("name", list(VENDORS))
def test_records_are_the_same_without_the_sdks_conformance(
    request, monkeypatch, capsys, name, flattened
):
    fixture, size, tap_class, extra = VENDORS[name]
    sandbox = request.getfixturevalue(fixture)(seed=41, **size)
    if flattened:
        extra = {**extra, "flattening_enabled": True, "flattening_max_depth": 3}
    config = _config(sandbox, name, extra)
    # A STATE message every 7 records, so bookmarks are compared mid-stream too.
    monkeypatch.setattr(Stream, "STATE_MSG_FREQUENCY", 7)
    with monkeypatch.context() as sdk_steps:
        sdk_steps.setattr(
            KeepsVendorFields, "TYPE_CONFORMANCE_LEVEL", TypeConformanceLevel.ROOT_ONLY
        )
        for step in SDK_STEPS:
            sdk_steps.setattr(KeepsVendorFields, step, getattr(Stream, step))
        sdk = sync(tap_class(config=config), capsys).messages
    assert KeepsVendorFields.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.NONE
    ours = sync(tap_class(config=config), capsys).messages
    assert len(_records(ours)) > 50
    assert _records(ours) == _records(sdk)
    # The same messages in the same order: STATE messages (bookmarks) included.
    assert _states_within_a_stream(ours) > 0
    assert _comparable(ours) == _comparable(sdk)


def test_a_deselected_property_is_still_left_out(make_painchek_sandbox, capsys):
    sandbox = make_painchek_sandbox(seed=42, patients=30)
    tap = TapPainChek(config=sandbox.tap_config())
    catalog = tap.catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            selected = entry["tap_stream_id"] == "patients"
            if item["breadcrumb"] == ["properties", "birth_date"]:
                item["metadata"]["selected"] = False
            elif not item["breadcrumb"]:
                item["metadata"]["selected"] = selected
    messages = sync(TapPainChek(config=sandbox.tap_config(), catalog=catalog), capsys).messages
    patients = [r for s, r in _records(messages) if s == "patients"]
    assert len(patients) == len(sandbox.truth("patients"))
    assert all("birth_date" not in r for r in patients)
    assert all("last_name" in r for r in patients)
