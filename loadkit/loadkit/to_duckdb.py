"""target-duckdb 0.8.0, with its per-record work done once per stream.

The same loader (settings, tables, columns, types). On 100,070 PainChek records
the stock loader spent 69% of its time in `flatten_record`, called twice per record
(once for the primary key, once for the CSV row), each time asking of every field
whether its schema makes it JSON. Without nesting to flatten
(`data_flattening_max_level` 0, its default and ours) a record's fields are the
table's columns, so `DbSync` here works out once per stream which columns are JSON and
builds the key and the row from the record directly, with the stock rules: dicts and
lists, and any value of a column typed null/object/array (None included, as "null"),
are JSON text; any other falsy value but 0 and False loads as NULL.
With flattening on, the stock methods run unchanged.

Memory, which grew with the table (peak RSS 1.24-1.38x from 100,000 to 1,000,000
rows), now stays at what a batch needs, and 1,000,000 rows load in 29-30 s instead of
39-46 s:

- A table's key columns are NOT NULL, without a PRIMARY KEY constraint. DuckDB holds
  a key's whole ART index in memory and checks it on every insert; the loader never
  needed it, since it merges by key itself and keeps a key's last record within a
  batch. A table the stock loader made keeps its constraint and loads the same way.
- A batch's records are let go once its CSV file is written, before DuckDB loads it.
- The batch goes into a TEMP table (the stock loader made an ordinary table, written
  to the database file and its log, and left behind if the load failed).
- The merge is the stock one (UPDATE the rows whose key the table has, INSERT the
  others), but the INSERT first drops from the batch the keys the table has, a join
  on the keys alone, and appends the rest; the stock INSERT joined every column.
- A database file is opened afresh after each batch's worth of rows: one connection
  kept about 6 MiB per 100,000 rows appended (DuckDB's IN_MEMORY_TABLE) and the table
  data its merges had read, for as long as it stayed open.

tests/test_loadkit.py loads the same Singer stream with this and with the stock
executable and compares every row of every table.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import target_duckdb
from target_duckdb import db_sync


def _as_json(value: t.Any, schema_says_json: bool) -> t.Any:
    # db_sync's own rule and encoder: even None is "null" in a column typed as JSON.
    if schema_says_json or isinstance(value, (dict, list)):
        return db_sync.json.dumps(value)
    return value


class DbSync(db_sync.DbSync):
    """db_sync.DbSync, building keys and rows without flattening twice."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._columns: list[tuple[str, bool]] | None = None
        if getattr(self, "data_flattening_max_level", None) == 0:
            self._columns = [
                (name, set(prop.get("type", ())) == {"null", "object", "array"})
                for name, prop in self.flatten_schema.items()
            ]
            json_columns = {name for name, is_json in self._columns if is_json}
            self._key_columns = [
                (key, key in json_columns) for key in self.stream_schema_message["key_properties"]
            ]

    def record_primary_key_string(self, record: dict[str, t.Any]) -> str | None:
        """The record's key as the stock method writes it, from the key fields alone."""
        if self._columns is None or not self._key_columns:
            return t.cast("str | None", super().record_primary_key_string(record))
        try:
            return ",".join(
                str(_as_json(record[key], is_json)) for key, is_json in self._key_columns
            )
        except KeyError:
            # The stock method logs which key is missing, then raises.
            return t.cast("str | None", super().record_primary_key_string(record))

    def create_table_query(self, table_name: str | None = None, is_temporary: bool = False) -> str:
        """The stock CREATE TABLE, with NOT NULL key columns instead of a PRIMARY KEY."""
        keys = self.stream_schema_message["key_properties"]
        columns = [
            db_sync.column_clause(name, prop) + (" NOT NULL" if name in keys else "")
            for name, prop in self.flatten_schema.items()
        ]
        name = table_name or self.table_name(
            self.stream_schema_message["stream"], is_temporary=is_temporary
        )
        kind = "TEMP TABLE" if is_temporary else "TABLE"
        return f"CREATE {kind} IF NOT EXISTS {name} ({', '.join(columns)})"

    def insert_from_temp_table(self, temp_table: str) -> str:
        """The stock INSERT's rows, the batch's keys the table lacks, appended.

        The stock statement joins the whole batch, every column of it, to the table.
        Here the rows whose key the table has (the stock UPDATE before this has just
        written them) leave the batch first, a join on the keys alone, and the rest is
        appended as it is.
        """
        if not self.stream_schema_message["key_properties"]:
            return t.cast("str", super().insert_from_temp_table(temp_table))
        table = self.table_name(self.stream_schema_message["stream"])
        matched = self.primary_key_condition("t")  # the stock "s.key = t.key AND ..."
        # Names only, quoted by db_sync as in the stock statements; no values.
        return (
            f"DELETE FROM {temp_table} AS s USING {table} t WHERE {matched}; "  # noqa: S608
            f"INSERT INTO {table} ({', '.join(self.column_names())}) SELECT * FROM {temp_table}"
        )

    def record_to_flattened(self, record: dict[str, t.Any]) -> list[t.Any]:
        """The record's CSV row, one value per column, by the stock rules."""
        if self._columns is None:
            return t.cast("list[t.Any]", super().record_to_flattened(record))
        row = []
        for name, is_json in self._columns:
            if name in record:
                value = _as_json(record[name], is_json)
                row.append(value if value == 0 or value else None)
            else:
                row.append(None)
        return row


class Reconnecting:
    """The one connection target-duckdb shares between its streams, opened afresh.

    Everything but ``loaded`` goes to the current DuckDB connection. Once a batch's
    worth of rows (``batch_size_rows``) has been loaded through it, the connection is
    closed and a new one opened, letting go of what DuckDB kept. Not after every
    flush: opening a file of 70 tables took about 60 ms, and a run ends with a small
    flush of every stream. Only a database file is reopened: an in-memory or MotherDuck
    database stays on its connection.
    """

    def __init__(self, config: dict[str, t.Any]) -> None:
        self._config = config
        self._connection = _connect(config)
        path = config.get("path", config.get("filepath"))
        self._reopens = bool(path) and not config.get("token") and Path(str(path)).is_file()
        self._every = int(config.get("batch_size_rows", target_duckdb.DEFAULT_BATCH_SIZE_ROWS))
        self._rows = 0

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._connection, name)

    def loaded(self, rows: int) -> None:
        """Count rows just loaded; reopen once a batch's worth has been since the last open."""
        self._rows += rows
        if self._reopens and self._rows >= self._every:
            self._connection.close()
            self._connection = _connect(self._config)
            self._rows = 0


_connect = target_duckdb.duckdb_connect


def _drained(records: dict[str, dict]) -> t.Iterator[dict]:
    """A batch's records, each once; the batch is emptied once the last is read."""
    yield from records.values()
    records.clear()


def flush_records(
    stream: str, records_to_load: dict[str, dict], row_count: int, sync: DbSync, temp_dir: str
) -> None:
    """target_duckdb.flush_records, letting go of the records once the CSV holds them.

    The stock ``load_rows`` writes the CSV file from the iterable it is given, then has
    DuckDB load it; the stock loader passes ``records.values()``, so the 100,000
    records of a batch stay alive while DuckDB works.
    """
    sync.load_rows(_drained(records_to_load), row_count, temp_dir)
    if isinstance(sync.conn, Reconnecting):
        sync.conn.loaded(row_count)


def main() -> None:
    """The `loadkit-target-duckdb` command: the same CLI as `target-duckdb`."""
    target_duckdb.DbSync = DbSync  # type: ignore[misc]
    target_duckdb.flush_records = flush_records
    target_duckdb.duckdb_connect = Reconnecting
    target_duckdb.main()
