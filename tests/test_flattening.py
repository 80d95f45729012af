"""Schema flattening keeps every value, in every stream of every tap.

With ``flattening_enabled`` at depth 1 and 3, each tap syncs its sandbox (which serves
the vendor's documented shapes plus a nested field nobody documented). Every key of
every RECORD must be a property of its stream's SCHEMA (a loader drops or refuses any
other key), and every leaf value of the unflattened record must be in the flattened
one: as a column, or inside a column that holds a nested object as JSON.
"""

from __future__ import annotations

import json
import typing as t
from datetime import UTC, datetime
from pathlib import Path

import pytest
from harness import Meltano, _as_json, duckdb_rows, meltano_env, same_value
from tap_healthex.tap import TapHealthEx
from tap_humanapi.tap import TapHumanAPI
from tap_painchek.tap import TapPainChek
from tapkit.testing import sync

UNKNOWN = {"vendorAddedLater": {"level": 2, "tags": ["a", "b"]}}
DEPTHS = [1, 3]
# Fields a clock sets (the tap's, or a delivered file's upload time), not the vendor.
HEALTHEX_CLOCKS = {"synced_at", "read_at", "requested_at", "last_modified"}
SEPARATOR = "__"


def _leaves(value: t.Any, path: str = "") -> dict[str, t.Any]:
    """Each scalar or array of a record under its flattened path (objects expanded)."""
    if isinstance(value, dict) and value:
        found: dict[str, t.Any] = {}
        for key, inner in value.items():
            found |= _leaves(inner, f"{path}{SEPARATOR}{key}" if path else key)
        return found
    return {path: value}


def _expanded(record: dict[str, t.Any]) -> dict[str, t.Any]:
    """A flattened record's leaves: columns holding JSON objects or arrays are opened."""
    found: dict[str, t.Any] = {}
    for key, value in record.items():
        found |= _leaves(_as_json(value), key)
    return found


def _by_key(run: t.Any, volatile: t.Collection[str]) -> dict[tuple, dict]:
    """Records by stream and primary key (without the parts the clock sets)."""
    keys = {
        m["stream"]: [k for k in m["key_properties"] if k not in volatile]
        for m in run.messages
        if m["type"] == "SCHEMA"
    }
    return {
        (m["stream"], *(json.dumps(m["record"].get(k)) for k in keys[m["stream"]])): m["record"]
        for m in run.messages
        if m["type"] == "RECORD"
    }


def _check(plain: t.Any, flat: t.Any, volatile: t.Collection[str] = ()) -> list[str]:
    """What the flattened run lost: undeclared keys, records, values.

    ``volatile`` names the fields a clock sets.
    """
    problems: list[str] = []
    schemas: dict[str, set[str]] = {}
    for message in flat.messages:
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = set(message["schema"]["properties"])
        elif message["type"] == "RECORD":
            undeclared = set(message["record"]) - schemas[message["stream"]]
            if undeclared:
                problems.append(f"{message['stream']}: keys not in SCHEMA {sorted(undeclared)}")
    plain_records = _by_key(plain, volatile)
    flat_records = _by_key(flat, volatile)
    if plain_records.keys() != flat_records.keys():
        differ = sorted({k[0] for k in plain_records.keys() ^ flat_records.keys()})
        problems.append(f"the flattened run wrote other records than the plain run in {differ}")
    for key in plain_records.keys() & flat_records.keys():
        want, got = _leaves(plain_records[key]), _expanded(flat_records[key])
        lost = {
            path
            for path, value in want.items()
            if path not in volatile and got.get(path, object()) != value
        }
        if lost:
            problems.append(f"{key[0]}: values lost {sorted(lost)[:5]}")
    return sorted(set(problems))


def _streams_written(run: t.Any) -> set[str]:
    return {m["stream"] for m in run.messages if m["type"] == "RECORD"}


def _run(tap_class: type, config: dict, capsys: t.Any) -> t.Any:
    return sync(tap_class(config=config, state={}), capsys)


def _flattening(depth: int) -> dict[str, t.Any]:
    return {"flattening_enabled": True, "flattening_max_depth": depth}


@pytest.mark.parametrize("depth", DEPTHS)
def test_painchek_flattened_records_keep_every_value(make_painchek_sandbox, capsys, depth):
    sandbox = make_painchek_sandbox(seed=91, patients=12)
    sandbox.add_vendor_fields("/api/", UNKNOWN)
    plain = _run(TapPainChek, sandbox.tap_config(), capsys)
    flat = _run(TapPainChek, sandbox.tap_config(**_flattening(depth)), capsys)
    assert _streams_written(plain) == set(TapPainChek(config=sandbox.tap_config()).streams)
    assert _check(plain, flat) == []


@pytest.mark.parametrize("depth", DEPTHS)
def test_humanapi_flattened_records_keep_every_value(make_humanapi_sandbox, capsys, depth):
    sandbox = make_humanapi_sandbox(seed=92, users=10)
    sandbox.add_vendor_fields("/v1/human", UNKNOWN)
    plain = _run(TapHumanAPI, sandbox.tap_config(), capsys)
    flat = _run(TapHumanAPI, sandbox.tap_config(**_flattening(depth)), capsys)
    assert _streams_written(plain) == set(TapHumanAPI(config=sandbox.tap_config()).streams)
    assert _check(plain, flat, volatile={"checked_at"}) == []


@pytest.mark.parametrize("depth", DEPTHS)
def test_healthex_flattened_records_keep_every_value(make_healthex_sandbox, capsys, depth):
    # Two sandboxes of one seed: the run asks for refreshes, which change what it serves.
    runs = []
    for flattening in ({}, _flattening(depth)):
        sandbox = make_healthex_sandbox(seed=93, patients_per_project=3, delivery="s3")
        sandbox.add_vendor_fields("/v1/projects/", UNKNOWN)
        config = sandbox.tap_config("s3", request_updates=True, **flattening)
        runs.append(_run(TapHealthEx, config, capsys))
    plain, flat = runs
    assert (
        _check(plain, flat, volatile={"synced_at", "read_at", "requested_at", "last_modified"})
        == []
    )
    assert {"identified_patients", "consent_records", "data_update_requests", "patient"} <= (
        _streams_written(plain)
    )


# Through Meltano into DuckDB: a plain run and a flattened run of one tap, each into
# its own warehouse; every value the plain tables hold must be in the flattened ones.
TAPS = {"tap-painchek": TapPainChek, "tap-humanapi": TapHumanAPI, "tap-healthex": TapHealthEx}


def _landed_leaves(row: dict[str, t.Any]) -> dict[str, t.Any]:
    found: dict[str, t.Any] = {}
    for name, value in row.items():
        found |= _leaves(_as_json(value), name.lower())
    return {path.lower(): value for path, value in found.items()}


def _warehouse_losses(
    tap: str, config: dict, plain: Path, flat: Path, volatile: t.Collection[str]
) -> list[str]:
    """Values of the plain warehouse's tables that are not in the flattened one."""
    schema = TAPS[tap](config=config).streams
    losses: list[str] = []
    for table, stream in schema.items():
        keys = [k.lower() for k in stream.primary_keys or () if k not in volatile]
        plain_rows = {
            tuple(str(r[k]) for k in keys): r
            for r in duckdb_rows(plain / "warehouse.duckdb", LOAD_SCHEMA[tap], table)
        }
        flat_rows = {
            tuple(str(r[k]) for k in keys): r
            for r in duckdb_rows(flat / "warehouse.duckdb", LOAD_SCHEMA[tap], table)
        }
        if plain_rows.keys() != flat_rows.keys():
            losses.append(f"{table}: other rows ({len(plain_rows)} plain, {len(flat_rows)} flat)")
            continue
        lost: set[str] = set()
        for key, row in plain_rows.items():
            got = _landed_leaves(flat_rows[key])
            for path, value in _landed_leaves(row).items():
                head = path.split(SEPARATOR)[0]
                # The loader's own columns (_sdc_batched_at, ...) differ between runs.
                if value in (None, "") or head in volatile or head.startswith("_sdc_"):
                    continue
                if path not in got or not _same_leaf(value, got[path]):
                    lost.add(path)
        losses += [f"{table}.{path}" for path in sorted(lost)]
    return losses


def _same_leaf(plain: t.Any, flat: t.Any) -> bool:
    if isinstance(plain, datetime):
        plain = plain.isoformat() if plain.tzinfo else plain.replace(tzinfo=UTC).isoformat()
    return same_value(plain, flat)


LOAD_SCHEMA = {"tap-painchek": "painchek", "tap-humanapi": "humanapi", "tap-healthex": "healthex"}


@pytest.mark.e2e
@pytest.mark.parametrize("tap", list(TAPS))
def test_flattened_warehouse_tables_hold_every_value(
    tap, tmp_path, make_painchek_sandbox, make_humanapi_sandbox, make_healthex_sandbox
):
    runs: dict[str, Path] = {}
    volatile: set[str] = set()
    # Depth 3 (depth 1 flattens less; the tap-output tests above check both).
    for label, flattening in (("plain", {}), ("flat", _flattening(3))):
        if tap == "tap-painchek":
            sandbox = make_painchek_sandbox(seed=94, patients=8)
            config, vendor_path = sandbox.tap_config(), "/api/"
        elif tap == "tap-humanapi":
            sandbox = make_humanapi_sandbox(seed=92, users=10)
            config, vendor_path = sandbox.tap_config(), "/v1/human"
            volatile = {"checked_at"}
        else:
            sandbox = make_healthex_sandbox(seed=93, patients_per_project=2, delivery="s3")
            config = sandbox.tap_config("s3", request_updates=True)
            vendor_path = "/v1/projects/"
            volatile = HEALTHEX_CLOCKS
        sandbox.add_vendor_fields(vendor_path, UNKNOWN)
        meltano = Meltano(workdir=tmp_path / label)
        meltano.workdir.mkdir()
        meltano.env |= meltano_env(tap, config | flattening)
        meltano.run("run", tap, "target-duckdb")
        runs[label] = meltano.workdir
    assert _warehouse_losses(tap, config, runs["plain"], runs["flat"], volatile) == []
