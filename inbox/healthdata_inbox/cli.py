"""`healthdata-inbox serve`: run the inbox under uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import uvicorn

from healthdata_inbox.app import create_app
from healthdata_inbox.settings import Settings, SettingsError, redact_url

log = logging.getLogger("healthdata_inbox")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="healthdata-inbox",
        description="Receive vendor webhooks, log their ids durably, serve them to the taps. "
        "Every option also reads INBOX_<NAME>; secrets are read from the environment only.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="interface to bind (INBOX_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (INBOX_PORT, default 8080)")
    serve.add_argument(
        "--database-url",
        help="sqlite:///path or postgresql://... (INBOX_DATABASE_URL, default sqlite:///inbox.sqlite3)",
    )
    serve.add_argument("--log-level", help="INFO, WARNING, ... (INBOX_LOG_LEVEL, default INFO)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `healthdata-inbox` command."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            host=args.host, port=args.port, database_url=args.database_url, log_level=args.log_level
        )
    except SettingsError as error:
        print(f"healthdata-inbox: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    enabled = [
        name
        for name, on in (
            ("humanapi", bool(settings.humanapi_client_secret) or not settings.humanapi_signatures),
            ("painchek", bool(settings.painchek_webhook_secret)),
            ("read-api", bool(settings.read_token)),
        )
        if on
    ]
    log.info(
        "starting host=%s port=%d store=%s enabled=%s humanapi_signatures=%s",
        settings.host,
        settings.port,
        redact_url(settings.database_url),
        ",".join(enabled) or "none",
        "on" if settings.humanapi_signatures else "off",
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
