"""tap-painchek: the Tap class, its settings and its streams."""

from __future__ import annotations

import typing as t
from functools import cached_property
from urllib.parse import urlparse

from singer_sdk import typing as th
from tapkit.cli import CheckedTap, http_settings, main, url_errors
from tapkit.notifications import notification_settings
from tapkit.rest import package_version
from tapkit.retry import RetryPolicy

from tap_painchek.auth import BasicAuth, client_credentials
from tap_painchek.errors import PainChekError
from tap_painchek.streams import STREAM_TYPES

if t.TYPE_CHECKING:
    from requests.auth import AuthBase
    from singer_sdk import Stream

    from tap_painchek.client import PainChekStream

__version__ = package_version("tap-painchek")

# The table each PainChek webhook event names (the vendor documents assessment_add only).
EVENT_TABLES = {"assessment_add": "assessments"}


def settings_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """Checks the JSON schema cannot express: the URL and one credential pair."""
    errors = url_errors(config, required=("api_url",))
    if not errors and urlparse(str(config["api_url"])).path.rstrip("/").endswith("/api"):
        errors.append("api_url is the tenant's base URL without /api")
    oauth = [key for key in ("client_id", "client_secret") if config.get(key)]
    basic = [key for key in ("username", "password") if config.get(key)]
    if oauth and basic:
        errors.append("set either client_id + client_secret or username + password, not both")
    elif not oauth and not basic:
        errors.append("set client_id + client_secret (OAuth) or username + password (Basic)")
    elif len(oauth or basic) == 1:
        given = (oauth or basic)[0]
        pairs = {"client_id": "client_secret", "client_secret": "client_id"}
        pairs |= {"username": "password", "password": "username"}
        errors.append(f"{given} is set but {pairs[given]} is missing")
    return errors


def _stamp_problem(_stream: Stream, value: t.Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        return None
    return f"the update_stamp bookmark is a {type(value).__name__}, not an integer"


class TapPainChek(CheckedTap):
    """Singer tap for the PainChek integration API."""

    name = "tap-painchek"

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_url",
            th.StringType,
            required=True,
            title="API URL",
            description=(
                "The tenant's base URL without /api, e.g. https://prod.ap.painchek.com "
                "(AP) or https://ua.ap.painchek.com (UAT). Must be https, except for "
                "localhost."
            ),
        ),
        th.Property(
            "client_id",
            th.StringType,
            title="Client ID",
            description="OAuth client id. Give it with client_secret, or use username.",
        ),
        th.Property(
            "client_secret",
            th.StringType,
            secret=True,
            title="Client secret",
            description="OAuth client secret, exchanged for a bearer token.",
        ),
        th.Property(
            "username",
            th.StringType,
            title="Username",
            description="HTTP Basic username (older integrations). Give it with password.",
        ),
        th.Property(
            "password",
            th.StringType,
            secret=True,
            title="Password",
            description="HTTP Basic password.",
        ),
        th.Property(
            "start_update_stamp",
            th.IntegerType(minimum=0),
            default=0,
            title="Start update stamp",
            description=(
                "First run only: read rows whose update_stamp is greater than this. "
                "0 reads everything."
            ),
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=10, maximum=1000),
            default=100,
            title="Page size",
            description=(
                "Rows per request (10 to 1000, the server's maximum). Larger pages "
                "mean fewer metered requests."
            ),
        ),
        *notification_settings(
            1,
            "PainChek notifies new assessments only: the other tables are read on the "
            "sweeps, so the default keeps them as fresh as hourly polling.",
        ),
        *http_settings("tap-painchek", __version__),
    ).to_dict()
    inbox_vendor = "painchek"

    def settings_errors(self) -> list[str]:
        """The URL scheme and one credential pair (the schema cannot say it)."""
        return settings_errors(self.config)

    def bookmark_problem(self, stream: Stream, value: t.Any) -> str | None:
        """A PainChek bookmark is an update_stamp: an integer."""
        return _stamp_problem(stream, value)

    @cached_property
    def tables_to_read(self) -> frozenset[str] | None:
        """The tables this run reads: all (None), or those the new notifications name."""
        plan = self.change_plan
        if plan.sweep:
            return None
        tables = set()
        for event in plan.events:
            table = EVENT_TABLES.get(str(event.get("event")))
            if table is None:
                self.logger.warning(
                    "The inbox holds an event this tap does not know (%s): reading every table",
                    str(event.get("event"))[:40],
                )
                return None
            tables.add(table)
        return frozenset(tables)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """One retry policy for the run; its summary counts the run's requests and retries."""
        return RetryPolicy(
            max_retry_seconds=float(self.config["max_retry_seconds"]),
            logger=self.logger,
            summary=self.run_summary,
            error_type=PainChekError,
        )

    @cached_property
    def authenticator(self) -> AuthBase:
        """One authenticator (and so one token) shared by every stream."""
        # Built while the SDK discovers streams, before settings_errors() runs: the
        # credentials (optional settings, without defaults) may be missing yet.
        if self.config.get("username"):
            return BasicAuth(self.config["username"], self.config.get("password") or "")
        return client_credentials(
            api_url=str(self.config.get("api_url") or ""),
            client_id=str(self.config.get("client_id") or ""),
            client_secret=str(self.config.get("client_secret") or ""),
            timeout=float(self.config["request_timeout"]),
            user_agent=str(self.config.get("user_agent") or f"tap-painchek/{__version__}"),
            retry=self.retry_policy,
        )

    def discover_streams(self) -> list[PainChekStream]:
        """The seven PainChek streams."""
        return [
            stream_type(self, auth=self.authenticator, retry=self.retry_policy)
            for stream_type in STREAM_TYPES
        ]


def cli() -> None:
    """The ``tap-painchek`` command: a failure it explains ends in that one line, exit 1."""
    main(TapPainChek)


if __name__ == "__main__":
    cli()
