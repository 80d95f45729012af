"""Run tap-healthex in-process and read the Singer messages it wrote."""

from __future__ import annotations

import typing as t

import pytest
from healthex_helpers import API
from tap_healthex.tap import TapHealthEx
from tapkit.testing import TapRun, sync


@pytest.fixture
def base_config() -> dict[str, t.Any]:
    return {
        "api_url": API,
        "api_key": "key",
        "api_secret": "unit-test-api-secret",
        "project_ids": ["p1"],
        "max_retry_seconds": 3,
    }


@pytest.fixture
def run_tap(capsys: pytest.CaptureFixture[str]) -> t.Callable[..., TapRun]:
    def run(
        config: dict, *, state: dict | None = None, streams: t.Iterable[str] | None = None
    ) -> TapRun:
        return sync(TapHealthEx(config=config, state=state or {}), capsys, streams=streams)

    return run
