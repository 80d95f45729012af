"""Reading the delivered files once per run, for every file-backed stream.

Files whose path matches ``delivery_path_template`` and whose last-modified time is
after the saved watermark minus ``delivery_lookback_minutes`` (the lookback covers
clock skew and SFTP's one-second mtimes), and that were not already read with that
same last-modified time (the state remembers those inside the window), are downloaded (to a
temporary file), parsed streaming, and their resources spooled per stream; the SDK
then writes each stream from its spool. A file that is not a readable FHIR Bundle
stops the run with an error naming it, before the watermark moves; with
``skip_bad_files`` it is recorded in ``delivery_files`` with the reason instead, its
partial output rolled back, and the run goes on. The watermark enters the state only
after the last file-backed stream has written its records, so a killed run reads the
same files again.
"""

from __future__ import annotations

import tempfile
import typing as t
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tapkit.spool import Spool
from tapkit.times import parse_time

from tap_healthex.errors import HealthExError
from tap_healthex.fhir import OTHER, STREAM_OF_TYPE, NotFhir, bundle_resources, obj, promote
from tap_healthex.stores import RemoteFile, S3Store, SftpStore, template_pattern

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping

    from tapkit.retry import RetryPolicy

DEFAULT_TEMPLATE = "{orgId}/{projectId}/{healthexPatientId}/{retrievalId}/bundle.json"
FILES_STREAM = "delivery_files"


class DeliveryReader:
    """Lists, downloads and parses the delivered files; spools records per stream."""

    def __init__(
        self,
        *,
        config: Mapping[str, t.Any],
        watermark: datetime | None,
        recent: Mapping[str, str],
        selected: Callable[[], set[str]],
        logger: logging.Logger,
        retry: RetryPolicy,
    ) -> None:
        self.config = config
        self.retry = retry
        self.watermark = watermark
        self.new_watermark = watermark
        self.recent = dict(recent)  # key -> last_modified of files read inside the lookback
        self.logger = logger
        self.spool = Spool("tap-healthex-", selected)
        self.files_read = 0  # for the run summary

    def close(self) -> None:
        """Remove the spool."""
        self.spool.close()

    def _lookback(self) -> timedelta:
        return timedelta(minutes=float(self.config["delivery_lookback_minutes"]))

    def _since(self) -> datetime | None:
        if self.watermark is not None:
            return self.watermark - self._lookback()
        return parse_time(self.config.get("start_date"))

    def recent_reads(self) -> dict[str, str]:
        """Files read inside the lookback window of the new watermark (for the state)."""
        if self.new_watermark is None:
            return {}
        horizon = self.new_watermark - self._lookback()
        return {k: v for k, v in self.recent.items() if (parse_time(v) or horizon) > horizon}

    def _store(self) -> S3Store | SftpStore | None:
        kind = self.config["delivery_type"]
        if kind == "s3":
            return S3Store(self.config)
        if kind == "sftp":
            return SftpStore(self.config, self.retry)
        return None

    def _run(self) -> None:
        self.spool.open([*STREAM_OF_TYPE.values(), OTHER, FILES_STREAM])
        try:
            store = self._store()
            if store is None:
                return
            try:
                for remote, fields in self._due(store):
                    self._read(store, remote, fields)
                    self.recent[remote.key] = remote.last_modified.isoformat()
                    if self.new_watermark is None or remote.last_modified > self.new_watermark:
                        self.new_watermark = remote.last_modified
            finally:
                store.close()
        finally:
            self.spool.seal()

    def _due(self, store: S3Store | SftpStore) -> list[tuple[RemoteFile, dict[str, str]]]:
        """The files to read, oldest first, with the fields their path holds."""
        pattern = template_pattern(self.config["delivery_path_template"])
        projects = {str(p) for p in self.config["project_ids"]}
        since = self._since()
        todo: list[tuple[RemoteFile, dict[str, str]]] = []
        for remote in store.list():
            match = pattern.match(remote.key)
            if match is None or (since is not None and remote.last_modified <= since):
                continue
            if self.recent.get(remote.key) == remote.last_modified.isoformat():
                continue  # read already, and unchanged since
            fields = match.groupdict()
            if projects and fields.get("projectId") not in projects:
                continue
            todo.append((remote, fields))
        return sorted(todo, key=lambda item: (item[0].last_modified, item[0].key))

    def _read(
        self,
        store: S3Store | SftpStore,
        remote: RemoteFile,
        fields: dict[str, str],
    ) -> None:
        marks = self.spool.mark()
        keys = {
            "project_id": fields.get("projectId"),
            "healthex_patient_id": fields.get("healthexPatientId"),
            "retrieval_id": fields.get("retrievalId"),
        }
        count, error = 0, None
        with tempfile.NamedTemporaryFile(dir=self.spool.directory, suffix=".json") as local:
            store.download(remote.key, t.cast("t.BinaryIO", local))
            self.files_read += 1
            local.flush()
            try:
                for resource in bundle_resources(Path(local.name)):
                    stream = STREAM_OF_TYPE.get(resource["resourceType"], OTHER)
                    meta = obj(resource.get("meta"))
                    record = {
                        **keys,
                        "file_key": remote.key,
                        "id": resource["id"],
                        "resource_type": resource["resourceType"],
                        "meta_last_updated": meta.get("lastUpdated"),
                        **promote(stream, resource),
                        "resource": resource,
                    }
                    self.spool.write(stream, [record])
                    count += 1
            except NotFhir as exc:
                error = str(exc)
        if error is not None:
            self.spool.roll_back(marks)  # no half-read file reaches the warehouse
            count = 0
            if not self.config["skip_bad_files"]:
                msg = (
                    f"delivered file '{remote.key}' is not a readable FHIR Bundle ({error}); "
                    "the delivery watermark did not move (skip_bad_files: true records "
                    "such files in delivery_files and goes on)"
                )
                raise HealthExError(msg)
            self.logger.warning("Delivered file %s skipped: %s", remote.key, error)
        file_record = {
            **keys,
            "key": remote.key,
            "size": remote.size,
            "etag": remote.etag,
            "last_modified": remote.last_modified.isoformat(),
            "org_id": fields.get("orgId"),
            "external_id": fields.get("externalId"),
            "resource_count": count,
            "parse_error": error,
            "read_at": datetime.now(UTC).isoformat(),
        }
        self.spool.write(FILES_STREAM, [file_record])

    def read(self) -> Spool:
        """List, download and parse the files, once: the spool is then ready."""
        if not self.spool.ready:
            self._run()
        return self.spool
