"""Fixtures for the cross-tap tests: isolated Meltano runs, warehouses, PostgreSQL."""

from __future__ import annotations

import re
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


def leaks(logs: str, secrets: t.Iterable[str]) -> list[str]:
    """Secrets, tokens or patient details that appear in the logs (whole words)."""
    found = []
    for secret in {s for s in secrets if s and len(s) >= 4}:
        if re.search(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", logs):
            found.append(secret)
    return sorted(found)


def patient_details(sandbox: t.Any) -> set[str]:
    """Names and birth dates of every patient, and the names on assessments."""
    details: set[str] = set()
    for row in sandbox.truth("patients"):
        details.update(filter(None, (row.get("first_name"), row.get("last_name"),
                                     row.get("nickname"), row.get("birth_date"))))
    for row in sandbox.truth("assessments"):
        details.update(filter(None, (row.get("patient_first_name"),
                                     row.get("patient_last_name"))))
    return details
