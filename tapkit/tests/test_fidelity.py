"""The catch-all keeps what a schema does not declare, and records validate after it."""

from __future__ import annotations

import copy
import json
import logging
import typing as t

import pytest
from singer_sdk import Stream, Tap
from tapkit.fidelity import EXTRA, KeepsVendorFields, RecordGuard
from tapkit.schema import (
    array,
    boolean,
    date_time,
    integer,
    number,
    obj,
    open_object,
    stream_schema,
    string,
)
from tapkit.testing import DROPPED_WARNING, schema_errors

SCHEMA = stream_schema(
    {
        "id": string("Key."),
        "updatedAt": date_time("Replication key."),
        "code": string("A code the vendor documents as a string."),
        "count": integer("A count."),
        "score": number("A score."),
        "active": boolean("A flag."),
        "owner": obj(
            "Nested, documented.",
            name=string(),
            dose={"type": ["string", "number", "null"]},  # text, or sent as a number
            level=integer(),
        ),
        "blob": open_object("Nested, undocumented."),
        "tags": array("A list.", string()),
    },
    keys=("id", "updatedAt"),
)
VENDOR_ROWS = [
    {
        "id": "a",
        "updatedAt": "2025-01-01T00:00:00Z",
        "code": "x",
        "count": 1,
        "score": 1.5,
        "owner": {"name": "m", "dose": "1 tablet", "level": 3},
    },
    {
        "id": "b",
        "updatedAt": "2025-01-02T00:00:00Z",
        "code": 7,  # a code sent as a number
        "count": "many",  # another type than declared
        "score": 2,
        "active": True,
        # an undocumented nested field, a number sent for text
        "owner": {"name": "n", "since": 2019, "dose": 5, "level": 4},
        "blob": {"anything": [1, 2]},
        "tags": ["t"],
        "newField": {"deep": True},  # undeclared
        "another": None,
    },
]


class ThingsStream(KeepsVendorFields, Stream):
    name = "things"
    primary_keys = ("id",)
    replication_key = "updatedAt"
    schema = SCHEMA

    def get_records(self, context: t.Any) -> t.Iterable[dict]:
        yield from copy.deepcopy(VENDOR_ROWS)


class ThingsTap(Tap):
    name = "tap-things"
    config_jsonschema: t.ClassVar[dict] = {"type": "object", "properties": {}}

    def discover_streams(self) -> list[Stream]:
        return [ThingsStream(self)]


def run_tap(capsys, config: dict | None = None) -> list[dict]:
    tap = ThingsTap(config=config or {})
    capsys.readouterr()
    tap.sync_all()
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def records(messages: list[dict]) -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD"]


def test_undeclared_and_mistyped_fields_land_in_the_catch_all_with_their_values(capsys, caplog):
    with caplog.at_level(logging.WARNING):
        messages = run_tap(capsys)
    first, second = records(messages)
    assert first.get(EXTRA) is None
    assert second[EXTRA] == {"newField": {"deep": True}, "another": None, "count": "many"}
    assert second.get("count") is None
    assert second["code"] == "7"  # a number where a string is declared: its JSON text
    assert second["owner"] == VENDOR_ROWS[1]["owner"]  # nested fields kept as sent
    assert schema_errors(messages) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert not any(DROPPED_WARNING in w for w in warnings)
    kept = [w for w in warnings if EXTRA in w]
    assert len(kept) == 1  # one warning for the stream, naming fields, never values
    assert "another" in kept[0]
    assert "newField" in kept[0]
    assert "count (sent as string)" in kept[0]
    assert "many" not in kept[0]


@pytest.mark.shows_sdk_dropping_fields
def test_without_the_mixin_the_sdk_drops_the_field_which_is_what_this_prevents(capsys, caplog):
    class PlainStream(Stream):
        name = "plain"
        schema = SCHEMA
        primary_keys = ("id",)

        def get_records(self, context: t.Any) -> t.Iterable[dict]:
            yield from copy.deepcopy(VENDOR_ROWS)

    class PlainTap(ThingsTap):
        def discover_streams(self) -> list[Stream]:
            return [PlainStream(self)]

    tap = PlainTap(config={})
    capsys.readouterr()
    with caplog.at_level(logging.WARNING):
        tap.sync_all()
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    second = records(out)[1]
    assert "newField" not in json.dumps(second)
    assert any(DROPPED_WARNING in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("depth", [1, 3])
def test_the_catch_all_survives_flattening_as_one_json_column(capsys, depth):
    messages = run_tap(capsys, {"flattening_enabled": True, "flattening_max_depth": depth})
    (schema,) = [m["schema"] for m in messages if m["type"] == "SCHEMA"]
    second = records(messages)[1]
    assert EXTRA in schema["properties"]
    assert set(second) <= set(schema["properties"])
    kept = json.loads(second[EXTRA])
    assert kept["newField"] == {"deep": True}
    assert kept["owner.since"] == 2019  # an undocumented nested field, not lost
    assert second["owner__name"] == "n"
    # A column has one type: text-or-number is text, and a misfit moves to the catch-all.
    assert schema["properties"]["owner__dose"]["type"] == ["string", "null"]
    assert (records(messages)[0]["owner__dose"], second["owner__dose"]) == ("1 tablet", "5")
    assert (records(messages)[0]["owner__level"], second["owner__level"]) == (3, 4)
    assert schema_errors(messages) == []


def test_with_flattening_a_nested_value_of_another_type_moves_to_the_catch_all():
    guard = RecordGuard(SCHEMA, flattening_depth=1)
    row = guard.apply({"id": "a", "updatedAt": "x", "owner": {"name": 5, "level": "high"}})
    assert row["owner"] == {"name": "5"}
    assert row[EXTRA] == {"owner.level": "high"}
    assert guard.mistyped == {"owner.level": "string"}


def test_without_flattening_nested_values_stay_as_sent(capsys):
    messages = run_tap(capsys)
    (schema,) = [m["schema"] for m in messages if m["type"] == "SCHEMA"]
    assert schema["properties"]["owner"]["properties"]["dose"]["type"] == [
        "string",
        "number",
        "null",
    ]
    assert records(messages)[1]["owner"] == VENDOR_ROWS[1]["owner"]


def test_the_catch_all_survives_a_stream_map(capsys):
    maps = {"things": {"code_upper": "code.upper()", "blob": None}}
    messages = run_tap(capsys, {"stream_maps": maps})
    second = records(messages)[1]
    assert second["code_upper"] == "7"
    assert second[EXTRA]["newField"] == {"deep": True}
    assert schema_errors(messages) == []


def test_field_names_that_do_not_look_like_names_are_not_logged():
    guard = RecordGuard(SCHEMA)
    guard.apply({"id": "a", "updatedAt": "2025-01-01T00:00:00Z", "Jane Doe 1950-01-01": 1})
    logger = logging.getLogger("tapkit-test")
    records_seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records_seen.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        guard.report("things", logger)
        guard.report("things", logger)  # nothing new: no second line
    finally:
        logger.removeHandler(handler)
    (line,) = [r.getMessage() for r in records_seen]
    assert "Jane" not in line
    assert "1 more not shown" in line


def test_schema_errors_catches_a_record_that_a_validating_loader_would_reject():
    messages = [
        {"type": "SCHEMA", "stream": "s", "schema": SCHEMA, "key_properties": ["id"]},
        {"type": "RECORD", "stream": "s", "record": {"id": "a", "updatedAt": "yesterday"}},
        {"type": "RECORD", "stream": "s", "record": {"id": "b", "updatedAt": "2025-01-01"}},
        {"type": "RECORD", "stream": "s", "record": {"updatedAt": "2025-01-01T00:00:00Z"}},
        {"type": "RECORD", "stream": "s", "record": {"id": 1, "updatedAt": None}},
    ]
    errors = schema_errors(messages)
    assert len(errors) == 5
    assert all(error.startswith("s: /") for error in errors)


def test_schema_errors_catches_a_field_the_schema_does_not_declare():
    # The schema allows other properties, so only the key check can see this one.
    messages = [
        {"type": "SCHEMA", "stream": "s", "schema": SCHEMA, "key_properties": ["id"]},
        {
            "type": "RECORD",
            "stream": "s",
            "record": {"id": "a", "updatedAt": "2025-01-01T00:00:00Z", "loose": 1},
        },
        {
            "type": "RECORD",
            "stream": "s",
            "record": {"id": "b", "updatedAt": "2025-01-01T00:00:00Z", EXTRA: {"kept": 1}},
        },
    ]
    assert schema_errors(messages) == ["s: fields the schema does not declare: ['loose']"]


def test_stream_schema_refuses_a_vendor_field_named_like_the_catch_all():
    with pytest.raises(ValueError, match=EXTRA):
        stream_schema({EXTRA: string()})


def test_a_row_shaped_like_one_that_fitted_is_passed_through_and_others_are_still_checked():
    guard = RecordGuard(SCHEMA)
    fitting = {"id": "a", "updatedAt": "x", "count": 1, "code": "c"}
    assert guard.apply(dict(fitting)) == {**fitting, EXTRA: None}
    again = {"id": "b", "updatedAt": "y", "count": 2, "code": "d"}  # the same shape
    assert guard.apply(dict(again)) == {**again, EXTRA: None}
    # The same fields, another type: a number where a string is declared becomes text,
    # a string where an integer is declared moves to the catch-all.
    changed = guard.apply({"id": "c", "updatedAt": "z", "count": "many", "code": 7})
    assert changed == {"id": "c", "updatedAt": "z", "code": "7", EXTRA: {"count": "many"}}
    # A field the schema lacks, in a row otherwise like the fitting ones.
    extra = guard.apply({"id": "d", "updatedAt": "z", "count": 3, "code": "e", "new": 1})
    assert extra == {"id": "d", "updatedAt": "z", "count": 3, "code": "e", EXTRA: {"new": 1}}
    assert guard.undeclared == {"new"}
