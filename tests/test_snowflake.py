"""MeltanoLabs target-snowflake, as meltano.yml defines it, tested as far as this machine allows.

There is no Snowflake account here. What runs:

- Meltano installs the loader, and `meltano invoke target-snowflake --about` lists every
  setting meltano.yml declares, of the same kind, and every secret it names is
  `sensitive` in meltano.yml;
- fakesnow's server mode (Snowflake's HTTP API over DuckDB) on 127.0.0.1 is given each
  tap's SCHEMA messages (its streams as `tap-x --discover` lists them; meltano.yml
  selects them all) by the loader Meltano installed, with the config Meltano hands it;
  fakesnow's information_schema must then hold, for every stream, a table whose columns
  are the stream's properties with Snowflake types (strings TEXT, integers
  NUMBER(38,0), date-times meltano.yml's timestamp_type, objects and arrays VARIANT,
  booleans BOOLEAN), plus the _sdc_ columns.

What does not: loading rows. target-snowflake stages batch files with
`PUT file://... '@~/target-snowflake/<sync id>'`, loads them with MERGE INTO or COPY
INTO, then REMOVEs them. fakesnow 0.12 rejects that PUT ("does not start with @") and
cannot parse REMOVE, so a run with records fails there; nothing here pretends otherwise.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from harness import ROOT, SDK_BUILTINS, Meltano
from leaks import leaks

TAPS = ("tap-painchek", "tap-humanapi", "tap-healthex")
DATABASE = "ANALYTICS"
FAKESNOW = Path(sys.executable).parent / "fakesnow"
LOADER = ROOT / ".meltano" / "loaders" / "target-snowflake" / "venv" / "bin" / "target-snowflake"
PASSWORD = "fakesnow-password-7f3a"  # fakesnow accepts any; no log may hold it
PASSPHRASE = "fakesnow-passphrase-51c9"
# target-snowflake has no host, port or protocol setting: it always connects to
# https://<account>.snowflakecomputing.com. The narrowest way to point it at fakesnow:
# this sitecustomize, on PYTHONPATH for the loader's test runs only, sets host, port
# and protocol on each Snowflake connection and nothing else.
REDIRECT = """
import os

address = os.environ.get("FAKESNOW_ADDRESS")
if address:
    from snowflake.connector import connection

    connect = connection.SnowflakeConnection.__init__

    def to_fakesnow(self, *args, **kwargs):
        host, port = address.rsplit(":", 1)
        kwargs.update(host=host, port=int(port), protocol="http")
        connect(self, *args, **kwargs)

    connection.SnowflakeConnection.__init__ = to_fakesnow
"""


def _plugin(kind: str, name: str) -> dict[str, t.Any]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    [plugin] = [p for p in project["plugins"][kind] if p["name"] == name]
    return plugin


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def fakesnow_port(tmp_path_factory) -> t.Iterator[int]:
    """fakesnow's server on 127.0.0.1, in its own process (its warnings are not ours)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("fakesnow") / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(FAKESNOW), "--server", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "fakesnow did not start in 60 s"
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def _columns(port: int, schema: str) -> dict[str, dict[str, str]]:
    """Table -> column -> type, as fakesnow's information_schema holds them."""
    import snowflake.connector  # noqa: PLC0415

    with snowflake.connector.connect(
        user="fake",
        password=PASSWORD,
        account="fakesnow",
        host="127.0.0.1",
        port=port,
        protocol="http",
        database=DATABASE,
        network_timeout=5,
        session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    ) as con:
        rows = (
            con.cursor()
            .execute(
                "select table_name, column_name, data_type, numeric_precision, numeric_scale "
                "from information_schema.columns where table_schema = %s",
                (schema.upper(),),
            )
            .fetchall()
        )
    landed: dict[str, dict[str, str]] = {}
    for table, column, data_type, precision, scale in rows:
        number = f"({precision},{scale})" if data_type == "NUMBER" else ""
        landed.setdefault(table, {})[column] = data_type + number
    return landed


def _private_key(passphrase: str | None) -> str:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def _login(tap: str, workdir: Path) -> tuple[dict[str, str], list[str]]:
    """Each tap's run logs in another way; the secrets no log may hold.

    fakesnow accepts any login: this shows Meltano passes the setting and the loader
    reads it (an encrypted key needs its passphrase), not that Snowflake accepts it.
    """
    if tap == "tap-painchek":
        key = _private_key(PASSPHRASE)
        env = {
            "TARGET_SNOWFLAKE_PRIVATE_KEY": key,
            "TARGET_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": PASSPHRASE,
        }
        return env, [PASSPHRASE, *key.splitlines()[1:-1]]
    if tap == "tap-healthex":
        key = _private_key(None)
        path = workdir / "snowflake_key.p8"
        path.write_text(key)
        return {"TARGET_SNOWFLAKE_PRIVATE_KEY_PATH": str(path)}, key.splitlines()[1:-1]
    return {"TARGET_SNOWFLAKE_PASSWORD": PASSWORD}, [PASSWORD]


def _schema_messages(tap: str) -> tuple[dict[str, dict], str]:
    """The tap's streams, and the SCHEMA messages a sync of them starts with."""
    command = [str(ROOT / ".venv" / "bin" / tap), "--discover"]
    catalog = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    streams = {stream["tap_stream_id"]: stream for stream in catalog["streams"]}
    lines = []
    for name, stream in streams.items():
        [top] = [m["metadata"] for m in stream["metadata"] if m["breadcrumb"] == []]
        message = {
            "type": "SCHEMA",
            "stream": name,
            "schema": stream["schema"],
            "key_properties": top.get("table-key-properties", []),
        }
        lines.append(json.dumps(message) + "\n")
    return streams, "".join(lines)


@dataclass
class Landed:
    streams: dict[str, dict]
    columns: dict[str, dict[str, str]]
    leaked: list[str]


def _load_schemas(tap: str, port: int, workdir: Path) -> Landed:
    """Give the loader one tap's SCHEMA messages, with the config Meltano hands it.

    Meltano drops PYTHONPATH from a plugin's environment (so REDIRECT cannot reach a
    `meltano invoke`): the loader Meltano installed is started here, with the config
    `meltano invoke --dump=config` shows, as `meltano run` would pass it.
    """
    streams, messages = _schema_messages(tap)
    (workdir / "schemas.jsonl").write_text(messages)
    schema = _plugin("extractors", tap)["load_schema"]
    env, secrets = _login(tap, workdir)
    meltano = Meltano(workdir=workdir)
    meltano.env.update(
        {
            # What `meltano run` sets from the extractor's load_schema.
            "MELTANO_EXTRACT__LOAD_SCHEMA": schema,
            "TARGET_SNOWFLAKE_ACCOUNT": "fakesnow",
            "TARGET_SNOWFLAKE_USER": "loader",
            "TARGET_SNOWFLAKE_DATABASE": DATABASE,
            **env,
        }
    )
    dumped = meltano.run("invoke", "--dump=config", "target-snowflake")
    (workdir / "config.json").write_text(dumped.stdout)
    redirect = workdir / "redirect"
    redirect.mkdir()
    (redirect / "sitecustomize.py").write_text(REDIRECT)
    loader_env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    loader_env.update(PYTHONPATH=str(redirect), FAKESNOW_ADDRESS=f"127.0.0.1:{port}")
    done = subprocess.run(
        [str(LOADER), "--config", str(workdir / "config.json")],
        input=messages,
        env=loader_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    logs = dumped.stderr + done.stdout + done.stderr
    assert done.returncode == 0, "\n".join(logs.splitlines()[-30:])
    return Landed(streams, _columns(port, schema), leaks(logs, secrets))


@pytest.fixture(scope="module")
def landed(fakesnow_port, tmp_path_factory) -> dict[str, Landed]:
    """Each tap's streams loaded as tables (the three at once: each waits on its processes)."""
    with ThreadPoolExecutor(len(TAPS)) as pool:
        runs = {
            tap: pool.submit(_load_schemas, tap, fakesnow_port, tmp_path_factory.mktemp(tap))
            for tap in TAPS
        }
        return {tap: run.result() for tap, run in runs.items()}


def _sane_types(prop: dict[str, t.Any], timestamp_type: str) -> set[str]:
    """The Snowflake types a stream property may land as."""
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    [kind] = [name for name in types if name != "null"]
    if kind in ("object", "array"):
        return {"VARIANT"}
    if kind == "string":
        formats = {"date-time": {timestamp_type}, "date": {"DATE"}}
        return formats.get(prop.get("format", ""), {"TEXT", "VARCHAR"})
    return {"integer": {"NUMBER(38,0)"}, "number": {"FLOAT", "DOUBLE"}, "boolean": {"BOOLEAN"}}[
        kind
    ]


@pytest.mark.e2e
def test_meltano_installs_the_loader_and_its_about_lists_the_declared_settings(meltano):
    meltano.run("install", "loader", "target-snowflake")
    about = json.loads(meltano.run("invoke", "target-snowflake", "--about", "--format=json").stdout)
    settings = about["settings"]["properties"]
    plugin = _plugin("loaders", "target-snowflake")
    declared = {setting["name"]: setting for setting in plugin["settings"]}

    assert sorted(set(declared) - set(settings)) == []
    assert sorted(set(settings) - SDK_BUILTINS - set(declared)) == []
    secrets = {name for name, spec in settings.items() if spec.get("secret")}
    assert {"private_key", "oauth_access_token"} <= secrets
    assert sorted(n for n in secrets if not declared[n].get("sensitive")) == []
    for name, setting in declared.items():
        spec = settings[name]
        if "enum" in spec:
            assert setting["kind"] == "options", name
            assert [o["value"] for o in setting["options"]] == spec["enum"], name
        else:
            [kind] = [k for k in spec["type"] if k != "null"]
            assert setting["kind"] == kind, name
    assert sorted(plugin["capabilities"]) == sorted(about["capabilities"])


@pytest.mark.e2e
@pytest.mark.parametrize("tap", TAPS)
def test_each_stream_becomes_a_snowflake_table_typed_as_its_schema(landed, tap):
    streams, columns = landed[tap].streams, landed[tap].columns
    timestamp_type = _plugin("loaders", "target-snowflake")["config"]["timestamp_type"]

    assert sorted(columns) == sorted(name.upper() for name in streams)
    wrong = [
        f"{name}.{prop}: {columns[name.upper()].get(prop.upper())}"
        for name, stream in streams.items()
        for prop, spec in stream["schema"]["properties"].items()
        if columns[name.upper()].get(prop.upper()) not in _sane_types(spec, timestamp_type)
    ]
    assert wrong == []
    # meltano.yml's add_record_metadata: the columns dedupes and deletes need.
    sdc = {"_SDC_EXTRACTED_AT", "_SDC_DELETED_AT", "_SDC_SEQUENCE"}
    assert [name for name in streams if not sdc <= set(columns[name.upper()])] == []
    assert landed[tap].leaked == []
