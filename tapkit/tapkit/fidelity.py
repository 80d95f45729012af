"""Nothing a vendor sends is dropped, and every record matches its stream's schema.

singer-sdk removes every top-level property a stream's schema does not declare ("not
found in catalog schema. Ignoring."), and a validating loader rejects a record whose
value has another JSON type than the schema says. Vendors add fields over time and
some endpoints have no public documentation, so each stream whose records are vendor
objects carries one catch-all column, ``extra_fields``:

- a top-level field the schema does not declare moves there, with its value;
- a declared field whose value has a JSON type the schema does not allow moves
  there too (the column stays null), except numbers and booleans sent where a string
  is declared (ids and codes are strings here), which become their JSON text;
- one WARNING per stream per run names those fields: names only, never values.

With schema flattening on, a nested object the schema declares becomes one column per
declared inner field, and an inner field it does not declare would have no column: the
guard moves such a field into the catch-all too, under its dotted path
(``owner.since``). Those inner fields then get the top-level rules: a value of another
type moves to the catch-all, and an inner field documented as text that vendors also
send as a number (declared ``["string", "number", "null"]``) is announced as a string
column and sent as text, because a loader gives a column one type and would otherwise
refuse or alter the text (target-duckdb made ``"1"`` the number 1.0). Without
flattening, nested objects are kept exactly as sent.

The catch-all declares no inner properties, so schema flattening keeps it as one JSON
column and every loader stores it (JSON in PostgreSQL and DuckDB).
"""

from __future__ import annotations

import re
import typing as t
from functools import cached_property

import msgspec
from singer_sdk import Stream, metrics
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable
    from types import TracebackType

    from singer_sdk.helpers.types import Context

EXTRA = "extra_fields"
EXTRA_SCHEMA: dict[str, t.Any] = {
    "type": ["object", "null"],
    "additionalProperties": True,
    "description": (
        "Added by the tap: every field the vendor sent that this schema does not "
        "declare, and any declared field whose value had an unexpected JSON type, kept "
        "as sent (null when there were none)."
    ),
}
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}
_JSON_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_JSON_NAMES |= {dict: "object", list: "array"}
# A field name is shown in the log only if it looks like one; a vendor that keyed an
# object by something else (an id, a name) must not put it in a log line.
_SHOWN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.$-]{0,63}$")
_to_text = msgspec.json.encode


def _types_of(node: t.Mapping[str, t.Any]) -> frozenset[type] | None:
    kinds = node.get("type")
    if kinds is None:  # no type: anything validates
        return None
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return frozenset(py for kind in kinds for py in _PY_TYPES.get(kind, ()))


_Checks = tuple[tuple[str, frozenset[type]], ...]


def _type_checks(properties: t.Mapping[str, t.Any]) -> _Checks:
    return tuple(
        (name, types)
        for name, node in properties.items()
        if name != EXTRA and (types := _types_of(node)) is not None
    )


def _expanded(node: t.Mapping[str, t.Any], depth: int) -> bool:
    """Whether flattening with ``depth`` levels left turns ``node`` into columns."""
    return depth > 0 and "properties" in node and "object" in (node.get("type") or ())


def _flattened_objects(
    properties: t.Mapping[str, t.Any], depth: int, parent: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], frozenset[str], _Checks]]:
    """The declared objects flattening expands, parents first: path, fields, type checks."""
    found: list[tuple[tuple[str, ...], frozenset[str], _Checks]] = []
    for name, node in properties.items():
        if not _expanded(node, depth):
            continue
        path, inner = (*parent, name), node["properties"]
        found.append((path, frozenset(inner), _type_checks(inner)))
        found.extend(_flattened_objects(inner, depth - 1, path))
    return found


def _one_scalar_type(node: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """A node of several scalar types, string among them, as a string (others as is)."""
    kinds = node.get("type")
    if not isinstance(kinds, list) or "string" not in kinds:
        return node
    scalars = [kind for kind in kinds if kind != "null"]
    if len(scalars) < 2 or {"object", "array"} & set(scalars):
        return node
    return {**node, "type": ["string", "null"]}


def flattening_schema(schema: t.Mapping[str, t.Any], depth: int) -> dict[str, t.Any]:
    """``schema`` as flattening to ``depth`` lays it out in columns of one type each.

    Inside the objects flattening expands, an inner field of several scalar types
    (text or number) becomes a string; the guard sends its numbers as text.
    """

    def walk(properties: t.Mapping[str, t.Any], depth: int, nested: bool) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {}
        for name, node in properties.items():
            if _expanded(node, depth):
                out[name] = {**node, "properties": walk(node["properties"], depth - 1, True)}
            else:
                out[name] = _one_scalar_type(node) if nested else node
        return out

    return {**schema, "properties": walk(schema.get("properties", {}), depth, False)}


# At most this many fitting row shapes are remembered per stream (nullable fields make
# shapes vary; past this, rows are simply checked field by field).
_SHAPES_KEPT = 4096


class RecordGuard:
    """Applies the rules above to each record of one stream, and reports once a run."""

    def __init__(self, schema: t.Mapping[str, t.Any], flattening_depth: int = 0) -> None:
        properties: t.Mapping[str, t.Any] = schema.get("properties", {})
        self.declared = frozenset(properties)
        self._flattened = tuple(_flattened_objects(properties, flattening_depth))
        self._checks = _type_checks(properties)
        self.undeclared: set[str] = set()
        self.mistyped: dict[str, str] = {}
        self._reported: set[str] = set()
        # Shapes (field names and value types, in order) of rows that needed nothing:
        # a row of a known shape needs nothing either, which two C-level tuple builds
        # and a set lookup tell, instead of a type check per declared field. Not with
        # flattening, whose checks look inside nested objects.
        self._fitting: set[tuple[tuple[str, ...], tuple[type, ...]]] = set()

    def apply(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        """Move what the schema cannot hold into the catch-all; the row, changed in place."""
        if self._flattened:
            self._apply(row)
            return row
        shape = (tuple(row), tuple(map(type, row.values())))
        if shape in self._fitting:
            row.setdefault(EXTRA, None)
            return row
        if self._apply(row) and len(self._fitting) < _SHAPES_KEPT:
            self._fitting.add(shape)
        return row

    def _apply(self, row: dict[str, t.Any]) -> bool:
        """``apply`` field by field; whether the row needed nothing moved or retyped."""
        fits = True
        extra: dict[str, t.Any] = {}
        if not self.declared.issuperset(row):
            for name in [name for name in row if name not in self.declared]:
                extra[name] = row.pop(name)
            self.undeclared.update(extra)
        for name, types in self._checks:
            value = row.get(name)
            if value is not None and type(value) not in types:
                fits = False
                self._misfit(row, name, value, types, extra)
        for path, declared, checks in self._flattened:
            self._unflattenable(row, path, declared, checks, extra)
        if extra:
            kept = row.get(EXTRA)
            row[EXTRA] = {**kept, **extra} if isinstance(kept, dict) else extra
        else:
            # Always present, so every record has the same columns (null: nothing kept).
            row.setdefault(EXTRA, None)
        return fits and not extra

    def _misfit(
        self,
        row: dict[str, t.Any],
        name: str,
        value: t.Any,
        types: frozenset[type],
        extra: dict[str, t.Any],
        *,
        path: tuple[str, ...] = (),
    ) -> None:
        if str in types and type(value) in (int, float, bool):
            row[name] = _to_text(value).decode()
            return
        dotted = ".".join((*path, name))
        extra[dotted] = row.pop(name)
        self.mistyped.setdefault(dotted, _JSON_NAMES.get(type(value), "another type"))

    def _unflattenable(
        self,
        row: dict[str, t.Any],
        path: tuple[str, ...],
        declared: frozenset[str],
        checks: _Checks,
        extra: dict[str, t.Any],
    ) -> None:
        node: t.Any = row
        for name in path:
            node = node.get(name) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return
        if not declared.issuperset(node):
            for name in [name for name in node if name not in declared]:
                dotted = ".".join((*path, name))
                extra[dotted] = node.pop(name)
                self.undeclared.add(dotted)
        for name, types in checks:
            value = node.get(name)
            if value is not None and type(value) not in types:
                self._misfit(node, name, value, types, extra, path=path)

    def report(self, stream_name: str, logger: logging.Logger) -> None:
        """One WARNING naming the fields kept in the catch-all not yet reported this run."""
        new_undeclared = sorted(self.undeclared - self._reported)
        new_mistyped = sorted(set(self.mistyped) - self._reported)
        if not (new_undeclared or new_mistyped):
            return
        self._reported.update(new_undeclared, new_mistyped)
        parts = []
        if new_undeclared:
            parts.append(f"fields its schema does not declare: {_names(new_undeclared)}")
        if new_mistyped:
            shown = [f"{n} (sent as {self.mistyped[n]})" for n in new_mistyped if _shown(n)]
            hidden = len(new_mistyped) - len(shown)
            parts.append(
                "declared fields sent with another type: "
                + ", ".join(shown + ([f"{hidden} more"] if hidden else []))
            )
        logger.warning(
            "Stream '%s': kept in the %s column, %s", stream_name, EXTRA, "; ".join(parts)
        )


def _shown(name: str) -> bool:
    return bool(_SHOWN_NAME.match(name))


def _names(names: list[str]) -> str:
    shown = [name for name in names if _shown(name)]
    hidden = len(names) - len(shown)
    return ", ".join(shown + ([f"{hidden} more not shown"] if hidden else []))


class KeepsVendorFields(Stream):
    """A stream whose records are vendor objects: put it first among the bases.

    Its ``post_process`` runs the guard after the stream's own (so a field the tap adds
    or promotes counts as declared), and each sync ends with the guard's report.
    """

    # No SDK conformance: the guard already made every record fit its schema (each
    # top-level value is of a declared JSON type, nothing undeclared is left, nested
    # vendor objects are kept exactly as sent), and the values come from JSON, so they
    # are JSON-native. The SDK's pass would change nothing and took half the tap's CPU.
    # tapkit.testing.sync validates every record of every in-process run against its
    # stream's schema, so the guarantee is checked wherever a tap runs in the tests.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """The stream; with flattening on, its schema as flattening lays it out."""
        super().__init__(*args, **kwargs)
        if self.flattening_depth:
            # Every stream here declares `schema` as a class attribute: this shadows it.
            self.schema = flattening_schema(self.schema, self.flattening_depth)  # type: ignore[misc]

    @property
    def flattening_depth(self) -> int:
        """How many levels schema flattening expands (0: flattening off)."""
        if not self.config.get("flattening_enabled"):
            return 0
        return int(self.config.get("flattening_max_depth") or 0)

    @cached_property
    def record_guard(self) -> RecordGuard:
        """The guard of this stream, built from its declared schema."""
        return RecordGuard(self.schema, flattening_depth=self.flattening_depth)

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """The stream's own post-processing, then the guard."""
        processed = super().post_process(row, context)
        return None if processed is None else self.record_guard.apply(processed)

    # When the page of the records being written arrived (ISO text), set by a stream
    # that reads pages; otherwise each record is stamped when it is written.
    page_extracted_at: str | None = None

    @cached_property
    def _writes_records_itself(self) -> bool:
        """Whether RECORD lines can go straight to the tap's writer (see below)."""
        # A selection mask answers a breadcrumb it lacks with its parent's answer, so
        # when every entry is True, no property of any record can be deselected.
        return (
            all(self.mask.values())
            and self.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.NONE
            and hasattr(self._tap.message_writer, "write_record")
        )

    def _write_record_message(self, record: dict) -> None:
        """The SDK's, without its per-record work that changes nothing here.

        For each record the SDK walks every key to pop deselected properties, builds a
        ``RecordMessage`` (converting its time to UTC) and serializes it; with nothing
        deselected and no conformance, that was most of the tap's CPU and left every
        line as it was. Here each stream map's output goes to the writer's
        ``write_record``, which writes the same line. A private SDK method (singer-sdk
        is pinned below 0.55); with a property deselected, conformance on or another
        writer, the SDK's own runs.
        """
        if not self._writes_records_itself:
            super()._write_record_message(record)
            return
        write = self._tap.message_writer.write_record  # type: ignore[attr-defined]
        extracted = self.page_extracted_at or utc_now().isoformat(sep="T")
        for alias, transform in self._record_maps:
            mapped = transform(record) if transform else record
            if mapped is not None:
                write(alias, mapped, self._stream_version, extracted)
        self.state_manager.is_flushed = False

    @cached_property
    def _record_maps(self) -> list[tuple[str, Callable[[dict], dict | None] | None]]:
        """Each stream map's alias and transform; None for one that returns the record."""
        return [
            (
                stream_map.stream_alias,
                None
                if type(stream_map) is SameRecordTransform
                and not (stream_map.flattening_options and stream_map.flattening_enabled)
                else stream_map.transform,
            )
            for stream_map in self.stream_maps
        ]

    def _process_record(
        self,
        record: dict,
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        """The SDK's, skipped when it has nothing to do: no partition keys, no children."""
        if partition_context or self.child_streams:
            super()._process_record(record, child_context, partition_context)

    # The greatest replication key value of the records written since the state last
    # took one, and the context it belongs to (see `_increment_stream_state`).
    _pending_bookmark: tuple[Context | None, t.Any] | None = None

    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        """The SDK's, once per state message rather than once per record.

        For a stream read in no order, the SDK keeps the greatest replication key value
        seen; that took a state lookup and two value conversions per record, a fifth of
        the tap's CPU. Here the greatest value waits until the state is read (a STATE
        message, the stream's finalization, another context) and goes through the
        SDK's own increment then, so the state is the one the SDK would have written
        at every STATE message. Sorted streams (whose order the SDK checks record by
        record), streams with children (whose STATE messages carry the parent's
        bookmark) and null values take the SDK's path.
        """
        value = latest_record.get(self.replication_key) if self._defers_bookmark else None
        if value is None:
            self._apply_pending_bookmark()
            super()._increment_stream_state(latest_record, context=context)
            return
        pending = self._pending_bookmark
        if pending is not None and pending[0] is not context:
            self._apply_pending_bookmark()
            pending = None
        if pending is None or value > pending[1]:
            self._pending_bookmark = (context, value)

    @cached_property
    def _defers_bookmark(self) -> bool:
        """Whether bookmarks wait for the state (an incremental, unsorted, childless stream)."""
        return bool(
            self.replication_key
            and self.replication_method == REPLICATION_INCREMENTAL
            and not self.is_sorted
            and not self.child_streams
        )

    def _apply_pending_bookmark(self) -> None:
        pending, self._pending_bookmark = self._pending_bookmark, None
        if pending is not None and self.replication_key:
            context, value = pending
            super()._increment_stream_state({self.replication_key: value}, context=context)

    def _write_state_message(self) -> None:
        """The SDK's, with the bookmark of the records written so far."""
        self._apply_pending_bookmark()
        super()._write_state_message()

    def _finalize_state(self, state: dict | None = None) -> None:
        """The SDK's, with the bookmark of the records written so far."""
        self._apply_pending_bookmark()
        super()._finalize_state(state)

    def get_sync_timer(self) -> metrics.Timer:
        """The SDK's timer of one sync, which also reports the guard's finds when it ends.

        ``Stream.sync`` is final; the timer is the SDK's hook that wraps every sync,
        failed ones included (a child stream syncs once per parent record, and the
        guard names each field once a run).
        """
        return _ReportingTimer(self.name, lambda: self.record_guard.report(self.name, self.logger))


class _ReportingTimer(metrics.Timer):
    def __init__(self, stream_name: str, report: Callable[[], None]) -> None:
        super().__init__(metrics.Metric.SYNC_DURATION, {metrics.Tag.STREAM: stream_name})
        self._report = report

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        super().__exit__(exc_type, exc_val, exc_tb)
        self._report()
