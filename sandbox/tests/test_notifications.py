"""The PainChek and Human API fakes POST signed notifications when their data changes."""

import base64
import hashlib
import hmac
import json
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sandbox.humanapi import PATHS as HUMANAPI_PATHS

PAINCHEK_HEADERS = ("X-PainChek-Webhook-Id", "X-PainChek-WH-Delivery-Id", "X-PainChek-WH-Signature")
HUMANAPI_KEYS = {
    "humanId",
    "clientId",
    "userId",
    "clientUserId",
    "updatedAt",
    "action",
    "endpoint",
    "property",
    "topic",
    "value",
    "clientData",
}


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records raw bodies and headers.

    It answers ``statuses`` in order, then 200; while ``gate`` is clear it holds every
    answer back.
    """

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: deque[int] = deque()
        self.gate = threading.Event()
        self.gate.set()
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._cond:
                    receiver.received.append((dict(self.headers.items()), body))
                    status = receiver.statuses.popleft() if receiver.statuses else 200
                    receiver._cond.notify_all()
                receiver.gate.wait(10)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def server_bind(self):
                socketserver.TCPServer.server_bind(self)  # no reverse DNS lookup

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks?tenant=t1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    hook = Receiver()
    yield hook
    hook.close()


def painchek_signature_ok(headers: dict[str, str], body: bytes, secret: str) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-PainChek-WH-Signature"], f"sha256={expected}")


def humanapi_signature_ok(headers: dict[str, str], body: bytes, secret: str) -> bool:
    signed = body + headers["X-HumanAPI-Timestamp"].encode() + headers["X-HumanAPI-Nonce"].encode()
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha1).digest()).decode()
    return hmac.compare_digest(headers["X-HumanAPI-Signature"], expected)


@pytest.fixture
def painchek(make_painchek_sandbox, receiver):
    sb = make_painchek_sandbox(seed=3, patients=20)
    sb.notify_to(receiver.url, backoff_seconds=0.05)
    return sb


def api_assessment(sb, uuid: str, stamp: int) -> tuple[dict, bytes]:
    """The assessment as the API serves it, and the raw page it came in."""
    page = requests.get(
        f"{sb.url}/api/assessments/",
        params={"sync": stamp - 1},
        auth=(sb.username, sb.password),
        timeout=10,
    )
    assert page.status_code == 200
    (record,) = [r for r in page.json()["results"] if r["uuid"] == uuid]
    return record, page.content


def check_webhooks_are_api_records(sb, rows, received, log):
    for row, (headers, body), entry in zip(rows, received, log, strict=True):
        assert painchek_signature_ok(headers, body, sb.webhook_secret)
        assert headers["X-PainChek-Webhook-Id"] == sb.webhook_id
        assert headers["X-PainChek-WH-Delivery-Id"] == entry["delivery_id"]
        assert headers["Content-Type"] == "application/json"
        event = json.loads(body)
        assert event["event"] == "assessment_add"
        record, page = api_assessment(sb, row["uuid"], row["update_stamp"])
        assert event["data"] == record
        # Byte for byte: the webhook's data is the API's encoding of the record.
        data = body[len(b'{"event":"assessment_add","data":') : -1]
        assert data in page
        assert entry["ids"] == {
            "event": "assessment_add",
            "uuid": row["uuid"],
            "patient": row["patient"],
            "update_stamp": row["update_stamp"],
        }
        assert (entry["status"], entry["answers"]) == ("delivered", [200])


def test_painchek_webhook_is_the_api_record_signed(painchek, receiver):
    sb = painchek
    rows = sb.mutate("assessments", "insert", count=2)
    assert sb.wait_notifications_idle(5)
    check_webhooks_are_api_records(sb, rows, receiver.wait_for(2), sb.notifications())
    # A field the vendor added is in the API's records, so in the webhook's too.
    sb.add_vendor_fields("/api/assessments/", {"pain_trend": "rising"})
    rows = sb.mutate("assessments", "insert")
    assert sb.wait_notifications_idle(5)
    received = receiver.wait_for(3)
    check_webhooks_are_api_records(sb, rows, received[2:], sb.notifications()[2:])
    assert json.loads(received[2][1])["data"]["pain_trend"] == "rising"
    assert len({entry["delivery_id"] for entry in sb.notifications()}) == 3


def test_painchek_notifies_new_assessments_only(painchek, receiver):
    sb = painchek
    sb.mutate("assessments", "update", count=2)
    sb.mutate("assessments", "delete")
    sb.mutate("patients", "insert")
    sb.mutate("comments", "insert")
    assert sb.wait_notifications_idle(5)
    assert receiver.received == []
    assert sb.notification_counts()["events"] == 0


def test_retried_with_identical_body_and_delivery_id(painchek, receiver):
    sb = painchek
    receiver.statuses.extend([500, 503])
    sb.mutate("assessments", "insert")
    assert sb.wait_notifications_idle(5)
    received = receiver.wait_for(3)
    assert len(received) == 3
    assert len({body for _, body in received}) == 1
    for name in PAINCHEK_HEADERS:
        assert len({headers[name] for headers, _ in received}) == 1
    (entry,) = sb.notifications()
    assert (entry["status"], entry["answers"]) == ("delivered", [500, 503, 200])
    counts = sb.notification_counts()
    assert (counts["attempts"], counts["failed_attempts"], counts["delivered"]) == (3, 2, 1)


def test_gives_up_after_max_attempts(make_painchek_sandbox, receiver):
    sb = make_painchek_sandbox(seed=3, patients=20)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    sb.notify_to(f"http://127.0.0.1:{closed_port}/", max_attempts=3, backoff_seconds=0.01)
    sb.mutate("assessments", "insert")
    assert sb.wait_notifications_idle(5)
    (entry,) = sb.notifications()
    assert (entry["status"], entry["answers"]) == ("gave_up", ["error"] * 3)
    receiver.statuses.extend([500] * 10)
    sb.notify_to(receiver.url, max_attempts=2, backoff_seconds=0.01)
    sb.mutate("assessments", "insert")
    assert sb.wait_notifications_idle(5)
    assert len(receiver.received) == 2
    assert sb.notifications()[1]["answers"] == [500, 500]
    assert sb.notification_counts()["gave_up"] == 2


def test_a_failing_event_does_not_hold_up_later_ones(painchek, receiver):
    sb = painchek
    sb.notify_to(receiver.url, backoff_seconds=0.3)
    receiver.statuses.append(500)
    first, second = sb.mutate("assessments", "insert", count=2)
    assert sb.wait_notifications_idle(5)
    uuids = [json.loads(body)["data"]["uuid"] for _, body in receiver.received]
    assert uuids == [first["uuid"], second["uuid"], first["uuid"]]


def run_with_drops(make_painchek_sandbox, receiver):
    sb = make_painchek_sandbox(seed=5, patients=20)
    sb.notify_to(receiver.url, drop_rate=0.4, backoff_seconds=0.05)
    rows = sb.mutate("assessments", "insert", count=20)
    assert sb.wait_notifications_idle(5)
    return sb, rows


def test_drop_rate_drops_and_counts_deterministically(make_painchek_sandbox, receiver):
    sb, rows = run_with_drops(make_painchek_sandbox, receiver)
    log = sb.notifications()
    dropped = {e["ids"]["uuid"] for e in log if e["status"] == "dropped"}
    sent = [json.loads(body)["data"]["uuid"] for _, body in receiver.received]
    assert 0 < len(dropped) < 20
    assert sb.notification_counts()["dropped"] == len(dropped)
    assert sorted(sent) == sorted({row["uuid"] for row in rows} - dropped)
    assert all(e["attempts"] == 0 for e in log if e["status"] == "dropped")
    # The same seed and the same changes drop the same events, with the same ids.
    again, _ = run_with_drops(make_painchek_sandbox, receiver)
    assert [(e["delivery_id"], e["status"]) for e in again.notifications()] == [
        (e["delivery_id"], e["status"]) for e in log
    ]


def test_duplicates_repeat_delivery_id_and_body(painchek, receiver):
    sb = painchek
    sb.notify_to(receiver.url, duplicate_rate=1.0)
    sb.mutate("assessments", "insert", count=2)
    assert sb.wait_notifications_idle(5)
    received = receiver.wait_for(4)
    assert len(received) == 4
    assert received[0] == received[1]
    assert received[2] == received[3]
    assert received[0][1] != received[2][1]
    assert [(e["duplicate"], e["duplicate_answer"]) for e in sb.notifications()] == [
        (True, 200),
        (True, 200),
    ]
    assert sb.notification_counts()["duplicates"] == 2


def test_bad_signatures_do_not_verify(painchek, receiver):
    sb = painchek
    sb.sign_next_wrong(2)
    sb.mutate("assessments", "insert", count=3)
    assert sb.wait_notifications_idle(5)
    verified = [painchek_signature_ok(h, b, sb.webhook_secret) for h, b in receiver.wait_for(3)]
    assert verified == [False, False, True]
    assert [e["bad_signature"] for e in sb.notifications()] == [True, True, False]
    sb.notify_to(receiver.url, bad_signature_rate=1.0)
    sb.mutate("assessments", "insert")
    assert sb.wait_notifications_idle(5)
    headers, body = receiver.received[3]
    assert headers["X-PainChek-WH-Signature"].startswith("sha256=")
    assert not painchek_signature_ok(headers, body, sb.webhook_secret)
    assert sb.notification_counts()["bad_signatures"] == 3


def test_changing_data_never_waits_for_delivery(painchek, receiver):
    sb = painchek
    receiver.gate.clear()  # the receiver holds every answer back
    mutated = requests.post(
        f"{sb.url}/_control/mutate", json={"table": "assessments", "op": "insert"}, timeout=2
    )
    assert mutated.status_code == 200
    sb.schedule(1, [{"table": "assessments", "op": "insert"}], path="/api/patients/")
    page = requests.get(f"{sb.url}/api/patients/", auth=(sb.username, sb.password), timeout=2)
    assert page.status_code == 200
    receiver.wait_for(1)
    assert [e["status"] for e in sb.notifications()] == ["queued", "queued"]
    assert not sb.wait_notifications_idle(0.05)
    receiver.gate.set()
    assert sb.wait_notifications_idle(5)
    assert [e["status"] for e in sb.notifications()] == ["delivered", "delivered"]


def test_control_api_configures_and_reports(http, make_painchek_sandbox, receiver):
    sb = make_painchek_sandbox(seed=3, patients=20)
    control = f"{sb.url}/_control"
    settings = {"url": receiver.url, "backoff_seconds": 0.01, "secret": "s3cret"}
    assert http.post(f"{control}/notify", json=settings).status_code == 200
    assert http.post(f"{control}/notify/sign_wrong", json={"count": 1}).status_code == 200
    http.post(f"{control}/mutate", json={"table": "assessments", "op": "insert", "count": 2})
    assert http.post(f"{control}/notifications/wait_idle", json={"timeout": 5}).json() == {
        "idle": True
    }
    report = http.get(f"{control}/notifications").json()
    assert report["counts"]["delivered"] == 2
    assert report["counts"]["bad_signatures"] == 1
    assert report["log"] == sb.notifications()
    assert [painchek_signature_ok(h, b, "s3cret") for h, b in receiver.received] == [False, True]
    assert http.post(f"{control}/notify", json={"clear": True}).status_code == 200
    sb.mutate("assessments", "insert")
    assert sb.notification_counts()["events"] == 2
    for bad in ({"url": "ftp://example.com/"}, {"url": receiver.url, "drop_rate": 2}, {}):
        assert http.post(f"{control}/notify", json=bad).status_code == 400


@pytest.fixture
def humanapi(make_humanapi_sandbox, receiver):
    sb = make_humanapi_sandbox(seed=2, users=12)
    sb.notify_to(receiver.url, backoff_seconds=0.05)
    return sb


def test_humanapi_notifies_a_source_sync(humanapi, receiver):
    sb = humanapi
    client_user_id = sb.client_user_ids("served")[0]
    user = next(u for u in sb.users() if u["clientUserId"] == client_user_id)
    before = time.time()
    sb.source_sync(client_user_id, new=4, updated=3)
    assert sb.wait_notifications_idle(5)
    ((headers, body),) = receiver.wait_for(1)
    assert humanapi_signature_ok(headers, body, sb.client_secret)
    assert before - 1 <= int(headers["X-HumanAPI-Timestamp"]) <= time.time() + 1
    objects = json.loads(body)
    assert all(set(obj) == HUMANAPI_KEYS for obj in objects)
    assert {obj["humanId"] for obj in objects} == {user["humanId"]}
    assert {obj["clientUserId"] for obj in objects} == {client_user_id}
    assert {obj["clientId"] for obj in objects} == {sb.client_id}
    assert all(obj[key] is None for obj in objects for key in ("property", "topic", "value"))
    (synched,) = {
        s["syncStatus"]["synchedAt"] for s in sb.truth("sources") if s["humanId"] == user["humanId"]
    }
    assert {obj["updatedAt"] for obj in objects} == {synched}
    # One object per endpoint the sync changed, as the data API shows them.
    changed = {
        HUMANAPI_PATHS[table].lstrip("/")
        for table in HUMANAPI_PATHS
        if table != "sources"
        and any(
            r["humanId"] == user["humanId"] and r["updatedAt"] == synched for r in sb.truth(table)
        )
    }
    endpoints = [obj["endpoint"] for obj in objects]
    assert sorted(endpoints) == sorted({*changed, "sources"})
    created = {
        HUMANAPI_PATHS[table].lstrip("/")
        for table in HUMANAPI_PATHS
        if table != "sources"
        and any(
            r["humanId"] == user["humanId"] and r["createdAt"] == synched for r in sb.truth(table)
        )
    }
    assert {obj["endpoint"] for obj in objects if obj["action"] == "created"} == created
    (entry,) = sb.notifications()
    assert entry["delivery_id"] == headers["X-HumanAPI-Nonce"]
    assert entry["ids"] == {
        "humanId": user["humanId"],
        "clientUserId": client_user_id,
        "endpoints": endpoints,
    }


def test_humanapi_mutations_and_status_changes(humanapi, receiver):
    sb = humanapi
    (vital,) = sb.mutate("vitals", "insert")
    client_user_id = sb.client_user_ids("served")[1]
    sb.set_sync_status(client_user_id, status="failed", details="sourceUnavailable")
    sb.mutate("allergies", "update", count=2)
    sb.delete_user(sb.client_user_ids("served")[2])  # notifies nothing
    assert sb.wait_notifications_idle(5)
    received = receiver.wait_for(3)
    assert all(humanapi_signature_ok(h, b, sb.client_secret) for h, b in received)
    first, status, *updates = [json.loads(body) for _, body in received]
    assert [(o["endpoint"], o["action"], o["humanId"]) for o in first] == [
        ("medical/vitals", "created", vital["humanId"]),
        ("sources", "updated", vital["humanId"]),
    ]
    assert {o["updatedAt"] for o in first} == {vital["updatedAt"]}
    assert [(o["endpoint"], o["clientUserId"]) for o in status] == [("sources", client_user_id)]
    assert 1 <= len(updates) <= 2  # one POST per user whose allergies changed
    assert {(o["endpoint"], o["action"]) for objects in updates for o in objects} == {
        ("medical/allergies", "updated"),
        ("sources", "updated"),
    }
    assert len({h["X-HumanAPI-Nonce"] for h, _ in received}) == len(received)
    assert sb.notification_counts()["events"] == len(received)


def test_humanapi_duplicates_and_bad_signatures(humanapi, receiver):
    sb = humanapi
    sb.notify_to(receiver.url, duplicate_rate=1.0)
    sb.sign_next_wrong()
    sb.source_sync(sb.client_user_ids("served")[0])
    assert sb.wait_notifications_idle(5)
    first, second = receiver.wait_for(2)
    assert first == second  # same timestamp, nonce, signature and body
    assert not humanapi_signature_ok(*first, sb.client_secret)


def test_cli_notify_url(receiver):
    command = [
        sys.executable,
        "-m",
        "sandbox",
        "painchek",
        "--patients",
        "20",
        "--notify-url",
        receiver.url,
        "--notify-secret",
        "cli-secret",
        "--notify-backoff-seconds",
        "0.05",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            url = process.stdout.readline().strip()
            row = requests.post(
                f"{url}/_control/mutate",
                json={"table": "assessments", "op": "insert"},
                timeout=10,
            ).json()["rows"][0]
            ((headers, body),) = receiver.wait_for(1, timeout=10)
            assert painchek_signature_ok(headers, body, "cli-secret")
            assert json.loads(body)["data"] == row
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0
