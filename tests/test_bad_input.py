"""Bad input: one clear line naming what is wrong, a non-zero exit, no bookmark movement.

Every case runs a tap's own command line, as Meltano does, against its sandbox:
first a good run, whose final state is the state a scheduler holds; then the vendor
changes (so a moved bookmark would show) and the case spoils one input: a setting,
the state file, the credentials, or the vendor's answers. The bad run must end with
exactly one error line naming the setting, stream or file, exit non-zero, and leave
the bookmarks it could not finish where they were. Where the vendor answered badly,
a last run after the vendor mends itself moves them on (so the check can fail).
Every log is scanned for secrets, tokens and patient details.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from harness import ROOT, SCENARIOS, Scenario, compare, duckdb_rows, meltano_env
from leaks import healthex_secrets, humanapi_secrets, leaks, painchek_secrets
from tapkit.testing import DROPPED_WARNING

MB = 1 << 20
SDK_CONTEXT_LINE = "An unhandled error occurred while syncing"
# The content of a state file of some other tap.
FOREIGN_STATE = {"bookmarks": {"orders": {"replication_key": "id", "replication_key_value": 5}}}


@dataclass
class TapRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict]:
        return [
            json.loads(line)["value"]
            for line in self.stdout.splitlines()
            if line.startswith('{"type":"STATE"')
        ]

    @property
    def errors(self) -> list[str]:
        """Error lines of the log, less the SDK's own 'while syncing' context line."""
        return [
            line.split("|", 3)[-1].strip()
            for line in self.stderr.splitlines()
            if ("| ERROR" in line or "| CRITICAL" in line) and SDK_CONTEXT_LINE not in line
        ]


def run_tap(tap: str, workdir: Path, config: dict | str, state: t.Any = None) -> TapRun:
    """Run the tap's command; ``str`` config or state is written as is (bad files)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "config.json"
    config_file.write_text(config if isinstance(config, str) else json.dumps(config))
    command = [str(ROOT / ".venv" / "bin" / tap), "--config", str(config_file)]
    if isinstance(state, Path):
        command += ["--state", str(state)]
    elif state is not None:
        state_file = workdir / "state.json"
        state_file.write_text(state if isinstance(state, str) else json.dumps(state))
        command += ["--state", str(state_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert DROPPED_WARNING not in done.stderr, "the SDK dropped a vendor field"
    return TapRun(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Case:
    """One bad input. ``config`` and ``state`` change the good run's config and state."""

    name: str
    expect: str | tuple[str, ...]  # what the one error line must contain
    config: t.Callable[[dict], dict | str] = lambda config: config
    state: t.Callable[[dict], t.Any] = lambda state: state
    spoil: t.Callable[[t.Any], None] | None = None  # makes the vendor answer badly
    watched: tuple[str, ...] = ()  # streams whose bookmarks must not move
    # After a spoiled run: the settings of a run that gets past it (the vendor mended).
    mend: t.Callable[[dict], dict] = lambda config: config


@dataclass
class Vendor:
    tap: str
    fixture: str
    sandbox: dict[str, t.Any]
    config: t.Callable[[t.Any], dict]
    change: t.Callable[[t.Any], None]
    secrets: t.Callable[[t.Any], set[str]]
    cases: list[Case] = field(default_factory=list)


def _settings(**changes: t.Any) -> t.Callable[[dict], dict]:
    """Settings changed (None removes one)."""
    return lambda config: {
        k: v for k, v in {**config, **changes}.items() if v is not None or k not in changes
    }


def _file_cases(required: str, secret: str, url: str) -> list[Case]:
    """Cases every tap shares: settings, the config file, the state file."""
    return [
        Case("a required setting missing", required, config=_settings(**{required: None})),
        Case("a wrong-typed setting", "request_timeout", config=_settings(request_timeout="soon")),
        Case("a wrong-typed secret", secret, config=_settings(**{secret: 31415926})),
        Case("http:// for a remote host", url, config=_settings(**{url: "http://vendor.example"})),
        Case("a config file that is not JSON", "config file", config=lambda _c: "{'api': 1"),
        Case("a state file that is not JSON", "state file", state=lambda _s: '{"bookmarks": {'),
        Case("a state file that is missing", "state file", state=lambda _s: Path("/nonexistent")),
        Case("a state file holding a list", "state file", state=lambda _s: "[]"),
        Case("a state of another tap", "another tap", state=lambda _s: FOREIGN_STATE),
        Case(
            "a state whose unknown stream is no object",
            "'retired'",
            state=lambda s: {"bookmarks": {**s["bookmarks"], "retired": 5}},
        ),
    ]


def _answer_cases(
    path: t.Callable[[t.Any], str], stream: str, keys: dict[str, str], watched: tuple[str, ...]
) -> list[Case]:
    """The vendor answers ``path`` badly: a proxy page, a wrong shape, keys missing, 200 MB."""

    def spoil(kind: str, **kwargs: t.Any) -> t.Callable[[t.Any], None]:
        return lambda sandbox: sandbox.malform(path(sandbox), kind, **kwargs)

    cases = [
        ("an answer that is not JSON", stream, spoil("html")),
        ("JSON of the wrong shape", stream, spoil("shape")),
        ("a 200 MB answer", (f"stream '{stream}'", "64 MiB"), spoil("huge", size=200 * MB)),
        *(
            (f"records missing their {role} ({key})", key, spoil("drop_key", key=key))
            for role, key in keys.items()
        ),
    ]
    return [
        Case(f"{stream}: {name}", expect, spoil=bad, watched=watched) for name, expect, bad in cases
    ]


# -- PainChek -------------------------------------------------------------------------


def _painchek_change(sandbox) -> None:
    sandbox.mutate("patients", "update", count=3)


PAINCHEK = Vendor(
    tap="tap-painchek",
    fixture="make_painchek_sandbox",
    sandbox={"seed": 90, "patients": 30},
    config=lambda sb: sb.tap_config(max_retry_seconds=1),
    change=_painchek_change,
    secrets=painchek_secrets,
    cases=[
        *_file_cases("api_url", "client_secret", "api_url"),
        Case("wrong credentials", "client_secret", config=_settings(client_secret="not-it")),
        Case(
            "a bookmark that is not an update_stamp",
            "patients",
            state=lambda s: {
                "bookmarks": {
                    **s["bookmarks"],
                    "patients": {"replication_key": "update_stamp", "replication_key_value": "x"},
                }
            },
        ),
        *_answer_cases(
            lambda _sb: "/api/patients/",
            "patients",
            {"primary key": "uuid", "replication key": "update_stamp"},
            ("patients",),
        ),
    ],
)

# -- Human API ------------------------------------------------------------------------


def _humanapi_change(sandbox) -> None:
    for client_user_id in sandbox.client_user_ids("served")[:3]:
        sandbox.source_sync(client_user_id, new=2, updated=1)


USER_MARKERS = ("user_sync_status",)
HUMANAPI = Vendor(
    tap="tap-humanapi",
    fixture="make_humanapi_sandbox",
    sandbox={"seed": 91, "users": 6},
    config=lambda sb: sb.tap_config(max_retry_seconds=1),
    change=_humanapi_change,
    secrets=humanapi_secrets,
    cases=[
        *_file_cases("client_id", "client_secret", "api_url"),
        Case("wrong credentials", "client_secret", config=_settings(client_secret="not-it")),
        Case(
            "user markers that are not a map",
            "user_sync_status",
            state=lambda s: {"bookmarks": {**s["bookmarks"], "user_sync_status": {"users": [1]}}},
        ),
        # Data lists: seed 91's changes may leave a user's allergies empty, so the keys
        # are dropped from the sources, which every changed user has.
        *_answer_cases(lambda _sb: "/v1/human/medical/allergies", "allergies", {}, USER_MARKERS),
        *_answer_cases(
            lambda _sb: "/v1/human/sources", "sources", {"primary key": "id"}, USER_MARKERS
        ),
    ],
)

# -- HealthEx -------------------------------------------------------------------------


def _healthex_change(sandbox) -> None:
    project = sandbox.projects[0]
    patient = sandbox.patient_ids(project)[0]
    sandbox.write_bundle(project, patient)
    sandbox.set_consent(patient, consented=False)


def _bad_file(data: bytes) -> t.Callable[[t.Any], None]:
    def spoil(sandbox) -> None:
        project = sandbox.projects[0]
        patient = sandbox.patient_ids(project)[0]
        sandbox.write_file(f"{sandbox.org_id}/{project}/{patient}/r-bad/bundle.json", data)

    return spoil


def _healthex_cases(delivery: str) -> list[Case]:
    # A bad file stays until someone removes it: the way past it is skip_bad_files.
    skip = _settings(skip_bad_files=True)
    watched = ("delivery_files",)
    cases = [
        Case(
            f"a delivered file that is not {kind}",
            "r-bad",
            spoil=_bad_file(data),
            watched=watched,
            mend=skip,
        )
        for kind, data in (("JSON", b"<xml/>"), ("FHIR", b'{"resourceType": "Binary", "id": "x"}'))
    ]
    if delivery == "s3":
        cases += [Case("a malformed aws_region", "aws_region", config=_settings(aws_region="a b"))]
    if delivery == "sftp":
        cases += [
            Case(
                "a malformed sftp_known_hosts line",
                "sftp_known_hosts",
                config=_settings(sftp_known_hosts="[127.0.0.1]:22 ssh-ed25519 not-base64!"),
            ),
            Case("a wrong SFTP password", "sftp_password", config=_settings(sftp_password="no")),
            Case("an SFTP host key that does not match", "host key", config=_other_host_key),
        ]
    return cases


def _other_host_key(config: dict) -> dict:
    import asyncssh  # noqa: PLC0415 - the sandbox's SSH library

    host = config["sftp_known_hosts"].split(" ")[0]
    key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    return {**config, "sftp_known_hosts": f"{host} {key}"}


def _healthex(delivery: str, cases: list[Case]) -> Vendor:
    return Vendor(
        tap="tap-healthex",
        fixture="make_healthex_sandbox",
        sandbox={"seed": 92, "patients_per_project": 2, "delivery": delivery},
        config=lambda sb: sb.tap_config(delivery, max_retry_seconds=1),
        change=_healthex_change,
        secrets=healthex_secrets,
        cases=[*cases, *_healthex_cases(delivery)],
    )


HEALTHEX_S3 = _healthex(
    "s3",
    [
        *_file_cases("api_key", "api_secret", "api_url"),
        Case("wrong credentials", "api_secret", config=_settings(api_secret="not-it")),
        Case(
            "a watermark that is not a date-time",
            "delivery_files",
            state=lambda s: {
                "bookmarks": {**s["bookmarks"], "delivery_files": {"watermark": "yesterday"}}
            },
        ),
        *_answer_cases(
            lambda sb: f"/v1/projects/{sb.projects[0]}/consent-records",
            "consent_records",
            # A consent carries no replication key: the tap's bookmark is HealthEx's clock.
            {"primary key": "id"},
            ("consent_records",),
        ),
    ],
)
HEALTHEX_SFTP = _healthex("sftp", [])


VENDORS = {
    "painchek": PAINCHEK,
    "humanapi": HUMANAPI,
    "healthex-s3": HEALTHEX_S3,
    "healthex-sftp": HEALTHEX_SFTP,
}
CASES = [(name, case) for name, vendor in VENDORS.items() for case in vendor.cases]
_TALLY: dict[str, Scenario] = {}


def _held(state: dict) -> dict:
    """The bookmarks a state holds (the SDK drops the empty ones when it writes it again)."""
    return {name: value for name, value in state.get("bookmarks", {}).items() if value}


def _bookmarks(states: list[dict], fallback: dict, streams: t.Iterable[str]) -> dict:
    final = states[-1] if states else fallback
    return {s: final.get("bookmarks", {}).get(s) for s in streams}


@pytest.mark.parametrize(
    ("name", "case"), CASES, ids=[f"{name}: {case.name}" for name, case in CASES]
)
def test_bad_input_ends_in_one_line_a_failure_and_no_bookmark_movement(
    request, tmp_path, name, case
):
    vendor = VENDORS[name]
    sandbox = request.getfixturevalue(vendor.fixture)(**vendor.sandbox)
    config = vendor.config(sandbox)
    good = run_tap(vendor.tap, tmp_path / "good", config)
    assert good.returncode == 0, good.stderr[-2000:]
    state = good.states[-1]
    vendor.change(sandbox)
    if case.spoil:
        case.spoil(sandbox)

    bad = run_tap(vendor.tap, tmp_path / "bad", case.config(config), case.state(state))

    scenario = _TALLY.setdefault(name, Scenario(f"{name}: bad input, each case"))
    scenario.runs += 1
    scenario.faults += 1
    logs = good.stderr + bad.stderr
    scenario.leaks += len(found := leaks(logs, {*vendor.secrets(sandbox), "31415926"}))
    if scenario not in SCENARIOS:
        SCENARIOS.append(scenario)
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr, bad.stderr[-3000:]
    assert len(bad.errors) == 1, bad.errors
    expected = (case.expect,) if isinstance(case.expect, str) else case.expect
    assert all(text in bad.errors[0] for text in expected), bad.errors
    assert found == []
    if not case.spoil:  # refused before reading anything: no record, no new bookmark
        assert '"type":"RECORD"' not in bad.stdout
        assert [s for s in bad.states if _held(s) != _held(state)] == []
        return
    before = _bookmarks([state], state, case.watched)
    assert _bookmarks(bad.states, state, case.watched) == before
    sandbox.malform_clear()
    mended = run_tap(vendor.tap, tmp_path / "mended", case.mend(config), state)
    assert mended.returncode == 0, mended.stderr[-2000:]
    assert _bookmarks(mended.states, state, case.watched) != before
    scenario.leaks += len(found := leaks(mended.stderr, vendor.secrets(sandbox)))
    assert found == []


@pytest.mark.e2e
def test_through_meltano_a_bad_answer_keeps_the_stored_bookmark_and_loses_nothing(
    make_painchek_sandbox, meltano
):
    """The state users depend on is Meltano's: a failed run must leave it, and lose nothing."""
    sandbox = make_painchek_sandbox(seed=93, patients=40)
    meltano.env |= meltano_env("tap-painchek", sandbox.tap_config(page_size=10))
    state_id = "dev:tap-painchek-to-target-duckdb"
    meltano.run("run", "tap-painchek", "target-duckdb")
    stored = json.loads(meltano.run("state", "get", state_id).stdout)
    sandbox.mutate("patients", "update", count=5)
    sandbox.malform("/api/patients/", "drop_key", key="uuid")

    failed = meltano.run("run", "tap-painchek", "target-duckdb", check=False)

    assert failed.returncode != 0
    assert "returned a record without a string uuid" in failed.stdout + failed.stderr
    after = json.loads(meltano.run("state", "get", state_id).stdout)
    held = after["singer_state"]["bookmarks"]["patients"]
    assert held == stored["singer_state"]["bookmarks"]["patients"]
    sandbox.malform_clear()
    meltano.run("run", "tap-painchek", "target-duckdb")
    warehouse = meltano.workdir / "warehouse.duckdb"
    result = compare(
        "patients", sandbox.truth("patients"), duckdb_rows(warehouse, "painchek", "patients")
    )
    assert result.ok, str(result)
    assert leaks("\n".join(meltano.logs), painchek_secrets(sandbox)) == []
