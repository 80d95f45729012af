"""Webhook signature checks, each compared in constant time.

PainChek (documented): ``X-PainChek-WH-Signature: sha256=<hex HMAC-SHA256 of the raw
body>``; one version of the vendor's page writes ``sha1=``, so both are accepted.

Human API (documented: HMAC-SHA1 keyed with the client secret over the payload followed
by a timestamp and a nonce; assumed: the header names, that the timestamp is unix
seconds, and base64 encoding). Every assumed part comes from `HumanApiScheme`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

PAINCHEK_DIGESTS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}
MAX_NONCE_LENGTH = 200


class SignatureError(Exception):
    """A request is not proven to come from the vendor; `reason` is a metric label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HumanApiScheme:
    """Where the Human API signature parts travel and how the digest is written."""

    signature_header: str = "X-HumanAPI-Signature"
    timestamp_header: str = "X-HumanAPI-Timestamp"
    nonce_header: str = "X-HumanAPI-Nonce"
    digest: str = "sha1"
    encoding: str = "base64"


@dataclass(frozen=True)
class HumanApiProof:
    """The signed parts of one Human API notification, after a successful check."""

    signature: str
    timestamp: str
    nonce: str


def verify_painchek(body: bytes, header: str | None, secret: str) -> None:
    """Raise SignatureError unless `header` is the HMAC of `body` under `secret`."""
    if not header:
        raise SignatureError("missing_signature")
    algorithm, sep, written = header.strip().partition("=")
    digest = PAINCHEK_DIGESTS.get(algorithm.strip().lower())
    if not sep or digest is None:
        raise SignatureError("bad_algorithm")
    expected = hmac.new(secret.encode(), body, digest).digest()
    _compare(expected, _decode(written.strip(), "hex"))


def humanapi_signature(
    secret: str, body: bytes, timestamp: str, nonce: str, scheme: HumanApiScheme
) -> str:
    """The signature Human API is assumed to send for these parts (also used by tests)."""
    mac = _humanapi_mac(secret, body, timestamp, nonce, scheme)
    return mac.hex() if scheme.encoding == "hex" else base64.b64encode(mac).decode()


def verify_humanapi(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    nonce: str | None,
    *,
    secret: str,
    scheme: HumanApiScheme,
    now: float,
    window_seconds: int,
) -> HumanApiProof:
    """Check signature and replay window; the nonce's uniqueness is the store's to check."""
    if not signature or not timestamp or not nonce:
        raise SignatureError("missing_signature")
    if len(nonce) > MAX_NONCE_LENGTH:
        raise SignatureError("bad_nonce")
    try:
        sent_at = int(timestamp.strip())
    except ValueError:
        raise SignatureError("bad_timestamp") from None
    if abs(now - sent_at) > window_seconds:
        raise SignatureError("stale_timestamp")
    mac = _humanapi_mac(secret, body, timestamp, nonce, scheme)
    _compare(mac, _decode(signature.strip(), scheme.encoding))
    return HumanApiProof(signature=signature.strip(), timestamp=timestamp, nonce=nonce)


def humanapi_delivery_id(body: bytes, proof: HumanApiProof | None) -> str:
    """A stable id for one delivery: the same bytes and signed parts give the same id.

    Each part is length-prefixed so that moving bytes from one part to the next
    cannot produce the same id.
    """
    parts = [body]
    if proof is not None:
        parts += [proof.signature.encode(), proof.timestamp.encode(), proof.nonce.encode()]
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.hexdigest()


def _humanapi_mac(
    secret: str, body: bytes, timestamp: str, nonce: str, scheme: HumanApiScheme
) -> bytes:
    # Raw body bytes, then the timestamp and nonce exactly as sent, no separators.
    message = body + timestamp.encode() + nonce.encode()
    return hmac.new(secret.encode(), message, scheme.digest).digest()


def _decode(written: str, encoding: str) -> bytes:
    try:
        if encoding == "hex":
            return bytes.fromhex(written)
        return base64.b64decode(written.encode("ascii"), validate=True)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise SignatureError("bad_signature") from None


def _compare(expected: bytes, given: bytes) -> None:
    if not hmac.compare_digest(expected, given):
        raise SignatureError("bad_signature")
