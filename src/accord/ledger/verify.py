"""The offline log verifier, as a library: what ``accord verify`` and each party run.

It trusts nothing the server says and reaches the server only through a :class:`LogSource`, whose
methods return the JSON of the SPEC's log endpoints (``accord verify`` plugs an HTTP client in;
tests plug in a log held in memory). :func:`verify_log`:

1. fetches the log key (and, if the caller pinned one, checks it is the same key);
2. fetches the signed tree head and checks its signature;
3. if the caller saved a head from an earlier run, checks the new head extends it: a smaller size is
   a *rollback*, the same size with another root a *fork*, a failed consistency proof a *rewritten
   history*;
4. fetches each entry from ``start`` to the head's size: where the event and salt are visible,
   recomputes the commitment and checks it against the entry's leaf hash; for every entry, checks
   its inclusion proof against the signed root.

Any failure raises :class:`~accord.errors.VerificationError` naming the entry, size or head at
fault; a malformed answer from the server is a failure too. When everything holds it returns a
:class:`VerificationReport` of what was checked, whose ``head`` is the JSON to save for next time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from accord.errors import InvalidInput, VerificationError
from accord.ledger.commitment import event_leaf_hash, salt_from_hex
from accord.ledger.heads import SignedTreeHead, public_key_from_json, verify_head
from accord.ledger.merkle import HASH_SIZE
from accord.ledger.proofs import verify_consistency, verify_inclusion

__all__ = ["LogSource", "VerificationReport", "verify_log"]


class LogSource(Protocol):
    """Where the verifier reads the log: one method per log endpoint of the SPEC, each returning
    that endpoint's JSON answer (a ``dict``)."""

    def head(self) -> Mapping[str, Any]:
        """``GET /v1/log/head``: ``{"tree_size","root_hash","timestamp","signature","key_id"}``."""
        ...

    def key(self) -> Mapping[str, Any]:
        """``GET /v1/log/key``: ``{"key_id","public_key"}``."""
        ...

    def entry(self, index: int) -> Mapping[str, Any]:
        """``GET /v1/log/entries/{index}``: ``{"index","leaf_hash","event"?,"salt"?}``."""
        ...

    def inclusion(self, index: int, tree_size: int) -> Mapping[str, Any]:
        """``GET /v1/log/proof/inclusion?index=&tree_size=``: ``{"index","tree_size","path"}``."""
        ...

    def consistency(self, first: int, second: int) -> Mapping[str, Any]:
        """``GET /v1/log/proof/consistency?first=&second=``: ``{"first","second","path"}``."""
        ...


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What a successful :func:`verify_log` checked."""

    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    previous_size: int | None
    """The size of the saved head the new one was checked against, or None if none was given."""
    consistency_checked: bool
    """True when a consistency proof was fetched and verified (saved size strictly between 0 and
    the new size); equal sizes are checked by comparing roots."""
    entries_checked: int
    """Entries whose inclusion proof verified against the signed root."""
    events_checked: int
    """Entries whose event and salt were visible and recomputed to their leaf hash."""
    head: dict[str, Any]
    """The verified signed head's JSON: save it and pass it as ``saved_head`` next time."""


def _object(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise VerificationError(f"{what}: the answer is not a JSON object")
    return data


def _field(data: object, name: str, what: str) -> object:
    obj = _object(data, what)
    if name not in obj:
        raise VerificationError(f"{what}: the answer has no {name!r}")
    return obj[name]


def _int_field(data: object, name: str, what: str, expected: int) -> None:
    value = _field(data, name, what)
    if isinstance(value, bool) or value != expected:
        raise VerificationError(f"{what}: {name!r} is {value!r}, not the {expected} asked for")


def _hex_hash(value: object, what: str) -> bytes:
    if isinstance(value, str) and len(value) == 2 * HASH_SIZE:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            pass
        else:
            if raw.hex() == value:
                return raw
    raise VerificationError(f"{what} is not a lowercase hex SHA-256 hash")


def _path(answer: object, what: str) -> list[bytes]:
    path = _field(answer, "path", what)
    if not isinstance(path, list):
        raise VerificationError(f"{what}: 'path' is not a list")
    return [_hex_hash(p, f"{what}: path[{i}]") for i, p in enumerate(path)]


def _check_entry(source: LogSource, index: int, head: SignedTreeHead) -> bool:
    """Check entry ``index`` against ``head``; return whether its event was visible."""
    what = f"entry {index}"
    entry = _object(source.entry(index), what)
    _int_field(entry, "index", what, index)
    leaf = _hex_hash(_field(entry, "leaf_hash", what), f"{what}: leaf_hash")
    has_event, has_salt = "event" in entry, "salt" in entry
    if has_event != has_salt:
        given, missing = ("event", "salt") if has_event else ("salt", "event")
        raise VerificationError(f"{what}: the answer has an {given} but no {missing}")
    if has_event:
        event = entry["event"]
        if not isinstance(event, Mapping):
            raise VerificationError(f"{what}: the event is not a JSON object")
        try:
            recomputed = event_leaf_hash(salt_from_hex(entry["salt"]), event)
        except InvalidInput as exc:
            raise VerificationError(f"{what}: {exc}") from exc
        if not hmac.compare_digest(recomputed, leaf):
            raise VerificationError(
                f"{what}: the event and salt do not hash to the entry's leaf hash "
                f"(recomputed {recomputed.hex()[:16]}…, listed {leaf.hex()[:16]}…)"
            )
    proof_what = f"{what}: inclusion proof"
    answer = source.inclusion(index, head.tree_size)
    _int_field(answer, "index", proof_what, index)
    _int_field(answer, "tree_size", proof_what, head.tree_size)
    try:
        verify_inclusion(leaf, index, head.tree_size, _path(answer, proof_what), head.root_hash)
    except VerificationError as exc:
        raise VerificationError(f"{what}: {exc}") from exc
    return has_event


def _check_extends(source: LogSource, saved: SignedTreeHead, head: SignedTreeHead) -> bool:
    """Check that ``head`` extends ``saved``; return whether a consistency proof was verified."""
    if head.tree_size < saved.tree_size:
        raise VerificationError(
            f"rollback: the log's head has tree size {head.tree_size}, smaller than the "
            f"{saved.tree_size} of the head saved at {saved.timestamp}"
        )
    if head.tree_size == saved.tree_size:
        if not hmac.compare_digest(head.root_hash, saved.root_hash):
            raise VerificationError(
                f"fork: the log's head and the head saved at {saved.timestamp} both have tree "
                f"size {head.tree_size} but different roots ({head.root_hash.hex()[:16]}… and "
                f"{saved.root_hash.hex()[:16]}…)"
            )
        return False
    if saved.tree_size == 0:
        # Every tree extends the empty one; verify_consistency still checks the saved root.
        verify_consistency(0, head.tree_size, saved.root_hash, head.root_hash, [])
        return False
    what = f"consistency proof {saved.tree_size}→{head.tree_size}"
    answer = source.consistency(saved.tree_size, head.tree_size)
    _int_field(answer, "first", what, saved.tree_size)
    _int_field(answer, "second", what, head.tree_size)
    try:
        verify_consistency(
            saved.tree_size,
            head.tree_size,
            saved.root_hash,
            head.root_hash,
            _path(answer, what),
        )
    except VerificationError as exc:
        raise VerificationError(
            f"rewritten history: the head of tree size {head.tree_size} does not extend the head "
            f"of tree size {saved.tree_size} saved at {saved.timestamp}: {exc}"
        ) from exc
    return True


def verify_log(
    source: LogSource,
    *,
    saved_head: Mapping[str, Any] | None = None,
    trusted_key: Mapping[str, Any] | None = None,
    start: int = 0,
) -> VerificationReport:
    """Verify the log behind ``source``, as the module docstring says.

    - ``saved_head``: the ``head`` of an earlier report (the last head this party verified). Its
      signature is checked again with the log key: a log key that changed fails here.
    - ``trusted_key``: ``{"key_id","public_key"}`` the party holds from elsewhere; when given, the
      key the server serves must be this one.
    - ``start``: check entries from this index on (default all). Entries below a saved head's size
      were checked against that head, and the consistency proof carries them over.
    """
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise InvalidInput("start", f"must be a non-negative integer, not {start!r}")
    try:
        key = public_key_from_json(source.key())
    except InvalidInput as exc:
        raise VerificationError(f"log key is malformed: {exc}") from exc
    if trusted_key is not None:
        try:
            pinned = public_key_from_json(trusted_key)
        except InvalidInput as exc:
            raise exc.prefixed("trusted_key") from exc
        if not hmac.compare_digest(pinned, key):
            raise VerificationError("the server's log key is not the trusted key")

    head = verify_head(source.head(), key)

    previous_size: int | None = None
    consistency_checked = False
    if saved_head is not None:
        saved_key_id = saved_head.get("key_id") if isinstance(saved_head, Mapping) else None
        if isinstance(saved_key_id, str) and saved_key_id != head.key_id:
            raise VerificationError(
                f"the log key changed since the saved head: it was {saved_key_id[:16]}…, "
                f"it is {head.key_id[:16]}…"
            )
        try:
            saved = verify_head(saved_head, key)
        except VerificationError as exc:
            raise VerificationError(f"saved head: {exc}") from exc
        previous_size = saved.tree_size
        consistency_checked = _check_extends(source, saved, head)

    entries = events = 0
    for index in range(start, head.tree_size):
        events += _check_entry(source, index, head)
        entries += 1

    return VerificationReport(
        tree_size=head.tree_size,
        root_hash=head.root_hash.hex(),
        timestamp=head.timestamp,
        key_id=head.key_id,
        previous_size=previous_size,
        consistency_checked=consistency_checked,
        entries_checked=entries,
        events_checked=events,
        head=head.to_json(),
    )
