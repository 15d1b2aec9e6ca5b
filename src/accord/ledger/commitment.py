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
_FLOAT_INT_LIMIT = 2.0**53
_FAST_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


class _NotPlain(Exception):
    """Raised by :func:`_plain` for a value the standard library would not write as JCS does."""


def _plain(obj: object) -> object:
    """``obj`` with every integral float (``100.0``, ``-0.0``) as an ``int``, such that the
    standard library's sorted, compact JSON of the result is byte for byte the JCS of ``obj``;
    raises :class:`_NotPlain` where that cannot be had.

    That holds when every container is a plain ``dict``/``list``/``tuple``, every key is ASCII (so
    sorting by code point is sorting by UTF-16 code unit), every integer is within ±(2**53 - 1),
    every integral float is below 2**53 in magnitude (JCS writes it as that integer, ``0`` for
    ``-0.0``), and every other float lies in [1e-4, 1e16) in magnitude, where ``repr`` writes it in
    plain decimal with the same shortest digits as ECMAScript. Strings are escaped alike by both
    (RFC 8785 §3.2.2.2). Anything else (``1e-07``, ``1e+16``, non-ASCII keys, other types) goes to
    ``rfc8785``.
    """
    t = type(obj)
    if t is str or t is bool or obj is None:
        return obj
    if t is float:
        assert isinstance(obj, float)
        if obj.is_integer():
            if -_FLOAT_INT_LIMIT < obj < _FLOAT_INT_LIMIT:
                return int(obj)
            raise _NotPlain
        a = -obj if obj < 0.0 else obj
        if 1e-4 <= a < 1e16:
            return obj
        raise _NotPlain  # exponent form, NaN or an infinity
    if t is int:
        assert isinstance(obj, int)
        if -_MAX_SAFE_INT <= obj <= _MAX_SAFE_INT:
            return obj
        raise _NotPlain
    if t is dict:
        assert isinstance(obj, dict)
        out: dict[str, object] = {}
        for k, v in obj.items():
            if type(k) is not str or not k.isascii():
                raise _NotPlain
            out[k] = _plain(v)
        return out
    if t is list or t is tuple:
        assert isinstance(obj, list | tuple)
        return [_plain(v) for v in obj]
    raise _NotPlain


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 (JCS) canonical UTF-8 JSON of ``obj``.

    Done by ``json`` in C on :func:`_plain`'s copy of ``obj`` where that writes the same bytes
    (nearly every event: several times faster), by ``rfc8785.dumps`` otherwise.
    Raises :class:`InvalidInput` (field ``event``) for what JSON cannot carry exactly: integers
    beyond ±(2**53 - 1), NaN and infinities, non-string keys, lone surrogates, other types.
    """
    try:
        return _FAST_ENCODER.encode(_plain(obj)).encode("utf-8")
    except (_NotPlain, UnicodeEncodeError):
        pass  # rfc8785 writes it, or says what is wrong (a lone surrogate, ...)
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
