"""The append-only notification log: SQLite (embedded default) or PostgreSQL.

Two tables. ``inbox_deliveries`` holds one row per accepted delivery (its id and, for
Human API, its nonce), which makes redeliveries and replays detectable inside the same
transaction that appends the items. ``inbox_events`` holds one row per actionable item
with a sequence number the taps use as a cursor. Only ids are stored: the columns below
are the whole schema, so a name or a clinical field has nowhere to go.

The cursor is only safe if rows become visible in sequence order. SQLite has one writer
at a time; on PostgreSQL a transaction-level advisory lock serialises appends, so a
reader that has seen sequence N can never later see a row below N commit.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

# Vendor field -> column, the one place the vendors' words are mapped to snake_case.
ID_COLUMNS: dict[str, dict[str, str]] = {
    "humanapi": {
        "humanId": "human_id",
        "clientUserId": "client_user_id",
        "endpoint": "endpoint",
        "action": "action",
        "updatedAt": "updated_at",
    },
    "painchek": {
        "uuid": "assessment_uuid",
        "patient": "patient_uuid",
        "update_stamp": "update_stamp",
    },
}
VENDORS = tuple(ID_COLUMNS)
_ALL_ID_COLUMNS = tuple(col for cols in ID_COLUMNS.values() for col in cols.values())
_EVENT_COLUMNS = ("seq", "vendor", "event", "delivery_id", "item_index", "received_at")
# Serialises appends on PostgreSQL (an arbitrary constant naming this lock).
_APPEND_LOCK_KEY = 7_312_604_519


class Outcome(Enum):
    """What recording a delivery did."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    REPLAY = "replay"


@dataclass(frozen=True)
class Item:
    """One actionable item: the event name and its ids, keyed by the vendor's words."""

    event: str
    ids: dict[str, str]


@dataclass(frozen=True)
class Delivery:
    """One verified notification as it will be logged."""

    vendor: str
    delivery_id: str
    items: tuple[Item, ...]
    nonce: str | None = None


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Store(ABC):
    """Append, read and prune the log; each method is blocking (run it off the loop)."""

    placeholder = "?"

    @abstractmethod
    @contextmanager
    def _transaction(self, *, append: bool = False) -> Iterator[_Cursor]:
        """A cursor inside one transaction, committed on success."""

    @abstractmethod
    def _when(self, moment: datetime) -> object:
        """A timestamp as this database stores it."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.placeholder)

    def record(self, delivery: Delivery, received_at: datetime) -> Outcome:
        """Append a delivery's items unless its id (or its nonce) is already logged."""
        when = self._when(received_at)
        with self._transaction(append=True) as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO inbox_deliveries (vendor, delivery_id, nonce, received_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
                ),
                (delivery.vendor, delivery.delivery_id, delivery.nonce, when),
            )
            if cur.rowcount == 0:
                cur.execute(
                    self._sql(
                        "SELECT 1 FROM inbox_deliveries WHERE vendor = ? AND delivery_id = ?"
                    ),
                    (delivery.vendor, delivery.delivery_id),
                )
                # Not this delivery id, so the conflict was on the nonce: a replay.
                return Outcome.DUPLICATE if cur.fetchone() else Outcome.REPLAY
            columns = ID_COLUMNS[delivery.vendor]
            for index, item in enumerate(delivery.items):
                # Column names come from ID_COLUMNS, never from the payload.
                names = "".join(f", {columns[field]}" for field in item.ids)
                marks = ", ?" * len(item.ids)
                sql = (
                    "INSERT INTO inbox_events (vendor, event, delivery_id, item_index,"  # noqa: S608
                    f" received_at{names}) VALUES (?, ?, ?, ?, ?{marks})"
                )
                fixed = (delivery.vendor, item.event, delivery.delivery_id, index, when)
                cur.execute(self._sql(sql), (*fixed, *item.ids.values()))
        return Outcome.STORED

    def read(self, vendor: str | None, after: int, limit: int) -> list[dict[str, object]]:
        """Events with a sequence number above `after`, oldest first, ids in vendor words."""
        where = "seq > ?"
        params: tuple[object, ...] = (after, limit)
        if vendor is not None:
            where, params = "vendor = ? AND seq > ?", (vendor, after, limit)
        columns = (*_EVENT_COLUMNS, *_ALL_ID_COLUMNS)
        select = ", ".join(columns)
        sql = f"SELECT {select} FROM inbox_events WHERE {where} ORDER BY seq LIMIT ?"  # noqa: S608
        with self._transaction() as cur:
            cur.execute(self._sql(sql), params)
            rows = cur.fetchall()
        return [_event(dict(zip(columns, row, strict=True))) for row in rows]

    def prune(self, older_than: datetime) -> int:
        """Delete events and deliveries received before `older_than`; return events deleted."""
        when = self._when(older_than)
        with self._transaction(append=True) as cur:
            cur.execute(self._sql("DELETE FROM inbox_events WHERE received_at < ?"), (when,))
            deleted = cur.rowcount
            cur.execute(self._sql("DELETE FROM inbox_deliveries WHERE received_at < ?"), (when,))
        return deleted

    def ping(self) -> None:
        """Raise unless the store answers a query."""
        with self._transaction() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    def count(self, vendor: str | None = None) -> int:
        """How many events are logged (for operators and tests)."""
        with self._transaction() as cur:
            if vendor is None:
                cur.execute("SELECT COUNT(*) FROM inbox_events")
            else:
                cur.execute(
                    self._sql("SELECT COUNT(*) FROM inbox_events WHERE vendor = ?"), (vendor,)
                )
            return int(cur.fetchone()[0])


def _event(row: dict[str, object]) -> dict[str, object]:
    received = row["received_at"]
    event: dict[str, object] = {
        "seq": row["seq"],
        "vendor": row["vendor"],
        "event": row["event"],
        "delivery_id": row["delivery_id"],
        "item_index": row["item_index"],
        "received_at": _iso(received) if isinstance(received, datetime) else received,
    }
    for field, column in ID_COLUMNS[str(row["vendor"])].items():
        if row[column] is not None:
            event[field] = row[column]
    return event


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ddl(seq: str, timestamp: str) -> list[str]:
    ids = ", ".join(f"{column} TEXT" for column in _ALL_ID_COLUMNS)
    return [
        "CREATE TABLE IF NOT EXISTS inbox_deliveries (vendor TEXT NOT NULL,"
        f" delivery_id TEXT NOT NULL, nonce TEXT, received_at {timestamp} NOT NULL,"
        " PRIMARY KEY (vendor, delivery_id), UNIQUE (vendor, nonce))",
        f"CREATE TABLE IF NOT EXISTS inbox_events (seq {seq}, vendor TEXT NOT NULL,"
        " event TEXT NOT NULL, delivery_id TEXT NOT NULL, item_index INTEGER NOT NULL,"
        f" received_at {timestamp} NOT NULL, {ids}, UNIQUE (vendor, delivery_id, item_index))",
        "CREATE INDEX IF NOT EXISTS inbox_events_vendor_seq ON inbox_events (vendor, seq)",
        "CREATE INDEX IF NOT EXISTS inbox_events_received ON inbox_events (received_at)",
        "CREATE INDEX IF NOT EXISTS inbox_deliveries_received ON inbox_deliveries (received_at)",
    ]


class SQLiteStore(Store):
    """One connection in WAL mode with synchronous=FULL: a commit is on disk before the ack."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        with self._transaction(append=True) as cur:
            for statement in _ddl("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"):
                cur.execute(statement)

    @contextmanager
    def _transaction(self, *, append: bool = False) -> Iterator[_Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE" if append else "BEGIN")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def _when(self, moment: datetime) -> object:
        # Fixed-width UTC text, so string order is time order.
        return _iso(moment)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


class PostgresStore(Store):
    """A psycopg 3 connection pool; commits are synchronous (PostgreSQL's default)."""

    placeholder = "%s"

    def __init__(self, url: str, *, max_connections: int) -> None:
        from psycopg_pool import ConnectionPool  # noqa: PLC0415 - only PostgreSQL users need it

        # check_connection on checkout: after a database restart the first notification
        # gets a fresh connection instead of a 503.
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(2, max_connections),
            check=ConnectionPool.check_connection,
            open=True,
        )
        with self._transaction(append=True) as cur:
            for statement in _ddl("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "TIMESTAMPTZ"):
                cur.execute(statement)

    @contextmanager
    def _transaction(self, *, append: bool = False) -> Iterator[_Cursor]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if append:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_APPEND_LOCK_KEY,))
            yield cur

    def _when(self, moment: datetime) -> object:
        return moment

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()


def open_store(url: str, *, max_connections: int = 8) -> Store:
    """Open the store a database URL names: sqlite:///path or postgresql://..."""
    if url.startswith("sqlite:///"):
        return SQLiteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url, max_connections=max_connections)
    raise ValueError("database URL must start with sqlite:/// or postgresql://")
