"""Settings come from INBOX_* variables, CLI options win, secrets never print."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2
import pytest
from healthdata_inbox.app import create_app
from healthdata_inbox.cli import main
from healthdata_inbox.settings import Settings, SettingsError
from healthdata_inbox.store import Store
from inbox_helpers import SECRETS, inbox_settings, painchek_body, painchek_headers


def test_environment_is_read_and_options_win():
    env = {
        "INBOX_PORT": "9100",
        "INBOX_HOST": "0.0.0.0",
        "INBOX_HUMANAPI_SIGNATURES": "off",
        "INBOX_REPLAY_WINDOW_SECONDS": "60",
        "INBOX_HUMANAPI_SIGNATURE_HEADER": "X-Sig",
        "INBOX_READ_TOKEN": "t",
    }
    settings = Settings.from_env(env, port=9200, host=None)
    assert (settings.port, settings.host, settings.humanapi_signatures) == (9200, "0.0.0.0", False)
    assert (settings.replay_window_seconds, settings.humanapi_signature_header) == (60, "X-Sig")
    assert settings.body_limit_bytes == 1024 * 1024


@pytest.mark.parametrize(
    "env",
    [
        {"INBOX_PORT": "http"},
        {"INBOX_HUMANAPI_SIGNATURES": "maybe"},
        {"INBOX_HUMANAPI_SIGNATURE_ENCODING": "base32"},
        {"INBOX_MAX_CONCURRENCY": "0"},
        {"INBOX_RETENTION_DAYS": "-1"},
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str]):
    with pytest.raises(SettingsError, match=next(iter(env)).split("_", 1)[1][:8]):
        Settings.from_env(env)


def test_repr_hides_secrets_and_database_password():
    settings = inbox_settings(database_url="postgresql://inbox:hunter2@db:5432/inbox")
    shown = repr(settings)
    for secret in (*SECRETS, "hunter2"):
        assert secret not in shown
    assert "postgresql://inbox:***@db:5432/inbox" in shown


def test_cli_refuses_bad_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("INBOX_PORT", "eighty")
    assert main(["serve"]) == 2
    assert "INBOX_PORT" in capsys.readouterr().err


def test_trickled_body_is_cut_off(store: Store):
    app = create_app(inbox_settings(body_timeout_seconds=1), store)
    body = painchek_body("a-1")

    async def trickle() -> AsyncIterator[bytes]:
        yield body[:10]
        await asyncio.sleep(3)
        yield body[10:]

    async def scenario() -> httpx2.Response:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://inbox") as http:
            return await http.post(
                "/v1/painchek", content=trickle(), headers=painchek_headers(body, "d")
            )

    assert asyncio.run(scenario()).status_code == 408
    assert store.count() == 0
