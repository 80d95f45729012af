"""Checks the taps' test suites run on what a tap wrote: records against their schemas.

Not used at run time. ``schema_errors`` validates every RECORD against the latest
SCHEMA of its stream, as a validating loader would, and also checks date and
date-time formats, which loaders skip by default but a warehouse type relies on.
"""

from __future__ import annotations

import typing as t

from jsonschema import FormatChecker
from jsonschema.validators import Draft202012Validator, validator_for

# singer-sdk's warning when it drops a property the schema lacks: no run may log it.
DROPPED_WARNING = "not found in catalog schema"


def schema_errors(messages: t.Iterable[t.Mapping[str, t.Any]], limit: int = 20) -> list[str]:
    """Why records do not validate against their stream's schema (empty when all do)."""
    checker = FormatChecker()
    validators: dict[str, t.Any] = {}
    errors: list[str] = []
    for message in messages:
        kind, stream = message.get("type"), str(message.get("stream"))
        if kind == "SCHEMA":
            schema = message["schema"]
            cls = validator_for(schema, default=Draft202012Validator)
            cls.check_schema(schema)
            validators[stream] = cls(schema, format_checker=checker)
        elif kind == "RECORD":
            validator = validators.get(stream)
            if validator is None:
                errors.append(f"{stream}: a RECORD before its SCHEMA")
                continue
            errors.extend(
                f"{stream}: /{'/'.join(map(str, error.absolute_path))}: {error.message}"
                for error in validator.iter_errors(message["record"])
            )
        if len(errors) >= limit:
            break
    return errors[:limit]
