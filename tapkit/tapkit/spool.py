"""Spool, then commit: records gathered once for several streams, a bookmark moved last.

Some reads feed many streams at once (one user's endpoints, one delivered file's FHIR
resources) and have one bookmark for all of them (a user's sync marker, a delivery
watermark). That bookmark may move only after every stream it covers has written its
records, or a run killed between two streams would skip the rest next time. A
``Spool`` keeps each stream's records in a temporary JSON-lines file while the read
runs (memory stays flat); the SDK then writes each stream from its file; and
``finished`` tells the last stream of the group, whose state is written after its
records, that the bookmark may now move (``SpooledStream`` does this).
"""

from __future__ import annotations

import shutil
import tempfile
import typing as t
from pathlib import Path

import msgspec
from singer_sdk import Stream

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk.helpers.types import Context


class Spool:
    """Temporary JSON-lines files, one per stream; ``selected()`` names the group."""

    def __init__(self, prefix: str, selected: Callable[[], set[str]]) -> None:
        self._prefix = prefix
        self._selected = selected
        self._dir: Path | None = None
        self._files: dict[str, t.IO[bytes]] = {}
        self._finished: set[str] = set()
        self._encode = msgspec.json.Encoder().encode

    @property
    def ready(self) -> bool:
        """Whether the spool was opened (the read ran)."""
        return self._dir is not None

    @property
    def directory(self) -> Path:
        """The spool's directory (for other temporary files of the read)."""
        if self._dir is None:
            msg = "the spool is not open"
            raise RuntimeError(msg)
        return self._dir

    def open(self, streams: Iterable[str]) -> None:
        """Start the read: a file for each of ``streams``."""
        self._dir = Path(tempfile.mkdtemp(prefix=self._prefix))
        for name in streams:
            self._files[name] = (self._dir / f"{name}.jsonl").open("wb")

    def write(self, stream: str, records: Iterable[dict]) -> None:
        """Append records to a stream's file."""
        self._files[stream].writelines(self._encode(record) + b"\n" for record in records)

    def mark(self) -> dict[str, int]:
        """Where every file ends now, to roll back to."""
        return {name: file.tell() for name, file in self._files.items()}

    def roll_back(self, marks: dict[str, int]) -> None:
        """Drop what was written after ``mark()`` (e.g. a half-read file)."""
        for name, file in self._files.items():
            file.seek(marks[name])
            file.truncate()

    def seal(self) -> None:
        """Close the files: the read is over."""
        for file in self._files.values():
            file.close()

    def records(self, stream: str) -> Iterator[dict]:
        """A stream's records, in the order written (none if it had no file)."""
        path = self.directory / f"{stream}.jsonl"
        if not path.exists():
            return
        decode = msgspec.json.Decoder().decode
        with path.open("rb") as lines:
            for line in lines:
                yield decode(line)

    def finished(self, stream: str) -> bool:
        """Note ``stream`` as written; true once every selected stream of the group is."""
        self._finished.add(stream)
        return self._finished >= self._selected()

    def close(self) -> None:
        """Remove the files."""
        self.seal()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


class SpooledStream(Stream):
    """A stream written from a spool; the group's last one commits the shared bookmark."""

    def spool(self) -> Spool:
        """The spool of this stream's group, read on first use."""
        raise NotImplementedError

    def spooled_records(self) -> Iterable[dict]:
        """The records of this stream (from the spool, by default)."""
        return self.spool().records(self.name)

    def commit(self, bookmarks: dict[str, t.Any]) -> None:
        """Move the group's bookmark in ``bookmarks`` (the tap's state); called once."""
        raise NotImplementedError

    def get_records(self, context: Context | None) -> Iterable[dict]:
        """The spooled records; then, if every stream of the group is written, commit.

        The SDK writes this stream's state after its records, so the moved bookmark
        never reaches a target before the records it covers.
        """
        yield from self.spooled_records()
        if self.spool().finished(self.name):
            self.commit(self.tap_state.setdefault("bookmarks", {}))
