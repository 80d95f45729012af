"""Scan logs for secrets, tokens and patient details."""

from __future__ import annotations

import re
import typing as t


def leaks(logs: str, secrets: t.Iterable[str]) -> list[str]:
    """Secrets, tokens or patient details that appear in the logs (whole words)."""
    found = []
    for secret in {s for s in secrets if s and len(s) >= 4}:
        if re.search(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", logs):
            found.append(secret)
    return sorted(found)


def patient_details(sandbox: t.Any) -> set[str]:
    """Names and birth dates of every patient, and the names on assessments."""
    details: set[str] = set()
    for row in sandbox.truth("patients"):
        details.update(
            filter(
                None,
                (
                    row.get("first_name"),
                    row.get("last_name"),
                    row.get("nickname"),
                    row.get("birth_date"),
                ),
            )
        )
    for row in sandbox.truth("assessments"):
        details.update(filter(None, (row.get("patient_first_name"), row.get("patient_last_name"))))
    return details


def painchek_secrets(sandbox) -> set[str]:
    """What no PainChek log may hold: the secret, the tokens, patients' details."""
    return {sandbox.client_secret, *sandbox.issued_tokens(), *patient_details(sandbox)}


def humanapi_secrets(sandbox) -> set[str]:
    """What no Human API log may hold: the secret, the tokens, users' details.

    The ids of a user are details too: the app's own (clientUserId, often a medical
    record number or an email) and Human API's humanId. A log counts users; the
    user_sync_status table names them.
    """
    named = {"firstName", "lastName", "dateOfBirth", "clientUserEmail", "clientUserId", "humanId"}
    people = {v for u in sandbox.users() for k, v in u.items() if k in named}
    return {sandbox.client_secret, *sandbox.issued_tokens(), *filter(None, people)}


def healthex_secrets(sandbox) -> set[str]:
    """What no HealthEx log may hold: the secrets, the tokens, patients' details."""
    people = {
        v
        for p in sandbox.truth("identified_patients")
        for k, v in p.items()
        if k in {"firstName", "lastName", "dateOfBirth", "email"}
    }
    # moto's S3 key is the word "testing", which is no secret; the SFTP password is one.
    password = sandbox.delivery_info().get("sftp_password")
    return {sandbox.api_secret, *sandbox.issued_tokens(), *filter(None, (*people, password))}
