"""loadkit's loaders land exactly what the stock loaders land.

meltano.yml runs target-postgres and target-duckdb through loadkit (the same loaders
with their per-record work done once per stream). Each case here feeds one Singer
stream to the stock executable and to loadkit's, both installed in the plugin's own
environment by `make bootstrap`, and requires the same tables: the same columns with
the same types, and the same rows. The streams are every tap's output over its sandbox
and a hand-made stream of the edge cases the faster paths decide differently: empty
strings, 0 and False, nulls in JSON columns, nested values, an undeclared field, a
date that does not parse, a key seen twice in a batch, a schema that grows mid-run,
a stream without a key. A date that does not parse stops both the same way.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest
from harness import PG_DSN, ROOT
from tap_healthex.tap import TapHealthEx
from tap_humanapi.tap import TapHumanAPI
from tap_painchek.tap import TapPainChek
from tapkit.testing import sync

LOADERS = ROOT / ".meltano" / "loaders"
# Stamped by the loader at load time, so never equal between two loads.
LOAD_TIMES = {"_sdc_received_at", "_sdc_batched_at", "_sdc_sequence", "_sdc_sync_started_at"}
# Small batches: many COPYs and merges, and a key seen twice within one batch.
BATCH = 7

VENDORS = {
    "painchek": ("make_painchek_sandbox", {"patients": 40}, TapPainChek),
    "humanapi": ("make_humanapi_sandbox", {"users": 3}, TapHumanAPI),
    "healthex": (
        "make_healthex_sandbox",
        {"patients_per_project": 2, "delivery": "s3"},
        TapHealthEx,
    ),
}


def _schema(stream: str, properties: dict, keys: list[str]) -> dict:
    schema = {"type": "object", "properties": properties}
    return {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": keys}


def _record(stream: str, record: dict) -> dict:
    extracted = "2026-12-02T08:00:00.123456+00:00"
    return {"type": "RECORD", "stream": stream, "record": record, "time_extracted": extracted}


EDGE_PROPERTIES = {
    "id": {"type": ["integer"]},
    "name": {"type": ["null", "string"]},
    "born": {"type": ["null", "string"], "format": "date"},
    "seen": {"type": ["null", "string"], "format": "date-time"},
    "at": {"type": ["null", "string"], "format": "time"},
    "since": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
    "flag": {"type": ["null", "boolean"]},
    "score": {"type": ["null", "number"]},
    "count": {"type": ["null", "integer"]},
    "extra": {"type": ["null", "object"]},
    "tags": {"type": ["null", "array"], "items": {}},
    "blob": {"type": ["null", "object", "array"]},
}
EDGE_ROWS = [
    {
        "id": 1,
        "name": "first",
        "born": "1970-01-01",
        "seen": "2024-02-29T23:59:59.999999Z",
        "at": "08:30:00",
        "since": "2024-01-01T00:00:00+05:30",
        "flag": True,
        "score": 1.10,
        "count": 3,
        "extra": {"a": [1, {"b": None}]},
        "tags": ["x", 2],
        "blob": {"k": "v"},
    },
    {
        "id": 2,
        "name": "",
        "score": 0,
        "count": 0,
        "flag": False,
        "extra": {},
        "tags": [],
        "blob": None,
    },
    {"id": 3, "name": None, "born": None, "seen": None, "extra": None, "tags": None},
    {"id": 4, "name": 'Zoë 🚀 "quoted", comma\nnewline', "blob": [1, 2], "undeclared": "kept?"},
    {"id": 1, "name": "first, again", "seen": "2024-03-01T00:00:00-08:00"},
    {"id": 5, "seen": "2024-02-29T12:00:00", "born": "2024-02-29"},
    {"id": 6, "score": -0.0, "count": -7, "seen": "2024-06-01 12:00:00"},
    {"id": 7, "name": " ", "score": 12345678901234.5678},
]


def edge_stream() -> list[dict]:
    grown = {**EDGE_PROPERTIES, "note": {"type": ["null", "string"]}}
    return [
        _schema("edge", EDGE_PROPERTIES, ["id"]),
        *(_record("edge", row) for row in EDGE_ROWS),
        {"type": "STATE", "value": {"bookmarks": {"edge": {"seen": 1}}}},
        _schema(
            "keyless", {"n": {"type": ["null", "integer"]}, "s": {"type": ["null", "string"]}}, []
        ),
        *(_record("keyless", {"n": n % 3, "s": str(n % 2)}) for n in range(10)),
        _schema("edge", grown, ["id"]),
        *(_record("edge", {**row, "note": f"grown {row['id']}"}) for row in EDGE_ROWS[1:3]),
        _record("edge", {"id": 8, "note": ""}),
    ]


def tap_stream(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], name: str
) -> list[dict]:
    fixture, size, tap_class = VENDORS[name]
    sandbox = request.getfixturevalue(fixture)(seed=43, **size)
    config = sandbox.tap_config("s3") if name == "healthex" else sandbox.tap_config()
    return sync(tap_class(config=config), capsys).messages


def load(
    tmp_path: Path, loader: str, executable: str, lines: list[dict], schema: str
) -> subprocess.CompletedProcess:
    if loader == "target-postgres":
        config = {
            "sqlalchemy_url": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
            "default_target_schema": schema,
            "add_record_metadata": True,
            "use_copy": True,
            "validate_records": False,
            "batch_size_rows": BATCH,
        }
    else:
        config = {
            "filepath": str(tmp_path / f"warehouse-{schema}.duckdb"),
            "default_target_schema": schema,
            "add_metadata_columns": True,
            "primary_key_required": False,  # the keyless stream
            "batch_size_rows": BATCH,
        }
    path = tmp_path / f"{schema}.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [str(LOADERS / loader / "venv" / "bin" / executable), "--config", str(path)],
        input="".join(json.dumps(line) + "\n" for line in lines),
        capture_output=True,
        text=True,
        check=False,
    )


def tables(tmp_path: Path, loader: str, schema: str) -> dict[str, t.Any]:
    """Every table of `schema`: its columns with their types, and its rows (sorted)."""
    if loader == "target-postgres":
        with psycopg.connect(PG_DSN) as con:
            return _tables(lambda sql, *args: con.execute(sql, args).fetchall(), schema, "%s")
    with duckdb.connect(str(tmp_path / f"warehouse-{schema}.duckdb"), read_only=True) as con:
        return _tables(lambda sql, *args: con.execute(sql, list(args)).fetchall(), schema, "?")


def _tables(query: t.Callable[..., list[tuple]], schema: str, mark: str) -> dict[str, t.Any]:
    found = {}
    names = query(
        f"select table_name from information_schema.tables where table_schema = {mark}", schema
    )
    for (table,) in names:
        columns = query(
            "select column_name, data_type, is_nullable from information_schema.columns"
            f" where table_schema = {mark} and table_name = {mark} order by column_name",
            schema,
            table,
        )
        kept = [name for name, *_ in columns if name not in LOAD_TIMES]
        listed = ", ".join(f'"{name}"' for name in kept)
        rows = query(f'select {listed} from "{schema}"."{table}"')
        found[table] = {"columns": columns, "rows": sorted(rows, key=repr)}
    return found


@pytest.fixture
def schemas() -> t.Iterator[list[str]]:
    made: list[str] = []
    yield made
    with psycopg.connect(PG_DSN, autocommit=True) as con:
        for schema in made:
            con.execute(f'drop schema if exists "{schema}" cascade')


@pytest.mark.parametrize("loader", ["target-postgres", "target-duckdb"])
@pytest.mark.parametrize("source", ["edge", *VENDORS])
def test_loadkit_lands_what_the_stock_loader_lands(
    request, capsys, tmp_path, schemas, loader, source
):
    lines = edge_stream() if source == "edge" else tap_stream(request, capsys, source)
    landed = []
    for executable in (loader, f"loadkit-{loader}"):
        schema = f"loadkit_{uuid.uuid4().hex[:10]}"
        schemas.append(schema)
        done = load(tmp_path, loader, executable, lines, schema)
        assert done.returncode == 0, done.stderr[-3000:]
        landed.append(tables(tmp_path, loader, schema))
    stock, ours = landed
    streams = {line["stream"] for line in lines if line["type"] == "SCHEMA"}
    assert len(stock) == len(streams)
    assert sum(len(table["rows"]) for table in stock.values()) > 10
    assert ours == stock


def test_a_date_that_does_not_parse_stops_both_postgres_loaders_alike(tmp_path, schemas):
    bad = {"id": 9, "seen": "2024-02-30T00:00:00Z"}
    lines = [
        _schema("edge", EDGE_PROPERTIES, ["id"]),
        _record("edge", EDGE_ROWS[0]),
        _record("edge", bad),
    ]
    errors = []
    for executable in ("target-postgres", "loadkit-target-postgres"):
        schema = f"loadkit_{uuid.uuid4().hex[:10]}"
        schemas.append(schema)
        done = load(tmp_path, "target-postgres", executable, lines, schema)
        assert done.returncode != 0
        errors.append(done.stderr.strip().splitlines()[-1])
    assert errors[0] == errors[1]
    assert "'seen'" in errors[0]


def _sent_again(lines: list[dict]) -> list[dict]:
    """The same stream a day later: every record again, each edge row renamed."""
    return [
        {**line, "record": {**line["record"], "name": f"again {line['record']['id']}"}}
        if line["type"] == "RECORD" and line["stream"] == "edge"
        else line
        for line in lines
    ]


@pytest.mark.parametrize("first", ["target-duckdb", "loadkit-target-duckdb"])
def test_a_second_run_merges_into_a_stock_or_loadkit_table_as_the_stock_loader_does(
    tmp_path, first
):
    """loadkit's DuckDB tables have no PRIMARY KEY constraint; the stock loader's do.
    Either way a second run updates the rows it sends again, as the stock loader does."""
    runs = [edge_stream(), _sent_again(edge_stream())]
    landed = []
    for executables in (("target-duckdb", "target-duckdb"), (first, "loadkit-target-duckdb")):
        schema = f"loadkit_{uuid.uuid4().hex[:10]}"
        for executable, lines in zip(executables, runs, strict=True):
            done = load(tmp_path, "target-duckdb", executable, lines, schema)
            assert done.returncode == 0, done.stderr[-3000:]
        landed.append(tables(tmp_path, "target-duckdb", schema))
    stock, ours = landed
    assert "'again 8'" in repr(stock["edge"]["rows"])
    assert len(stock["edge"]["rows"]) == len({row["id"] for row in EDGE_ROWS} | {8})
    assert ours == stock
