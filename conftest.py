"""Checks that hold for every test in the repository."""

from __future__ import annotations

import logging
import typing as t

import pytest
from tapkit.testing import DROPPED_WARNING


class _Dropped(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if DROPPED_WARNING in message:
            self.lines.append(message)


@pytest.fixture(autouse=True)
def _no_field_dropped(request: pytest.FixtureRequest) -> t.Iterator[None]:
    """singer-sdk's "not found in catalog schema" means a vendor field was dropped.

    No test may log it, in process, except one that shows what happens without the
    catch-all; the cross-tap tests check their subprocesses' logs.
    """
    if request.node.get_closest_marker("shows_sdk_dropping_fields"):
        yield
        return
    handler = _Dropped()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    assert handler.lines == [], handler.lines[0]
