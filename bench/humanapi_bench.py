"""tap-humanapi benchmark: wall time and requests of a continuous-sync run.

2,000 users, 100 ms injected latency on every request, 5% of users changed since
the last run; the same run with max_workers 1, 8 and 32, as ratios to 1. Not a
test: it prints figures measured in one run.

    make bench
    .venv/bin/python bench/humanapi_bench.py --users 2000 --sequential-users 200

max_workers=1 at 100 ms a request would take minutes, so by default it runs on the
first --sequential-users users (the same 5% changed among them) and is scaled to
the full count: the work is per user, so time is linear in users.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandbox.humanapi import HumanAPISandbox

TAP = Path(sys.executable).parent / "tap-humanapi"


def run_tap(config: dict, state: dict, work: Path) -> tuple[float, dict]:
    (work / "config.json").write_text(json.dumps(config))
    (work / "state.json").write_text(json.dumps(state))
    args = [str(TAP), "--config", str(work / "config.json"), "--state", str(work / "state.json")]
    start = time.perf_counter()
    last_state: dict = {}
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as tap:
        assert tap.stdout is not None
        for line in tap.stdout:
            if line.startswith(b'{"type":"STATE"'):
                last_state = json.loads(line)["value"]
    if tap.returncode != 0:
        sys.exit(f"tap-humanapi exited {tap.returncode}")
    return time.perf_counter() - start, last_state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--sequential-users", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=100)
    options = parser.parse_args()

    sandbox = HumanAPISandbox(seed=1, users=options.users)
    sandbox.start()
    work = Path(tempfile.mkdtemp(prefix="humanapi-bench-"))
    base = sandbox.tap_config()
    try:
        _, state = run_tap({**base, "max_workers": 32}, {}, work)  # the initial full sync
        served = sandbox.client_user_ids("served")
        changed = served[::20]  # 5%, spread evenly so any prefix has the same share
        for client_user_id in changed:
            sandbox.source_sync(client_user_id, new=2, updated=2)
        sandbox.configure(latency_ms=options.latency_ms)
        every = [u["clientUserId"] for u in sandbox.users()]
        results = {}
        for workers in (1, 8, 32):
            subset = every[: options.sequential_users] if workers == 1 else every
            config = {**base, "max_workers": workers}
            if workers == 1:
                config["client_user_ids"] = subset
            sandbox.reset_stats()
            seconds, _ = run_tap(config, state, work)
            stats = sandbox.stats()
            scale = len(every) / len(subset)
            results[workers] = (
                seconds * scale,
                {k: v * scale for k, v in stats.items() if k.endswith("requests")},
                scale,
            )
    finally:
        sandbox.stop()

    print(
        f"{options.users:,} users, {options.latency_ms} ms latency, {len(changed)} changed "
        f"({len(changed) / len(every):.0%})"
    )
    print(
        f"{'max_workers':>11} {'wall s':>8} {'vs 1':>6} {'requests':>9} {'token':>6} "
        f"{'sources':>8} {'data':>6} {'admin':>6}"
    )
    for workers, (seconds, req, scale) in results.items():
        note = f"  (measured on {len(every) / scale:.0f} users, scaled)" if scale > 1 else ""
        print(
            f"{workers:>11} {seconds:>8.1f} {results[1][0] / seconds:>5.1f}x "
            f"{req['requests']:>9.0f} {req['token_requests']:>6.0f} "
            f"{req['sources_requests']:>8.0f} {req['data_requests']:>6.0f} "
            f"{req['admin_requests']:>6.0f}{note}"
        )
    best = min(seconds for seconds, _, _ in results.values())
    print(f"extrapolated to 10,000 users at max_workers=32: {best * 10_000 / options.users:.0f} s")


if __name__ == "__main__":
    main()
