"""tap-painchek benchmark: records/s against a plain `requests` loop, requests per
no-change run, and peak memory. Not a test: it prints figures, measured in one run.

    make bench            # 100,000 patients
    .venv/bin/python bench/painchek_bench.py --patients 20000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from sandbox.painchek import PATHS, PainChekSandbox

TAP = Path(sys.executable).parent / "tap-painchek"
PAGE_SIZE = 1000  # the server's maximum
SMALL = {"assessments": 20, "admissions": 20, "comments": 20, "users": 5, "sites": 3, "licenses": 2}


def baseline(sandbox: PainChekSandbox) -> int:
    """The simplest correct loop: token, page every endpoint by `next`, one RECORD line each."""
    session = requests.Session()
    token = session.post(
        f"{sandbox.url}/api/integration/auth/",
        data={"client_id": sandbox.client_id, "client_secret": sandbox.client_secret},
    ).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    written = 0
    with open("/dev/null", "w") as sink:
        for stream, path in PATHS.items():
            url: str | None = f"{sandbox.url}{path}?sync=0&page_size={PAGE_SIZE}"
            while url:
                body = session.get(url, timeout=60).json()
                for record in body["results"]:
                    sink.write(
                        json.dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n"
                    )
                    written += 1
                url = body["next"]
    return written


# The tap is started by a small launcher that reports its child's peak RSS: forked
# straight from this process, which holds the whole sandbox, ru_maxrss would count
# the parent's pages the child shares before exec.
LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)
PEAKS_KIB: list[int] = []


def sandbox_alone(sandbox: PainChekSandbox) -> int:
    """The fake's own speed: every page of patients fetched, bodies not even decoded."""
    session = requests.Session()
    session.auth = (sandbox.username, sandbox.password)
    url = f"{sandbox.url}{PATHS['patients']}?sync=0&page_size={PAGE_SIZE}"
    count = session.get(url, timeout=60).json()["count"]
    for number in range(2, -(-count // PAGE_SIZE) + 1):
        session.get(f"{url}&page={number}", timeout=60).raise_for_status()
    return count


def run_tap(config: Path, state: Path | None = None) -> tuple[int, dict]:
    """Run the tap's CLI; return (RECORD lines, final state)."""
    rss_file = config.with_name("rss.txt")
    args = [sys.executable, "-c", LAUNCHER, str(rss_file), str(TAP), "--config", str(config)]
    args += ["--state", str(state)] if state else []
    records, last_state = 0, {}
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as tap:
        assert tap.stdout is not None
        for line in tap.stdout:
            if line.startswith(b'{"type":"RECORD"'):
                records += 1
            elif line.startswith(b'{"type":"STATE"'):
                last_state = json.loads(line)["value"]
    if tap.returncode != 0:
        sys.exit(f"tap-painchek exited {tap.returncode}")
    PEAKS_KIB.append(int(rss_file.read_text()))
    return records, last_state


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2, help="best of N for each side")
    options = parser.parse_args()

    sandbox = PainChekSandbox(seed=7, patients=options.patients, sizes=SMALL)
    sandbox.start()
    work = Path(tempfile.mkdtemp(prefix="painchek-bench-"))
    config = work / "config.json"
    config.write_text(json.dumps(sandbox.tap_config(page_size=PAGE_SIZE)))
    try:
        served, served_seconds = timed(sandbox_alone, sandbox)
        base_best = tap_best = float("inf")
        state: dict = {}
        for _ in range(options.rounds):  # alternate, so neither side gets a warmer server
            base_records, seconds = timed(baseline, sandbox)
            base_best = min(base_best, seconds)
            (tap_records, state), seconds = timed(run_tap, config)
            tap_best = min(tap_best, seconds)
        peak_kib = max(PEAKS_KIB)

        state_file = work / "state.json"
        state_file.write_text(json.dumps(state))
        sandbox.reset_stats()
        unchanged_records, _ = run_tap(config, state_file)
        stats = sandbox.stats()
    finally:
        sandbox.stop()

    tap_rps, base_rps = tap_records / tap_best, base_records / base_best
    data_requests = {p: n for p, n in stats["by_path"].items() if "integration/auth" not in p}
    print(f"records synced:           tap {tap_records:,}   baseline {base_records:,}")
    print(f"tap-painchek:             {tap_rps:,.0f} records/s  ({tap_best:.2f} s, whole CLI run)")
    print(f"plain requests loop:      {base_rps:,.0f} records/s  ({base_best:.2f} s)")
    print(f"ratio tap / baseline:     {tap_rps / base_rps:.2f}")
    print(
        f"sandbox alone:            {served / served_seconds:,.0f} records/s "
        f"({served / served_seconds / 20_000:.1f}x its 20,000 records/s goal)"
    )
    print(
        f"no-change run:            {sum(data_requests.values())} data requests for "
        f"{len(PATHS)} streams, {stats['auth_requests']} token request, "
        f"{unchanged_records} records"
    )
    print(f"tap peak memory (RSS):    {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
