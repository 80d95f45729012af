"""Signed notifications as the vendors send them, with patient data in them on purpose."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time

from healthdata_inbox.settings import Settings
from healthdata_inbox.signatures import HumanApiScheme, humanapi_signature

HUMANAPI_SECRET = "hapi-client-secret-5f1e"
PAINCHEK_SECRET = "pc-webhook-secret-9a7b"
READ_TOKEN = "read-token-c0ffee-42"
SECRETS = (HUMANAPI_SECRET, PAINCHEK_SECRET, READ_TOKEN)

# Patient data planted in every payload; none of it may reach the store or a log.
PATIENT_FIRST_NAME = "Philippa"
PATIENT_LAST_NAME = "Quernsworth"
BIRTH_DATE = "1931-07-14"
EMAIL = "philippa.quernsworth@example.org"
PAIN_NOTE = "grimacing-left-hip"
PLANTED = (PATIENT_FIRST_NAME, PATIENT_LAST_NAME, BIRTH_DATE, EMAIL, PAIN_NOTE)


def painchek_body(assessment_uuid: str, patient_uuid: str = "pat-0001", stamp: int = 760) -> bytes:
    data = {
        "uuid": assessment_uuid,
        "patient": patient_uuid,
        "patient_first_name": PATIENT_FIRST_NAME,
        "patient_last_name": PATIENT_LAST_NAME,
        "patient_birth_date": BIRTH_DATE,
        "user_first_name": "Nurse",
        "user_email": EMAIL,
        "update_stamp": stamp,
        "data": {"assessment": {"pain_score": 7, "pain_level": "moderate", "note": PAIN_NOTE}},
    }
    return json.dumps({"event": "assessment_add", "data": data}).encode()


def painchek_headers(
    body: bytes, delivery_id: str, secret: str = PAINCHEK_SECRET, prefix: str = "sha256"
) -> dict[str, str]:
    digest = hashlib.sha256 if prefix == "sha256" else hashlib.sha1
    mac = hmac.new(secret.encode(), body, digest).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-PainChek-Webhook-Id": "sub-1",
        "X-PainChek-WH-Delivery-Id": delivery_id,
        "X-PainChek-WH-Signature": f"{prefix}={mac}",
    }


def humanapi_body(human_id: str, endpoints: tuple[str, ...] = ("medical/vitals",)) -> bytes:
    return json.dumps(
        [
            {
                "humanId": human_id,
                "clientId": "client-1",
                "userId": "user-1",
                "clientUserId": f"cu-{human_id}",
                "updatedAt": "2026-11-30T10:00:00.000Z",
                "action": "updated",
                "endpoint": endpoint,
                "clientData": {
                    "name": f"{PATIENT_FIRST_NAME} {PATIENT_LAST_NAME}",
                    "dob": BIRTH_DATE,
                    "email": EMAIL,
                },
                "value": PAIN_NOTE,
            }
            for endpoint in endpoints
        ]
    ).encode()


def humanapi_headers(
    body: bytes,
    *,
    secret: str = HUMANAPI_SECRET,
    timestamp: int | None = None,
    nonce: str | None = None,
    scheme: HumanApiScheme | None = None,
) -> dict[str, str]:
    scheme = scheme or HumanApiScheme()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(12)
    return {
        "Content-Type": "application/json",
        scheme.signature_header: humanapi_signature(secret, body, stamp, nonce, scheme),
        scheme.timestamp_header: stamp,
        scheme.nonce_header: nonce,
    }


def inbox_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "humanapi_client_secret": HUMANAPI_SECRET,
        "painchek_webhook_secret": PAINCHEK_SECRET,
        "read_token": READ_TOKEN,
        "retention_days": 0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
