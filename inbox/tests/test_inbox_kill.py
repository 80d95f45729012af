"""kill -9 mid-burst: every acknowledged notification survives, redeliveries add nothing.

Runs the real `healthdata-inbox serve` on a SQLite file, sends 1,000 signed
notifications from several threads, kills the server with SIGKILL once a few hundred
have been acknowledged, restarts it and reads the log back through the read API.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from inbox_helpers import (
    HUMANAPI_SECRET,
    PAINCHEK_SECRET,
    PLANTED,
    READ_TOKEN,
    SECRETS,
    humanapi_body,
    humanapi_headers,
    painchek_body,
    painchek_headers,
)

TOTAL = 1000
THREADS = 8
KILL_AFTER_ACKS = 300
EXECUTABLE = Path(sys.executable).parent / "healthdata-inbox"


@dataclass(frozen=True)
class Notification:
    path: str
    body: bytes
    headers: dict[str, str]
    key: str  # the id the log must hold if the notification was acknowledged


def _notifications() -> list[Notification]:
    made = []
    for n in range(TOTAL):
        if n % 2:
            body = humanapi_body(f"h-{n}")
            made.append(Notification("/v1/humanapi", body, humanapi_headers(body), f"h-{n}"))
        else:
            body = painchek_body(f"a-{n}", f"p-{n}")
            made.append(
                Notification("/v1/painchek", body, painchek_headers(body, f"d-{n}"), f"a-{n}")
            )
    return made


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        try:
            return response.status, response.read()
        except http.client.IncompleteRead:
            # Killed between the status line and the body: the 200 had already left,
            # so the notification counts as acknowledged.
            return response.status, b""
    finally:
        conn.close()


@dataclass
class Server:
    port: int
    database: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "INBOX_HUMANAPI_CLIENT_SECRET": HUMANAPI_SECRET,
            "INBOX_PAINCHEK_WEBHOOK_SECRET": PAINCHEK_SECRET,
            "INBOX_READ_TOKEN": READ_TOKEN,
            "INBOX_MAX_CONCURRENCY": "64",
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(EXECUTABLE),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--database-url",
                    f"sqlite:///{self.database}",
                ],
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if _request(self.port, "GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("inbox did not become healthy")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(_free_port(), tmp_path / "inbox.sqlite3", tmp_path / "server.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _burst(server: Server, notifications: list[Notification]) -> list[Notification]:
    acked: list[Notification] = []
    lock = threading.Lock()

    def send(share: list[Notification]) -> None:
        for note in share:
            try:
                status, _ = _request(server.port, "POST", note.path, note.body, note.headers)
            except (OSError, http.client.HTTPException):
                continue  # the server died before a status line: not acknowledged
            if status == 200:
                with lock:
                    acked.append(note)
                    if len(acked) == KILL_AFTER_ACKS:
                        server.kill()

    threads = [
        threading.Thread(target=send, args=(notifications[i::THREADS],)) for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acked


def _read_log(port: int) -> list[dict[str, object]]:
    events, after = [], 0
    while True:
        status, raw = _request(
            port,
            "GET",
            f"/v1/events?after={after}&limit=500",
            headers={"Authorization": f"Bearer {READ_TOKEN}"},
        )
        assert status == 200
        page = json.loads(raw)
        if not page["events"]:
            return events
        events += page["events"]
        after = page["next_after"]


def _key(event: dict[str, object]) -> object:
    return event["humanId"] if event["vendor"] == "humanapi" else event["uuid"]


def test_kill_9_mid_burst_loses_no_acknowledged_notification(server: Server):
    notifications = _notifications()
    acked = _burst(server, notifications)
    assert server.process is not None
    assert server.process.returncode == -signal.SIGKILL
    assert KILL_AFTER_ACKS <= len(acked) < TOTAL  # the kill landed mid-burst

    server.start()
    logged = _read_log(server.port)
    keys = [_key(event) for event in logged]
    assert len(keys) == len(set(keys))  # one row per notification
    missing = {note.key for note in acked} - set(keys)
    assert missing == set(), f"{len(missing)} acknowledged notifications lost"

    resent = acked[:100]
    for note in resent:
        status, raw = _request(server.port, "POST", note.path, note.body, note.headers)
        assert (status, json.loads(raw)) == (200, {"status": "duplicate"})
    assert len(_read_log(server.port)) == len(logged)

    server.stop()
    text = server.log.read_text()
    for value in (*SECRETS, *PLANTED):
        assert value not in text, value
    database = b"".join(p.read_bytes() for p in server.database.parent.glob("inbox.sqlite3*"))
    for value in PLANTED:
        assert value.encode() not in database, value
