"""Salted commitments to events: the leaves of the log.

A leaf is ``SHA-256(salt ‖ JCS(event))`` (SPEC "Log hashing"): 32 bytes that commit to the event
without revealing it. The salt, at least 16 random bytes, keeps anyone who cannot see the event from
confirming a guess of it against the public leaf. A party that may see the event gets the event and
the salt, recomputes the commitment and checks it against the leaf hash in the log.

JCS is RFC 8785, the JSON Canonicalization Scheme, done by the ``rfc8785`` package (or, where it
writes the very same bytes, by ``orjson``: a test compares the two on random values).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import rfc8785
from mypy_extensions import mypyc_attr

from accord.errors import InvalidInput
from accord.ledger.merkle import leaf_hash

__all__ = [
    "MIN_SALT_BYTES",
    "SALTS_PER_DRAW",
    "SALT_BYTES",
    "PlainList",
    "canonical_json",
    "commitment",
    "commitment_of_canonical",
    "event_leaf_hash",
    "new_salt",
    "plain_number",
    "salt_from_hex",
]

SALT_BYTES = 16
"""The length of the salts :func:`new_salt` makes."""

MIN_SALT_BYTES = 16
"""The shortest salt :func:`commitment` accepts."""


_MAX_SAFE_INT = 2**53 - 1


@mypyc_attr(native_class=False)  # see accord.compiled: natively it would take weakrefs
class _NotPlain(ValueError):
    """Raised by :func:`_as_plain` for a value the fast path would not write as JCS."""


@mypyc_attr(native_class=False)  # a list's subclass stays a Python class
class PlainList(list[Any]):
    """A list that may vouch for its items: when ``plain`` is true, each is already what
    :func:`_as_plain` makes of it (every number as :func:`plain_number` returns it, every key
    ASCII, plain containers), and :func:`canonical_json` takes them as they are. A builder that
    knows its values' types makes them so for less than walking them would cost; a subclass that
    knows its items' shape may instead make them plain when asked (:meth:`plain_items`)."""

    __slots__ = ("plain",)

    def __init__(self, items: Iterable[Any] = (), *, plain: bool = False) -> None:
        super().__init__(items)
        self.plain = plain

    def plain_items(self) -> list[Any]:
        """What :func:`_as_plain` makes of this list: the list itself when ``plain``, else its
        items walked (raising as the walk raises)."""
        return self if self.plain else _plain_list(self)


def plain_number(x: int | float) -> int | float:
    """``x`` as a plain JSON value holds it: an integral float as an ``int``; raises ValueError
    for a number JCS would not write in plain decimal (an exponent, NaN, infinities, an integer
    beyond ±(2**53 - 1))."""
    if type(x) is float:
        if x.is_integer():
            if -_MAX_SAFE_INT <= x <= _MAX_SAFE_INT:
                return int(x)
        elif 1e-4 <= abs(x) < 1e16:  # what repr writes without an exponent (not nan, not inf)
            return x
    elif -_MAX_SAFE_INT <= x <= _MAX_SAFE_INT:
        return x
    raise _NotPlain  # an exponent, nan, inf, an integer beyond 2**53 - 1


def _as_plain(obj: Any) -> Any:
    """``obj`` with each integral float as an ``int``, so that orjson's sorted, compact JSON of
    the result is byte for byte the JCS of ``obj``; raises :class:`_NotPlain` where that cannot
    be promised.

    That holds when every container is a plain ``dict``/``list``/``tuple``, every key is ASCII (so
    sorting by bytes is sorting by UTF-16 code unit), every integer is within ±(2**53 - 1), every
    integral float is too (JCS writes ``100.0`` and ``-0.0`` as ``100`` and ``0``), and every
    other float is one that ``repr`` writes in plain decimal (``71.0917``); orjson then writes the
    same shortest digits as ECMAScript. Strings are escaped alike (RFC 8785 §3.2.2.2). Anything
    else (``1e-07``, non-ASCII keys, NaN, other types) goes to ``rfc8785``.
    """
    t = type(obj)
    if t is dict:
        out = {}
        for k, v in obj.items():
            if type(k) is not str or not k.isascii():
                raise _NotPlain
            tv = type(v)
            if tv is str or tv is bool or v is None:
                out[k] = v
            elif tv is float or tv is int:
                out[k] = plain_number(v)
            else:
                out[k] = _as_plain(v)
        return out
    if t is not list and t is not tuple and isinstance(obj, PlainList):
        return obj.plain_items()
    if t is list or t is tuple or isinstance(obj, list):  # a subclass too
        return _plain_list(obj)
    if t is str or t is bool or obj is None:
        return obj
    if t is float or t is int:
        return plain_number(obj)
    raise _NotPlain


def _plain_list(obj: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [
        v
        if type(v) is str or type(v) is bool or v is None
        else plain_number(v)
        if type(v) is float or type(v) is int
        else _as_plain(v)
        for v in obj
    ]


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 (JCS) canonical UTF-8 JSON of ``obj``.

    Done by ``orjson`` where it writes the very same bytes once integral floats are ints (see
    :func:`_as_plain`: nearly every event), 5-20 times faster than ``rfc8785.dumps``, which
    does the rest. Raises :class:`InvalidInput` (field ``event``) for what JSON cannot carry
    exactly: integers beyond ±(2**53 - 1), NaN and infinities, non-string keys, lone surrogates,
    other types.
    """
    try:
        return orjson.dumps(_as_plain(obj), option=orjson.OPT_SORT_KEYS)
    except (_NotPlain, orjson.JSONEncodeError):
        pass  # rfc8785 writes it, or says what is wrong (a lone surrogate, say)
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, UnicodeError) as exc:  # a lone surrogate in a key
        raise InvalidInput("event", f"cannot be canonicalised as JSON (RFC 8785): {exc}") from exc


SALTS_PER_DRAW = 256
"""Salts :func:`new_salt` takes from the operating system in one call (4 KiB): one call a salt
would let go of the GIL each time, which on a busy service costs the event loop a thread switch."""


class _SaltPool:
    """Random bytes drawn ahead from ``os.urandom``, handed out once each, in order.

    They are as unpredictable as bytes drawn one salt at a time, and sit in memory that holds the
    events and their salts anyway. The lock keeps two threads from being handed the same bytes; a
    forked child starts with a pool of its own (``os.register_at_fork``), so that parent and child
    never hand out the same salt."""

    __slots__ = ("_bytes", "_lock", "_next")

    def __init__(self) -> None:
        self._bytes = b""
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> bytes:
        """The next :data:`SALT_BYTES` bytes."""
        with self._lock:
            start = self._next
            if start == len(self._bytes):
                self._bytes = os.urandom(SALT_BYTES * SALTS_PER_DRAW)
                start = 0
            self._next = start + SALT_BYTES
            drawn = self._bytes
        return drawn[start : start + SALT_BYTES]

    def forget(self) -> None:
        """Drop what was drawn (in a forked child: the parent hands those bytes out)."""
        self._bytes = b""
        self._next = 0
        self._lock = threading.Lock()  # the parent's may have been held by another thread


_SALTS = _SaltPool()
os.register_at_fork(after_in_child=_SALTS.forget)


def new_salt() -> bytes:
    """A fresh salt: :data:`SALT_BYTES` bytes from the operating system's random source."""
    return _SALTS.take()


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
