"""Fixtures for the cross-tap tests: isolated Meltano runs, warehouses, PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness import MELTANO, PG_DSN, PG_HELP, ROOT, Meltano


@pytest.fixture(scope="session", autouse=True)
def _meltano_installed() -> None:
    if not MELTANO.exists():
        pytest.fail("Meltano is not installed: run `make test` (it runs scripts/bootstrap.sh)")


@pytest.fixture
def meltano(tmp_path) -> Meltano:
    return Meltano(workdir=tmp_path)


@pytest.fixture
def pg_schema() -> t.Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards. Fails (never skips) without PostgreSQL."""
    import psycopg  # noqa: PLC0415

    try:
        con = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        pytest.fail(PG_HELP)
    schema = f"e2e_{uuid.uuid4().hex[:10]}"
    try:
        yield schema
    finally:
        con.execute(f'drop schema if exists "{schema}" cascade')
        con.close()


@pytest.fixture
def fresh_database() -> t.Iterator[str]:
    """The name of a new PostgreSQL database, dropped afterwards. Fails without PostgreSQL."""
    import psycopg  # noqa: PLC0415

    name = f"e2e_{uuid.uuid4().hex[:10]}"
    try:
        con = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        pytest.fail(PG_HELP)
    con.execute(f'create database "{name}"')
    try:
        yield name
    finally:
        con.execute(f'drop database if exists "{name}" with (force)')
        con.close()


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    """The resilience summary: one line per scenario that ran."""
    from harness import SCENARIOS, SUMMARY_HEADER  # noqa: PLC0415

    if SCENARIOS:
        terminalreporter.section("nothing lost, nothing leaked")
        terminalreporter.write_line(SUMMARY_HEADER)
        for scenario in SCENARIOS:
            terminalreporter.write_line(scenario.line())


@dataclass
class InboxServer:
    """A running `healthdata-inbox serve`: its URL, read token, secrets, log and store."""

    url: str
    read_token: str
    secrets: dict[str, str]
    log: Path
    database: Path

    def events(self, vendor: str) -> list[dict]:
        """Every event of ``vendor`` in the log, through the read API."""
        import requests  # noqa: PLC0415

        events, after = [], 0
        while True:
            page = requests.get(
                f"{self.url}/v1/events",
                params={"vendor": vendor, "after": after, "limit": 1000},
                headers={"Authorization": f"Bearer {self.read_token}"},
                timeout=10,
            ).json()
            if not page["events"]:
                return events
            events.extend(page["events"])
            after = page["next_after"]


@pytest.fixture
def inbox(tmp_path: Path) -> t.Iterator[InboxServer]:
    """The notification inbox on a free loopback port with a SQLite store."""
    import requests  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secrets = {
        # The sandboxes' own keys (their notification_secret()).
        "INBOX_HUMANAPI_CLIENT_SECRET": "sandbox-client-secret",
        "INBOX_PAINCHEK_WEBHOOK_SECRET": "sandbox-webhook-secret",
        "INBOX_READ_TOKEN": f"read-{uuid.uuid4().hex}",
    }
    database = tmp_path / "inbox.sqlite3"
    log = tmp_path / "inbox.log"
    command = [
        str(ROOT / ".venv" / "bin" / "healthdata-inbox"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database-url",
        f"sqlite:///{database}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_")} | secrets
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the inbox did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield InboxServer(url, secrets["INBOX_READ_TOKEN"], secrets, log, database)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
