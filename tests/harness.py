"""Run Meltano into a real warehouse and compare every table with the sandbox truth."""

from __future__ import annotations

import json
import os
import subprocess
import typing as t
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from tapkit.testing import (
    DROPPED_WARNING,
    meltano_env,  # noqa: F401 - re-exported for the tests
)

ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
# tap-healthex's FHIR resource tables, as they land in the warehouse.
FHIR_TABLES = (
    "patient",
    "condition",
    "observation",
    "medication_request",
    "medication_statement",
    "allergy_intolerance",
    "immunization",
    "procedure",
    "encounter",
    "diagnostic_report",
    "document_reference",
    "fhir_other",
)
# Settings the SDK gives every tap and target; meltano.yml declares each plugin's own.
SDK_BUILTINS = frozenset(
    {
        "stream_maps",
        "stream_map_config",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
        "batch_config",
    }
)
PG_HELP = (
    "PostgreSQL is not reachable at 127.0.0.1:5432 (database 'test', trust auth). Start it "
    "with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
)


@dataclass
class Meltano:
    """One isolated Meltano project state (its own system database and warehouse)."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)

    def run(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "MELTANO_ENVIRONMENT": "dev",
            "MELTANO_DATABASE_URI": f"sqlite:///{self.workdir / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TARGET_DUCKDB_FILEPATH": str(self.workdir / "warehouse.duckdb"),
            **self.env,
        }
        done = subprocess.run(
            [str(MELTANO), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.logs.append(done.stdout + done.stderr)
        dropped = [line for line in done.stderr.splitlines() if DROPPED_WARNING in line]
        assert not dropped, f"the SDK dropped a vendor field: {dropped[0]}"
        if check and done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
            msg = f"meltano {' '.join(args)} exited {done.returncode}:\n{tail}"
            raise AssertionError(msg)
        return done


def duckdb_rows(path: Path, schema: str, table: str) -> list[dict[str, t.Any]]:
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(f'select * from "{schema}"."{table}"')
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def postgres_rows(schema: str, table: str) -> list[dict[str, t.Any]]:
    import psycopg  # noqa: PLC0415
    from psycopg.rows import dict_row  # noqa: PLC0415

    with psycopg.connect(PG_DSN, row_factory=dict_row) as con:
        return list(con.execute(f'select * from "{schema}"."{table}"'))


@dataclass
class Comparison:
    table: str
    compared: int
    lost: list[str]
    stale: list[str]
    extra: list[str]

    @property
    def ok(self) -> bool:
        return not (self.lost or self.stale or self.extra)

    def __str__(self) -> str:
        return (
            f"{self.table}: {self.compared} rows, {len(self.lost)} lost, "
            f"{len(self.stale)} stale, {len(self.extra)} extra"
        )


def _instant(value: t.Any) -> t.Any:
    """Times compare as instants whether a loader kept a string or a timestamp."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value[:4].isdigit() and "T" in value:
        return datetime.fromisoformat(value)
    return value


def compare(
    table: str,
    truth: list[dict],
    landed: list[dict],
    key: t.Callable[[dict], t.Hashable] = lambda row: row["uuid"],
    version: t.Callable[[dict], t.Any] = lambda row: row["update_stamp"],
    deleted: t.Callable[[dict], bool] | None = lambda row: row.get("deleted_at") is not None,
) -> Comparison:
    """Lost, stale and extra rows of one table: latest version per primary key.

    ``landed`` rows may have lower-cased column names (target-duckdb does that);
    ``key``, ``version`` and ``deleted`` read the truth's vendor names and are given
    the landed rows with the truth's names restored.
    """
    names = {name.lower(): name for row in truth for name in row}
    want = {key(row): row for row in truth}
    got: dict[t.Hashable, dict] = {}
    for raw in landed:
        row = {names.get(k.lower(), k): v for k, v in raw.items()}
        held = got.get(key(row))
        if held is None or _instant(version(row)) > _instant(version(held)):
            got[key(row)] = row
    lost = sorted(map(str, set(want) - set(got)))
    extra = sorted(map(str, set(got) - set(want)))
    stale = sorted(
        str(k)
        for k in set(want) & set(got)
        if _instant(version(got[k])) != _instant(version(want[k]))
        or (deleted is not None and deleted(got[k]) != deleted(want[k]))
    )
    return Comparison(table, len(want), lost, stale, extra)


@dataclass
class Scenario:
    """One line of the summary the suite prints at the end."""

    name: str
    runs: int = 0
    faults: int = 0
    retries: int = 0
    compared: int = 0
    lost: int = 0
    stale: int = 0
    leaks: int = 0

    def line(self) -> str:
        return (
            f"{self.name:<44}{self.runs:>5}{self.faults:>8}{self.retries:>9}"
            f"{self.compared:>10}{self.lost:>6}{self.stale:>7}{self.leaks:>7}"
        )


SCENARIOS: list[Scenario] = []
SUMMARY_HEADER = (
    f"{'scenario':<44}{'runs':>5}{'faults':>8}{'retries':>9}"
    f"{'compared':>10}{'lost':>6}{'stale':>7}{'leaks':>7}"
)


def retries_in(logs: str) -> int:
    """Retries the taps logged ("... retrying in N s")."""
    return logs.count("retrying in ")


def _as_json(value: t.Any) -> t.Any:
    """A loader's JSON column as Python: DuckDB and flattening keep JSON as text."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def same_value(sent: t.Any, landed: t.Any) -> bool:
    """Whether a warehouse value is the one the vendor sent, across loader type mappings.

    Times compare as instants and dates as dates; JSON columns are parsed; a number or
    boolean sent where the tap declares a string (an id or code) lands as its JSON text.
    """
    landed = _as_json(landed)
    if isinstance(landed, Decimal):
        landed = float(landed)
    if isinstance(sent, str) and isinstance(landed, datetime):
        return _instant(sent) == _instant(landed)
    if isinstance(sent, str) and isinstance(landed, date):
        return sent[:10] == landed.isoformat()
    if isinstance(sent, bool | int | float) and isinstance(landed, str):
        return json.dumps(sent) == landed
    if isinstance(sent, float) or isinstance(landed, float):
        return (
            isinstance(sent, int | float)
            and isinstance(landed, int | float)
            and (abs(sent - landed) <= 1e-9 * max(1.0, abs(sent)))
        )
    if isinstance(sent, dict | list):
        return json.loads(json.dumps(sent)) == landed
    return sent == landed


def field_losses(
    table: str,
    sent: list[dict],
    landed: list[dict],
    key: t.Callable[[dict], t.Hashable],
    skip: t.Collection[str] = (),
    *,
    empty_is_null: bool = False,
) -> list[str]:
    """Fields of ``sent`` records (as the vendor served them) that did not land as sent.

    ``landed`` rows may have lower-cased names (target-duckdb). One line per field,
    with how many records lost or changed it; ``skip`` names fields the tap maps on
    purpose (documented quirks). ``empty_is_null``: the loader stores an empty string
    as NULL (target-duckdb 0.8.0 loads through CSV, which cannot tell them apart).
    """
    by_key: dict[t.Hashable, dict] = {}
    for raw in landed:
        row = {name.lower(): value for name, value in raw.items()}
        by_key[key(row)] = row
    missing: dict[str, int] = {}
    for record in sent:
        row = by_key.get(key({k.lower(): v for k, v in record.items()}))
        for name, value in record.items():
            if name in skip or value is None or (empty_is_null and value == ""):
                continue
            if row is None or not same_value(value, row.get(name.lower())):
                missing[name] = missing.get(name, 0) + 1
    return [f"{table}.{name}: {count} of {len(sent)} rows" for name, count in missing.items()]
