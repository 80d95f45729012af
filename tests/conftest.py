"""Fixtures for the cross-tap tests: isolated Meltano runs, warehouses, PostgreSQL."""

from __future__ import annotations

import typing as t
import uuid

import pytest
from harness import MELTANO, PG_DSN, PG_HELP, Meltano


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
