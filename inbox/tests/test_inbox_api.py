"""Refusals, idempotency, the read API, health, metrics and what reaches the store and logs."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import psycopg
import pytest
from healthdata_inbox.app import create_app
from healthdata_inbox.store import Delivery, Item, Store
from inbox_helpers import (
    PLANTED,
    READ_TOKEN,
    SECRETS,
    humanapi_body,
    humanapi_headers,
    inbox_settings,
    painchek_body,
    painchek_headers,
)
from starlette.testclient import TestClient

AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}


def _post_painchek(client: TestClient, assessment: str, delivery: str, **kwargs: object):
    body = painchek_body(assessment, **kwargs)  # type: ignore[arg-type]
    return client.post("/v1/painchek", content=body, headers=painchek_headers(body, delivery))


def _post_humanapi(client: TestClient, human_id: str, endpoints: tuple[str, ...]):
    body = humanapi_body(human_id, endpoints)
    return client.post("/v1/humanapi", content=body, headers=humanapi_headers(body))


@pytest.mark.parametrize(
    ("vendor", "body"),
    [
        ("humanapi", b"not json"),
        ("humanapi", b'{"humanId": "h-1"}'),
        ("humanapi", b"[]"),
        ("humanapi", b'["h-1"]'),
        ("humanapi", b'[{"endpoint": "sources"}]'),
        ("humanapi", b'[{"humanId": true}]'),
        ("humanapi", json.dumps([{"humanId": "h" * 300}]).encode()),
        ("painchek", b"\xff\xfe"),
        ("painchek", b'{"event": "assessment_add"}'),
        ("painchek", b'{"event": "assessment_add", "data": {"patient": "p-1"}}'),
        ("painchek", b'{"event": "assessment_add", "data": {"uuid": "a-1"}}'),
        ("painchek", b'{"data": {"uuid": "a-1", "patient": "p-1"}}'),
        ("painchek", b'{"event": "assessment_add", "data": {"uuid": {"x": 1}, "patient": "p"}}'),
    ],
)
def test_malformed_signed_body_is_400_and_not_logged(
    client: TestClient, store: Store, vendor: str, body: bytes
):
    headers = humanapi_headers(body) if vendor == "humanapi" else painchek_headers(body, "d-1")
    response = client.post(f"/v1/{vendor}", content=body, headers=headers)
    assert response.status_code == 400
    assert store.count() == 0


def test_painchek_patient_object_keeps_only_its_uuid(client: TestClient, store: Store):
    data = {"uuid": "a-1", "patient": {"uuid": "p-1", "first_name": "Philippa"}, "update_stamp": 9}
    body = json.dumps({"event": "assessment_add", "data": data}).encode()
    assert (
        client.post("/v1/painchek", content=body, headers=painchek_headers(body, "d")).status_code
        == 200
    )
    [event] = store.read("painchek", 0, 1)
    assert (event["uuid"], event["patient"], event["update_stamp"]) == ("a-1", "p-1", "9")


def test_body_over_limit_by_content_length_is_413(
    make_client: Callable[..., TestClient], store: Store
):
    client = make_client(body_limit_bytes=300)
    body = painchek_body("a-1")
    assert len(body) > 300
    response = client.post("/v1/painchek", content=body, headers=painchek_headers(body, "d"))
    assert response.status_code == 413
    assert store.count() == 0


def test_body_over_limit_while_streaming_is_413(
    make_client: Callable[..., TestClient], store: Store
):
    client = make_client(body_limit_bytes=300)
    body = painchek_body("a-1")
    chunks = iter([body[:200], body[200:]])  # no Content-Length: chunked transfer
    response = client.post("/v1/painchek", content=chunks, headers=painchek_headers(body, "d"))
    assert response.status_code == 413
    assert store.count() == 0


def test_under_the_limit_streamed_body_is_accepted(
    make_client: Callable[..., TestClient], store: Store
):
    client = make_client(body_limit_bytes=4096)
    body = painchek_body("a-1")
    chunks = iter([body[:100], body[100:]])
    assert (
        client.post("/v1/painchek", content=chunks, headers=painchek_headers(body, "d")).status_code
        == 200
    )
    assert store.count() == 1


def test_overload_is_429_at_once(store: Store, monkeypatch: pytest.MonkeyPatch):
    entered, release = threading.Event(), threading.Event()
    record = store.record

    def slow_record(*args: object):
        entered.set()
        release.wait(10)
        return record(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "record", slow_record)
    app = create_app(inbox_settings(max_concurrency=1), store)
    first_body, second_body = painchek_body("a-1"), painchek_body("a-2")

    async def scenario() -> tuple[httpx2.Response, httpx2.Response]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://inbox") as http:
            first = asyncio.create_task(
                http.post(
                    "/v1/painchek", content=first_body, headers=painchek_headers(first_body, "d1")
                )
            )
            await asyncio.to_thread(entered.wait, 10)
            second = await http.post(
                "/v1/painchek", content=second_body, headers=painchek_headers(second_body, "d2")
            )
            release.set()
            return await first, second

    first, second = asyncio.run(scenario())
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.headers["Retry-After"] == "1"
    assert [e["uuid"] for e in store.read(None, 0, 10)] == ["a-1"]


def test_store_failure_is_503_without_details(
    client: TestClient,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    def broken(*_args: object):
        raise sqlite3.OperationalError("disk I/O error near 'Philippa'")

    monkeypatch.setattr(store, "record", broken)
    with caplog.at_level(logging.INFO, logger="healthdata_inbox"):
        response = _post_painchek(client, "a-1", "d-1")
    assert response.status_code == 503
    assert [r.getMessage() for r in caplog.records] == [
        "refused vendor=painchek status=503 reason=store_error:OperationalError peer=testclient"
    ]


def test_read_api_pages_by_sequence(client: TestClient):
    for n in range(5):
        assert _post_painchek(client, f"a-{n}", f"d-{n}").status_code == 200
        assert _post_humanapi(client, f"h-{n}", ("sources", "medical/vitals")).status_code == 200
    seen, after, pages = [], 0, 0
    while True:
        page = client.get(f"/v1/events?vendor=painchek&after={after}&limit=2", headers=AUTH).json()
        pages += 1
        if not page["events"]:
            assert page["next_after"] == after
            break
        seen += page["events"]
        after = page["next_after"]
        assert after == page["events"][-1]["seq"]
    assert [e["uuid"] for e in seen] == [f"a-{n}" for n in range(5)]
    assert pages == 4
    everything = client.get("/v1/events?limit=100", headers=AUTH).json()["events"]
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 15
    assert {e["vendor"] for e in everything} == {"painchek", "humanapi"}


def test_read_api_clamps_the_page(make_client: Callable[..., TestClient]):
    client = make_client(read_page_max=3)
    for n in range(5):
        _post_painchek(client, f"a-{n}", f"d-{n}")
    assert len(client.get("/v1/events?limit=100", headers=AUTH).json()["events"]) == 3


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {READ_TOKEN}"},
        {"Authorization": f"Bearer {READ_TOKEN}x"},
        {"Authorization": "Bearer"},
    ],
)
def test_read_api_refuses_wrong_or_missing_token(client: TestClient, headers: dict[str, str]):
    _post_painchek(client, "a-1", "d-1")
    response = client.get("/v1/events", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "events" not in response.json()


def test_read_api_without_configured_token_is_closed(make_client: Callable[..., TestClient]):
    client = make_client(read_token="")
    assert client.get("/v1/events", headers={"Authorization": "Bearer "}).status_code == 503


@pytest.mark.parametrize("query", ["vendor=fitbit", "after=-1", "after=x", "limit=0"])
def test_read_api_refuses_bad_parameters(client: TestClient, query: str):
    assert client.get(f"/v1/events?{query}", headers=AUTH).status_code == 400


def test_healthz(client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch):
    assert client.get("/healthz").json() == {"status": "ok"}

    def down() -> None:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(store, "ping", down)
    assert client.get("/healthz").status_code == 503


def test_metrics_count_accepted_duplicates_refusals_and_latency(client: TestClient):
    _post_painchek(client, "a-1", "d-1")
    _post_painchek(client, "a-1", "d-1")
    _post_humanapi(client, "h-1", ("sources", "medical/vitals"))
    client.post("/v1/painchek", content=b"{}", headers={"X-PainChek-WH-Signature": "sha256=00"})
    client.get("/v1/events", headers={"Authorization": "Bearer nope"})
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    lines = set(response.text.splitlines())
    for line in [
        'inbox_notifications_accepted_total{vendor="painchek"} 1.0',
        'inbox_notifications_accepted_total{vendor="humanapi"} 1.0',
        'inbox_notifications_duplicate_total{vendor="painchek"} 1.0',
        'inbox_events_appended_total{vendor="humanapi"} 2.0',
        'inbox_requests_refused_total{reason="bad_signature",vendor="painchek"} 1.0',
        'inbox_requests_refused_total{reason="bad_token",vendor="read"} 1.0',
        'inbox_ack_seconds_count{vendor="painchek"} 2.0',
        "inbox_notifications_in_flight 0.0",
    ]:
        assert line in lines, line


def test_retention_prunes_old_entries_at_start(
    make_client: Callable[..., TestClient], store: Store
):
    old = datetime.now(UTC) - timedelta(days=10)
    store.record(
        Delivery("painchek", "old", (Item("assessment_add", {"uuid": "a-old", "patient": "p"}),)),
        old,
    )
    client = make_client(retention_days=7)
    assert _post_painchek(client, "a-new", "new").status_code == 200
    deadline = time.monotonic() + 5
    while store.count() != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e["uuid"] for e in store.read(None, 0, 10)] == ["a-new"]


def _stored_text(database_url: str) -> str:
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*")).decode("latin-1")
    with psycopg.connect(database_url) as conn:
        rows = [
            conn.execute(f"SELECT * FROM {table}").fetchall()
            for table in ("inbox_events", "inbox_deliveries")
        ]
    return repr(rows)


def test_store_and_logs_hold_no_patient_data_or_secrets(
    client: TestClient, database_url: str, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.DEBUG):
        assert _post_painchek(client, "a-1", "d-1").status_code == 200
        assert _post_humanapi(client, "h-1", ("sources", "medical/vitals")).status_code == 200
        body = humanapi_body("h-2")
        client.post("/v1/humanapi", content=body, headers=humanapi_headers(body, secret="x"))
        client.post("/v1/painchek", content=b"not json", headers=painchek_headers(b"not json", "d"))
        client.get("/v1/events", headers={"Authorization": "Bearer wrong"})
        client.get("/v1/events", headers=AUTH)
    stored = _stored_text(database_url)
    # The check must see the ids it should, or it proves nothing.
    assert "a-1" in stored
    assert "h-1" in stored
    for value in PLANTED:
        assert value not in stored, value
    logged = caplog.text
    assert "refused vendor=humanapi status=401 reason=bad_signature" in logged
    for value in (*PLANTED, *SECRETS):
        assert value not in logged, value
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(refusals) == 3  # one line per refused request
