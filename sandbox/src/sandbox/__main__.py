"""Command line: ``python -m sandbox <vendor> [options]`` serves one fake vendor API.

Prints exactly one line, the base URL, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from sandbox.framework import FAULT_KINDS, ControlError, VendorSandbox


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay before each API answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of faulted requests")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault choices")
    parser.add_argument(
        "--faults",
        default="429,500,503,drop",
        help=f"comma-separated fault kinds drawn at --fault-rate, from {','.join(FAULT_KINDS)}",
    )
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After of 429 faults")
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="delay of slow faults")


def _add_notify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--notify-url", default=None, help="POST signed notifications of data changes here"
    )
    parser.add_argument(
        "--notify-secret", default=None, help="signing key (default: the vendor's own)"
    )
    for name, what in (
        ("drop", "never sent"),
        ("duplicate", "sent twice"),
        ("bad-signature", "signed with a wrong key"),
    ):
        parser.add_argument(
            f"--notify-{name}-rate", type=float, default=0.0, help=f"share of events {what}"
        )
    parser.add_argument("--notify-max-attempts", type=int, default=5, help="attempts per event")
    parser.add_argument(
        "--notify-backoff-seconds", type=float, default=0.1, help="first retry delay (doubles)"
    )


def _notify(sandbox: VendorSandbox, args: argparse.Namespace) -> None:
    if getattr(args, "notify_url", None) is None:
        return
    sandbox.notify_to(
        args.notify_url,
        secret=args.notify_secret,
        drop_rate=args.notify_drop_rate,
        duplicate_rate=args.notify_duplicate_rate,
        bad_signature_rate=args.notify_bad_signature_rate,
        max_attempts=args.notify_max_attempts,
        backoff_seconds=args.notify_backoff_seconds,
    )


def _painchek(args: argparse.Namespace) -> VendorSandbox:
    from sandbox.painchek import PainChekSandbox  # noqa: PLC0415

    credentials = {
        name: getattr(args, name)
        for name in ("client_id", "client_secret", "username", "password")
        if getattr(args, name) is not None
    }
    return PainChekSandbox(
        seed=args.seed,
        patients=args.patients,
        order=args.order,
        latency_ms=args.latency_ms,
        max_page_size=args.max_page_size,
        token_ttl=args.token_ttl,
        **credentials,
    )


def _humanapi(args: argparse.Namespace) -> VendorSandbox:
    from sandbox.humanapi import HumanAPISandbox  # noqa: PLC0415

    credentials = {
        name: getattr(args, name)
        for name in ("client_id", "client_secret")
        if getattr(args, name) is not None
    }
    return HumanAPISandbox(
        seed=args.seed,
        users=args.users,
        latency_ms=args.latency_ms,
        token_ttl=args.token_ttl,
        **credentials,
    )


def _healthex(args: argparse.Namespace) -> VendorSandbox:
    from sandbox.healthex import HealthExSandbox  # noqa: PLC0415

    credentials = {
        name: getattr(args, name)
        for name in ("api_key", "api_secret", "sftp_username", "sftp_password")
        if getattr(args, name) is not None
    }
    return HealthExSandbox(
        seed=args.seed,
        projects=[p for p in args.projects.split(",") if p],
        patients_per_project=args.patients,
        org_id=args.org_id,
        delivery=args.delivery,
        delivery_delay_seconds=args.delivery_delay_seconds,
        latency_ms=args.latency_ms,
        token_ttl=args.token_ttl,
        **credentials,
    )


def build_parser() -> argparse.ArgumentParser:
    """One subcommand per vendor."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    vendors = parser.add_subparsers(dest="vendor", required=True, metavar="VENDOR")
    painchek = vendors.add_parser("painchek", help="the PainChek integration API")
    _add_common(painchek)
    painchek.add_argument("--patients", type=int, default=5000, help="patients to generate")
    painchek.add_argument("--order", choices=("desc", "asc", "uuid"), default="desc")
    painchek.add_argument("--max-page-size", type=int, default=1000)
    painchek.add_argument("--token-ttl", type=int, default=36000, help="token lifetime, seconds")
    for name in ("client-id", "client-secret", "username", "password"):
        painchek.add_argument(f"--{name}", default=None, help=f"{name} to accept")
    _add_notify(painchek)
    painchek.set_defaults(factory=_painchek)
    humanapi = vendors.add_parser(
        "humanapi", help="Human API (auth, admin and data hosts on one port)"
    )
    _add_common(humanapi)
    humanapi.add_argument("--users", type=int, default=200, help="users to generate")
    humanapi.add_argument("--token-ttl", type=int, default=86400, help="token lifetime, seconds")
    for name in ("client-id", "client-secret"):
        humanapi.add_argument(f"--{name}", default=None, help=f"{name} to accept")
    _add_notify(humanapi)
    humanapi.set_defaults(factory=_humanapi)
    healthex = vendors.add_parser(
        "healthex", help="HealthEx (API; bundles delivered over S3 and/or SFTP)"
    )
    _add_common(healthex)
    healthex.add_argument("--projects", default="proj-a,proj-b", help="comma-separated ids")
    healthex.add_argument("--patients", type=int, default=10, help="patients per project")
    healthex.add_argument("--org-id", default="org-1", help="orgId in the delivery paths")
    healthex.add_argument("--delivery", choices=("s3", "sftp", "both", "none"), default="s3")
    healthex.add_argument(
        "--delivery-delay-seconds", type=float, default=0.0, help="delay of $updateData bundles"
    )
    healthex.add_argument("--token-ttl", type=int, default=86400, help="token lifetime, seconds")
    for name in ("api-key", "api-secret", "sftp-username", "sftp-password"):
        healthex.add_argument(f"--{name}", default=None, help=f"{name} to accept")
    healthex.set_defaults(factory=_healthex)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    sandbox: VendorSandbox = args.factory(args)
    kinds = [kind for kind in args.faults.split(",") if kind]
    sandbox.set_faults(args.fault_rate, args.fault_seed, kinds, args.retry_after, args.slow_seconds)
    try:
        _notify(sandbox, args)
    except ControlError as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    url = sandbox.start(args.host, args.port)
    sys.stdout.write(url + "\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
