"""The command line of a tap: inputs checked first, output buffered, one line on failure.

The SDK reads ``--config``, ``--state`` and ``--catalog`` itself: a missing file or
one that is not JSON ends in a traceback, a config error takes several lines and may
echo a secret's value, and a state of another tap is silently ignored. A tap built on
``CheckedTap`` turns each of these into one ``InputError`` naming the file, setting or
stream, before any request or state; ``main`` logs that line (or any other
``TapError``) and exits 1. Every sync ends with the one-line run summary of
``tapkit.summary``, whether it succeeded or failed.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import time
import typing as t
from collections import Counter
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.contrib.msgspec import encoder as sdk_encoder
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage

from tapkit import notifications
from tapkit.errors import TapError
from tapkit.summary import RunSummary
from tapkit.times import parse_time

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk import Stream
    from singer_sdk.singerlib.encoding.simple import Message


# Plain http is allowed for these hosts only (a sandbox, a local proxy).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class InputError(TapError):
    """A config, state or catalog the tap cannot use; the message names it."""


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec encoding, RECORDs written in blocks rather than one write each.

    The writer keeps its own buffer: with PYTHONUNBUFFERED=1 (Meltano's and many
    containers' setting) stdout has none, and each RECORD was one system call. The
    buffer goes out when it holds ``BLOCK`` bytes, before every STATE (or other
    non-record) message, which is flushed at once, and when a sync ends, failed or
    not: a target never sees a state before the records it covers. ``records_written``
    counts the RECORD messages per stream, for the run summary.

    A signal handler that writes (the SDK's SIGTERM handler writes a final STATE) must
    go through ``when_idle``: a signal can land between a record's bytes and its
    newline, or in the middle of writing the buffer out, and a STATE written there
    would run into the record's line or go out before the records it covers.
    """

    BLOCK = 64 * 1024

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.records_written: Counter[str] = Counter()
        self._pending = bytearray()
        self._schemas_sent: dict[str, bytes] = {}
        self._busy = False
        self._deferred: t.Callable[[], None] | None = None

    def when_idle(self, action: t.Callable[[], None]) -> None:
        """Run ``action`` now, or, if a signal interrupted a write, once that write is done."""
        if self._busy:
            self._deferred = action
        else:
            action()

    def _idle(self) -> None:
        """End a write; then run the action a signal handler deferred, if any."""
        self._busy = False
        if self._deferred is not None:
            action, self._deferred = self._deferred, None
            action()

    def write_message(self, message: Message) -> None:
        """Buffer a record; write anything else at once, after the records before it.

        A SCHEMA message the same as the last one sent for its stream is not sent
        again: the SDK sends a child stream's SCHEMA each time it syncs, once per
        parent record, and a loader sets its table up again for each (target-duckdb
        took twice as long on a HealthEx run of 200 patients).
        """
        line = self.format_message(message)
        if isinstance(message, SchemaMessage):
            if self._schemas_sent.get(message.stream) == line:
                return
            self._schemas_sent[message.stream] = bytes(line)
        self._busy = True
        try:
            self._pending += line
            if isinstance(message, RecordMessage):
                self._record_buffered(message.stream)
            else:
                self._write_out()
        finally:
            self._idle()

    def write_record(
        self, stream: str, record: dict, version: int | None, time_extracted: str
    ) -> None:
        """A RECORD message written straight from its parts, as ``write_message`` would.

        The same keys, in the same order, by the SDK's own msgspec encoder, so the line
        is byte for byte what a ``RecordMessage`` makes, without building one (and its
        time-zone conversion) for every record. ``time_extracted`` is already ISO text.
        """
        message: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": record}
        if version is not None:
            message["version"] = version
        message["time_extracted"] = time_extracted
        self._busy = True
        try:
            sdk_encoder.encode_into(message, self._pending, -1)
            self._pending += b"\n"
            self._record_buffered(stream)
        finally:
            self._idle()

    def _record_buffered(self, stream: str) -> None:
        """Count a RECORD just buffered; write the buffer out once it holds a block."""
        self.records_written[stream] += 1
        if len(self._pending) >= self.BLOCK:
            self._write_out()

    def flush(self) -> None:
        """Write out the buffered records (a failed run ends with this too)."""
        self._busy = True
        try:
            self._write_out()
        finally:
            self._idle()

    def _write_out(self) -> None:
        """Write the whole buffer, however many writes it takes.

        Under PYTHONUNBUFFERED (Meltano sets it) ``sys.stdout.buffer`` is the raw
        file, whose ``write`` may write only part when a signal interrupts it.
        """
        data, out = self._pending, sys.stdout.buffer
        done = out.write(data) or 0
        while done < len(data):
            done += out.write(data[done:]) or 0
        data.clear()
        sys.stdout.flush()


def read_json_object(path: str, what: str) -> str:
    """The text of a JSON-object file (``-``: standard input), or an InputError naming it."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{what} '{path}' cannot be read ({exc.strerror or type(exc).__name__})"
        raise InputError(msg) from None
    except UnicodeDecodeError:
        msg = f"{what} '{path}' is not UTF-8 text"
        raise InputError(msg) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{what} '{path}' is not JSON (line {exc.lineno}, column {exc.colno})"
        raise InputError(msg) from None
    if not isinstance(value, dict):
        msg = f"{what} '{path}' holds a JSON {type(value).__name__}, not an object"
        raise InputError(msg)
    return text


def settings_message(errors: t.Iterable[str], config: t.Mapping, schema: dict) -> str:
    """One line for every settings error, with the values of secret settings hidden."""
    text = "; ".join(errors)
    for name, spec in schema.get("properties", {}).items():
        value = config.get(name)
        if spec.get("secret") and value not in (None, ""):
            for shown in (repr(value), str(value)):
                # Whole tokens only: an api_key "key" must not spoil "sftp_private_key".
                text = re.sub(rf"(?<![\w-]){re.escape(shown)}(?![\w-])", "(hidden)", text)
    return f"invalid settings: {text}"


def setting(name: str, kind: t.Any, title: str, description: str, **kw: t.Any) -> th.Property:
    """One setting of a tap's config schema: every setting is titled and described."""
    return th.Property(name, kind, title=title, description=description, **kw)


def http_settings(package: str, version: str) -> list[th.Property]:
    """The settings every tap's HTTP has: timeout, retry budget, User-Agent."""
    return [
        setting(
            "request_timeout",
            th.NumberType(exclusive_minimum=0),
            "Request timeout",
            "Seconds to wait for one response before retrying it.",
            default=60,
        ),
        setting(
            "max_retry_seconds",
            th.NumberType(minimum=0),
            "Max retry seconds",
            "Total seconds one request may spend waiting between retries (429, 5xx, dropped "
            "connections, timeouts) before the run fails.",
            default=600,
        ),
        setting(
            "user_agent",
            th.StringType,
            "User agent",
            f"User-Agent header; default {package}/{version}.",
        ),
    ]


def url_errors(
    config: t.Mapping[str, t.Any], required: t.Iterable[str] = (), optional: t.Iterable[str] = ()
) -> list[str]:
    """URL settings that are not absolute, or not https for a remote host.

    ``optional`` ones are checked only when set; ``required`` ones always.
    """
    errors = []
    keys = [*required, *(key for key in optional if config.get(key))]
    for key in keys:
        parsed = urlparse(str(config.get(key) or ""))
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            errors.append(f"{key} must be an absolute URL")
        elif parsed.scheme != "https" and parsed.hostname not in LOCAL_HOSTS:
            errors.append(f"{key} must use https (plain http is allowed only for localhost)")
    return errors


def time_errors(config: t.Mapping[str, t.Any], keys: t.Iterable[str]) -> list[str]:
    """Date-time settings, set, that are not ISO-8601."""
    return [
        f"{key} must be an ISO-8601 date-time"
        for key in keys
        if config.get(key) and parse_time(config[key]) is None
    ]


def check_state(
    state: t.Any,
    streams: t.Mapping[str, Stream],
    check_value: t.Callable[[Stream, t.Any], str | None],
) -> list[str]:
    """Check a state's shape; return the streams it names that this tap lacks.

    ``check_value(stream, value)`` returns what is wrong with a bookmark value, if
    anything. A state naming none of this tap's streams is another tap's: an error.
    """
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        msg = "state: 'bookmarks' is not an object"
        raise InputError(msg)
    unknown = [name for name in bookmarks if name not in streams]
    if unknown and len(unknown) == len(bookmarks):
        msg = (
            f"state: no bookmark belongs to this tap (it names stream '{unknown[0]}'); "
            "is this a state file of another tap?"
        )
        raise InputError(msg)
    for name, bookmark in bookmarks.items():
        if name in streams:
            _check_bookmark(streams[name], bookmark, check_value)
        elif not isinstance(bookmark, dict):
            msg = f"state for stream '{name}' is not an object"
            raise InputError(msg)
    return unknown


def _check_bookmark(
    stream: Stream, bookmark: t.Any, check_value: t.Callable[[Stream, t.Any], str | None]
) -> None:
    where = f"state for stream '{stream.name}'"
    partitions = bookmark.get("partitions", []) if isinstance(bookmark, dict) else None
    if not isinstance(partitions, list) or not all(isinstance(p, dict) for p in partitions):
        msg = f"{where} is not an object with a list of partitions"
        raise InputError(msg)
    for entry in (bookmark, *partitions):
        key = entry.get("replication_key")
        if key is not None and key != stream.replication_key:
            expected = (
                f"not by '{stream.replication_key}'"
                if stream.replication_key
                else "but the stream has no replication key"
            )
            msg = (
                f"{where} is bookmarked by '{key}', {expected} "
                "(is this a state file of another tap?)"
            )
            raise InputError(msg)
        if "replication_key_value" in entry and (
            problem := check_value(stream, entry["replication_key_value"])
        ):
            msg = f"{where}: {problem} (is this a state file of another tap?)"
            raise InputError(msg)


class CheckedTap(Tap):
    """A Tap whose settings, state, config, state and catalog files are checked first.

    A vendor's tap overrides ``settings_errors`` (what its config schema cannot
    express) and ``bookmark_problem`` (what is wrong with one bookmark value). Its
    retry policy counts into ``run_summary``; ``summary_counts`` adds the tap's own
    totals to the line every sync ends with.
    """

    message_writer_class = BufferedMsgSpecWriter
    # The vendor's name in the notification inbox, for a tap with change_detection.
    inbox_vendor: str | None = None

    def __init__(self, *args: t.Any, validate_config: bool = True, **kwargs: t.Any) -> None:
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as exc:
            message = settings_message(exc.errors, self.config, self.config_jsonschema)
            raise InputError(message) from None
        if validate_config and (errors := [*self.settings_errors(), *self._notification_errors()]):
            raise InputError(settings_message(errors, self.config, self.config_jsonschema))

    def settings_errors(self) -> list[str]:
        """Settings errors the config schema cannot express (none by default)."""
        return []

    def _notification_errors(self) -> list[str]:
        if self.inbox_vendor is None:
            return []
        return notifications.notification_errors(self.config) + url_errors(
            self.config, optional=("inbox_url",)
        )

    def bookmark_problem(self, stream: Stream, value: t.Any) -> str | None:
        """What is wrong with a bookmark value of ``stream``, if anything."""
        return None

    def retry_later(self) -> list[str]:
        """Ids this run could not finish, for the next one to fetch (none by default)."""
        return []

    @property
    def listens(self) -> bool:
        """Whether this run reads the notification inbox (change_detection: notifications)."""
        return self.inbox_vendor is not None and (
            self.config.get("change_detection", "poll") == "notifications"
        )

    @cached_property
    def change_plan(self) -> notifications.Plan:
        """What this run fetches: a sweep, or what new notifications name (read once)."""
        inbox = None
        if self.listens:
            inbox = notifications.Inbox(
                url=str(self.config["inbox_url"]),
                token=str(self.config["inbox_token"]),
                vendor=str(self.inbox_vendor),
                timeout=float(self.config.get("request_timeout", 60)),
                user_agent=str(self.config.get("user_agent") or self.name),
                logger=self.logger,
            )
        return notifications.plan_run(self.config, self.state, inbox)

    def check_own_bookmarks(self, state: dict[str, t.Any]) -> None:
        """Check bookmarks the tap keeps itself, beyond the SDK's (none by default)."""

    @cached_property
    def run_summary(self) -> RunSummary:
        """The run's request and retry counts (give it to the tap's retry policy)."""
        return RunSummary()

    def summary_counts(self) -> dict[str, t.Any]:
        """The tap's own totals for the summary line: counts by name only (none by default)."""
        return {}

    def sync_all(self) -> None:  # type: ignore[misc]
        """Sync the selected streams; then, succeeded or failed, log the run summary.

        ``Tap.sync_all`` is marked final, but the SDK has no hook at the end of a run
        (``log_sync_costs`` runs only after a success): this only wraps it.
        """
        started = time.monotonic()
        status = "failed"
        try:
            if self.listens:
                self.change_plan  # noqa: B018 (the inbox is read before any stream)
            super().sync_all()
            if self.listens:
                # Every stream has written its records: the inbox cursor may move now.
                t.cast("dict[str, t.Any]", self.state)[notifications.STATE_KEY] = (
                    self.change_plan.cursor(self.retry_later())
                )
                self.message_writer.write_message(StateMessage(value=self.state))
            status = "succeeded"
        finally:
            writer = self.message_writer
            if isinstance(writer, BufferedMsgSpecWriter):
                with contextlib.suppress(OSError):  # a reader gone: nothing to write to
                    writer.flush()
            self.logger.info("%s", self._summary_line(status, time.monotonic() - started))

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """The SDK's SIGTERM/SIGINT handler (final STATE, exit 0), never mid-write."""
        writer = self.message_writer
        if isinstance(writer, BufferedMsgSpecWriter):
            writer.when_idle(lambda: super(CheckedTap, self)._handle_termination(signum, frame))
        else:
            super()._handle_termination(signum, frame)

    def _summary_line(self, status: str, seconds: float) -> str:
        writer = self.message_writer
        written = writer.records_written if isinstance(writer, BufferedMsgSpecWriter) else {}
        records = {name: 0 for name, stream in self.streams.items() if stream.selected}
        records.update(written)
        extra = self.summary_counts()
        if "change_plan" in self.__dict__ and self.listens:
            extra |= self.change_plan.summary()
        return self.run_summary.line(status=status, records=records, extra=extra, seconds=seconds)

    def load_state(self, state: dict[str, t.Any]) -> None:
        """Refuse a state of another tap, or one whose bookmarks are not this tap's."""
        for name in check_state(state, self.streams, self.bookmark_problem):
            self.logger.warning("Ignoring the state of stream '%s', which this tap lacks", name)
        self.check_own_bookmarks(state)
        cursor = state.get(notifications.STATE_KEY)
        if cursor is not None and (problem := notifications.state_problem(cursor)):
            msg = (
                f"state: '{notifications.STATE_KEY}': {problem} "
                "(is this a state file of another tap?)"
            )
            raise InputError(msg)
        super().load_state(state)
        if cursor is not None:
            # The SDK keeps only the bookmarks; the inbox cursor is the tap's own.
            t.cast("dict[str, t.Any]", self.state)[notifications.STATE_KEY] = dict(cursor)

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> t.Any:
        """Check each config file before the SDK reads it."""
        for path in value:
            if path != "ENV":
                read_json_object(path, "config file")
        return super().cb_config(ctx, param, value)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """Take ``--state`` and ``--catalog`` as paths: ``invoke`` reads them."""
        command: click.Command = super().get_singer_command()
        for param in command.params:
            if param.name in {"state", "catalog"}:
                param.type = click.STRING
        return command

    @classmethod
    def invoke(  # type: ignore[override]
        cls, *, state: str | None = None, catalog: str | None = None, **kw: t.Any
    ) -> None:
        """Hand the SDK the state and catalog read and checked here."""
        super().invoke(
            state=None if state is None else io.StringIO(read_json_object(state, "state file")),
            catalog=None
            if catalog is None
            else io.StringIO(read_json_object(catalog, "catalog file")),
            **kw,
        )


def main(tap_class: type[Tap]) -> None:
    """A tap's command: a failure it explains (a TapError) ends in that one line, exit 1."""
    try:
        tap_class.cli()
    except TapError as exc:
        tap_class.logger.error("%s", exc)
        sys.exit(1)
