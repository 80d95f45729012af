"""Streams of the delivered files: the files themselves and the FHIR resources in them."""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from tapkit.spool import Spool, SpooledStream

from tap_healthex.delivery_reader import FILES_STREAM
from tap_healthex.fhir import CODED, OTHER, PROMOTED, STREAM_OF_TYPE

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from singer_sdk import Tap

    from tap_healthex.delivery_reader import DeliveryReader

S = th.StringType(nullable=True)
TIME = th.DateTimeType(nullable=True)
_KEYS = (
    th.Property(
        "project_id",
        th.StringType(nullable=False),
        required=True,
        description="The project, from the file's path.",
    ),
    th.Property(
        "healthex_patient_id",
        th.StringType(nullable=False),
        required=True,
        description="HealthEx's patient id, from the file's path.",
    ),
    th.Property("retrieval_id", S, description="The retrieval that delivered the file."),
    th.Property("file_key", S, description="The delivered file the resource came from."),
)
_COLUMNS: dict[str, tuple[th.JSONTypeHelper, str]] = {
    "family": (S, "Patient family name (PHI)."),
    "given": (S, "Patient first given name (PHI)."),
    "birth_date": (S, "Patient birth date (PHI)."),
    "gender": (S, "Patient administrative gender."),
    "code": (S, "First coding's code (SNOMED CT, LOINC, RxNorm, ICD-10, CVX, ...)."),
    "code_system": (S, "First coding's system URI."),
    "display": (S, "First coding's display, or the concept's text."),
    "status": (S, "status, or clinicalStatus's code."),
    "effective": (S, "effective/onset/authored/occurrence/performed/recorded time."),
    "value": (th.NumberType(nullable=True), "valueQuantity.value."),
    "unit": (S, "valueQuantity.unit."),
    "class_code": (S, "Encounter class code."),
    "period_start": (S, "Encounter period start."),
    "period_end": (S, "Encounter period end."),
}


class DeliveryStream(SpooledStream):
    """A stream fed by the run's delivery reader; the last one saves the watermark."""

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    def __init__(
        self,
        tap: Tap,
        reader: Callable[[], DeliveryReader],
        ready: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(tap)
        self._reader = reader
        self._ready = ready or (lambda: None)

    def spool(self) -> Spool:
        """The delivered files' records, read once the tap has checked its sources."""
        self._ready()
        return self._reader().read()

    def commit(self, bookmarks: dict[str, t.Any]) -> None:
        """The new watermark, and the files read inside its lookback."""
        reader = self._reader()
        if reader.new_watermark is not None:
            bookmark = bookmarks.setdefault(FILES_STREAM, {})
            bookmark["watermark"] = reader.new_watermark.isoformat()
            bookmark["recent"] = reader.recent_reads()


class DeliveryFilesStream(DeliveryStream):
    """Every delivered file the tap read, with what it found (or why it could not)."""

    name = FILES_STREAM
    primary_keys = ("key", "last_modified")
    schema = th.PropertiesList(
        th.Property(
            "key",
            th.StringType(nullable=False),
            required=True,
            description="Path relative to the delivery root (S3 prefix, SFTP root).",
        ),
        th.Property(
            "last_modified",
            th.DateTimeType(nullable=False),
            required=True,
            description="When the file was delivered (the store's clock).",
        ),
        *_KEYS[:3],
        th.Property("org_id", S, description="The organisation, from the path."),
        th.Property("external_id", S, description="The external id, if the template has one."),
        th.Property("size", th.IntegerType(nullable=True), description="Bytes."),
        th.Property("etag", S, description="S3 ETag (empty for SFTP)."),
        th.Property(
            "resource_count",
            th.IntegerType(nullable=True),
            description="Resources read from the file (0 if unreadable).",
        ),
        th.Property(
            "parse_error",
            S,
            description="Why the file was skipped (not JSON, not a FHIR Bundle, ...).",
        ),
        th.Property("read_at", TIME, description="When the tap read it (the tap's clock)."),
    ).to_dict()


class FhirResourceStream(DeliveryStream):
    """One FHIR resource type from the delivered bundles."""

    primary_keys = ("project_id", "healthex_patient_id", "id")


def _resource_stream(name: str, fhir_type: str | None) -> type[FhirResourceStream]:
    columns = PROMOTED.get(name, CODED)
    schema = th.PropertiesList(
        *_KEYS,
        th.Property(
            "id", th.StringType(nullable=False), required=True, description="The resource id."
        ),
        th.Property(
            "resource_type",
            th.StringType(nullable=False),
            required=True,
            description="The FHIR resource type.",
        ),
        th.Property("meta_last_updated", TIME, description="meta.lastUpdated."),
        *(th.Property(c, _COLUMNS[c][0], description=_COLUMNS[c][1]) for c in columns),
        # No inner properties declared: a FHIR resource is open-ended, and schema
        # flattening keeps an object without them as one JSON column instead of
        # expanding it into nothing.
        th.Property(
            "resource",
            th.CustomType({"type": ["object"]}),
            required=True,
            description="The whole FHIR resource, as delivered.",
        ),
    ).to_dict()
    attrs: dict[str, t.Any] = {
        "name": name,
        "schema": schema,
        "__doc__": f"FHIR {fhir_type or 'resources of every other type'} from delivered bundles.",
    }
    if fhir_type is None:  # several types share one stream: their ids may collide
        attrs["primary_keys"] = ("project_id", "healthex_patient_id", "resource_type", "id")
    return t.cast(
        "type[FhirResourceStream]", type(f"{name.title()}Stream", (FhirResourceStream,), attrs)
    )


RESOURCE_STREAMS: tuple[type[FhirResourceStream], ...] = (
    *(_resource_stream(name, fhir_type) for fhir_type, name in STREAM_OF_TYPE.items()),
    _resource_stream(OTHER, None),
)
