"""Run tap-humanapi in-process and read the Singer messages it wrote."""

from __future__ import annotations

import typing as t

import pytest
from humanapi_helpers import ADMIN, API, AUTH
from tap_humanapi.tap import TapHumanAPI
from tapkit.testing import TapRun, sync


@pytest.fixture
def base_config() -> dict[str, t.Any]:
    return {
        "client_id": "cid",
        "client_secret": "unit-test-client-secret",
        "auth_url": AUTH,
        "api_url": API,
        "admin_url": ADMIN,
        "max_retry_seconds": 5,
    }


class Run(TapRun):
    def outcomes(self) -> dict[str, str]:
        return {r["client_user_id"]: r["outcome"] for r in self.records("user_sync_status")}


@pytest.fixture
def run_tap(capsys: pytest.CaptureFixture[str]) -> t.Callable[..., Run]:
    def run(
        config: dict, *, state: dict | None = None, streams: t.Iterable[str] | None = None
    ) -> Run:
        tap = TapHumanAPI(config=config, state=state or {})
        done = sync(tap, capsys, streams=streams)
        return Run(done.messages, done.state)

    return run
