"""Bad input ends the run with one line that names it, before any request or state.

The SDK reads ``--config``, ``--state`` and ``--catalog`` itself: a missing file or
one that is not JSON ends in a traceback, a config error takes several lines and may
echo a secret's value, and a state of another tap is silently ignored. Here each of
these becomes one ``InputError`` naming the file, setting or stream; ``cli()`` logs
that line and exits 1.
"""

from __future__ import annotations

import io
import json
import re
import sys
import typing as t
from pathlib import Path

import click

from tap_healthex.errors import HealthExError

if t.TYPE_CHECKING:
    from singer_sdk import Stream


class InputError(HealthExError):
    """A config, state or catalog the tap cannot use; the message names it."""


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


class CheckedInputs:
    """Tap mixin: read ``--config``, ``--state`` and ``--catalog`` with one-line errors."""

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> t.Any:
        """Check each config file before the SDK reads it."""
        for path in value:
            if path != "ENV":
                read_json_object(path, "config file")
        return super().cb_config(ctx, param, value)  # type: ignore[misc]

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """Take ``--state`` and ``--catalog`` as paths: ``invoke`` reads them."""
        command: click.Command = super().get_singer_command()  # type: ignore[misc]
        for param in command.params:
            if param.name in {"state", "catalog"}:
                param.type = click.STRING
        return command

    @classmethod
    def invoke(cls, *, state: str | None = None, catalog: str | None = None, **kw: t.Any) -> None:
        """Hand the SDK the state and catalog read and checked here."""
        super().invoke(  # type: ignore[misc]
            state=None if state is None else io.StringIO(read_json_object(state, "state file")),
            catalog=None
            if catalog is None
            else io.StringIO(read_json_object(catalog, "catalog file")),
            **kw,
        )
