"""Settings, read once from the environment (secrets only from there)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import urlsplit, urlunsplit

ENV_PREFIX = "INBOX_"
SIGNATURE_ENCODINGS = ("base64", "hex")
SIGNATURE_DIGESTS = ("sha1", "sha256")


class SettingsError(ValueError):
    """A setting has a value the inbox cannot use (the message names the variable)."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the inbox; the environment variable is INBOX_ + the name in capitals.

    The Human API signature layout (header names, digest, encoding) is an assumption
    from the vendor notes, so each part of it is a setting rather than a constant.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///inbox.sqlite3"
    humanapi_client_secret: str = ""
    painchek_webhook_secret: str = ""
    read_token: str = ""
    humanapi_signatures: bool = True
    humanapi_signature_header: str = "X-HumanAPI-Signature"
    humanapi_timestamp_header: str = "X-HumanAPI-Timestamp"
    humanapi_nonce_header: str = "X-HumanAPI-Nonce"
    humanapi_signature_encoding: str = "base64"
    humanapi_signature_digest: str = "sha1"
    replay_window_seconds: int = 300
    body_limit_bytes: int = 1024 * 1024
    body_timeout_seconds: int = 10
    max_concurrency: int = 32
    retention_days: int = 30
    prune_interval_seconds: int = 3600
    read_page_max: int = 1000
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.humanapi_signature_encoding not in SIGNATURE_ENCODINGS:
            raise SettingsError(
                f"INBOX_HUMANAPI_SIGNATURE_ENCODING must be one of {SIGNATURE_ENCODINGS}"
            )
        if self.humanapi_signature_digest not in SIGNATURE_DIGESTS:
            raise SettingsError(
                f"INBOX_HUMANAPI_SIGNATURE_DIGEST must be one of {SIGNATURE_DIGESTS}"
            )
        positive = (
            "port",
            "replay_window_seconds",
            "body_limit_bytes",
            "body_timeout_seconds",
            "max_concurrency",
            "prune_interval_seconds",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be positive")
        if self.retention_days < 0 or self.read_page_max <= 0:
            raise SettingsError("INBOX_RETENTION_DAYS must be >= 0 and INBOX_READ_PAGE_MAX > 0")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from INBOX_* variables; `overrides` (CLI options) win when not None."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _parse(field.name, field.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        # Keeps secrets out of any log line or traceback that prints the settings.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in SECRET_FIELDS:
            shown[name] = "***" if shown[name] else ""
        shown["database_url"] = redact_url(self.database_url)
        return f"Settings({shown})"


SECRET_FIELDS = frozenset({"humanapi_client_secret", "painchek_webhook_secret", "read_token"})


def redact_url(url: str) -> str:
    """The URL with any password replaced, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _parse(name: str, kind: object, raw: str) -> object:
    variable = ENV_PREFIX + name.upper()
    if kind in (int, "int"):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{variable} must be an integer") from None
    if kind in (bool, "bool"):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on", "required"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{variable} must be on or off")
    return raw
