"""tap-painchek against dlt's rest_api source, on the same PainChek sandbox process.

Not a test: it prints seconds (best of N, sides alternated each round) and the ratio
ours / theirs (< 1 means ours is faster), measured in one run, plus the rows each side
landed per table next to the sandbox's truth. Other work on the machine moves the
absolute figures; the ratios are what to read.

    .venv/bin/python bench/peer_bench.py                       # 100,070 records, best of 3
    .venv/bin/python bench/peer_bench.py --patients 5000 --rounds 1

dlt runs in its own virtualenv (.tools/dlt-bench, made with uv on first use; dlt is not
a dependency of the taps), as a subprocess, so this process never imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psycopg
import requests
from painchek_bench import SMALL, baseline
from sandbox.painchek import PATHS, TABLES

ROOT = Path(__file__).resolve().parent.parent
TAP = ROOT / ".venv" / "bin" / "tap-painchek"
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
DLT_SPEC = "dlt[duckdb,postgres]==1.31.0"
DLT_VENV = ROOT / ".tools" / "dlt-bench"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
# dlt insists on a password; the server trusts 127.0.0.1, so any one will do.
PG_URL = "postgresql://postgres:trust@127.0.0.1:5432/test"
PAGE_SIZE = 1000  # the server's maximum, as in painchek_bench.py and meltano.yml
SEED = 7

# The sandbox runs in its own process (so neither side shares a GIL with it) and
# serves until its stdin closes, so it never outlives this script.
SANDBOX = """
import json, sys
from sandbox.painchek import PainChekSandbox, TABLES
sandbox = PainChekSandbox(**json.loads(sys.argv[1]))
url = sandbox.start("127.0.0.1", 0)
counts = {table: len(sandbox.truth(table)) for table in TABLES}
print(json.dumps({"url": url, "counts": counts}), flush=True)
sys.stdin.read()
sandbox.stop()
"""

# One dlt run. PainChek pages the Django REST Framework way ({count, next, previous,
# results}, ?page=&page_size=): dlt's page_number paginator reads `total_path` as a
# number of pages, not of rows, so with "count" it would walk past the last page into
# the server's 404; the `next` link is exact, and what the plain loop follows too.
# PainChek's token endpoint wants client_id/client_secret in a form body (dlt's
# OAuth2ClientCredentials sends them as HTTP Basic), so the token is fetched first.
DLT_SCRIPT = """
import json, sys, time

import dlt
import requests
from dlt.sources.rest_api import rest_api_source

spec = json.loads(sys.argv[1])
token = requests.post(
    spec["url"] + "/api/integration/auth/",
    data={"client_id": spec["client_id"], "client_secret": spec["client_secret"]},
    timeout=60,
).json()["access_token"]
source = rest_api_source({
    "client": {"base_url": spec["url"], "auth": {"type": "bearer", "token": token}},
    "resource_defaults": {
        "primary_key": "uuid",
        "write_disposition": "merge",
        "endpoint": {
            "data_selector": "results",
            "paginator": {"type": "json_link", "next_url_path": "next"},
            "params": {"page_size": spec["page_size"]},
            "incremental": {
                "start_param": "sync", "cursor_path": "update_stamp", "initial_value": 0,
            },
        },
    },
    "resources": [
        {"name": name, "endpoint": {"path": path}} for name, path in spec["paths"].items()
    ],
})
if spec["destination"] == "postgres":
    destination = dlt.destinations.postgres(credentials=spec["postgres_url"])
else:
    destination = dlt.destinations.duckdb(credentials=spec["duckdb_path"])
pipeline = dlt.pipeline(
    pipeline_name="painchek",
    pipelines_dir=spec["pipelines_dir"],
    destination=destination,
    dataset_name=spec["dataset"],
)
if spec["load"]:
    pipeline.run(source, loader_file_format=spec["file_format"])
    with pipeline.sql_client() as client:
        rows = {
            name: client.execute_sql(
                "select count(*) from " + client.make_qualified_table_name(name)
            )[0][0]
            for name in spec["paths"]
        }
else:
    pipeline.extract(source, loader_file_format=spec["file_format"])
    pipeline.normalize()
    counts = pipeline.last_trace.last_normalize_info.row_counts
    rows = {name: counts.get(name, 0) for name in spec["paths"]}
print(json.dumps({"rows": rows, "version": dlt.__version__}))
"""


def find_uv() -> str:
    """uv as scripts/bootstrap.sh finds it: on PATH, else the workspace's or .tools/uv's."""
    for candidate in (
        shutil.which("uv"),
        ROOT / ".venv" / "bin" / "uv",
        ROOT / ".tools" / "uv" / "bin" / "uv",
    ):
        if candidate and Path(candidate).exists():
            return str(candidate)
    sys.exit("uv not found: run `make bootstrap` first")


def dlt_python() -> Path:
    """The dlt virtualenv's interpreter, installing DLT_SPEC there first if needed."""
    python = DLT_VENV / "bin" / "python"
    marker = DLT_VENV / "installed"
    if python.exists() and marker.exists() and marker.read_text() == DLT_SPEC:
        return python
    print(f"==> installing {DLT_SPEC} into {DLT_VENV.relative_to(ROOT)}", flush=True)
    uv = find_uv()
    quiet = ["--quiet"]
    subprocess.run(
        [uv, "venv", *quiet, "--allow-existing", "--python", sys.executable, str(DLT_VENV)],
        check=True,
    )
    subprocess.run([uv, "pip", "install", *quiet, "--python", str(python), DLT_SPEC], check=True)
    marker.write_text(DLT_SPEC)
    return python


@dataclass
class Sandbox:
    """A PainChek sandbox in a child process, with its control API."""

    options: dict[str, t.Any]
    url: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-client-secret"  # the sandbox's default

    def __enter__(self) -> Sandbox:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SANDBOX, json.dumps(self.options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ready = json.loads(self.process.stdout.readline())
        self.url, self.counts = ready["url"], ready["counts"]
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def reset_stats(self) -> None:
        requests.post(f"{self.url}/_control/stats/reset", timeout=10).raise_for_status()

    def stats(self) -> dict[str, t.Any]:
        answer = requests.get(f"{self.url}/_control/stats", timeout=10)
        answer.raise_for_status()
        return answer.json()

    def tap_config(self, page_size: int) -> dict[str, t.Any]:
        return {
            "api_url": self.url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "page_size": page_size,
        }


@dataclass
class Run:
    """One timed run: wall seconds, what the sandbox served, rows landed per table."""

    seconds: float
    requests: int
    records_served: int
    rows: dict[str, int] | None = None


@dataclass
class Bench:
    """Runs each side against one sandbox; every run in a fresh directory under work."""

    sandbox: Sandbox
    work: Path
    dlt: Path
    page_size: int = PAGE_SIZE
    dlt_version: str = ""

    def measure(self, fn: t.Callable[[], dict[str, int] | None]) -> Run:
        self.sandbox.reset_stats()
        start = time.perf_counter()
        rows = fn()
        seconds = time.perf_counter() - start
        stats = self.sandbox.stats()
        return Run(seconds, stats["requests"], stats["records_served"], rows)

    def fresh(self, name: str) -> Path:
        path = self.work / f"{name}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def tap_to_null(self) -> None:
        config = self.fresh("tap") / "config.json"
        config.write_text(json.dumps(self.sandbox.tap_config(self.page_size)))
        done = subprocess.run(
            [str(TAP), "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        if done.returncode != 0:
            sys.exit(f"tap-painchek exited {done.returncode}:\n{done.stderr.decode()[-3000:]}")

    def raw_loop(self) -> None:
        # painchek_bench's loop reads only the url and the credentials of its sandbox.
        baseline(self.sandbox)  # type: ignore[arg-type]

    def meltano(self, workdir: Path, target: str, extra: dict[str, str]) -> None:
        """`meltano run tap-painchek <target>` with its own system database in workdir."""
        env = {
            **os.environ,
            "MELTANO_ENVIRONMENT": "dev",
            "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TARGET_DUCKDB_FILEPATH": str(workdir / "warehouse.duckdb"),
            "TAP_PAINCHEK_API_URL": self.sandbox.url,
            "TAP_PAINCHEK_CLIENT_ID": self.sandbox.client_id,
            "TAP_PAINCHEK_CLIENT_SECRET": self.sandbox.client_secret,
            "TAP_PAINCHEK_PAGE_SIZE": str(self.page_size),
            **extra,
        }
        done = subprocess.run(
            [str(MELTANO), "run", "tap-painchek", target],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            sys.exit(f"meltano run tap-painchek {target} exited {done.returncode}:\n{tail}")

    def dlt_run(self, workdir: Path, **overrides: t.Any) -> dict[str, int]:
        """One dlt pipeline run in workdir (its state lives there); rows per table."""
        spec = {
            "url": self.sandbox.url,
            "client_id": self.sandbox.client_id,
            "client_secret": self.sandbox.client_secret,
            "paths": PATHS,
            "page_size": self.page_size,
            "pipelines_dir": str(workdir / "pipelines"),
            "duckdb_path": str(workdir / "dlt.duckdb"),
            "postgres_url": PG_URL,
            "dataset": "painchek",
            "destination": "duckdb",
            "file_format": None,
            "load": True,
            **overrides,
        }
        script = self.work / "dlt_painchek.py"
        if not script.exists():
            script.write_text(DLT_SCRIPT)
        env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
        env.pop("VIRTUAL_ENV", None)
        done = subprocess.run(
            [str(self.dlt), str(script), json.dumps(spec)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            sys.exit(f"the dlt pipeline exited {done.returncode}:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.splitlines()[-1])
        self.dlt_version = result["version"]
        return result["rows"]


def duckdb_counts(path: Path, schema: str) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            table: con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            for table in TABLES
        }


def postgres_counts(schema: str) -> dict[str, int]:
    with psycopg.connect(PG_DSN) as con:
        return {
            table: con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            for table in TABLES
        }


def drop_schemas(*schemas: str) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as con:
        for schema in schemas:
            con.execute(f'drop schema if exists "{schema}" cascade')


Sides = dict[str, t.Callable[[], Run]]


def best_of(rounds: int, sides: Sides) -> dict[str, list[Run]]:
    """Every side once a round, the order turning each round so none always goes first."""
    runs: dict[str, list[Run]] = {name: [] for name in sides}
    names = list(sides)
    for number in range(rounds):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(sides[name]())
    return runs


# -- the scenarios (the first side of each is ours) ---------------------------------------


def startup_sides(bench: Bench) -> Sides:
    """What every run above pays before its first request: starting the process."""

    def start(*args: str | Path) -> Run:
        def launch() -> None:
            subprocess.run(args, stdout=subprocess.DEVNULL, check=True)

        return bench.measure(launch)

    return {
        "tap-painchek --about": lambda: start(TAP, "--about"),
        "python -c 'import dlt.sources.rest_api'": lambda: start(
            bench.dlt, "-c", "import dlt.sources.rest_api"
        ),
    }


def extract_sides(bench: Bench, *formats: str | None, raw: bool = False) -> Sides:
    sides: Sides = {"tap-painchek CLI > /dev/null": lambda: bench.measure(bench.tap_to_null)}
    if raw:
        sides["plain requests loop (painchek_bench)"] = lambda: bench.measure(bench.raw_loop)

    def dlt(file_format: str | None) -> Run:
        workdir = bench.fresh("dlt-extract")
        try:
            return bench.measure(
                lambda: bench.dlt_run(workdir, load=False, file_format=file_format)
            )
        finally:
            shutil.rmtree(workdir)

    for file_format in formats:
        label = f"dlt extract+normalize ({file_format or 'insert_values, default'})"
        sides[label] = lambda file_format=file_format: dlt(file_format)
    return sides


OURS_AGAIN = "meltano run tap-painchek target-duckdb"
DLT_AGAIN = "dlt -> duckdb (insert_values, default)"


def duckdb_sides(bench: Bench, again: dict[str, list[Run]]) -> Sides:
    """Full runs into fresh warehouses; each side's second run (with state) goes to again."""

    def ours() -> Run:
        workdir = bench.fresh("meltano-duckdb")

        def load() -> dict[str, int]:
            bench.meltano(workdir, "target-duckdb", {})
            return duckdb_counts(workdir / "warehouse.duckdb", "painchek")

        try:
            full = bench.measure(load)
            again[OURS_AGAIN].append(bench.measure(load))
            return full
        finally:
            shutil.rmtree(workdir)

    def dlt(file_format: str | None) -> Run:
        workdir = bench.fresh("dlt-duckdb")
        try:
            full = bench.measure(lambda: bench.dlt_run(workdir, file_format=file_format))
            if file_format is None:
                again[DLT_AGAIN].append(
                    bench.measure(lambda: bench.dlt_run(workdir, file_format=file_format))
                )
            return full
        finally:
            shutil.rmtree(workdir)

    return {
        OURS_AGAIN: ours,
        DLT_AGAIN: lambda: dlt(None),
        "dlt -> duckdb (jsonl)": lambda: dlt("jsonl"),
    }


def postgres_sides(bench: Bench) -> Sides:
    """Each run into a fresh schema, dropped after its rows are counted."""

    def ours() -> Run:
        schema = f"bench_ours_{uuid.uuid4().hex[:8]}"
        workdir = bench.fresh("meltano-postgres")
        extra = {"TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema}

        def load() -> dict[str, int]:
            bench.meltano(workdir, "target-postgres", extra)
            return postgres_counts(schema)

        try:
            return bench.measure(load)
        finally:
            drop_schemas(schema)
            shutil.rmtree(workdir)

    def dlt() -> Run:
        schema = f"bench_dlt_{uuid.uuid4().hex[:8]}"
        workdir = bench.fresh("dlt-postgres")

        def load() -> dict[str, int]:
            bench.dlt_run(workdir, destination="postgres", dataset=schema)
            return postgres_counts(schema)

        try:
            return bench.measure(load)
        finally:
            drop_schemas(schema, f"{schema}_staging")
            shutil.rmtree(workdir)

    return {
        "meltano run tap-painchek target-postgres": ours,
        "dlt -> postgres (insert_values, default)": dlt,
    }


# -- the report ---------------------------------------------------------------------------


@dataclass
class Section:
    """One scenario: its runs by side (ours first) and the rows the sandbox holds."""

    title: str
    truth: dict[str, int]
    runs: dict[str, list[Run]]


WIDTH = 50


def print_times(sections: list[Section]) -> None:
    header = f"{'best s':>8}{'ours/x':>8}{'requests':>10}{'served':>10}"
    print(f"\n{'seconds (best of N)':<{WIDTH}}{header}")
    for section in sections:
        print(section.title)
        ours = min(run.seconds for run in next(iter(section.runs.values())))
        for index, (name, runs) in enumerate(section.runs.items()):
            best = min(runs, key=lambda run: run.seconds)
            ratio = f"{ours / best.seconds:.2f}" if index else "-"
            print(
                f"  {name:<{WIDTH - 2}}{best.seconds:>8.2f}{ratio:>8}"
                f"{best.requests:>10,}{best.records_served:>10,}"
            )


def print_rows(sections: list[Section]) -> list[str]:
    """Rows landed per table beside the truth (the last run shown); every run checked."""
    print(f"\n{'rows per table':<{WIDTH}}" + "".join(f"{name[:11]:>12}" for name in TABLES))
    mismatches = []
    for section in sections:
        counted = {name: runs for name, runs in section.runs.items() if runs[0].rows is not None}
        if not counted:
            continue
        print(section.title.split(" (")[0])
        print(
            f"  {'sandbox truth':<{WIDTH - 2}}"
            + "".join(f"{section.truth[n]:>12,}" for n in TABLES)
        )
        for name, runs in counted.items():
            for run in runs:
                assert run.rows is not None
                mismatches += [
                    f"{section.title.split(' (')[0]} / {name}: {table} {run.rows.get(table, 0):,}"
                    f" rows, the sandbox {section.truth[table]:,}"
                    for table in TABLES
                    if run.rows.get(table, 0) != section.truth[table]
                ]
            last = runs[-1].rows
            assert last is not None
            print(f"  {name:<{WIDTH - 2}}" + "".join(f"{last.get(n, 0):>12,}" for n in TABLES))
    return mismatches


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--patients",
        type=int,
        default=100_000,
        help="patients to generate (default 100,000: 100,070 records with --mix bench)",
    )
    parser.add_argument(
        "--mix",
        choices=("bench", "vendor"),
        default="bench",
        help="bench: painchek_bench.py's sizes, patients plus 70 rows elsewhere; vendor: the "
        "sandbox's own proportions, about 6.6 records a patient, most of them assessments",
    )
    parser.add_argument("--rounds", type=int, default=3, help="best of N for each side")
    parser.add_argument("--latency-patients", type=int, default=5000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--latency-page-size", type=int, default=100)
    return parser.parse_args()


def run_scenarios(options: argparse.Namespace, dlt: Path, work: Path) -> tuple[list[Section], str]:
    sizes = SMALL if options.mix == "bench" else None
    sections = []
    with Sandbox({"seed": SEED, "patients": options.patients, "sizes": sizes}) as sandbox:
        bench = Bench(sandbox, work, dlt)
        truth = sandbox.counts
        starts = best_of(options.rounds, startup_sides(bench))
        sections.append(Section("0 process start only (a fixed cost of every run)", truth, starts))
        size = f"{sum(truth.values()):,} records, page size {PAGE_SIZE}"
        extract = extract_sides(bench, None, "jsonl", raw=True)
        sections.append(
            Section(f"1 extract only ({size})", truth, best_of(options.rounds, extract))
        )
        again: dict[str, list[Run]] = {OURS_AGAIN: [], DLT_AGAIN: []}
        loads = best_of(options.rounds, duckdb_sides(bench, again))
        sections.append(Section(f"2 end to end into DuckDB ({size})", truth, loads))
        loads = best_of(options.rounds, postgres_sides(bench))
        sections.append(Section(f"3 end to end into PostgreSQL ({size})", truth, loads))
        sections.append(
            Section("4 no-change run into DuckDB (second run, with state)", truth, again)
        )
    latency = {
        "seed": SEED,
        "patients": options.latency_patients,
        "sizes": sizes,
        "latency_ms": options.latency_ms,
    }
    with Sandbox(latency) as slow:
        bench = Bench(slow, work, dlt, page_size=options.latency_page_size)
        title = (
            f"5 latency-bound extract ({sum(slow.counts.values()):,} records, "
            f"{options.latency_ms} ms a request, page size {options.latency_page_size})"
        )
        runs = best_of(options.rounds, extract_sides(bench, None))
        sections.append(Section(title, slow.counts, runs))
    return sections, bench.dlt_version


def main() -> None:
    options = parse_options()
    dlt = dlt_python()
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="peer-bench-"))
    try:
        sections, dlt_version = run_scenarios(options, dlt, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"dlt {dlt_version} rest_api (json_link paginator on `next`, merge on uuid, incremental"
        f" on update_stamp via ?sync=) vs tap-painchek; best of {options.rounds}, sides"
        " alternated.\nours/x = our seconds / theirs (< 1: ours is faster). requests and served"
        " (records) are the sandbox's counts for the best run, token requests included.\n"
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the start: other work on the machine"
        " moves the seconds, so the figures are indicative."
    )
    print_times(sections)
    mismatches = print_rows(sections)
    if mismatches:
        print("\n!!! MISMATCH: the sides did not land what the sandbox holds !!!")
        print("\n".join(f"  {line}" for line in mismatches))
        sys.exit(1)
    print("\nevery run of every side landed exactly the sandbox's rows per table")


if __name__ == "__main__":
    main()
