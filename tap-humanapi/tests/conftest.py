"""Run tap-humanapi in-process and read the Singer messages it wrote."""

from __future__ import annotations

import json
import typing as t

import pytest
from humanapi_helpers import ADMIN, API, AUTH
from tap_humanapi.tap import TapHumanAPI
from tapkit.testing import schema_errors


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


class Run(t.NamedTuple):
    messages: list[dict]
    state: dict

    def records(self, stream: str) -> list[dict]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def outcomes(self) -> dict[str, str]:
        return {r["client_user_id"]: r["outcome"] for r in self.records("user_sync_status")}


@pytest.fixture
def run_tap(capsys: pytest.CaptureFixture[str]) -> t.Callable[..., Run]:
    def run(
        config: dict, *, state: dict | None = None, streams: t.Iterable[str] | None = None
    ) -> Run:
        tap = TapHumanAPI(config=config, state=state or {})
        if streams is not None:
            wanted = set(streams)
            for name, stream in tap.streams.items():
                stream.selected = name in wanted
        capsys.readouterr()
        tap.sync_all()
        out = capsys.readouterr().out
        messages = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        # Every record of every run matches its SCHEMA, as a validating loader checks.
        assert schema_errors(messages) == []
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        return Run(messages, states[-1] if states else {})

    return run
