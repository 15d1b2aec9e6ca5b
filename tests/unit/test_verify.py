"""Commitments and the offline verifier.

The verifier reads a log through :class:`MemoryLog`, a stand-in for the HTTP endpoints of the SPEC
built from the real :class:`MerkleTree`, commitments and signer; each tampering test changes one
thing a dishonest or broken server could change, and the verifier must name it.

Commitment oracle: the RFC 8785 §3.2.3 example (input and published canonical output), hashed with
hashlib.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import InvalidInput, VerificationError
from accord.ledger.commitment import (
    SALT_BYTES,
    SALTS_PER_DRAW,
    canonical_json,
    commitment,
    event_leaf_hash,
    new_salt,
    salt_from_hex,
)
from accord.ledger.heads import Signer, sign_head
from accord.ledger.merkle import MerkleTree, leaf_hash
from accord.ledger.verify import LogSource, VerificationReport, verify_log

# -- commitments ---------------------------------------------------------------------------------

# RFC 8785 §3.2.2 (input) and §3.2.3 (canonical output).
RFC8785_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC8785_OUTPUT = (
    r"""{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"""
    r""""string":"€$\u000f\nA'B\"\\\\\"/"}"""
)

SALT = bytes(range(16))


def test_canonical_json_is_rfc8785() -> None:
    assert canonical_json(json.loads(RFC8785_INPUT)) == RFC8785_OUTPUT.encode()


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([71.0917, 100.0, -0.0, 0.0, 1e-7, 1e16, 1e21, 0.1, 0.0001, 5e-324])
    | st.sampled_from([9.999999999999999e-05, 2.0**53, 2.0**53 - 1, -(2.0**53), 1e16 - 2])
    | st.text()
    | st.sampled_from(["\x00\x1f\x7f", '"\\/', "\b\f\n\r\t", "\u2028\u2029", "😀\ue000"])
)
_KEYS = st.text(max_size=6) | st.sampled_from(["a", "é", "\ue000", "😀", "\r", "1", "A"])
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(obj=_JSON)
def test_canonical_json_matches_rfc8785_on_any_json(obj: Any) -> None:
    # The fast path (the standard library's json) must never write other bytes than rfc8785.
    assert canonical_json(obj) == rfc8785.dumps(obj)


def test_canonical_json_matches_rfc8785_on_awkward_numbers() -> None:
    for x in [
        71.0917,
        34.9183,
        100.0,
        -0.0,
        1e-7,
        1e16,
        1e21,
        1e300,
        5e-324,
        0.1,
        2.5e-5,
        1e-4,
        9.999999999999999e-05,
        0.00010000000000000002,
        9999999999999998.0,
        9007199254740991.0,
        9007199254740992.0,
        1e15 + 0.5,
        4503599627370495.5,
    ]:
        assert canonical_json({"x": x, "xs": [x, -x]}) == rfc8785.dumps({"x": x, "xs": [x, -x]})
    for n in [0, -1, 2**53 - 1, -(2**53) + 1]:
        assert canonical_json([n]) == rfc8785.dumps([n])


def test_commitment_is_sha256_of_salt_and_jcs() -> None:
    event = json.loads(RFC8785_INPUT)
    expected = hashlib.sha256(SALT + RFC8785_OUTPUT.encode()).digest()
    assert commitment(SALT, event) == expected
    assert event_leaf_hash(SALT, event) == hashlib.sha256(b"\x00" + expected).digest()
    # Key order does not matter; any change of value or salt does.
    assert commitment(SALT, dict(reversed(list(event.items())))) == expected
    assert commitment(SALT, {**event, "literals": [None, True, True]}) != expected
    assert commitment(bytes(range(1, 17)), event) != expected


def test_salts_are_fresh_random_bytes() -> None:
    n = 3 * SALTS_PER_DRAW + 7  # salts come from the OS a pool at a time: cross three pools
    salts = {new_salt() for _ in range(n)}
    assert len(salts) == n
    assert all(len(s) == SALT_BYTES >= 16 for s in salts)
    assert salt_from_hex(SALT.hex()) == SALT


def test_threads_drawing_salts_at_once_are_never_given_the_same_one() -> None:
    def draw(_: int) -> list[bytes]:
        return [new_salt() for _ in range(2 * SALTS_PER_DRAW)]

    with ThreadPoolExecutor(8) as pool:
        salts = [s for batch in pool.map(draw, range(8)) for s in batch]
    assert len(set(salts)) == len(salts) == 16 * SALTS_PER_DRAW


def test_a_forked_child_does_not_hand_out_its_parents_next_salts() -> None:
    new_salt()  # the pool now holds salts the parent has yet to hand out
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next salts, to the parent
        try:
            os.write(write, b"".join(new_salt() for _ in range(4)))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        theirs = pipe.read()
    os.waitpid(pid, 0)
    ours = b"".join(new_salt() for _ in range(4))
    assert len(theirs) == len(ours) == 4 * SALT_BYTES
    mine = {ours[i : i + SALT_BYTES] for i in range(0, len(ours), SALT_BYTES)}
    assert not mine & {theirs[i : i + SALT_BYTES] for i in range(0, len(theirs), SALT_BYTES)}


def test_commitment_refuses_what_it_cannot_commit_to() -> None:
    with pytest.raises(InvalidInput, match="salt: must be at least 16 bytes"):
        commitment(b"\x00" * 15, {"a": 1})
    with pytest.raises(InvalidInput, match="event: must be a JSON object"):
        commitment(SALT, [1, 2])
    with pytest.raises(InvalidInput, match="event: cannot be canonicalised"):
        commitment(SALT, {"n": float("nan")})
    with pytest.raises(InvalidInput, match="event: cannot be canonicalised"):
        commitment(SALT, {"n": 2**53})
    with pytest.raises(InvalidInput, match="event: cannot be canonicalised"):
        commitment(SALT, {1: "non-string key"})
    with pytest.raises(InvalidInput, match="event: cannot be canonicalised"):
        commitment(SALT, {"lone surrogate": "\ud800"})
    with pytest.raises(InvalidInput, match="salt: is not hex"):
        salt_from_hex("zz" * 16)
    with pytest.raises(InvalidInput, match="salt: must be at least 16 bytes, not 8"):
        salt_from_hex("00" * 8)


# -- a log behind the SPEC's endpoints ------------------------------------------------------------

SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
OTHER_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")


def _event(i: int) -> dict[str, Any]:
    return {
        "log_index": i,
        "time": f"2026-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "type": "heartbeat" if i % 3 else "presence_upserted",
        "party": f"party-{i % 4}",
        "label": f"Post {i} – é",
    }


class MemoryLog:
    """The log endpoints of the SPEC over an in-memory log; ``visible(i)`` says which events the
    caller may see. Tests override its answers to play a dishonest server."""

    def __init__(self, n: int, seed: bytes = SEED, visible: Callable[[int], bool] | None = None):
        self.signer = Signer.from_seed(seed)
        self.tree = MerkleTree()
        self.records: list[tuple[bytes, dict[str, Any]]] = []
        self.visible = visible or (lambda i: i % 2 == 0)
        self.grow(n)

    def grow(self, n: int) -> None:
        for _ in range(n):
            i = len(self.records)
            salt = hashlib.sha256(b"salt" + i.to_bytes(4, "big")).digest()[:16]
            event = _event(i)
            self.records.append((salt, event))
            self.tree.append(commitment(salt, event))

    def head(self) -> dict[str, Any]:
        stamp = f"2026-11-22T12:00:{self.tree.size % 60:02d}Z"
        return sign_head(self.signer, self.tree.size, self.tree.root(), stamp).to_json()

    def key(self) -> dict[str, Any]:
        return self.signer.public_key_json()

    def entry(self, index: int) -> dict[str, Any]:
        answer: dict[str, Any] = {"index": index, "leaf_hash": self.tree.leaf_hash_at(index).hex()}
        if self.visible(index):
            salt, event = self.records[index]
            answer["event"] = copy.deepcopy(event)
            answer["salt"] = salt.hex()
        return answer

    def inclusion(self, index: int, tree_size: int) -> dict[str, Any]:
        path = self.tree.inclusion_proof(index, tree_size)
        return {"index": index, "tree_size": tree_size, "path": [p.hex() for p in path]}

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        path = self.tree.consistency_proof(first, second)
        return {"first": first, "second": second, "path": [p.hex() for p in path]}


def _source(log: MemoryLog) -> LogSource:
    return log  # MemoryLog satisfies the Protocol (checked by mypy on this line)


# -- an honest log verifies ---------------------------------------------------------------------


def test_an_honest_log_verifies_and_reports_what_it_checked() -> None:
    log = MemoryLog(25)
    report = verify_log(_source(log))
    assert isinstance(report, VerificationReport)
    assert report.tree_size == 25
    assert report.root_hash == log.tree.root().hex()
    assert report.key_id == log.signer.key_id
    assert report.entries_checked == 25
    assert report.events_checked == 13  # even indexes 0..24 are visible
    assert report.previous_size is None
    assert not report.consistency_checked
    assert report.head == log.head()


def test_a_grown_log_is_checked_against_the_saved_head() -> None:
    log = MemoryLog(10)
    first = verify_log(log)
    log.grow(7)
    second = verify_log(log, saved_head=first.head, start=first.tree_size)
    assert second.previous_size == 10
    assert second.consistency_checked
    assert second.entries_checked == 7
    # The same head again: nothing to prove, roots compared.
    third = verify_log(log, saved_head=second.head)
    assert third.previous_size == 17
    assert not third.consistency_checked


def test_an_empty_log_verifies_and_grows() -> None:
    log = MemoryLog(0)
    empty = verify_log(log)
    assert (empty.tree_size, empty.entries_checked) == (0, 0)
    log.grow(3)
    grown = verify_log(log, saved_head=empty.head)
    assert (grown.previous_size, grown.entries_checked) == (0, 3)


def test_a_caller_who_sees_nothing_still_checks_every_inclusion() -> None:
    report = verify_log(MemoryLog(9, visible=lambda i: False))
    assert (report.entries_checked, report.events_checked) == (9, 0)


def test_a_pinned_key_is_accepted_when_it_is_the_servers() -> None:
    log = MemoryLog(4)
    assert verify_log(log, trusted_key=log.key()).tree_size == 4


# -- tampering ----------------------------------------------------------------------------------


class Tampered(MemoryLog):
    """A MemoryLog whose answers pass through ``edit`` hooks."""

    def __init__(self, n: int, **kw: Any) -> None:
        super().__init__(n, **kw)
        self.edit_head: Callable[[dict[str, Any]], None] = lambda d: None
        self.edit_entry: Callable[[int, dict[str, Any]], None] = lambda i, d: None
        self.edit_inclusion: Callable[[dict[str, Any]], None] = lambda d: None
        self.edit_consistency: Callable[[dict[str, Any]], None] = lambda d: None
        self.key_answer: Mapping[str, Any] | None = None

    def head(self) -> dict[str, Any]:
        d = super().head()
        self.edit_head(d)
        return d

    def key(self) -> dict[str, Any]:
        return dict(self.key_answer) if self.key_answer is not None else super().key()

    def entry(self, index: int) -> dict[str, Any]:
        d = super().entry(index)
        self.edit_entry(index, d)
        return d

    def inclusion(self, index: int, tree_size: int) -> dict[str, Any]:
        d = super().inclusion(index, tree_size)
        self.edit_inclusion(d)
        return d

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        d = super().consistency(first, second)
        self.edit_consistency(d)
        return d


def _flip_hex(h: str) -> str:
    return f"{int(h[0], 16) ^ 1:x}{h[1:]}"


def test_a_changed_leaf_hash_is_caught_by_its_inclusion_proof() -> None:
    log = Tampered(12)

    def edit(i: int, d: dict[str, Any]) -> None:
        if i == 3:  # odd: its event is not visible, only the proof can catch it
            d["leaf_hash"] = _flip_hex(d["leaf_hash"])

    log.edit_entry = edit
    with pytest.raises(
        VerificationError, match="entry 3: inclusion proof: leaf 3 does not lead to the root"
    ):
        verify_log(log)


def test_a_changed_visible_leaf_is_caught_by_its_commitment() -> None:
    log = Tampered(12)

    def edit(i: int, d: dict[str, Any]) -> None:
        if i == 4:
            d["leaf_hash"] = _flip_hex(d["leaf_hash"])

    log.edit_entry = edit
    with pytest.raises(VerificationError, match="entry 4: the event and salt do not hash to"):
        verify_log(log)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(salt=_flip_hex(d["salt"])),
        lambda d: d["event"].update(party="someone-else"),
        lambda d: d["event"].update(extra=None),
        lambda d: d["event"].pop("label"),
    ],
    ids=["salt", "event value", "event field added", "event field removed"],
)
def test_a_changed_salt_or_event_is_caught(change: Callable[[dict[str, Any]], None]) -> None:
    log = Tampered(12)

    def edit(i: int, d: dict[str, Any]) -> None:
        if i == 6:
            change(d)

    log.edit_entry = edit
    with pytest.raises(VerificationError, match="entry 6: the event and salt do not hash to"):
        verify_log(log)


def test_rewritten_history_is_caught() -> None:
    honest = MemoryLog(10)
    saved = verify_log(honest).head
    # The server rebuilds its log with event 2 changed, then grows it, and signs with its key.
    rewritten = MemoryLog(0)
    rewritten.grow(10)
    _, event = rewritten.records[2]
    event["type"] = "clearance_closed"
    rewritten.tree = MerkleTree()
    rewritten.tree.append_many(commitment(s, e) for s, e in rewritten.records)
    rewritten.grow(5)
    with pytest.raises(
        VerificationError,
        match=r"rewritten history: the head of tree size 15 does not extend the head of tree "
        r"size 10 saved at .*: consistency proof: the proof does not lead to the root of tree "
        r"size 10",
    ):
        verify_log(rewritten, saved_head=saved)
    # Without the saved head, the rewritten log is self-consistent: only history catches it.
    assert verify_log(rewritten).tree_size == 15


def test_a_forked_head_is_caught() -> None:
    honest = MemoryLog(10)
    saved = verify_log(honest).head
    fork = MemoryLog(9)
    fork.grow(1)
    fork.records[9] = (fork.records[9][0], {**fork.records[9][1], "type": "alert_raised"})
    fork.tree = MerkleTree()
    fork.tree.append_many(commitment(s, e) for s, e in fork.records)
    with pytest.raises(
        VerificationError, match=r"fork: .* both have tree size 10 but different roots"
    ):
        verify_log(fork, saved_head=saved)


def test_a_rollback_is_caught() -> None:
    log = MemoryLog(10)
    saved = verify_log(log).head
    older = MemoryLog(6)
    with pytest.raises(
        VerificationError, match="rollback: the log's head has tree size 6, smaller than the 10"
    ):
        verify_log(older, saved_head=saved)


def test_a_bad_head_signature_is_caught() -> None:
    log = Tampered(5)
    log.edit_head = lambda d: d.update(tree_size=4)
    with pytest.raises(VerificationError, match="tree head signature does not verify"):
        verify_log(log)


def test_a_head_signed_by_another_key_is_caught() -> None:
    log = Tampered(5)
    log.key_answer = Signer.from_seed(OTHER_SEED).public_key_json()
    with pytest.raises(VerificationError, match=r"tree head names key .*, not the log key"):
        verify_log(log)


def test_a_key_other_than_the_pinned_one_is_caught() -> None:
    log = MemoryLog(5, seed=OTHER_SEED)
    pinned = Signer.from_seed(SEED).public_key_json()
    with pytest.raises(VerificationError, match="the server's log key is not the trusted key"):
        verify_log(log, trusted_key=pinned)
    with pytest.raises(InvalidInput, match=r"trusted_key\.public_key: must decode to 32 bytes"):
        verify_log(log, trusted_key={"key_id": "x", "public_key": "AAAA"})


def test_a_changed_log_key_is_caught_against_the_saved_head() -> None:
    saved = verify_log(MemoryLog(5)).head
    with pytest.raises(VerificationError, match="the log key changed since the saved head"):
        verify_log(MemoryLog(6, seed=OTHER_SEED), saved_head=saved)


def test_an_edited_saved_head_is_caught() -> None:
    log = MemoryLog(8)
    saved = dict(verify_log(log).head)
    saved["tree_size"] = 7
    with pytest.raises(VerificationError, match="saved head: tree head signature does not verify"):
        verify_log(log, saved_head=saved)


def test_a_malformed_key_answer_is_caught() -> None:
    log = Tampered(3)
    key = log.signer.public_key_json()
    log.key_answer = {**key, "key_id": "0" * 64}
    with pytest.raises(VerificationError, match="log key is malformed: key_id: is not the SHA"):
        verify_log(log)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(path=d["path"][:-1]), "path too short"),
        (lambda d: d.update(path=[*d["path"], d["path"][0]]), "path too long"),
        (lambda d: d.update(path=[]), "path too short"),
        (lambda d: d.update(path=[_flip_hex(d["path"][0]), *d["path"][1:]]), "does not lead to"),
        (lambda d: d.update(path=[d["path"][0].upper(), *d["path"][1:]]), "not a lowercase hex"),
        (lambda d: d.update(path="abc"), "'path' is not a list"),
        (lambda d: d.update(index=d["index"] + 1), "'index' is .*, not the .* asked for"),
        (lambda d: d.update(tree_size=d["tree_size"] - 1), "'tree_size' is 10, not the 11"),
        (lambda d: d.pop("path"), "the answer has no 'path'"),
    ],
    ids=[
        "truncated",
        "extended",
        "emptied",
        "flipped",
        "uppercase",
        "not a list",
        "index",
        "size",
        "missing",
    ],
)
def test_a_bad_inclusion_answer_is_caught(
    edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    log = Tampered(11)
    log.edit_inclusion = edit
    with pytest.raises(VerificationError, match=f"entry 0: inclusion proof.*{message}"):
        verify_log(log)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(path=d["path"][:-1]), "rewritten history: .*path too short"),
        (lambda d: d.update(path=[*d["path"], d["path"][0]]), "rewritten history: .*too long"),
        (lambda d: d.update(path=[]), "rewritten history: .*path too short: 0 hashes"),
        (
            lambda d: d.update(path=[_flip_hex(d["path"][0]), *d["path"][1:]]),
            "rewritten history: .*does not lead to the root of tree size 6",
        ),
        (lambda d: d.update(first=d["first"] - 1), "proof 6→13: 'first' is 5, not the 6 asked"),
    ],
    ids=["truncated", "extended", "emptied", "flipped", "first"],
)
def test_a_bad_consistency_answer_is_caught(
    edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    log = Tampered(6)
    saved = verify_log(log).head
    log.grow(7)
    log.edit_consistency = edit
    with pytest.raises(VerificationError, match=message):
        verify_log(log, saved_head=saved)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("salt"), "entry 2: the answer has an event but no salt"),
        (lambda d: d.pop("event"), "entry 2: the answer has an salt but no event"),
        (lambda d: d.update(event=[1]), "entry 2: the event is not a JSON object"),
        (lambda d: d.update(salt="00" * 8), "entry 2: salt: must be at least 16 bytes"),
        (lambda d: d.pop("leaf_hash"), "entry 2: the answer has no 'leaf_hash'"),
        (lambda d: d.update(leaf_hash="00"), "entry 2: leaf_hash is not a lowercase hex"),
        (lambda d: d.update(index=True), "entry 2: 'index' is True, not the 2 asked for"),
    ],
)
def test_a_malformed_entry_is_caught(edit: Callable[[dict[str, Any]], None], message: str) -> None:
    log = Tampered(4)

    def edit_entry(i: int, d: dict[str, Any]) -> None:
        if i == 2:
            edit(d)

    log.edit_entry = edit_entry
    with pytest.raises(VerificationError, match=message):
        verify_log(log)


def test_an_entry_answer_that_is_not_an_object_is_caught() -> None:
    class ListEntries(MemoryLog):
        def entry(self, index: int) -> Any:
            return [index]

    with pytest.raises(VerificationError, match="entry 0: the answer is not a JSON object"):
        verify_log(ListEntries(2))


def test_index_at_or_beyond_the_size_is_refused() -> None:
    log = MemoryLog(4)
    with pytest.raises(InvalidInput, match="index: must be at least 0 and below the tree size 4"):
        log.tree.inclusion_proof(4, 4)
    with pytest.raises(InvalidInput, match="start: must be a non-negative integer"):
        verify_log(log, start=-1)
    # A start beyond the head checks no entry, but still the head.
    assert verify_log(log, start=9).entries_checked == 0


def test_leaf_hashes_of_the_log_are_leaf_hashes_of_commitments() -> None:
    log = MemoryLog(5)
    for i, (salt, event) in enumerate(log.records):
        assert log.tree.leaf_hash_at(i) == leaf_hash(commitment(salt, event))
        assert log.tree.leaf_hash_at(i) == event_leaf_hash(salt, event)
