"""Streams read from (and, for update requests, written to) the HealthEx API."""

from __future__ import annotations

import email.utils
import typing as t
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from singer_sdk import typing as th
from singer_sdk.exceptions import RetriableAPIError

from tap_healthex.client import HealthExStream, envelope
from tap_healthex.errors import (
    HealthExError,
    Unauthorized,
    describe_response,
    vendor_error_code,
)
from tap_healthex.files import parse_time

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

S = th.StringType(nullable=True)
KEYS = (
    th.Property(
        "project_id",
        th.StringType(nullable=False),
        required=True,
        description="Added by the tap: the HealthEx project.",
    ),
    th.Property(
        "id",
        th.StringType(nullable=False),
        required=True,
        description="HealthEx's id of the record.",
    ),
)
PAUSED_CODES = {"STUDY_NOT_ACTIVE", "STUDY_PAUSED", "STUDY_INACTIVE", "PROJECT_NOT_ACTIVE"}


def _props(**kinds: tuple[th.JSONTypeHelper, str]) -> list[th.Property]:
    return [th.Property(name, kind, description=text) for name, (kind, text) in kinds.items()]


class IdentifiedPatientsStream(HealthExStream):
    """The project's identified patients (list path assumed, see the README)."""

    name = "identified_patients"
    path = "/v1/projects/{project_id}/recruitment/identified-patients"
    primary_keys = ("project_id", "id")
    schema = th.PropertiesList(
        *KEYS,
        *_props(
            referenceId=(S, "HealthEx reference id."),
            externalId=(S, "The research team's own id for the patient."),
            firstName=(S, "First name (PHI)."),
            lastName=(S, "Last name (PHI)."),
            dateOfBirth=(S, "Date of birth (PHI)."),
            email=(S, "Email (PHI)."),
            phone=(S, "Phone (PHI)."),
            status=(S, "Recruitment status."),
            createdAt=(th.DateTimeType(nullable=True), "When HealthEx created the patient."),
            updatedAt=(th.DateTimeType(nullable=True), "When HealthEx last updated the patient."),
        ),
    ).to_dict()

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """Ids only: the project and the patient."""
        return {"project_id": (context or {})["project_id"], "patient_id": record["id"]}


class ConsentRecordsStream(HealthExStream):
    """Consent records, read incrementally with If-Modified-Since (path assumed)."""

    name = "consent_records"
    path = "/v1/projects/{project_id}/consent-records"
    primary_keys = ("project_id", "id")
    replication_key = "updatedAt"
    is_sorted = False
    schema = th.PropertiesList(
        *KEYS,
        *_props(
            patientId=(S, "The identified patient."),
            studyId=(S, "The study."),
            consentType=(S, "Type of consent."),
            hasPatientConsented=(th.BooleanType(nullable=True), "Whether the patient consented."),
            source=(S, "Where the consent was captured."),
            timestamp=(th.DateTimeType(nullable=True), "When the patient consented or declined."),
            expirationTimestamp=(th.DateTimeType(nullable=True), "When the consent expires."),
            updatedAt=(th.DateTimeType(nullable=True), "When HealthEx last updated the record."),
        ),
    ).to_dict()

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The page's records; remember how many the server counts in all."""
        self._total = envelope(response)["total"]
        yield from super().parse_response(response)

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Read the pages; keep the bookmark if a consent moved under the offsets.

        Consents are served by ``updatedAt`` and paged by offset: one that changes while
        the tap pages moves to the end, every later one moves up a place, and the one
        at the next page boundary is skipped. The skipped one is older than the
        bookmark would be, so fewer distinct ids than the server's total means the
        bookmark stays where it was and the next run reads them all again.
        """
        self._total = 0
        ids: set[str] = set()
        oldest: tuple[datetime, str] | None = None
        for record in super().get_records(context):
            ids.add(record["id"])
            at = parse_time(record["updatedAt"])  # validate_response checked it parses
            if at is not None and (oldest is None or at < oldest[0]):
                oldest = (at, record["updatedAt"])
            yield record
        if len(ids) < self._total:
            self.logger.warning(
                "stream '%s': %d of %d consent records read; some changed while paging, "
                "so the bookmark stays and the next run reads them again",
                self.name,
                len(ids),
                self._total,
            )
            # A first run keeps the oldest consent it read: the first page held the
            # oldest of all, and a skipped consent is not older.
            start = self.get_starting_replication_key_value(context)
            if start is None and oldest is not None:
                start = oldest[1]
            if start is not None:
                self.state_manager.write_replication_key_signpost(start, context=context)

    def extra_headers(self, context: Context | None) -> dict[str, str]:
        """If-Modified-Since: the bookmark, one second early (HTTP dates have no ms)."""
        since = self.get_starting_timestamp(context)
        if since is None:
            return {}
        early = since.astimezone(UTC) - timedelta(seconds=1)
        return {"If-Modified-Since": email.utils.format_datetime(early, usegmt=True)}


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
    schema = th.PropertiesList(
        th.Property(
            "project_id", th.StringType(nullable=False), required=True, description="The project."
        ),
        th.Property(
            "patient_id",
            th.StringType(nullable=False),
            required=True,
            description="The identified patient.",
        ),
        th.Property(
            "requested_at",
            th.DateTimeType(nullable=False),
            required=True,
            description="When the tap asked (the tap's clock).",
        ),
        *_props(
            http_status=(th.IntegerType(nullable=True), "HTTP status of the answer."),
            message=(S, "IN_PROGRESS_NO_ACTION_NEEDED or PATIENT_ACTION_NEEDED."),
            patient_action_needed_reason=(S, "Why the patient must act, if they must."),
            retrieval_id=(S, "The retrieval the refresh started; its files carry this id."),
            counts=(
                th.ObjectType(additional_properties=True, nullable=True),
                "Counts HealthEx reported, as sent.",
            ),
            error_code=(S, "HealthEx's error code when the request was refused."),
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._paused: set[str] = set()

    def _what(self) -> str:
        return f"stream '{self.name}': POST {self.path}"

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """POST $updateData for this patient if due; record the answer."""
        if not self.config.get("request_updates") or context is None:
            return
        self._ready()
        project = context["project_id"]
        last = self.get_starting_timestamp(context)
        interval = timedelta(hours=float(self.config.get("update_interval_hours", 24)))
        now = datetime.now(UTC)
        if project in self._paused or (last is not None and now - last < interval):
            return
        response = self._retry.run(
            lambda: self._post(context),
            what=self._what(),
            on_unauthorized=getattr(self._auth, "invalidate", None),
        )
        code = vendor_error_code(response)
        if code in PAUSED_CODES or response.status_code == 409:
            self._paused.add(project)
            self.logger.warning(
                "%s: the study of project %s is paused or not active; no update requests "
                "for its patients in this run",
                describe_response(response, self._what()),
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
                    f"{self._what()} answered {response.status_code} with a body that is not "
                    "a JSON object"
                )
                raise HealthExError(msg)
        yield {
            "project_id": project,
            "patient_id": context["patient_id"],
            "requested_at": now.isoformat(),
            "http_status": response.status_code,
            "message": body.get("message"),
            "patient_action_needed_reason": body.get("patientActionNeededReason"),
            "retrieval_id": body.get("retrievalId"),
            "counts": body.get("counts"),
            "error_code": None if response.ok else code,
        }

    def _post(self, context: Context) -> requests.Response:
        url = self.url_base + self.path.format(
            project_id=quote(context["project_id"], safe=""),
            patient_id=quote(context["patient_id"], safe=""),
        )
        body = {"skipInteractive": bool(self.config.get("skip_interactive", False))}
        response = self.requests_session.post(
            url,
            json=body,
            timeout=self.timeout,
            auth=self._auth,
            headers={"User-Agent": self.user_agent, "Accept": "application/json"},
        )
        if response.status_code == 401:
            raise Unauthorized(describe_response(response, self._what()))
        if response.status_code == 429 or response.status_code >= 500:
            raise RetriableAPIError(describe_response(response, self._what()), response)
        return response

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Records are built whole in get_records."""
        return row
