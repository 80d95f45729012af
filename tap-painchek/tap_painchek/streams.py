"""The PainChek streams: one small class per endpoint."""

from __future__ import annotations

import typing as t

from tap_painchek import schemas
from tap_painchek.client import PainChekStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class PatientsStream(PainChekStream):
    """Patients (residents) of every site under the licence."""

    name = "patients"
    path = "/api/patients/"
    schema = schemas.PATIENTS

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """``deleted_reason`` is an archive reason; the vendor's string "null" is null."""
        if row.get("deleted_reason") == "null":
            row["deleted_reason"] = None
        return super().post_process(row, context)


class AssessmentsStream(PainChekStream):
    """Pain assessments, PainChek and NRS modes."""

    name = "assessments"
    path = "/api/assessments/"
    schema = schemas.ASSESSMENTS

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Promote the headline fields of the ``assessment`` section to columns."""
        summary = _assessment_section(row)
        row["assessed_at"] = summary.get("date")
        row["mode"] = summary.get("mode")
        row["pain_score"] = summary.get("pain_score")
        row["pain_level"] = summary.get("pain_level")
        row["timing"] = summary.get("timing")
        return super().post_process(row, context)


def _assessment_section(row: dict) -> dict:
    """``data.assessment`` (the webhook sample's layout), else a top-level ``assessment``."""
    data = row.get("data")
    for section in (
        data.get("assessment") if isinstance(data, dict) else None,
        row.get("assessment"),
    ):
        if isinstance(section, dict):
            return section
    return {}


class SitesStream(PainChekStream):
    """Sites (care homes, wards)."""

    name = "sites"
    path = "/api/sites/"
    schema = schemas.SITES


class AdmissionsStream(PainChekStream):
    """Admissions of patients to sites (path assumed, see the README)."""

    name = "admissions"
    path = "/api/admissions/"
    schema = schemas.ADMISSIONS

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Promote the UUIDs of the embedded patient and site, for joins."""
        row["patient_uuid"] = _uuid_of(row.get("patient"))
        row["site_uuid"] = _uuid_of(row.get("site"))
        return super().post_process(row, context)


def _uuid_of(reference: object) -> str | None:
    """The ``uuid`` of an embedded record, or the reference itself if a tenant sends an id."""
    if isinstance(reference, dict):
        reference = reference.get("uuid")
    return reference if isinstance(reference, str) else None


class CommentsStream(PainChekStream):
    """Comments on patients and assessments (path assumed, see the README)."""

    name = "comments"
    path = "/api/comments/"
    schema = schemas.COMMENTS


class UsersStream(PainChekStream):
    """Clinician accounts; tenants may restrict this endpoint (403 skips it)."""

    name = "users"
    path = "/api/account/users/"
    schema = schemas.USERS
    may_be_restricted = True


class LicensesStream(PainChekStream):
    """Licences, read by ``update_stamp`` like every table (PainChek's sample shows none)."""

    name = "licenses"
    path = "/api/license/licenses/"
    schema = schemas.LICENSES


STREAM_TYPES: tuple[type[PainChekStream], ...] = (
    PatientsStream,
    AssessmentsStream,
    SitesStream,
    AdmissionsStream,
    CommentsStream,
    UsersStream,
    LicensesStream,
)
