"""Signed tree heads: the log's Ed25519 signature over its size, root hash and time.

The signed bytes are the RFC 8785 (JCS) JSON of ``{"tree_size", "root_hash", "timestamp"}``, the
root hash in lowercase hex and the timestamp an RFC 3339 UTC string (SPEC "Log hashing"). In JSON a
signed head is ``{"tree_size", "root_hash", "timestamp", "signature", "key_id"}``, the signature in
base64, and the log's key is ``{"key_id", "public_key"}``, the 32 raw public-key bytes in base64.

``key_id`` is the lowercase hex SHA-256 of the 32 raw public-key bytes, in full (64 characters):
anyone can recompute it from the key, and nothing is truncated that could collide.

Parsing (``from_json``, :func:`public_key_from_json`) raises :class:`InvalidInput` naming the field;
verification (:func:`verify_head`) raises :class:`VerificationError`, also for a head that does not
parse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.errors import InvalidInput, VerificationError
from accord.ledger.commitment import canonical_json
from accord.ledger.merkle import HASH_SIZE

__all__ = [
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "SignedTreeHead",
    "Signer",
    "TreeHead",
    "format_timestamp",
    "key_id_for",
    "public_key_from_json",
    "public_key_json",
    "sign_head",
    "verify_head",
]

PUBLIC_KEY_BYTES = 32
SEED_BYTES = 32
SIGNATURE_BYTES = 64

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
_HEX_HASH = re.compile(r"[0-9a-f]{64}")


def key_id_for(public_key: bytes) -> str:
    """The key id of a raw Ed25519 public key: the lowercase hex SHA-256 of its 32 bytes."""
    return hashlib.sha256(public_key).hexdigest()


def format_timestamp(moment: datetime) -> str:
    """An aware datetime as an RFC 3339 UTC string (``2026-11-26T22:15:00Z``; microseconds only
    when there are some)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("timestamp", "must carry a time zone")
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _check_timestamp(value: object, field: str = "timestamp") -> str:
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise InvalidInput(
            field, f"must be an RFC 3339 UTC time such as 2026-11-26T22:15:00Z, not {value!r}"
        )
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(field, f"is not a valid time: {value!r}") from exc
    return value


def _check_size(value: object, field: str = "tree_size") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(field, f"must be a non-negative integer, not {value!r}")
    return value


def _b64decode(value: object, field: str, length: int) -> bytes:
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(field, "is not valid base64") from exc
    if len(raw) != length:
        raise InvalidInput(field, f"must decode to {length} bytes, not {len(raw)}")
    return raw


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The state of the log a signature covers: its size, its root hash and when."""

    tree_size: int
    root_hash: bytes
    timestamp: str

    def __post_init__(self) -> None:
        _check_size(self.tree_size)
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise InvalidInput("root_hash", f"must be {HASH_SIZE} bytes")
        _check_timestamp(self.timestamp)

    def signed_json(self) -> dict[str, Any]:
        """The object whose JCS form is signed."""
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
        }

    def signing_payload(self) -> bytes:
        """The exact bytes the log signs: the JCS JSON of :meth:`signed_json`."""
        return canonical_json(self.signed_json())


@dataclass(frozen=True, slots=True)
class SignedTreeHead(TreeHead):
    """A tree head with the log's Ed25519 signature over :meth:`TreeHead.signing_payload`."""

    signature: bytes
    key_id: str

    def __post_init__(self) -> None:
        TreeHead.__post_init__(self)
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_BYTES:
            raise InvalidInput("signature", f"must be {SIGNATURE_BYTES} bytes")
        if not isinstance(self.key_id, str) or not _HEX_HASH.fullmatch(self.key_id):
            raise InvalidInput("key_id", "must be 64 lowercase hex characters")

    @property
    def head(self) -> TreeHead:
        return TreeHead(self.tree_size, self.root_hash, self.timestamp)

    def to_json(self) -> dict[str, Any]:
        """``{"tree_size","root_hash","timestamp","signature","key_id"}`` as SPEC shows it."""
        return {
            **self.signed_json(),
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "key_id": self.key_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignedTreeHead:
        """Parse a signed head's JSON (extra fields are ignored). Does not check the signature."""
        if not isinstance(data, Mapping):
            raise InvalidInput("", "a tree head must be a JSON object")
        for name in ("tree_size", "root_hash", "timestamp", "signature", "key_id"):
            if name not in data:
                raise InvalidInput(name, "is missing")
        root_hex = data["root_hash"]
        if not isinstance(root_hex, str) or not _HEX_HASH.fullmatch(root_hex):
            raise InvalidInput("root_hash", "must be 64 lowercase hex characters")
        key_id = data["key_id"]
        if not isinstance(key_id, str) or not _HEX_HASH.fullmatch(key_id):
            raise InvalidInput("key_id", "must be 64 lowercase hex characters")
        return cls(
            tree_size=_check_size(data["tree_size"]),
            root_hash=bytes.fromhex(root_hex),
            timestamp=_check_timestamp(data["timestamp"]),
            signature=_b64decode(data["signature"], "signature", SIGNATURE_BYTES),
            key_id=key_id,
        )


class Signer:
    """The log's Ed25519 signing key (``cryptography``)."""

    __slots__ = ("_key", "key_id", "public_key")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key: bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        """The 32 raw public-key bytes."""
        self.key_id: str = key_id_for(self.public_key)

    @classmethod
    def from_seed(cls, seed: bytes) -> Signer:
        """The key whose 32-byte private seed (RFC 8032's "secret key") is ``seed``."""
        if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
            raise InvalidInput("seed", f"must be {SEED_BYTES} bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def generate(cls) -> Signer:
        """A new random key."""
        return cls(Ed25519PrivateKey.generate())

    def private_bytes(self) -> bytes:
        """The 32-byte private seed, for storing the key (keep it secret)."""
        return self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def public_key_json(self) -> dict[str, str]:
        """``{"key_id","public_key"}`` as ``GET /v1/log/key`` answers."""
        return public_key_json(self.public_key)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"


def public_key_json(public_key: bytes) -> dict[str, str]:
    """``{"key_id","public_key"}`` for a raw 32-byte Ed25519 public key."""
    return {
        "key_id": key_id_for(public_key),
        "public_key": base64.b64encode(public_key).decode("ascii"),
    }


def public_key_from_json(data: Mapping[str, Any]) -> bytes:
    """The raw public key from ``{"key_id","public_key"}``, checking that the id is the key's."""
    if not isinstance(data, Mapping):
        raise InvalidInput("", "a public key must be a JSON object")
    if "public_key" not in data:
        raise InvalidInput("public_key", "is missing")
    if "key_id" not in data:
        raise InvalidInput("key_id", "is missing")
    public_key = _b64decode(data["public_key"], "public_key", PUBLIC_KEY_BYTES)
    if data["key_id"] != key_id_for(public_key):
        raise InvalidInput(
            "key_id", f"is not the SHA-256 of the public key ({key_id_for(public_key)})"
        )
    return public_key


def sign_head(
    signer: Signer, tree_size: int, root_hash: bytes, timestamp: str | datetime
) -> SignedTreeHead:
    """Sign the head of the tree of ``tree_size`` leaves, root ``root_hash``, at ``timestamp``."""
    stamp = format_timestamp(timestamp) if isinstance(timestamp, datetime) else timestamp
    head = TreeHead(tree_size, root_hash, stamp)
    return SignedTreeHead(
        tree_size=head.tree_size,
        root_hash=head.root_hash,
        timestamp=head.timestamp,
        signature=signer.sign(head.signing_payload()),
        key_id=signer.key_id,
    )


def verify_head(data: Mapping[str, Any], public_key: bytes) -> SignedTreeHead:
    """Check a signed head's JSON against the log's raw 32-byte public key; return it parsed.

    Raises :class:`VerificationError` if the head does not parse, names another key, or its
    signature does not verify.
    """
    if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_BYTES:
        raise InvalidInput("public_key", f"must be {PUBLIC_KEY_BYTES} raw bytes")
    try:
        head = SignedTreeHead.from_json(data)
    except InvalidInput as exc:
        raise VerificationError(f"tree head is malformed: {exc}") from exc
    expected_id = key_id_for(public_key)
    if head.key_id != expected_id:
        raise VerificationError(
            f"tree head names key {head.key_id[:16]}…, not the log key {expected_id[:16]}…"
        )
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            head.signature, head.signing_payload()
        )
    except InvalidSignature as exc:
        raise VerificationError(
            f"tree head signature does not verify with key {expected_id[:16]}… "
            f"(tree size {head.tree_size}, root {head.root_hash.hex()[:16]}…)"
        ) from exc
    return head
