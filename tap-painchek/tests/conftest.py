"""Helpers to run the tap in-process and read the Singer messages it wrote."""

from __future__ import annotations

import typing as t

import pytest
from painchek_helpers import API
from tap_painchek.tap import TapPainChek
from tapkit.testing import TapRun, sync


@pytest.fixture
def base_config() -> dict[str, t.Any]:
    return {
        "api_url": API,
        "client_id": "cid",
        "client_secret": "unit-test-client-secret",
        "max_retry_seconds": 30,
    }


@pytest.fixture
def run_tap(capsys: pytest.CaptureFixture[str]) -> t.Callable[..., TapRun]:
    """Run a full sync of the selected streams and return what it wrote."""

    def run(
        config: dict,
        *,
        streams: t.Iterable[str] | None = None,
        state: dict | None = None,
        sleeps: list[float] | None = None,
        expect_error: bool = False,
    ) -> TapRun:
        tap = TapPainChek(config=config, state=state or {})
        tap.retry_policy.sleep = sleeps.append if sleeps is not None else lambda _s: None
        return sync(tap, capsys, streams=streams, expect_error=expect_error)

    return run
