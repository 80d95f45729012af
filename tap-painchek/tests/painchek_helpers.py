"""Builders of PainChek pages and rows for the unit tests."""

from __future__ import annotations

import typing as t

API = "https://tenant.example.test"


def page(results: list[dict], *, count: int | None = None, next_url: str | None = None) -> dict:
    return {
        "count": len(results) if count is None else count,
        "next": next_url,
        "previous": None,
        "results": results,
    }


def row(stamp: int, uuid: str | None = None, **extra: t.Any) -> dict:
    return {
        "uuid": uuid or f"00000000-0000-0000-0000-{stamp:012d}",
        "update_stamp": stamp,
        "created_at": "2025-01-01T00:00:00Z",
        "modified_at": "2025-01-01T00:00:00Z",
        "deleted_at": None,
        **extra,
    }
