"""Every run command in the README works on a fresh clone, as written, in its order.

The repository is cloned (its committed HEAD), bootstrapped with `make bootstrap`, as
the README says to do first, and every `meltano` command of the README's bash blocks
runs in the clone, unchanged. Its TAP_* and TARGET_* variables point at the sandboxes
and the local PostgreSQL, as a user points them at a tenant and a warehouse. Rows must
land in the clone's `output/warehouse.duckdb` and in PostgreSQL.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import psycopg
import pytest
from harness import ROOT, duckdb_rows, meltano_env

# What this machine cannot run: Snowflake is not reachable (tests/test_snowflake.py
# checks what it can of that loader).
NOT_HERE = re.compile(r"snowflake")


def readme_commands(readme: str) -> list[str]:
    """The `meltano` commands of the README's bash blocks (and their `wait`), in order."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words == ["wait"] or (words and words[0].endswith("/meltano")):
                commands.append(" ".join(words))
    return commands


def test_the_readme_names_its_run_commands():
    commands = readme_commands((ROOT / "README.md").read_text())
    ran = [c for c in commands if not NOT_HERE.search(c)]
    for tap in ("tap-painchek", "tap-humanapi", "tap-healthex"):
        assert any(f"run {tap} target-duckdb" in c for c in ran), tap
    assert any("painchek-to-postgres" in c for c in ran)
    assert any("tap-humanapi--shard1" in c for c in ran)
    assert any("run painchek-continuous" in c for c in ran)
    assert any("run humanapi-continuous" in c for c in ran)
    assert any("dbt-duckdb:build" in c for c in ran)


def _run(cmd: list[str] | str, cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        shell=isinstance(cmd, str),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        pytest.fail(f"`{cmd}` exited {done.returncode} in a fresh clone:\n{tail}")
    return done.stdout + done.stderr


@pytest.mark.e2e
def test_readme_commands_work_on_a_fresh_clone(
    tmp_path,
    fresh_database,
    inbox,
    make_painchek_sandbox,
    make_humanapi_sandbox,
    make_healthex_sandbox,
):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    assert not (clone / "output" / "warehouse.duckdb").exists()
    # A user's shell: no variables of ours, no virtual environment active.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MELTANO_", "TAP_", "TARGET_", "VIRTUAL_ENV", "PYTEST"))
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    _run(["make", "bootstrap"], clone, env, timeout=900)

    painchek = make_painchek_sandbox(seed=95, patients=6)
    humanapi = make_humanapi_sandbox(seed=95, users=3)
    healthex = make_healthex_sandbox(seed=95, patients_per_project=2, delivery="s3")
    env |= meltano_env("tap-painchek", painchek.tap_config())
    env |= meltano_env("tap-humanapi", humanapi.tap_config())
    env |= meltano_env("tap-healthex", healthex.tap_config("s3"))
    for tap in ("tap-painchek", "tap-humanapi"):  # the continuous jobs
        env |= meltano_env(tap, {"inbox_url": inbox.url, "inbox_token": inbox.read_token})
    env |= {
        "TARGET_POSTGRES_HOST": "127.0.0.1",
        "TARGET_POSTGRES_PORT": "5432",
        "TARGET_POSTGRES_USER": "postgres",
        # target-postgres requires a password with host and user; trust auth ignores it.
        "TARGET_POSTGRES_PASSWORD": "unused-with-trust-auth",
        # A new database: each tap's tables land in its own schema, as the README says.
        "TARGET_POSTGRES_DATABASE": fresh_database,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }

    commands = [
        c for c in readme_commands((clone / "README.md").read_text()) if not NOT_HERE.search(c)
    ]
    background: list[tuple[str, subprocess.Popen]] = []
    try:
        for command in commands:
            if command.endswith(" &"):  # run beside the next ones, until `wait`
                started = subprocess.Popen(
                    command.removesuffix(" &"),
                    cwd=clone,
                    env=env,
                    shell=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                background.append((command, started))
            elif command == "wait":
                ended = [(name, p, p.communicate(timeout=600)[0]) for name, p in background]
                background.clear()
                for name, process, out in ended:
                    tail = "\n".join(out.splitlines()[-30:])
                    assert process.returncode == 0, f"`{name}` exited {process.returncode}:\n{tail}"
            else:
                _run(command, clone, env, timeout=600)
    finally:
        for _, process in background:  # a failure above: leave nothing running
            process.kill()
            process.communicate()
    assert background == [], "a command ran in the background and nothing waited for it"

    warehouse = clone / "output" / "warehouse.duckdb"
    landed: dict[str, int] = {
        f"{schema}.{table}": len(duckdb_rows(warehouse, schema, table))
        for schema, table in (
            ("painchek", "patients"),
            ("painchek", "assessments"),
            ("humanapi", "users"),
            ("humanapi", "sources"),
            ("healthex", "identified_patients"),
            ("healthex", "patient"),
            ("analytics", "patient_timeline"),  # the models the README's runs build
        )
    }
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={fresh_database}") as con:
        # painchek-to-postgres builds the models after it loads
        tables = (
            ("painchek", "patients"),
            ("humanapi", "users"),
            ("analytics", "patient_timeline"),
        )
        for schema, table in tables:
            count = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            landed[f"postgres.{schema}.{table}"] = count[0] if count else 0
    empty = sorted(name for name, rows in landed.items() if rows == 0)
    assert empty == [], f"no rows landed in {empty}"
    assert landed["painchek.patients"] == len(painchek.truth("patients"))
    assert landed["postgres.painchek.patients"] == len(painchek.truth("patients"))
    assert landed["postgres.humanapi.users"] == len(humanapi.users())  # shards: each user once
