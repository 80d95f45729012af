"""Times as vendors send them: ISO-8601, with or without an offset (then UTC)."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime


def parse_time(value: t.Any) -> datetime | None:
    """An ISO-8601 time (UTC when it has no offset), or None if ``value`` is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
