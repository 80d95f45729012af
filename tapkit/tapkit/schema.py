"""Stream schemas written as the vendors document their records, one line a field.

Every field is nullable (vendors omit what they lack) except the keys a stream names
as required. Nested objects declare the inner fields the vendor documents and accept
others (JSON Schema's default), so a nested field nobody documented is kept as sent.
``open_object`` declares no inner fields at all: a target keeps it whole, as JSON,
even when schema flattening is on.
"""

from __future__ import annotations

import typing as t

from tapkit.fidelity import EXTRA, EXTRA_SCHEMA

Schema = dict[str, t.Any]


def _typed(kind: str, description: str, **extra: t.Any) -> Schema:
    node: Schema = {"type": [kind, "null"], **extra}
    if description:
        node["description"] = description
    return node


def string(description: str = "") -> Schema:
    """A string."""
    return _typed("string", description)


def date_time(description: str = "") -> Schema:
    """An ISO-8601 date-time string."""
    return _typed("string", description, format="date-time")


def date(description: str = "") -> Schema:
    """An ISO-8601 date string."""
    return _typed("string", description, format="date")


def integer(description: str = "") -> Schema:
    """An integer."""
    return _typed("integer", description)


def number(description: str = "") -> Schema:
    """A number, integer or not."""
    return _typed("number", description)


def boolean(description: str = "") -> Schema:
    """True or false."""
    return _typed("boolean", description)


def obj(description: str = "", **properties: Schema) -> Schema:
    """An object with the documented inner fields (others are accepted and kept)."""
    return _typed("object", description, properties=properties)


def open_object(description: str = "") -> Schema:
    """An object whose inner shape is not documented: kept whole, as sent."""
    return _typed("object", description)


def array(description: str = "", items: Schema | None = None) -> Schema:
    """A list; ``items`` describes one element where the vendor documents it."""
    return _typed("array", description, items=items if items is not None else {})


def stream_schema(properties: t.Mapping[str, Schema], *, keys: t.Iterable[str] = ()) -> Schema:
    """A stream's schema: its fields, ``keys`` required and never null, and the catch-all.

    ``keys`` are the primary and replication keys: a record without them is refused
    before it is written, so the schema may say they are always there.
    """
    declared = {name: dict(node) for name, node in properties.items()}
    required = list(keys)
    for name in required:
        kinds = declared[name]["type"]
        declared[name]["type"] = [k for k in kinds if k != "null"]
    if EXTRA in declared:
        msg = f"{EXTRA} is the catch-all column and cannot be a vendor field"
        raise ValueError(msg)
    declared[EXTRA] = dict(EXTRA_SCHEMA)
    return {"type": "object", "properties": declared, "required": required}
