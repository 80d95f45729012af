"""tap-healthex benchmark: parsing delivered FHIR bundles, and memory for a 200 MB one.

Resources/s of the tap's streaming parser (ijson, plus the columns it promotes and
the JSON it writes per resource) against plain ``json.load`` of the same file in the
same run, and the peak memory (RSS) of each; then a whole tap run that reads the
bundle over SFTP. Not a test: it prints figures.

    make bench
    .venv/bin/python bench/healthex_bench.py --size-mb 200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandbox.healthex import HealthExSandbox

TAP = Path(sys.executable).parent / "tap-healthex"
# Each side runs in its own process and reports its own peak RSS (KiB).
STREAMING = """
import resource, sys, time, msgspec
from pathlib import Path
from tap_healthex.fhir import OTHER, STREAM_OF_TYPE, bundle_resources, promote
encode, count, start = msgspec.json.Encoder().encode, 0, time.perf_counter()
for r in bundle_resources(Path(sys.argv[1])):
    stream = STREAM_OF_TYPE.get(r["resourceType"], OTHER)
    encode({"id": r["id"], **promote(stream, r), "resource": r})
    count += 1
print(count, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
JSON_LOAD = """
import json, resource, sys, time
start = time.perf_counter()
with open(sys.argv[1]) as f:
    bundle = json.load(f)
count = sum(1 for entry in bundle["entry"] if json.dumps(entry["resource"]))
print(count, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def measure(code: str, path: Path) -> tuple[int, float, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=float, default=200)
    options = parser.parse_args()

    sandbox = HealthExSandbox(seed=1, projects=("proj-a",), patients_per_project=1, delivery="sftp")
    sandbox.start()
    try:
        patient = sandbox.patient_ids("proj-a")[0]
        key = sandbox.write_bundle("proj-a", patient, size_mb=options.size_mb)
        path = Path(str(sandbox.sftp_directory)) / str(sandbox.sftp_root).lstrip("/") / key
        size_mb = path.stat().st_size / 2**20
        ours = measure(STREAMING, path)
        plain = measure(JSON_LOAD, path)

        config = sandbox.tap_config("sftp")
        work = Path(tempfile.mkdtemp(prefix="healthex-bench-"))
        (work / "config.json").write_text(json.dumps(config))
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(TAP), "--config", str(work / "config.json")],
            capture_output=True,
            text=True,
            check=True,
        )
        tap_seconds, tap_mib = time.perf_counter() - start, int(done.stdout) / 1024
    finally:
        sandbox.stop()

    ours_rate, plain_rate = ours[0] / ours[1], plain[0] / plain[1]
    print(f"one bundle: {size_mb:.0f} MB, {ours[0]:,} resources")
    print(f"tap parser (ijson): {ours_rate:>9,.0f} resources/s, peak RSS {ours[2]:,.0f} MiB")
    print(f"plain json.load:    {plain_rate:>9,.0f} resources/s, peak RSS {plain[2]:,.0f} MiB")
    print(
        f"ratio tap / json.load: speed {ours_rate / plain_rate:.2f}, "
        f"memory {ours[2] / plain[2]:.2f}"
    )
    print(
        f"whole tap run over SFTP (download, parse, spool, write every stream): "
        f"{tap_seconds:.1f} s, peak RSS {tap_mib:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
