"""Where HealthEx delivers files: an S3 bucket (boto3) or an SFTP server (paramiko).

Both list files with their size, etag (S3) and last-modified time, and download one
file to a local file object in chunks, so a 200 MB bundle never sits in memory.
A refused login, a missing bucket or an unreachable server is one HealthExError
naming the setting to check.
"""

from __future__ import annotations

import io
import re
import stat
import string
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from singer_sdk.exceptions import RetriableAPIError

from tap_healthex.errors import HealthExError

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import paramiko
    from tapkit.retry import RetryPolicy

T = t.TypeVar("T")

TEMPLATE_FIELDS = ("orgId", "projectId", "healthexPatientId", "externalId", "retrievalId")


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A delivered file: its key relative to the delivery root."""

    key: str
    size: int
    etag: str | None
    last_modified: datetime


def template_pattern(template: str) -> re.Pattern[str]:
    """A regex for ``delivery_path_template``; each ``{field}`` matches one path segment."""
    pattern = ""
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        pattern += re.escape(literal)
        if field is not None:
            if field not in TEMPLATE_FIELDS:
                msg = f"delivery_path_template has an unknown field {{{field}}}"
                raise HealthExError(msg)
            pattern += f"(?P<{field}>[^/]+)"
    return re.compile(pattern + r"\Z")


# S3 error codes, and the settings that cause them.
S3_CHECK = {
    "InvalidAccessKeyId": "aws_access_key_id",
    "SignatureDoesNotMatch": "aws_secret_access_key",
    "InvalidToken": "aws_session_token",
    "ExpiredToken": "aws_session_token",
    "TokenRefreshRequired": "aws_session_token",
    "AccessDenied": "the credentials' access to s3_bucket",
    "AllAccessDisabled": "the credentials' access to s3_bucket",
    "NoSuchBucket": "s3_bucket",
    "PermanentRedirect": "aws_region",
    "AuthorizationHeaderMalformed": "aws_region",
}


@contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Turn boto3's errors into one line that names the setting to check."""
    from botocore.exceptions import (  # noqa: PLC0415 - only when S3 is the delivery
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
    )

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code.isdigit():  # a HEAD request's error has no body, only its status
            code, status = {"403": "AccessDenied", "404": "NotFound"}.get(code, ""), code
        shown = code if code.isalnum() and len(code) <= 64 else "an error"
        msg = f"{what} answered {shown}" + (f" ({status})" if status else "")
        if check := S3_CHECK.get(code):
            msg += f"; check {check}"
        raise HealthExError(msg) from None
    except NoCredentialsError:
        msg = (
            f"{what}: no AWS credentials; set aws_access_key_id and aws_secret_access_key "
            "or configure the standard AWS credential chain"
        )
        raise HealthExError(msg) from None
    except EndpointConnectionError:
        msg = f"{what}: could not reach S3; check s3_endpoint_url and aws_region"
        raise HealthExError(msg) from None
    except BotoCoreError as exc:
        msg = f"{what} failed ({type(exc).__name__})"
        raise HealthExError(msg) from None


class S3Store:
    """Objects under ``s3_prefix`` in ``s3_bucket``."""

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        import boto3  # noqa: PLC0415 - only when S3 is the delivery
        from botocore.config import Config  # noqa: PLC0415

        credentials = {
            "aws_access_key_id": config.get("aws_access_key_id"),
            "aws_secret_access_key": config.get("aws_secret_access_key"),
            "aws_session_token": config.get("aws_session_token"),
        }
        session = boto3.session.Session(**{k: v for k, v in credentials.items() if v})
        # A malformed aws_region or s3_endpoint_url fails here, before any request.
        with s3_errors("S3 client for aws_region and s3_endpoint_url"):
            self._client = session.client(
                "s3",
                region_name=config.get("aws_region") or None,
                endpoint_url=config.get("s3_endpoint_url") or None,
                config=Config(
                    retries={"mode": "standard", "max_attempts": 5},
                    connect_timeout=float(config["request_timeout"]),
                    read_timeout=float(config["request_timeout"]),
                ),
            )
        self.bucket = str(config["s3_bucket"])
        self.prefix = str(config.get("s3_prefix") or "").strip("/")

    def list(self) -> Iterator[RemoteFile]:
        """Every object under the prefix."""
        paginator = self._client.get_paginator("list_objects_v2")
        root = f"{self.prefix}/" if self.prefix else ""
        with s3_errors(f"S3 listing of s3_bucket '{self.bucket}'"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=root):
                for item in page.get("Contents", []):
                    yield RemoteFile(
                        key=item["Key"][len(root) :],
                        size=int(item["Size"]),
                        etag=str(item.get("ETag", "")).strip('"') or None,
                        last_modified=item["LastModified"].astimezone(UTC),
                    )

    def download(self, key: str, target: t.BinaryIO) -> None:
        """Stream one object into ``target``."""
        full = f"{self.prefix}/{key}" if self.prefix else key
        with s3_errors(f"S3 download of delivered file '{key}'"):
            self._client.download_fileobj(self.bucket, full, target)

    def close(self) -> None:
        """Nothing to close."""


class SftpStore:
    """Files under ``sftp_root`` on an SFTP server; host keys checked unless disabled.

    A connection that drops, or a server that fails a request, while listing or
    downloading is retried on a new connection, within ``max_retry_seconds``.
    """

    def __init__(self, config: Mapping[str, t.Any], retry: RetryPolicy) -> None:
        self._config, self._retry = config, retry
        self._key = None
        if config.get("sftp_private_key"):
            self._key = _private_key(str(config["sftp_private_key"]))
        self.root = str(config.get("sftp_root") or ".").rstrip("/") or "/"
        self._ssh: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._open()

    def _open(self) -> paramiko.SFTPClient:
        import paramiko  # noqa: PLC0415 - only when SFTP is the delivery

        config = self._config
        ssh = paramiko.SSHClient()
        host, port = str(config["sftp_host"]), int(config["sftp_port"])
        if config["sftp_verify_host_key"]:
            known = config.get("sftp_known_hosts")
            if known:
                self._load_known_hosts(ssh, str(known))
            else:
                ssh.load_system_host_keys()
            ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
        else:
            # Only with sftp_verify_host_key off, which the user chose.
            ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507
        try:
            self._connect(ssh, host, port, config, self._key)
            self._sftp = ssh.open_sftp()
            # Without it a server that stalls mid-transfer would hold the run forever.
            self._sftp.get_channel().settimeout(float(config["request_timeout"]))
        except BaseException:
            ssh.close()
            raise
        self._ssh = ssh
        return self._sftp

    def _retried(self, what: str, action: t.Callable[[paramiko.SFTPClient], T]) -> T:
        """``action`` on a live connection; a dropped one or a failed request is retried."""
        import paramiko  # noqa: PLC0415

        def attempt() -> T:
            try:
                return action(self._sftp or self._open())
            except FileNotFoundError:
                raise
            except (OSError, EOFError, paramiko.SSHException) as exc:
                self.close()  # the next attempt connects again
                reason = _reason(exc) if isinstance(exc, OSError) else type(exc).__name__
                msg = f"{what} failed ({reason})"
                raise RetriableAPIError(msg) from None

        try:
            return self._retry.run(attempt, what=what)
        except FileNotFoundError as exc:  # not retried: it will not appear by itself
            msg = f"{what} failed ({_reason(exc)})"
            raise HealthExError(msg) from None

    @staticmethod
    def _connect(
        ssh: paramiko.SSHClient,
        host: str,
        port: int,
        config: Mapping[str, t.Any],
        key: paramiko.PKey | None,
    ) -> None:
        import paramiko  # noqa: PLC0415

        where = f"sftp_host {host}:{port}"
        try:
            ssh.connect(
                host,
                port=port,
                username=config.get("sftp_username"),
                password=config.get("sftp_password") or None,
                pkey=key,
                timeout=float(config["request_timeout"]),
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.BadHostKeyException:
            msg = (
                f"{where} presented a host key that does not match "
                "sftp_known_hosts; refusing to connect"
            )
            raise HealthExError(msg) from None
        except paramiko.AuthenticationException:
            secret = "sftp_private_key" if key is not None else "sftp_password"
            msg = f"{where} refused the login; check sftp_username and {secret}"
            raise HealthExError(msg) from None
        except paramiko.SSHException as exc:
            reason = (
                "its host key is not in sftp_known_hosts"
                if "not found in known_hosts" in str(exc)
                else type(exc).__name__
            )
            msg = f"could not connect to {where}: {reason}"
            raise HealthExError(msg) from None
        except OSError as exc:
            msg = f"could not connect to {where}: {exc.strerror or type(exc).__name__}"
            raise HealthExError(msg) from None

    @staticmethod
    def _load_known_hosts(ssh: paramiko.SSHClient, known: str) -> None:
        """``sftp_known_hosts``: known_hosts lines, or the path of such a file."""
        import paramiko  # noqa: PLC0415

        try:
            SftpStore._add_known_hosts(ssh, known)
        except OSError as exc:
            msg = f"sftp_known_hosts '{known}' cannot be read ({exc.strerror or 'error'})"
            raise HealthExError(msg) from None
        except (paramiko.SSHException, paramiko.hostkeys.InvalidHostKey, ValueError):
            msg = "sftp_known_hosts holds a line that is not a known_hosts entry"
            raise HealthExError(msg) from None

    @staticmethod
    def _add_known_hosts(ssh: paramiko.SSHClient, known: str) -> None:
        from paramiko.hostkeys import HostKeyEntry  # noqa: PLC0415

        lines = known if "\n" in known or " " in known.strip() else Path(known).read_text()
        keys = ssh.get_host_keys()
        for line in lines.splitlines():
            if line.strip() and not line.startswith("#"):
                entry = HostKeyEntry.from_line(line)
                if entry is not None:
                    for name in entry.hostnames:
                        keys.add(name, entry.key.get_name(), entry.key)

    def list(self) -> Iterator[RemoteFile]:
        """Every regular file below the root (recursively)."""
        what = f"SFTP listing of sftp_root '{self.root}'"
        return iter(self._retried(what, lambda sftp: list(self._list(sftp))))

    def _list(self, sftp: paramiko.SFTPClient) -> Iterator[RemoteFile]:
        pending = [self.root]
        while pending:
            directory = pending.pop()
            for attrs in sftp.listdir_attr(directory):
                path = str(PurePosixPath(directory) / attrs.filename)
                if stat.S_ISDIR(attrs.st_mode or 0):
                    pending.append(path)
                elif stat.S_ISREG(attrs.st_mode or 0):
                    yield RemoteFile(
                        key=str(PurePosixPath(path).relative_to(self.root)),
                        size=int(attrs.st_size or 0),
                        etag=None,
                        last_modified=datetime.fromtimestamp(attrs.st_mtime or 0, UTC),
                    )

    def download(self, key: str, target: t.BinaryIO) -> None:
        """Stream one file into ``target`` (from its start again on a retry)."""
        what = f"SFTP download of delivered file '{key}'"

        def fetch(sftp: paramiko.SFTPClient) -> None:
            target.seek(0)
            target.truncate()
            sftp.getfo(str(PurePosixPath(self.root) / key), target)

        self._retried(what, fetch)

    def close(self) -> None:
        """Close the SFTP session and the SSH connection."""
        if self._sftp is not None:
            self._sftp.close()
        if self._ssh is not None:
            self._ssh.close()
        self._sftp = self._ssh = None


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _private_key(text: str) -> paramiko.PKey:
    """``sftp_private_key``: an unencrypted RSA, ECDSA or Ed25519 key, OpenSSH or PEM."""
    import paramiko  # noqa: PLC0415 - only when SFTP is the delivery

    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    msg = "sftp_private_key is not an unencrypted RSA, ECDSA or Ed25519 private key"
    raise HealthExError(msg)
