"""Verification of RFC 9162 inclusion and consistency proofs, needing nothing but the proof.

The algorithms are those of RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency), step by step.
Every check raises :class:`~accord.errors.VerificationError` saying what failed; nothing returns a
bool that a caller could forget to look at. The ``*_from_*`` helpers return the root(s) a proof
leads to, for callers that compare them themselves.

Consistency has two trivial cases RFC 9162 leaves to the verifier, settled here as in sigsum and
transparency-dev: a tree is consistent with itself (equal sizes: empty path, equal roots), and the
empty tree (size 0, root ``SHA-256()``) is consistent with every tree (empty path).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from accord.errors import VerificationError
from accord.ledger.merkle import EMPTY_ROOT, HASH_SIZE

__all__ = [
    "consistency_proof_length",
    "inclusion_proof_length",
    "root_from_inclusion",
    "roots_from_consistency",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256
_NODE = b"\x01"


def _short(h: bytes) -> str:
    return h.hex()[:16] + "…"


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise VerificationError(f"{what} is not a {HASH_SIZE}-byte hash")
    return value


def _check_path(path: Sequence[bytes], what: str) -> list[bytes]:
    hashes = list(path)
    for i, p in enumerate(hashes):
        if not isinstance(p, bytes) or len(p) != HASH_SIZE:
            raise VerificationError(f"{what} path[{i}] is not a {HASH_SIZE}-byte hash")
    return hashes


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise VerificationError(f"{what} must be a non-negative integer, not {value!r}")
    return value


def inclusion_proof_length(index: int, size: int) -> int:
    """The number of hashes in the inclusion path of leaf ``index`` in a tree of ``size``."""
    if not 0 <= index < size:
        raise VerificationError(f"inclusion proof: index {index} is not below tree size {size}")
    # Below the level where the paths of `index` and `size - 1` meet, every level has a sibling;
    # above it, a level has one exactly where `index` descends into a right subtree.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(first: int, second: int) -> int:
    """The number of hashes in the consistency proof between trees of ``first`` and ``second``."""
    if not 0 <= first <= second:
        raise VerificationError(
            f"consistency proof: first size {first} is not between 0 and second size {second}"
        )
    if first in (0, second):
        return 0
    # With `first = a * 2**tz` (a odd), the proof climbs from the node of height tz that ends the
    # first tree, node a - 1 of that level, to the root of the second tree: its inclusion path
    # in the tree of that level's nodes, preceded by the node itself unless it is the whole first
    # tree (a == 1, first a power of two).
    tz = (first & -first).bit_length() - 1
    node = (first >> tz) - 1
    nodes_at_level = ((second - 1) >> tz) + 1
    return inclusion_proof_length(node, nodes_at_level) + (1 if node else 0)


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root that ``path`` leads to from ``leaf_hash`` at ``index`` in a tree of ``size``.

    RFC 9162 §2.1.3.2 steps 1-4 and the ``sn == 0`` check of step 5; raises when the path has the
    wrong length for ``index`` and ``size``.
    """
    index = _check_int(index, "inclusion proof: index")
    size = _check_int(size, "inclusion proof: tree size")
    r = _check_hash(leaf_hash, "inclusion proof: leaf hash")
    hashes = _check_path(path, "inclusion proof:")
    # 1. leaf_index must be below tree_size.
    if index >= size:
        raise VerificationError(f"inclusion proof: index {index} is not below tree size {size}")
    expected = inclusion_proof_length(index, size)
    if len(hashes) != expected:
        word = "too long" if len(hashes) > expected else "too short"
        raise VerificationError(
            f"inclusion proof: path {word}: {len(hashes)} hashes for index {index} in a tree of "
            f"size {size}, which needs {expected}"
        )
    # 2-3.
    fn, sn = index, size - 1
    # 4.
    for p in hashes:
        if sn == 0:
            raise VerificationError("inclusion proof: path too long (ran past the root)")
        if fn & 1 or fn == sn:
            r = _sha256(_NODE + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
    # 5. (first half)
    if sn != 0:
        raise VerificationError("inclusion proof: path too short (stopped below the root)")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> None:
    """Check that ``path`` proves ``leaf_hash`` is leaf ``index`` of the tree of ``size`` whose
    root is ``root`` (RFC 9162 §2.1.3.2). Raises :class:`VerificationError` if it does not."""
    root = _check_hash(root, "inclusion proof: root hash")
    computed = root_from_inclusion(leaf_hash, index, size, path)
    if not hmac.compare_digest(computed, root):
        raise VerificationError(
            f"inclusion proof: leaf {index} does not lead to the root of tree size {size} "
            f"(computed {_short(computed)}, signed {_short(root)})"
        )


def roots_from_consistency(
    first: int, second: int, first_root: bytes, path: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """The pair (first root, second root) that ``path`` leads to (RFC 9162 §2.1.4.2 steps 1-6
    and the ``sn == 0`` check of step 7), for ``0 < first < second``.

    ``first_root`` is needed when ``first`` is a power of two: the proof then omits it.
    """
    first = _check_int(first, "consistency proof: first size")
    second = _check_int(second, "consistency proof: second size")
    first_root = _check_hash(first_root, "consistency proof: first root")
    hashes = _check_path(path, "consistency proof:")
    if not 0 < first < second:
        raise VerificationError(
            f"consistency proof: sizes must satisfy 0 < first < second, not {first} and {second}"
        )
    expected = consistency_proof_length(first, second)
    if len(hashes) != expected:
        word = "too long" if len(hashes) > expected else "too short"
        raise VerificationError(
            f"consistency proof: path {word}: {len(hashes)} hashes between tree sizes {first} "
            f"and {second}, which need {expected}"
        )
    # 1.
    if not hashes:
        raise VerificationError("consistency proof: path is empty")
    # 2.
    if first & (first - 1) == 0:
        hashes = [first_root, *hashes]
    # 3.
    fn, sn = first - 1, second - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = hashes[0]
    # 6.
    for c in hashes[1:]:
        if sn == 0:
            raise VerificationError("consistency proof: path too long (ran past the root)")
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE + c + fr).digest()
            sr = _sha256(_NODE + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(_NODE + sr + c).digest()
        fn >>= 1
        sn >>= 1
    # 7. (first part)
    if sn != 0:
        raise VerificationError("consistency proof: path too short (stopped below the root)")
    return fr, sr


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> None:
    """Check that the tree of ``second`` leaves with root ``second_root`` extends the tree of
    ``first`` leaves with root ``first_root`` (RFC 9162 §2.1.4.2). Raises
    :class:`VerificationError`, naming the failure, if it does not.
    """
    first = _check_int(first, "consistency proof: first size")
    second = _check_int(second, "consistency proof: second size")
    first_root = _check_hash(first_root, "consistency proof: first root")
    second_root = _check_hash(second_root, "consistency proof: second root")
    hashes = _check_path(path, "consistency proof:")
    if first > second:
        raise VerificationError(
            f"consistency proof: first size {first} is larger than second size {second}"
        )
    if first == second:
        if hashes:
            raise VerificationError(
                f"consistency proof: path must be empty for equal sizes, has {len(hashes)} hashes"
            )
        if not hmac.compare_digest(first_root, second_root):
            raise VerificationError(
                f"consistency proof: two different roots for the same tree size {first} "
                f"({_short(first_root)} and {_short(second_root)})"
            )
        return
    if first == 0:
        if hashes:
            raise VerificationError(
                f"consistency proof: path must be empty from the empty tree, has {len(hashes)} "
                "hashes"
            )
        if not hmac.compare_digest(first_root, EMPTY_ROOT):
            raise VerificationError(
                "consistency proof: the root given for tree size 0 is not the empty tree's hash"
            )
        return
    fr, sr = roots_from_consistency(first, second, first_root, hashes)
    if not hmac.compare_digest(fr, first_root):
        raise VerificationError(
            f"consistency proof: the proof does not lead to the root of tree size {first} "
            f"(computed {_short(fr)}, signed {_short(first_root)}): the first tree is not a "
            "prefix of the second"
        )
    if not hmac.compare_digest(sr, second_root):
        raise VerificationError(
            f"consistency proof: the proof does not lead to the root of tree size {second} "
            f"(computed {_short(sr)}, signed {_short(second_root)})"
        )
