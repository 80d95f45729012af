"""Turn a verified webhook body into ids-only items; anything else is malformed.

Only the fields in `store.ID_COLUMNS` are read from a payload; names, birth dates and
clinical sections are never copied, so they cannot reach the store or a log line.
"""

from __future__ import annotations

import json

from healthdata_inbox.store import Item

MAX_ID_LENGTH = 256
MAX_ITEMS = 1000


class MalformedError(Exception):
    """The body is not the vendor's documented shape; `reason` is a metric label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def humanapi_items(body: bytes) -> tuple[Item, ...]:
    """Items from a Human API notification: a JSON array of objects, one per change.

    `humanId` is required (nothing can be fetched without it); `clientUserId`,
    `endpoint`, `action` and `updatedAt` are kept when present, because order-status
    notifications carry `topic`/`property` instead of an endpoint. The event is the
    object's `topic` when it has one, else "data".
    """
    payload = _json(body)
    if not isinstance(payload, list) or not payload or len(payload) > MAX_ITEMS:
        raise MalformedError("wrong_shape")
    items = []
    for entry in payload:
        if not isinstance(entry, dict):
            raise MalformedError("wrong_shape")
        ids = {"humanId": _required(entry.get("humanId"))}
        for field in ("clientUserId", "endpoint", "action", "updatedAt"):
            value = _optional(entry.get(field))
            if value is not None:
                ids[field] = value
        topic = _optional(entry.get("topic"))
        items.append(Item(event=topic or "data", ids=ids))
    return tuple(items)


def painchek_items(body: bytes) -> tuple[Item, ...]:
    """The one item of a PainChek webhook: `{"event": ..., "data": <assessment>}`.

    `data.uuid` and `data.patient` are required. `patient` is the patient's uuid on
    the assessments page, but admissions embed the whole patient object, so an object
    is accepted and only its `uuid` kept.
    """
    payload = _json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise MalformedError("wrong_shape")
    event = _required(payload.get("event"))
    data = payload["data"]
    patient = data.get("patient")
    if isinstance(patient, dict):
        patient = patient.get("uuid")
    ids = {"uuid": _required(data.get("uuid")), "patient": _required(patient)}
    stamp = _optional(data.get("update_stamp"))
    if stamp is not None:
        ids["update_stamp"] = stamp
    return (Item(event=event, ids=ids),)


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedError("not_json") from None


def _required(value: object) -> str:
    text = _optional(value)
    if text is None:
        raise MalformedError("missing_id")
    return text


def _optional(value: object) -> str | None:
    # Ids are strings (an integer update_stamp becomes its decimal text); anything
    # else, or anything long enough to smuggle a payload in, is refused.
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedError("wrong_shape")
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise MalformedError("wrong_shape")
    return text
