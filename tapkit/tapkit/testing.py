"""Checks the taps' test suites run on what a tap wrote: records against their schemas.

Not used at run time. ``schema_errors`` validates every RECORD against the latest
SCHEMA of its stream, as a validating loader would, and also checks date and
date-time formats, which loaders skip by default but a warehouse type relies on.
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass

from jsonschema import FormatChecker
from jsonschema.validators import Draft202012Validator, validator_for

from tapkit.summary import SUMMARY_PREFIX

if t.TYPE_CHECKING:
    import pytest
    from singer_sdk import Tap

# singer-sdk's warning when it drops a property the schema lacks: no run may log it.
DROPPED_WARNING = "not found in catalog schema"
_SUMMARY_FIELD = re.compile(r"(\w+)=(\{[^{}]*\}|\S+)")


def schema_errors(messages: t.Iterable[t.Mapping[str, t.Any]], limit: int = 20) -> list[str]:
    """Why records do not fit their stream's schema (empty when all do).

    A record fits when it validates and has no top-level field the schema does not
    declare (nested objects are kept as the vendor sent them).
    """
    checker = FormatChecker()
    validators: dict[str, t.Any] = {}
    declared: dict[str, frozenset[str]] = {}
    errors: list[str] = []
    for message in messages:
        kind, stream = message.get("type"), str(message.get("stream"))
        if kind == "SCHEMA":
            schema = message["schema"]
            cls = validator_for(schema, default=Draft202012Validator)
            cls.check_schema(schema)
            validators[stream] = cls(schema, format_checker=checker)
            declared[stream] = frozenset(schema.get("properties", {}))
        elif kind == "RECORD":
            validator = validators.get(stream)
            if validator is None:
                errors.append(f"{stream}: a RECORD before its SCHEMA")
                continue
            record = message["record"]
            errors.extend(
                f"{stream}: /{'/'.join(map(str, error.absolute_path))}: {error.message}"
                for error in validator.iter_errors(record)
            )
            # A loader makes columns from the schema: a field it does not declare
            # would be dropped there (it belongs in the catch-all column).
            if loose := sorted(set(record) - declared[stream]):
                errors.append(f"{stream}: fields the schema does not declare: {loose}")
        if len(errors) >= limit:
            break
    return errors[:limit]


def run_summaries(logs: str) -> list[dict[str, t.Any]]:
    """Every run summary line in ``logs``, its fields parsed (JSON values decoded)."""
    found = []
    for line in logs.splitlines():
        _, prefix, rest = line.partition(SUMMARY_PREFIX)
        if prefix:
            found.append({key: _value(text) for key, text in _SUMMARY_FIELD.findall(rest)})
    return found


def _value(text: str) -> t.Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def meltano_env(plugin: str, config: dict[str, t.Any]) -> dict[str, str]:
    """A plugin's settings as the environment variables Meltano reads (lists as JSON)."""
    prefix = plugin.upper().replace("-", "_")
    return {
        f"{prefix}_{key.upper()}": json.dumps(value)
        if isinstance(value, list | bool)
        else str(value)
        for key, value in config.items()
    }


def record_counts(messages: t.Iterable[t.Mapping[str, t.Any]]) -> dict[str, int]:
    """RECORD messages per stream."""
    counts: dict[str, int] = {}
    for message in messages:
        if message.get("type") == "RECORD":
            counts[message["stream"]] = counts.get(message["stream"], 0) + 1
    return counts


@dataclass(frozen=True)
class TapRun:
    """What one in-process sync wrote: its messages, its last state, its error if any."""

    messages: list[dict]
    state: dict
    error: Exception | None = None

    def records(self, stream: str) -> list[dict]:
        """The records written for ``stream``, in order."""
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def bookmark(self, stream: str) -> t.Any:
        """The stream's replication key value in the last state."""
        return self.state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")


def sync(
    tap: Tap,
    capsys: pytest.CaptureFixture[str],
    *,
    streams: t.Iterable[str] | None = None,
    expect_error: bool = False,
) -> TapRun:
    """Sync ``tap`` (only ``streams``, if given) and read what it wrote to stdout.

    Every record must validate against its stream's SCHEMA, as a validating loader
    checks it; an error is returned instead of raised only with ``expect_error``.
    """
    if streams is not None:
        wanted = set(streams)
        for name, stream in tap.streams.items():
            stream.selected = name in wanted
    capsys.readouterr()
    error = None
    try:
        tap.sync_all()
    except Exception as exc:
        if not expect_error:
            raise
        error = exc
    out = capsys.readouterr().out
    messages = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert schema_errors(messages) == []
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return TapRun(messages, states[-1] if states else {}, error)
