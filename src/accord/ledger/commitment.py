"""Salted commitments to events: the leaves of the log.

A leaf is ``SHA-256(salt ‖ JCS(event))`` (SPEC "Log hashing"): 32 bytes that commit to the event
without revealing it. The salt, at least 16 random bytes, keeps anyone who cannot see the event from
confirming a guess of it against the public leaf. A party that may see the event gets the event and
the salt, recomputes the commitment and checks it against the leaf hash in the log.

JCS is RFC 8785, the JSON Canonicalization Scheme, done by the ``rfc8785`` package (or, where it
writes the very same bytes, by the standard library's ``json``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

import rfc8785

from accord.errors import InvalidInput
from accord.ledger.merkle import leaf_hash

__all__ = [
    "MIN_SALT_BYTES",
    "SALT_BYTES",
    "canonical_json",
    "commitment",
    "commitment_of_canonical",
    "event_leaf_hash",
    "new_salt",
    "salt_from_hex",
]

SALT_BYTES = 16
"""The length of the salts :func:`new_salt` makes."""

MIN_SALT_BYTES = 16
"""The shortest salt :func:`commitment` accepts."""


_MAX_SAFE_INT = 2**53 - 1
_FAST_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def _stdlib_json_is_jcs(obj: object) -> bool:
    """Whether the standard library's sorted, compact JSON of ``obj`` is byte for byte its JCS.

    True when every container is a plain ``dict``/``list``/``tuple``, every key is ASCII (so
    sorting by code point is sorting by UTF-16 code unit), every integer is within ±(2**53 - 1),
    and every float is written by ``repr`` in plain decimal with a fraction (``71.0917``), which is
    how ECMAScript writes it too. Strings are escaped alike by both (RFC 8785 §3.2.2.2). Anything
    else (``1e-07``, ``100.0``, ``-0.0``, non-ASCII keys, other types) goes to ``rfc8785``.
    """
    t = type(obj)
    if t is str or t is bool or obj is None:
        return True
    if t is int and isinstance(obj, int):
        return -_MAX_SAFE_INT <= obj <= _MAX_SAFE_INT
    if t is float and isinstance(obj, float):
        text = repr(obj)
        return "e" not in text and "n" not in text and not text.endswith(".0")
    if t is dict and isinstance(obj, dict):
        return all(
            type(k) is str and k.isascii() and _stdlib_json_is_jcs(v) for k, v in obj.items()
        )
    if (t is list or t is tuple) and isinstance(obj, list | tuple):
        return all(_stdlib_json_is_jcs(v) for v in obj)
    return False


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 (JCS) canonical UTF-8 JSON of ``obj``.

    Done by ``rfc8785.dumps``, or, for the common case where the standard library's encoder
    writes the same bytes (see :func:`_stdlib_json_is_jcs`), by ``json`` in C: 2-3 times faster.
    Raises :class:`InvalidInput` (field ``event``) for what JSON cannot carry exactly: integers
    beyond ±(2**53 - 1), NaN and infinities, non-string keys, lone surrogates, other types.
    """
    if _stdlib_json_is_jcs(obj):
        try:
            return _FAST_ENCODER.encode(obj).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 says what is wrong
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:
        raise InvalidInput("event", f"cannot be canonicalised as JSON (RFC 8785): {exc}") from exc


def new_salt() -> bytes:
    """A fresh salt: :data:`SALT_BYTES` bytes from the operating system's random source."""
    return os.urandom(SALT_BYTES)


def salt_from_hex(text: str, field: str = "salt") -> bytes:
    """A salt from its lowercase hex form in JSON, checked for length."""
    if not isinstance(text, str):
        raise InvalidInput(field, "must be a hex string")
    try:
        salt = bytes.fromhex(text)
    except ValueError as exc:
        raise InvalidInput(field, "is not hex") from exc
    if len(salt) < MIN_SALT_BYTES:
        raise InvalidInput(field, f"must be at least {MIN_SALT_BYTES} bytes, not {len(salt)}")
    return salt


def commitment(salt: bytes, event: Any) -> bytes:
    """``SHA-256(salt ‖ JCS(event))``: the 32-byte leaf that commits to ``event``, a JSON object."""
    if not isinstance(event, Mapping):
        raise InvalidInput("event", "must be a JSON object")
    return commitment_of_canonical(salt, canonical_json(event))


def commitment_of_canonical(salt: bytes, canonical: bytes) -> bytes:
    """The commitment of an event already written by :func:`canonical_json` (so that a writer
    that stores those bytes canonicalises each event once)."""
    if not isinstance(salt, bytes) or len(salt) < MIN_SALT_BYTES:
        raise InvalidInput("salt", f"must be at least {MIN_SALT_BYTES} bytes")
    return hashlib.sha256(salt + canonical).digest()


def event_leaf_hash(salt: bytes, event: Any) -> bytes:
    """The log's leaf hash for ``event``: ``leaf_hash(commitment(salt, event))``."""
    return leaf_hash(commitment(salt, event))
