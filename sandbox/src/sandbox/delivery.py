"""Real protocol servers on 127.0.0.1 that a fake vendor delivers files through.

- :class:`S3Delivery`: moto's S3 in server mode (``ThreadedMotoServer``) on a free port,
  one bucket made by the sandbox, objects written with boto3.
- :class:`SftpDelivery`: an asyncssh SFTP server on a free port, on its own event loop
  thread, with password and public-key auth, a generated host key, and a temporary
  directory as the client's ``/``; files are placed into that directory atomically.
- :class:`MemoryDelivery`: no server; files are kept in memory (``delivery="none"``).

Every store takes a key relative to its delivery root and a local file to copy there.
moto keeps its state in process-global backends shared by every moto server and
``mock_aws`` in the process, so each S3 store uses its own bucket and empties and
deletes it on stop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import asyncssh

S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"  # noqa: S105
S3_REGION = "us-east-1"
# The sandbox's own S3 client (deliveries, truth, clean-up) is never faulted.
_INTERNAL_KEY = "sandbox-internal"
# S3 answers for the sandbox's fault kinds (assumed, as S3 documents its errors):
# throttling is a 503 SlowDown, not a 429; a dropped or truncated answer is served as
# the 500 InternalError S3 sends for a failed request; tokens do not expire.
_S3_FAULTS = {
    "429": ("503 Slow Down", "SlowDown"),
    "500": ("500 Internal Server Error", "InternalError"),
    "502": ("502 Bad Gateway", "InternalError"),
    "503": ("503 Service Unavailable", "ServiceUnavailable"),
    "drop": ("500 Internal Server Error", "InternalError"),
    "truncate": ("500 Internal Server Error", "InternalError"),
}


class _FaultyS3:
    """WSGI middleware: each S3 request of a client draws a fault, as API requests do."""

    def __init__(
        self, app: Any, draw: Callable[[], str | None], slow_seconds: Callable[[], float]
    ) -> None:
        self.app, self.draw, self.slow_seconds = app, draw, slow_seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if _INTERNAL_KEY in environ.get("HTTP_AUTHORIZATION", ""):
            return self.app(environ, start_response)
        fault = self.draw()
        if fault == "slow":
            time.sleep(self.slow_seconds())
        elif fault in _S3_FAULTS:
            status, code = _S3_FAULTS[fault]
            body = f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()
            start_response(status, [("Content-Type", "application/xml")])
            return [body]
        return self.app(environ, start_response)


class Delivery(Protocol):
    """Where delivered files land."""

    def start(self) -> None:
        """Start serving."""

    def put(self, key: str, path: Path) -> None:
        """Deliver the local file ``path`` at ``key`` (relative to the delivery root)."""

    def read(self, key: str) -> bytes:
        """Return the delivered file at ``key``."""

    def stop(self) -> None:
        """Stop serving and drop the files."""


class MemoryDelivery:
    """Files kept in memory: a sandbox that serves only the API."""

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}

    def start(self) -> None:
        """Nothing to serve."""

    def put(self, key: str, path: Path) -> None:
        """Keep a copy of the file."""
        self._files[key] = path.read_bytes()

    def read(self, key: str) -> bytes:
        """Return the kept copy."""
        return self._files[key]

    def stop(self) -> None:
        """Drop the files."""
        self._files.clear()


class S3Delivery:
    """A bucket on moto's S3 server on 127.0.0.1."""

    def __init__(
        self,
        prefix: str,
        bucket: str | None = None,
        draw: Callable[[], str | None] = lambda: None,
        slow_seconds: Callable[[], float] = lambda: 2.0,
    ) -> None:
        self.prefix = prefix
        self.bucket = bucket or f"healthex-sandbox-{secrets.token_hex(4)}"
        self._draw, self._slow_seconds = draw, slow_seconds
        self.endpoint_url = ""
        self._server: Any = None
        self._client: Any = None

    def start(self) -> None:
        """Serve S3 on a free port and make the bucket."""
        import boto3  # noqa: PLC0415
        from moto.server import (  # noqa: PLC0415
            DomainDispatcherApplication,
            MotoRequestHandler,
            ThreadedMotoServer,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415

        # werkzeug logs every request at INFO to stderr; the sandbox stays quiet.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        draw, slow_seconds = self._draw, self._slow_seconds

        class FaultyMotoServer(ThreadedMotoServer):
            def _server_entry(self) -> None:
                app = _FaultyS3(DomainDispatcherApplication(create_backend_app), draw, slow_seconds)
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
                )
                self._server_ready_event.set()
                self._server.serve_forever()

        self._server = FaultyMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=_INTERNAL_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name=S3_REGION,
        )
        self._client.create_bucket(Bucket=self.bucket)

    def put(self, key: str, path: Path) -> None:
        """Upload the file (multipart when large, streamed from disk)."""
        self._client.upload_file(str(path), self.bucket, self.prefix + key)

    def read(self, key: str) -> bytes:
        """Download one object."""
        body = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]
        with body:
            return bytes(body.read())

    def stop(self) -> None:
        """Empty and delete the bucket (moto's state outlives the server), then stop."""
        if self._server is None:
            return
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket):
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:
                self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})
        self._client.delete_bucket(Bucket=self.bucket)
        self._client.close()
        self._server.stop()
        self._server = None


class _SshServer(asyncssh.SSHServer):
    def __init__(self, owner: SftpDelivery) -> None:
        self._owner = owner
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._owner.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._owner.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        owner = self._owner
        return secrets.compare_digest(username.encode(), owner.username.encode()) & (
            secrets.compare_digest(password.encode(), owner.password.encode())
        )

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        owner = self._owner
        return username == owner.username and key.public_data == owner.client_key.public_data


class _FaultySftp(asyncssh.SFTPServer):
    """Each file a client opens draws a fault, as an API request does (assumed answers).

    A dropped or truncated answer closes the connection mid-session; an error status
    is the SFTP ``FX_FAILURE`` a busy server sends; a slow one waits before opening.
    Listing is never faulted; tokens do not exist here.
    """

    def __init__(
        self,
        chan: asyncssh.SSHServerChannel,
        *,
        chroot: bytes,
        draw: Callable[[], str | None],
        slow_seconds: Callable[[], float],
    ) -> None:
        super().__init__(chan, chroot=chroot)
        self._draw, self._slow_seconds = draw, slow_seconds

    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        """Open a file, unless this open draws a fault."""
        fault = self._draw()
        if fault == "slow":
            await asyncio.sleep(self._slow_seconds())
        elif fault in ("drop", "truncate"):
            self.connection.abort()
        elif fault in ("429", "500", "502", "503"):
            raise asyncssh.SFTPFailure("server busy")
        return super().open(path, pflags, attrs)


class SftpDelivery:
    """An SFTP server on 127.0.0.1 whose ``/`` is a temporary directory."""

    def __init__(
        self,
        root: str,
        username: str,
        password: str,
        key_type: str = "ssh-ed25519",
        *,
        draw: Callable[[], str | None] = lambda: None,
        slow_seconds: Callable[[], float] = lambda: 2.0,
    ) -> None:
        self._draw, self._slow_seconds = draw, slow_seconds
        self.root = root  # where deliveries lie, as the client sees it
        self.username = username
        self.password = password
        self.host = "127.0.0.1"
        self.port = 0
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key(key_type)
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._dir: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None

    @property
    def client_key_text(self) -> str:
        """The client private key, OpenSSH format."""
        return self.client_key.export_private_key("openssh").decode()

    @property
    def host_key_line(self) -> str:
        """A known_hosts line for ``[127.0.0.1]:port``."""
        public = self.host_key.export_public_key("openssh").decode().split()
        return f"[{self.host}]:{self.port} {public[0]} {public[1]}"

    @property
    def directory(self) -> Path:
        """The local directory the client sees as ``/``."""
        if self._dir is None:
            raise RuntimeError("SFTP delivery is not started")
        return self._dir / "root"

    def start(self) -> None:
        """Serve on a free port from an event loop thread."""
        self._dir = Path(tempfile.mkdtemp(prefix="healthex-sftp-"))
        (self._dir / "staging").mkdir()
        self.directory.mkdir()
        (self.directory / self.root.strip("/")).mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="healthex-sftp", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        self._acceptor = future.result(timeout=10)
        self.port = self._acceptor.get_port()

    async def _serve(self) -> asyncssh.SSHAcceptor:
        chroot = str(self.directory).encode()
        return await asyncssh.create_server(
            functools.partial(_SshServer, self),
            self.host,
            0,
            server_host_keys=[self.host_key],
            sftp_factory=functools.partial(
                _FaultySftp, chroot=chroot, draw=self._draw, slow_seconds=self._slow_seconds
            ),
            allow_scp=False,
        )

    def _local(self, key: str) -> Path:
        return self.directory / self.root.strip("/") / key

    def put(self, key: str, path: Path) -> None:
        """Copy the file in atomically: a client never lists a half-written file."""
        assert self._dir is not None
        target = self._local(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = self._dir / "staging" / secrets.token_hex(8)
        shutil.copyfile(path, staged)
        os.replace(staged, target)

    def read(self, key: str) -> bytes:
        """Read a delivered file from the directory."""
        return self._local(key).read_bytes()

    async def _close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
        for conn in list(self.connections):
            conn.close()
            await conn.wait_closed()

    def stop(self) -> None:
        """Close the server and its connections, end the loop, remove the directory."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        loop.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
