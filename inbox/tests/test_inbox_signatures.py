"""Every signature case for both vendors, through the ASGI app, checked in the store."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from healthdata_inbox.signatures import HumanApiScheme
from healthdata_inbox.store import Store
from inbox_helpers import (
    humanapi_body,
    humanapi_headers,
    painchek_body,
    painchek_headers,
)
from starlette.testclient import TestClient


def _flip_one_byte(body: bytes) -> bytes:
    index = body.index(b"pat-0001") + 4
    return body[:index] + b"9" + body[index + 1 :]


def _painchek_cases() -> dict[str, tuple[bytes, dict[str, str]]]:
    body = painchek_body("asm-1")
    signed = painchek_headers(body, "dlv-1")
    bare = dict(signed, **{"X-PainChek-WH-Signature": signed["X-PainChek-WH-Signature"][7:]})
    missing = {k: v for k, v in signed.items() if k != "X-PainChek-WH-Signature"}
    md5 = dict(
        signed, **{"X-PainChek-WH-Signature": "md5=" + signed["X-PainChek-WH-Signature"][7:]}
    )
    not_hex = dict(signed, **{"X-PainChek-WH-Signature": "sha256=zz"})
    return {
        "wrong_secret": (body, painchek_headers(body, "dlv-1", secret="not-the-secret")),
        "missing": (body, missing),
        "no_prefix": (body, bare),
        "wrong_algorithm": (body, md5),
        "sha1_digest_under_sha256_prefix": (
            body,
            dict(
                signed,
                **{
                    "X-PainChek-WH-Signature": "sha256="
                    + painchek_headers(body, "d", prefix="sha1")["X-PainChek-WH-Signature"][5:]
                },
            ),
        ),
        "not_hex": (body, not_hex),
        "body_altered_one_byte": (_flip_one_byte(body), signed),
    }


@pytest.mark.parametrize("prefix", ["sha256", "sha1"])
def test_painchek_valid_signature_is_logged(client: TestClient, store: Store, prefix: str):
    body = painchek_body("asm-1", "pat-0001", 761)
    response = client.post(
        "/v1/painchek", content=body, headers=painchek_headers(body, "d1", prefix=prefix)
    )
    assert response.status_code == 200
    assert response.json() == {"status": "stored"}
    [event] = store.read("painchek", 0, 10)
    assert (event["uuid"], event["patient"], event["update_stamp"]) == ("asm-1", "pat-0001", "761")
    assert (event["event"], event["delivery_id"]) == ("assessment_add", "d1")


@pytest.mark.parametrize("case", list(_painchek_cases()))
def test_painchek_bad_signature_is_refused_and_not_logged(
    client: TestClient, store: Store, case: str
):
    body, headers = _painchek_cases()[case]
    response = client.post("/v1/painchek", content=body, headers=headers)
    assert response.status_code == 401
    assert store.count() == 0


def test_painchek_redelivery_is_acknowledged_once(client: TestClient, store: Store):
    body = painchek_body("asm-1")
    headers = painchek_headers(body, "dlv-7")
    statuses = [client.post("/v1/painchek", content=body, headers=headers).json() for _ in range(3)]
    assert statuses == [{"status": "stored"}, {"status": "duplicate"}, {"status": "duplicate"}]
    assert store.count("painchek") == 1


@pytest.mark.parametrize("delivery_id", [None, "", "two words", "x" * 201])
def test_painchek_without_a_usable_delivery_id_is_malformed(
    client: TestClient, store: Store, delivery_id: str | None
):
    body = painchek_body("asm-1")
    headers = painchek_headers(body, "x")
    if delivery_id is None:
        del headers["X-PainChek-WH-Delivery-Id"]
    else:
        headers["X-PainChek-WH-Delivery-Id"] = delivery_id
    assert client.post("/v1/painchek", content=body, headers=headers).status_code == 400
    assert store.count() == 0


def test_humanapi_valid_signature_logs_one_row_per_object(client: TestClient, store: Store):
    body = humanapi_body("h-1", ("medical/vitals", "medical/medications", "sources"))
    response = client.post("/v1/humanapi", content=body, headers=humanapi_headers(body))
    assert response.status_code == 200
    events = store.read("humanapi", 0, 10)
    assert [e["endpoint"] for e in events] == ["medical/vitals", "medical/medications", "sources"]
    assert {(e["humanId"], e["clientUserId"], e["action"]) for e in events} == {
        ("h-1", "cu-h-1", "updated")
    }
    assert len({e["delivery_id"] for e in events}) == 1
    assert [e["item_index"] for e in events] == [0, 1, 2]


def _humanapi_cases() -> dict[str, tuple[bytes, dict[str, str]]]:
    body = humanapi_body("h-1")
    signed = humanapi_headers(body, nonce="n-1")
    now = int(time.time())

    def without(name: str) -> dict[str, str]:
        return {k: v for k, v in signed.items() if k != name}

    return {
        "wrong_secret": (body, humanapi_headers(body, secret="nope", nonce="n-1")),
        "missing_signature": (body, without("X-HumanAPI-Signature")),
        "missing_timestamp": (body, without("X-HumanAPI-Timestamp")),
        "missing_nonce": (body, without("X-HumanAPI-Nonce")),
        "hex_instead_of_base64": (
            body,
            humanapi_headers(body, nonce="n-1", scheme=HumanApiScheme(encoding="hex")),
        ),
        "sha256_instead_of_sha1": (
            body,
            humanapi_headers(body, nonce="n-1", scheme=HumanApiScheme(digest="sha256")),
        ),
        "body_altered_one_byte": (body.replace(b"h-1", b"h-2", 1), signed),
        "timestamp_too_old": (body, humanapi_headers(body, timestamp=now - 301, nonce="n-1")),
        "timestamp_in_future": (body, humanapi_headers(body, timestamp=now + 301, nonce="n-1")),
        "timestamp_not_a_number": (body, dict(signed, **{"X-HumanAPI-Timestamp": "yesterday"})),
        "timestamp_changed_after_signing": (
            body,
            dict(signed, **{"X-HumanAPI-Timestamp": str(int(signed["X-HumanAPI-Timestamp"]) - 1)}),
        ),
    }


@pytest.mark.parametrize("case", list(_humanapi_cases()))
def test_humanapi_bad_signature_is_refused_and_not_logged(
    client: TestClient, store: Store, case: str
):
    body, headers = _humanapi_cases()[case]
    response = client.post("/v1/humanapi", content=body, headers=headers)
    assert response.status_code == 401
    assert store.count() == 0


def test_humanapi_redelivery_is_acknowledged_once(client: TestClient, store: Store):
    body = humanapi_body("h-1", ("medical/vitals", "sources"))
    headers = humanapi_headers(body)
    first = client.post("/v1/humanapi", content=body, headers=headers)
    again = client.post("/v1/humanapi", content=body, headers=headers)
    assert (first.json(), again.json()) == ({"status": "stored"}, {"status": "duplicate"})
    assert store.count("humanapi") == 2


def test_humanapi_nonce_reused_on_another_body_is_refused(client: TestClient, store: Store):
    first = humanapi_body("h-1")
    second = humanapi_body("h-2")
    assert (
        client.post(
            "/v1/humanapi", content=first, headers=humanapi_headers(first, nonce="n-9")
        ).status_code
        == 200
    )
    replay = client.post(
        "/v1/humanapi", content=second, headers=humanapi_headers(second, nonce="n-9")
    )
    assert replay.status_code == 401
    assert replay.json() == {"error": "replayed_nonce"}
    assert [e["humanId"] for e in store.read("humanapi", 0, 10)] == ["h-1"]


def test_humanapi_replay_window_is_a_setting(make_client: Callable[..., TestClient], store: Store):
    client = make_client(replay_window_seconds=3600)
    body = humanapi_body("h-1")
    headers = humanapi_headers(body, timestamp=int(time.time()) - 1800)
    assert client.post("/v1/humanapi", content=body, headers=headers).status_code == 200
    assert store.count() == 1


def test_humanapi_unsigned_is_refused_unless_signatures_are_off(
    make_client: Callable[..., TestClient], store: Store
):
    body = humanapi_body("h-1")
    plain = {"Content-Type": "application/json"}
    assert make_client().post("/v1/humanapi", content=body, headers=plain).status_code == 401
    assert store.count() == 0
    unsigned = make_client(humanapi_signatures=False, humanapi_client_secret="")
    assert unsigned.post("/v1/humanapi", content=body, headers=plain).status_code == 200
    assert unsigned.post("/v1/humanapi", content=body, headers=plain).json() == {
        "status": "duplicate"
    }
    assert store.count() == 1


def test_humanapi_signature_layout_is_configurable(
    make_client: Callable[..., TestClient], store: Store
):
    scheme = HumanApiScheme(
        signature_header="X-Sig", timestamp_header="X-Ts", nonce_header="X-Nonce", encoding="hex"
    )
    client = make_client(
        humanapi_signature_header="X-Sig",
        humanapi_timestamp_header="X-Ts",
        humanapi_nonce_header="X-Nonce",
        humanapi_signature_encoding="hex",
    )
    body = humanapi_body("h-1")
    assert (
        client.post(
            "/v1/humanapi", content=body, headers=humanapi_headers(body, scheme=scheme)
        ).status_code
        == 200
    )
    default_layout = humanapi_headers(body)
    assert client.post("/v1/humanapi", content=body, headers=default_layout).status_code == 401
    assert store.count() == 1


def test_vendor_without_secret_is_unavailable(make_client: Callable[..., TestClient], store: Store):
    client = make_client(painchek_webhook_secret="", humanapi_client_secret="")
    body = painchek_body("asm-1")
    assert (
        client.post("/v1/painchek", content=body, headers=painchek_headers(body, "d")).status_code
        == 503
    )
    hbody = humanapi_body("h-1")
    assert (
        client.post("/v1/humanapi", content=hbody, headers=humanapi_headers(hbody)).status_code
        == 503
    )
    assert store.count() == 0
