"""Run tap-healthex in-process and read the Singer messages it wrote."""

from __future__ import annotations

import json
import typing as t

import pytest
from healthex_helpers import API
from tap_healthex.tap import TapHealthEx
from tapkit.testing import schema_errors


@pytest.fixture
def base_config() -> dict[str, t.Any]:
    return {
        "api_url": API,
        "api_key": "key",
        "api_secret": "unit-test-api-secret",
        "project_ids": ["p1"],
        "max_retry_seconds": 3,
    }


class Run(t.NamedTuple):
    messages: list[dict]
    state: dict

    def records(self, stream: str) -> list[dict]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]


@pytest.fixture
def run_tap(capsys: pytest.CaptureFixture[str]) -> t.Callable[..., Run]:
    def run(
        config: dict, *, state: dict | None = None, streams: t.Iterable[str] | None = None
    ) -> Run:
        tap = TapHealthEx(config=config, state=state or {})
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
