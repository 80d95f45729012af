"""Helpers to run the tap in-process and read the Singer messages it wrote."""

from __future__ import annotations

import json
import typing as t

import pytest
from painchek_helpers import API
from tap_painchek.tap import TapPainChek
from tapkit.testing import schema_errors


@pytest.fixture
def base_config() -> dict[str, t.Any]:
    return {
        "api_url": API,
        "client_id": "cid",
        "client_secret": "unit-test-client-secret",
        "max_retry_seconds": 30,
    }


class Run(t.NamedTuple):
    messages: list[dict]
    state: dict
    tap: TapPainChek
    error: Exception | None = None

    def records(self, stream: str) -> list[dict]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def bookmark(self, stream: str) -> t.Any:
        return self.state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")


@pytest.fixture
def run_tap(capsys: pytest.CaptureFixture[str]) -> t.Callable[..., Run]:
    """Run a full sync of the selected streams and return its messages."""

    def run(
        config: dict,
        *,
        streams: t.Iterable[str] | None = None,
        state: dict | None = None,
        sleeps: list[float] | None = None,
        expect_error: bool = False,
    ) -> Run:
        tap = TapPainChek(config=config, state=state or {})
        tap.retry_policy.sleep = sleeps.append if sleeps is not None else lambda _s: None
        if streams is not None:
            wanted = set(streams)
            for name, stream in tap.streams.items():
                stream.selected = name in wanted
        capsys.readouterr()
        error = None
        try:
            tap.sync_all()
        except Exception as exc:
            if not expect_error:
                raise
            error = exc
        out = capsys.readouterr().out
        messages = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        # Every record of every run matches its SCHEMA, as a validating loader checks.
        assert schema_errors(messages) == []
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        return Run(messages, states[-1] if states else {}, tap, error)

    return run
