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
        """Promote the headline fields of ``data.assessment`` to columns."""
        data = row.get("data")
        summary = data.get("assessment") if isinstance(data, dict) else None
        summary = summary if isinstance(summary, dict) else {}
        row["assessed_at"] = summary.get("date")
        row["mode"] = summary.get("mode")
        row["pain_score"] = summary.get("pain_score")
        row["pain_level"] = summary.get("pain_level")
        return super().post_process(row, context)


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
    """Licences."""

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
