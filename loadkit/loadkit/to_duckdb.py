"""target-duckdb 0.8.0, with its per-record work done once per stream.

The same loader (settings, tables, SQL). On 100,070 PainChek records the stock loader
spent 69% of its time in `flatten_record`, called twice per record (once for the
primary key, once for the CSV row), each time asking of every field whether its schema
makes it JSON. Without nesting to flatten (`data_flattening_max_level` 0, its default
and ours) a record's fields are the table's columns, so `DbSync` here works out once
per stream which columns are JSON and builds the key and the row from the record
directly, with the stock rules: dicts and lists, and any value of a column typed
null/object/array (None included, as "null"), are JSON text; any other falsy value
but 0 and False loads as NULL.
With flattening on, the stock methods run unchanged.

tests/test_loadkit.py loads the same Singer stream with this and with the stock
executable and compares every row of every table.
"""

from __future__ import annotations

import typing as t

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


def main() -> None:
    """The `loadkit-target-duckdb` command: the same CLI as `target-duckdb`."""
    target_duckdb.DbSync = DbSync  # type: ignore[misc]
    target_duckdb.main()
