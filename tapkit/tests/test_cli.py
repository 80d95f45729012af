"""Bad input ends in one line naming the file, setting or stream; secrets never shown."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from singer_sdk import Stream
from singer_sdk import typing as th
from tapkit.cli import CheckedTap, InputError, read_json_object, setting, url_errors

SECRET = "s3cr3t-value-31415"


class Things(Stream):
    name = "things"
    primary_keys = ("id",)
    replication_key = "updatedAt"
    schema: t.ClassVar[dict] = th.PropertiesList(
        th.Property("id", th.StringType), th.Property("updatedAt", th.DateTimeType)
    ).to_dict()

    def get_records(self, context: t.Any) -> t.Iterable[dict]:
        yield {"id": "a", "updatedAt": "2025-01-01T00:00:00+00:00"}


class TapThings(CheckedTap):
    name = "tap-things"
    config_jsonschema: t.ClassVar[dict] = th.PropertiesList(
        setting("api_url", th.StringType, "API URL", "The host.", required=True),
        setting("token", th.StringType, "Token", "A secret.", required=True, secret=True),
        setting("page_size", th.IntegerType, "Page size", "Rows a page.", default=10),
    ).to_dict()

    def settings_errors(self) -> list[str]:
        return url_errors(self.config, required=("api_url",))

    def bookmark_problem(self, stream: Stream, value: t.Any) -> str | None:
        return None if isinstance(value, str) else "the bookmark is not a string"

    def discover_streams(self) -> list[Stream]:
        return [Things(self)]


GOOD = {"api_url": "https://api.example.test", "token": SECRET}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"api_url": "https://api.example.test"}, "token"),
        ({**GOOD, "page_size": "ten"}, "page_size"),
        ({**GOOD, "token": 31415926}, "invalid settings"),
        ({**GOOD, "api_url": "http://remote.example.test"}, "api_url must use https"),
        ({**GOOD, "api_url": "api.example.test"}, "api_url must be an absolute URL"),
    ],
)
def test_bad_settings_are_one_line_naming_the_setting_without_secret_values(config, expected):
    with pytest.raises(InputError) as caught:
        TapThings(config=config)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert SECRET not in message
    assert "31415926" not in message


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"bookmarks": []}, "'bookmarks' is not an object"),
        ({"bookmarks": {"orders": {}}}, "another tap"),
        ({"bookmarks": {"things": []}}, "state for stream 'things'"),
        (
            {"bookmarks": {"things": {"replication_key": "id", "replication_key_value": "x"}}},
            "bookmarked by 'id', not by 'updatedAt'",
        ),
        (
            {"bookmarks": {"things": {"replication_key_value": 5}}},
            "the bookmark is not a string",
        ),
    ],
)
def test_a_state_of_another_shape_or_tap_is_refused_naming_the_stream(state, expected):
    with pytest.raises(InputError, match=expected):
        TapThings(config=GOOD, state=state)


def test_unknown_streams_in_a_state_of_this_tap_are_ignored_with_a_warning(caplog):
    state = {"bookmarks": {"things": {}, "retired": {}}}
    TapThings(config=GOOD, state=state)
    assert "Ignoring the state of stream 'retired'" in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'a': 1", "is not JSON (line 1, column 2)"),
        ("[1, 2]", "holds a JSON list, not an object"),
        (None, "cannot be read"),
    ],
)
def test_a_file_that_is_not_a_json_object_is_named(tmp_path, text, expected):
    path = tmp_path / "state.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=re.escape(f"state file '{path}' {expected}")):
        read_json_object(str(path), "state file")


def test_the_command_line_ends_a_known_failure_in_one_line_and_exit_1(tmp_path):
    program = tmp_path / "tap_things_cli.py"
    program.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from tapkit.cli import main
            from test_cli import TapThings
            main(TapThings)
            """
        )
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**GOOD, "api_url": "http://remote.example.test"}))
    done = subprocess.run(
        [sys.executable, str(program), "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert "api_url must use https" in errors[0]
    assert SECRET not in done.stderr


def test_a_schema_already_sent_for_its_stream_is_not_sent_again(capsysbinary):
    from singer_sdk.singerlib import SchemaMessage  # noqa: PLC0415
    from tapkit.cli import BufferedMsgSpecWriter  # noqa: PLC0415

    writer = BufferedMsgSpecWriter()
    first = {"type": "object", "properties": {"id": {"type": "string"}}}
    changed = {"type": "object", "properties": {"id": {"type": "integer"}}}
    for schema in (first, first, changed, changed, first):
        writer.write_message(SchemaMessage(stream="s", schema=schema, key_properties=["id"]))
    writer.write_message(SchemaMessage(stream="t", schema=first, key_properties=["id"]))
    sent = [json.loads(line) for line in capsysbinary.readouterr().out.splitlines()]
    assert [(m["stream"], m["schema"]) for m in sent] == [
        ("s", first),
        ("s", changed),
        ("s", first),
        ("t", first),
    ]


@pytest.fixture
def tap_handling_sigterm():
    """A tap with the SDK's SIGTERM handler installed in this process, for one test."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    tap = TapThings(config=GOOD)
    t.cast("dict", tap.state)["bookmarks"] = {"things": {"replication_key_value": "b"}}
    yield tap
    signal.signal(signal.SIGTERM, before[0])
    signal.signal(signal.SIGINT, before[1])


def _lines(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_a_sigterm_inside_a_record_waits_for_its_line_then_writes_the_state(
    tap_handling_sigterm, monkeypatch, capsysbinary
):
    """The signal lands after a record's bytes are buffered and before its newline
    (CI once saw a STATE run into a RECORD's line): the record is finished first."""
    import tapkit.cli  # noqa: PLC0415

    encoder = tapkit.cli.sdk_encoder

    class SignalAfterThird:
        calls = 0

        def encode_into(self, message: t.Any, buffer: bytearray, offset: int) -> None:
            encoder.encode_into(message, buffer, offset)
            self.calls += 1
            if self.calls == 3:
                signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(tapkit.cli, "sdk_encoder", SignalAfterThird())
    writer = tap_handling_sigterm.message_writer

    def write_five() -> None:
        for n in range(5):
            writer.write_record("things", {"id": str(n)}, None, "2025-01-01T00:00:00+00:00")

    with pytest.raises(SystemExit) as stop:
        write_five()
    assert stop.value.code == 0
    sent = _lines(capsysbinary.readouterr().out)
    assert [m["type"] for m in sent] == ["RECORD", "RECORD", "RECORD", "STATE"]
    assert [m["record"]["id"] for m in sent[:3]] == ["0", "1", "2"]
    assert sent[-1]["value"] == tap_handling_sigterm.state


def test_a_sigterm_while_the_buffer_goes_out_in_parts_loses_no_record(
    tap_handling_sigterm, monkeypatch
):
    """A raw stdout (PYTHONUNBUFFERED) may write only part of the buffer when a signal
    interrupts it: the rest still goes out, all of it before the final STATE."""
    out = bytearray()

    class PartialWrites:
        def write(self, data: bytes) -> int:
            if not out:
                signal.raise_signal(signal.SIGTERM)
            out.extend(data[:1000])
            return min(len(data), 1000)

    class Stdout:
        buffer = PartialWrites()

        def flush(self) -> None:
            pass

    monkeypatch.setattr(sys, "stdout", Stdout())
    writer = tap_handling_sigterm.message_writer
    records = 300  # about 20 kB: many partial writes
    for n in range(records):
        writer.write_record("things", {"id": str(n)}, None, "2025-01-01T00:00:00+00:00")
    with pytest.raises(SystemExit):
        writer.flush()
    sent = _lines(bytes(out))
    assert [m["record"]["id"] for m in sent[:-1]] == [str(n) for n in range(records)]
    assert sent[-1] == {"type": "STATE", "value": tap_handling_sigterm.state}
