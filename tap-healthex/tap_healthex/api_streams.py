"""Streams read from (and, for update requests, written to) the HealthEx API."""

from __future__ import annotations

import email.utils
import typing as t
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from tapkit.errors import describe_response, vendor_error_code
from tapkit.schema import (
    array,
    boolean,
    date_time,
    integer,
    obj,
    open_object,
    stream_schema,
    string,
)

from tap_healthex.client import HealthExStream, page_of

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

PROJECT = {"project_id": string("Added by the tap: the HealthEx project.")}
PAUSED_CODES = {"STUDY_NOT_ACTIVE", "STUDY_PAUSED", "STUDY_INACTIVE", "PROJECT_NOT_ACTIVE"}
# A first run that may have skipped a consent keeps this bookmark: read all again.
EVERYTHING = "1970-01-01T00:00:00+00:00"
# Beside each consent record in a result item: nothing is documented, so anything
# found there is kept; a name the record itself uses is prefixed so neither is lost.
_SIBLING_PREFIX = "result."


class IdentifiedPatientsStream(HealthExStream):
    """The project's identified patients (no public page: path and shape assumed)."""

    name = "identified_patients"
    path = "/v1/projects/{project_id}/recruitment/identified-patients"
    primary_keys = ("project_id", "id")
    schema = stream_schema(
        {
            **PROJECT,
            "id": string("HealthEx's id of the patient."),
            "referenceId": string("HealthEx reference id."),
            "externalId": string("The research team's own id for the patient."),
            "firstName": string("First name (PHI)."),
            "lastName": string("Last name (PHI)."),
            "dateOfBirth": string("Date of birth (PHI)."),
            "email": string("Email (PHI)."),
            "phone": string("Phone (PHI)."),
            "status": string("Recruitment status."),
            "createdAt": date_time("When HealthEx created the patient."),
            "updatedAt": date_time("When HealthEx last updated the patient."),
        },
        keys=("project_id", "id"),
    )

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """Ids only: the project and the patient."""
        return {"project_id": (context or {})["project_id"], "patient_id": record["id"]}


class ConsentRecordsStream(HealthExStream):
    """Consent records (docs.healthex.io/api/get-consent-records), with If-Modified-Since.

    A consent record carries no modification time, so the bookmark is HealthEx's own
    clock: the ``Date`` of the first answer of the read, minus
    ``consent_lookback_minutes``. Every consent changed after that answer (during the
    read, or just before it, within the lookback) is newer than the bookmark, so the
    next run reads it again. Each record's ``synced_at`` is the ``Date`` of the answer
    that carried it: later reads of a consent have later times.

    Offsets can still skip: a consent that changes while the tap pages may move under
    them, and the one at the next page boundary slips onto a page already read. The
    skipped one is older than the bookmark would be, so a read that saw fewer distinct
    consents than the server's ``total`` keeps the previous bookmark (a first run keeps
    none), and the next run reads them all again.
    """

    name = "consent_records"
    path = "/v1/projects/{project_id}/consent-records"
    primary_keys = ("project_id", "id")
    replication_key = "synced_at"
    is_sorted = False
    envelope_text = "{total, results: [{consentRecord}]}"
    schema = stream_schema(
        {
            **PROJECT,
            "id": string("HealthEx's id of the consent record."),
            "patientId": string("The HealthEx patient who consented or declined."),
            "studyId": string(
                "The study. Documented as an object without properties; every example "
                "is an id string."
            ),
            "studyVersionId": string("The version of the study consented to."),
            "consentType": string(
                "DATA_AUTHORIZATION, PATIENT_DIRECTED_DATA_EXCHANGE or FUTURE_DATA_USE."
            ),
            "consentStatus": string("OPTED_IN or OPTED_OUT."),
            "timestamp": date_time("When the patient consented or declined."),
            "expirationTimestamp": date_time("When the consent expires."),
            "consentStats": open_object(
                "Statistics of the consent flow (optional; no documented inner fields)."
            ),
            "studySnapshotId": string("Snapshot of the study the patient saw."),
            "consentConfigSnapshotId": string("Snapshot of the consent configuration."),
            "consentUIFlow": string("The consent flow, e.g. PATIENT_DIRECTED_DATA_EXCHANGE."),
            "uiHash": string("Hash of the consent screens shown."),
            "language": string("Language of the consent screens."),
            "fullRecordWithoutRestrictedData": boolean(
                "Optional: the patient disclosed the entire record except restricted data."
            ),
            "consentDataResourceScopes": array(
                "Resource scopes consented to (MEDICATIONS, LABS, ...).", string()
            ),
            "consentDataSensitivityScopes": array(
                "Sensitivity scopes consented to (NORMAL, MENTAL_HEALTH, ...).", string()
            ),
            "synced_at": date_time(
                "Added by the tap: HealthEx's time (its Date header) when it served this "
                "version of the record. The incremental key; later reads have later times."
            ),
        },
        keys=("project_id", "id", "synced_at"),
    )

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._total = 0
        self._first_served: datetime | None = None
        self._dateless = False

    def read_page(self, body: t.Any) -> tuple[list[dict[str, t.Any]], int] | None:
        """``{total, results: [{consentRecord: {...}}]}``: the consent records, unwrapped."""
        if not (
            isinstance(body, dict)
            and isinstance(body.get("total"), int)
            and isinstance(body.get("results"), list)
            and all(
                isinstance(item, dict) and isinstance(item.get("consentRecord"), dict)
                for item in body["results"]
            )
        ):
            return None
        records = []
        for item in body["results"]:
            record = dict(item["consentRecord"])
            for key, value in item.items():
                if key != "consentRecord":
                    record[_SIBLING_PREFIX + key if key in record else key] = value
            records.append(record)
        return records, body["total"]

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The page's records, each stamped with the time HealthEx served it."""
        page = page_of(response)
        self._total = page.total
        if page.served_at is None:
            self._dateless = True
        served = page.served_at or datetime.now(UTC)
        if self._first_served is None:
            self._first_served = served
        stamp = served.astimezone(UTC).isoformat()
        for record in page.records:
            record["synced_at"] = stamp
            yield record

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Read the pages; then set the bookmark from HealthEx's clock (see the class)."""
        started = datetime.now(UTC)
        self._total, self._first_served, self._dateless = 0, None, False
        ids: set[str] = set()
        for record in super().get_records(context):
            ids.add(record["id"])
            yield record
        if self._dateless:
            self.logger.warning(
                "stream '%s': HealthEx answered without a Date header; the bookmark "
                "uses this machine's clock instead",
                self.name,
            )
        if len(ids) < self._total:
            self.logger.warning(
                "stream '%s': %d of %d consent records read; some changed while paging, "
                "so the bookmark stays and the next run reads them again",
                self.name,
                len(ids),
                self._total,
            )
            start = self.get_starting_timestamp(context)
            signpost = start.isoformat() if start is not None else EVERYTHING
        else:
            lookback = timedelta(minutes=float(self.config["consent_lookback_minutes"]))
            first = self._first_served if not self._dateless else None
            signpost = ((first or started) - lookback).astimezone(UTC).isoformat()
        self.state_manager.write_replication_key_signpost(signpost, context=context)

    def extra_headers(self, context: Context | None) -> dict[str, str]:
        """If-Modified-Since: the bookmark, as an HTTP date (whole seconds, rounded down)."""
        since = self.get_starting_timestamp(context)
        if since is None:
            return {}
        return {"If-Modified-Since": email.utils.format_datetime(since.astimezone(UTC), True)}


class DataUpdateRequestsStream(HealthExStream):
    """Asks HealthEx to refresh each due patient's data: the one stream that WRITES.

    Only with ``request_updates`` on. A patient is due when ``update_interval_hours``
    have passed since the tap last asked for it (kept in state per patient).
    """

    name = "data_update_requests"
    path = "/v1/projects/{project_id}/recruitment/identified-patients/{patient_id}/$updateData"
    parent_stream_type = IdentifiedPatientsStream
    primary_keys = ("project_id", "patient_id", "requested_at")
    replication_key = "requested_at"
    state_partitioning_keys = ("project_id", "patient_id")
    schema = stream_schema(
        {
            "project_id": string("The project."),
            "patient_id": string("The identified patient."),
            "requested_at": date_time("When the tap asked (the tap's clock)."),
            "http_status": integer("HTTP status of the answer."),
            "message": string("IN_PROGRESS_NO_ACTION_NEEDED or PATIENT_ACTION_NEEDED."),
            "patient_action_needed_reason": string(
                "Why the patient must act, if they must (patientActionNeededReason)."
            ),
            "skipped_facilities_count": integer(
                "Facilities skipped, existing and new (skippedFacilitiesCount)."
            ),
            "counts": obj(
                "Facility metrics of the retrieval, as sent.",
                skippedExistingFacilities=integer(),
                changedExistingFacilities=integer(),
                unchangedExistingFacilities=integer(),
                retrievedNewFacilities=integer(),
                skippedNewFacilities=integer(),
            ),
            "retrieval_id": string(
                "The retrieval the refresh started (retrievalId); its files carry this id."
            ),
            "code": string("The answer's status code, as HealthEx's guide documents it."),
            "error_code": string("HealthEx's error code when the request was refused."),
        },
        keys=("project_id", "patient_id", "requested_at"),
    )
    # The answer's documented fields and the columns they land in; any other field of
    # the answer is kept under its own name (and so in extra_fields).
    ANSWER_COLUMNS: t.ClassVar[dict[str, str]] = {
        "message": "message",
        "patientActionNeededReason": "patient_action_needed_reason",
        "skippedFacilitiesCount": "skipped_facilities_count",
        "counts": "counts",
        "retrievalId": "retrieval_id",
        "code": "code",
    }

    method = "POST"

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._paused: set[str] = set()

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """POST $updateData for this patient if due; record the answer."""
        if not self.config["request_updates"] or context is None:
            return
        self._ready()
        project = context["project_id"]
        last = self.get_starting_timestamp(context)
        interval = timedelta(hours=float(self.config["update_interval_hours"]))
        now = datetime.now(UTC)
        if project in self._paused or (last is not None and now - last < interval):
            return
        response = self._retry.run(
            lambda: self._post(context),
            what=self.what(),
            on_unauthorized=getattr(self._auth, "invalidate", None),
        )
        code = vendor_error_code(response)
        if code in PAUSED_CODES or response.status_code == 409:
            self._paused.add(project)
            self.logger.warning(
                "%s: the study of project %s is paused or not active; no update requests "
                "for its patients in this run",
                describe_response(response, self.what()),
                project,
            )
            return
        body: t.Any = {}
        if response.ok:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):  # HealthEx acted: no retry, which would ask again
                msg = (
                    f"{self.what()} answered {response.status_code} with a body that is not "
                    "a JSON object"
                )
                raise self.error_type(msg)
        answer = {self.ANSWER_COLUMNS.get(key, key): value for key, value in body.items()}
        yield {
            **answer,
            "project_id": project,
            "patient_id": context["patient_id"],
            "requested_at": now.isoformat(),
            "http_status": response.status_code,
            "error_code": None if response.ok else code,
        }

    def _post(self, context: Context) -> requests.Response:
        url = self.url_base + self.path.format(
            project_id=quote(context["project_id"], safe=""),
            patient_id=quote(context["patient_id"], safe=""),
        )
        body = {"skipInteractive": bool(self.config["skip_interactive"])}
        response = self.requests_session.post(
            url,
            json=body,
            timeout=self.timeout,
            auth=self._auth,
            headers={"User-Agent": self.user_agent, "Accept": "application/json"},
        )
        if response.status_code in (401, 429) or response.status_code >= 500:
            self.raise_for_status(response)  # a 401 logs in again; 429 and 5xx retry
        return response  # another refusal (404, 403, 409) is recorded by get_records
