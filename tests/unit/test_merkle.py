"""The Merkle tree and proof verification, held to oracles nobody here wrote.

- Published vectors: the RFC 6962 / RFC 9162 test tree of transparency-dev/merkle
  (``testonly/constants.go`` and ``proof/verify_test.go``): its eight leaf inputs, the root of every
  size, and its inclusion and consistency proofs.
- RFC 9162 §2.1.1-§2.1.4 written plainly below (MTH, PATH, PROOF/SUBPROOF), hashing with hashlib
  directly, over every size 1..300 and every index, and random sizes up to a few thousand.
- pymerkle (an independent implementation, installed from PyPI): same roots and inclusion paths for
  every size and index. Its consistency proofs decompose the tree differently from RFC 9162 (see
  ``_rfc_path_from_pymerkle``); they are converted exactly and then compared.
- Corruption probes after transparency-dev's ``corruptInclusionProof`` and
  ``corruptConsistencyProof``, and hypothesis over random sizes and single-byte flips.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree
from pymerkle import verify_consistency as pymerkle_verify_consistency
from pymerkle import verify_inclusion as pymerkle_verify_inclusion
from pymerkle.hasher import MerkleHasher

from accord.errors import InvalidInput, VerificationError
from accord.ledger.merkle import EMPTY_ROOT, MerkleTree, leaf_hash, node_hash
from accord.ledger.proofs import (
    root_from_inclusion,
    roots_from_consistency,
    verify_consistency,
    verify_inclusion,
)

# -- RFC 9162 §2.1, written plainly -------------------------------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1), as RFC 9162 §2.1.1 defines the split."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Rfc9162:
    """MTH, PATH and PROOF of RFC 9162 §2.1.1-§2.1.4 over the inputs ``d``; ``D[lo:hi]`` is named
    by its bounds so MTH can be memoised (all sizes 1..300 with every index stay quick)."""

    def __init__(self, d: list[bytes]) -> None:
        self.d = d
        self._mth: dict[tuple[int, int], bytes] = {}

    def mth(self, lo: int, hi: int) -> bytes:
        key = (lo, hi)
        if key not in self._mth:
            n = hi - lo
            if n == 0:
                value = _sha256(b"")
            elif n == 1:
                value = _sha256(b"\x00" + self.d[lo])
            else:
                k = _k(n)
                value = _sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))
            self._mth[key] = value
        return self._mth[key]

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi]), ``m`` counted from ``lo``."""
        n = hi - lo
        if n == 1:
            return []
        k = _k(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true), for 0 < m < n."""
        return self.subproof(m, 0, n, True)

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = _k(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]


def _inputs(n: int, seed: int) -> list[bytes]:
    """``n`` distinct inputs of varied lengths (distinct, so no two leaves share a hash)."""
    rng = random.Random(seed)
    return [i.to_bytes(4, "big") + rng.randbytes(rng.randrange(0, 44)) for i in range(n)]


@cache
def _big() -> tuple[MerkleTree, Rfc9162]:
    d = _inputs(4000, seed=9162)
    tree = MerkleTree()
    tree.append_many(d)
    return tree, Rfc9162(d)


# -- published vectors (transparency-dev/merkle) ------------------------------------------------

CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
_H = {
    "96a2": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f08": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47": "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    "bc1a": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca85": "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37e": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "fac5": "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "6e34": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "0ebc": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "b086": "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
}
# (leaf index counted from 0, tree size, path); transparency-dev counts leaves from 1.
CT_INCLUSION = [
    (0, 8, ["96a2", "5f08", "6b47"]),
    (5, 8, ["bc1a", "ca85", "d37e"]),
    (2, 3, ["fac5"]),
    (1, 5, ["6e34", "5f08", "bc1a"]),
]
CT_CONSISTENCY = [
    (1, 8, ["96a2", "5f08", "6b47"]),
    (6, 8, ["0ebc", "ca85", "d37e"]),
    (2, 5, ["5f08", "bc1a"]),
    (6, 7, ["0ebc", "b086", "d37e"]),
]


def _ct_tree() -> MerkleTree:
    tree = MerkleTree()
    for leaf in CT_LEAVES:
        tree.append(leaf)
    return tree


def test_published_roots_of_every_size() -> None:
    tree = _ct_tree()
    assert CT_ROOTS[0] == EMPTY_ROOT
    assert [tree.root(n) for n in range(9)] == CT_ROOTS


@pytest.mark.parametrize(("index", "size", "names"), CT_INCLUSION)
def test_published_inclusion_proofs(index: int, size: int, names: list[str]) -> None:
    tree = _ct_tree()
    expected = [bytes.fromhex(_H[n]) for n in names]
    assert tree.inclusion_proof(index, size) == expected
    verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, expected, CT_ROOTS[size])


@pytest.mark.parametrize(("first", "second", "names"), CT_CONSISTENCY)
def test_published_consistency_proofs(first: int, second: int, names: list[str]) -> None:
    tree = _ct_tree()
    expected = [bytes.fromhex(_H[n]) for n in names]
    assert tree.consistency_proof(first, second) == expected
    verify_consistency(first, second, CT_ROOTS[first], CT_ROOTS[second], expected)


def test_hash_functions_use_the_rfc_prefixes() -> None:
    assert leaf_hash(b"") == CT_ROOTS[1]
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")) == CT_ROOTS[2]


# -- RFC 9162 definitions, every size 1..300 ----------------------------------------------------


def test_roots_match_mth_after_every_append() -> None:
    d = _inputs(300, seed=1)
    ref = Rfc9162(d)
    tree = MerkleTree()
    assert tree.root() == ref.mth(0, 0)
    for n, leaf in enumerate(d, start=1):
        assert tree.append(leaf) == n - 1
        assert tree.size == n
        assert tree.root() == ref.mth(0, n), n
    for n in range(301):
        assert tree.root(n) == ref.mth(0, n), n
    assert [tree.leaf_hash_at(i) for i in range(300)] == [ref.mth(i, i + 1) for i in range(300)]


def test_inclusion_proofs_match_path_for_every_size_and_index() -> None:
    d = _inputs(300, seed=2)
    ref = Rfc9162(d)
    tree = MerkleTree()
    tree.append_many(d)
    for n in range(1, 301):
        root = ref.mth(0, n)
        for m in range(n):
            path = tree.inclusion_proof(m, n)
            assert path == ref.path(m, 0, n), (m, n)
            verify_inclusion(ref.mth(m, m + 1), m, n, path, root)


def test_consistency_proofs_match_proof_for_every_pair_of_sizes() -> None:
    d = _inputs(300, seed=3)
    ref = Rfc9162(d)
    tree = MerkleTree()
    tree.append_many(d)
    for n in range(1, 301):
        root = ref.mth(0, n)
        assert tree.consistency_proof(0, n) == []
        assert tree.consistency_proof(n, n) == []
        verify_consistency(0, n, EMPTY_ROOT, root, [])
        verify_consistency(n, n, root, root, [])
        for m in range(1, n):
            path = tree.consistency_proof(m, n)
            assert path == ref.proof(m, n), (m, n)
            verify_consistency(m, n, ref.mth(0, m), root, path)


def test_random_large_sizes_match_the_definitions() -> None:
    tree, ref = _big()
    rng = random.Random(42)
    for _ in range(60):
        n = rng.randrange(1, tree.size + 1)
        m = rng.randrange(0, n)
        assert tree.root(n) == ref.mth(0, n)
        assert tree.inclusion_proof(m, n) == ref.path(m, 0, n)
        if m:
            assert tree.consistency_proof(m, n) == ref.proof(m, n)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 9, 255, 256, 257, 1000])
def test_rebuilding_from_leaf_hashes_gives_the_same_tree(n: int) -> None:
    d = _inputs(n + 5, seed=n)
    grown = MerkleTree()
    grown.append_many(d[:n])
    rebuilt = MerkleTree.from_leaf_hashes(grown.leaf_hash_at(i) for i in range(n))
    assert rebuilt.size == n
    assert [rebuilt.root(s) for s in range(n + 1)] == [grown.root(s) for s in range(n + 1)]
    for m in range(0, n, max(1, n // 17)):
        assert rebuilt.inclusion_proof(m) == grown.inclusion_proof(m)
        assert rebuilt.consistency_proof(m) == grown.consistency_proof(m)
    # And it keeps growing as the original does.
    for leaf in d[n:]:
        assert rebuilt.append(leaf) == grown.append(leaf)
        assert rebuilt.root() == grown.root()


def test_append_many_returns_the_indexes_and_matches_append() -> None:
    d = _inputs(100, seed=5)
    one = MerkleTree()
    for leaf in d:
        one.append(leaf)
    many = MerkleTree()
    assert many.append_many(d[:40]) == range(0, 40)
    assert many.append_many(iter(d[40:])) == range(40, 100)
    assert many.append_many([]) == range(100, 100)
    assert len(many) == 100
    assert [many.root(s) for s in range(101)] == [one.root(s) for s in range(101)]


def test_append_leaf_hash_matches_append() -> None:
    a, b = MerkleTree(), MerkleTree()
    for leaf in _inputs(33, seed=6):
        assert a.append(leaf) == b.append_leaf_hash(leaf_hash(leaf))
    assert a.root() == b.root()


# -- bad requests to the tree --------------------------------------------------------------------


def test_requests_outside_the_tree_name_the_field() -> None:
    tree = MerkleTree()
    tree.append_many(_inputs(5, seed=7))
    with pytest.raises(InvalidInput, match="index: must be at least 0 and below the tree size 5"):
        tree.inclusion_proof(5)
    with pytest.raises(InvalidInput, match=r"index: .*below the tree size 3, not 3"):
        tree.inclusion_proof(3, 3)
    with pytest.raises(InvalidInput, match=r"index: .* not -1"):
        tree.inclusion_proof(-1, 3)
    with pytest.raises(InvalidInput, match="tree_size: must be between 0 and the tree size 5"):
        tree.inclusion_proof(0, 6)
    with pytest.raises(InvalidInput, match="tree_size"):
        tree.root(6)
    with pytest.raises(InvalidInput, match="second: must be between 0 and the tree size 5"):
        tree.consistency_proof(1, 6)
    with pytest.raises(InvalidInput, match=r"first: must be between 0 and second \(3\), not 4"):
        tree.consistency_proof(4, 3)
    with pytest.raises(InvalidInput, match="index"):
        tree.leaf_hash_at(5)
    with pytest.raises(InvalidInput, match="leaf_hash: must be 32 bytes, not 31"):
        tree.append_leaf_hash(b"\x00" * 31)
    with pytest.raises(InvalidInput, match=r"leaf_hashes\[1\]: must be 32 bytes"):
        MerkleTree.from_leaf_hashes([b"\x00" * 32, b"\x00" * 33])
    with pytest.raises(InvalidInput, match="leaf_hashes: must be bytes"):
        MerkleTree.from_leaf_hashes(["00" * 32])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="index"):
        MerkleTree().inclusion_proof(0)


# -- pymerkle, an independent implementation ----------------------------------------------------

_PM_HASHER = MerkleHasher("sha256")  # security on: RFC 9162's 0x00 / 0x01 prefixes


def _pymerkle_tree(d: list[bytes]) -> InmemoryTree:
    pm = InmemoryTree(algorithm="sha256")  # disable_security stays False: RFC prefixes
    for leaf in d:
        pm.append_entry(leaf)
    return pm


def _rfc_path_from_pymerkle(pm: InmemoryTree, first: int, second: int) -> list[bytes]:
    """RFC 9162's PROOF(first, D[second]) from pymerkle's consistency proof.

    Both descend from the root the same way except where the first tree's size equals the left
    subtree's: RFC 9162 goes left (``m <= k``) and takes the right subtree's MTH whole; pymerkle
    goes right (``prior_width < k`` fails) and spells that right subtree out as its first leaf plus
    the right siblings on the way down, marking the left subtree (the first tree's last node) with
    subset bit 1. It also always includes that node, where RFC 9162 omits it when it is the whole
    first tree (``first`` a power of two). So: fold the hashes before the first subset bit 1
    (right siblings, each combined on the right), put the node before them unless ``first`` is a
    power of two, and keep the rest, which is the same in both.
    """
    proof = pm.prove_consistency(first, second)
    j = proof.subset.index(1)
    assert proof.subset[:j] == [0] * j
    acc = proof.path[0]
    for sibling in proof.path[1:j]:
        acc = _PM_HASHER.hash_pair(acc, sibling)
    node = [] if first & (first - 1) == 0 else [proof.path[j]]
    return [*node, acc, *proof.path[j + 1 :]]


def test_pymerkle_agrees_on_roots_and_inclusion_paths() -> None:
    d = _inputs(160, seed=8)
    pm = _pymerkle_tree(d)
    tree = MerkleTree()
    tree.append_many(d)
    for n in range(1, 161):
        root = pm.get_root(n)
        assert tree.root(n) == root, n
        for m in range(n):
            proof = pm.prove_inclusion(m + 1, n)  # pymerkle counts leaves from 1
            # pymerkle's path starts with the leaf hash itself, then RFC 9162's path.
            assert proof.path[0] == tree.leaf_hash_at(m)
            assert tree.inclusion_proof(m, n) == proof.path[1:], (m, n)
            pymerkle_verify_inclusion(tree.leaf_hash_at(m), tree.root(n), proof)


def test_pymerkle_agrees_on_consistency_proofs() -> None:
    d = _inputs(130, seed=9)
    pm = _pymerkle_tree(d)
    tree = MerkleTree()
    tree.append_many(d)
    for n in range(2, 131):
        for m in range(1, n):
            assert tree.consistency_proof(m, n) == _rfc_path_from_pymerkle(pm, m, n), (m, n)
            # pymerkle's own verifier accepts the pair of roots our tree gives.
            pymerkle_verify_consistency(
                tree.root(m), tree.root(n), pm.prove_consistency(m, n), m, n
            )


# -- verification rejects what it must ----------------------------------------------------------

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _inclusion_probes(
    index: int, size: int, leaf: bytes, path: list[bytes], root: bytes
) -> list[tuple[str, Callable[[], None]]]:
    def probe(i: int, s: int, lf: bytes, p: list[bytes], r: bytes) -> Callable[[], None]:
        return lambda: verify_inclusion(lf, i, s, p, r)

    probes = [
        ("index - 1", probe(index - 1, size, leaf, path, root)),
        ("index + 1", probe(index + 1, size, leaf, path, root)),
        ("index ^ 2", probe(index ^ 2, size, leaf, path, root)),
        ("size * 2", probe(index, size * 2, leaf, path, root)),
        ("size // 2", probe(index, size // 2, leaf, path, root)),
        ("wrong leaf", probe(index, size, leaf_hash(b"WrongLeaf"), path, root)),
        ("empty root", probe(index, size, leaf, path, EMPTY_ROOT)),
        ("random root", probe(index, size, leaf, path, SOME_HASH)),
        ("trailing root", probe(index, size, leaf, [*path, root], root)),
        ("preceding root", probe(index, size, leaf, [root, *path], root)),
        ("trailing leaf", probe(index, size, leaf, [*path, leaf], root)),
    ]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((f"flipped path[{i}]", probe(index, size, leaf, flipped, root)))
    if path:
        probes.append(("removed component", probe(index, size, leaf, path[:-1], root)))
    if len(path) > 1:
        inserted = [path[0], SOME_HASH, *path[1:]]
        probes.append(("inserted component", probe(index, size, leaf, inserted, root)))
    return probes


def _consistency_probes(
    first: int, second: int, root1: bytes, root2: bytes, path: list[bytes]
) -> list[tuple[str, Callable[[], None]]]:
    def probe(m: int, n: int, r1: bytes, r2: bytes, p: list[bytes]) -> Callable[[], None]:
        return lambda: verify_consistency(m, n, r1, r2, p)

    probes = [
        ("first - 1", probe(first - 1, second, root1, root2, path)),
        ("first + 1", probe(first + 1, second, root1, root2, path)),
        ("first ^ 2", probe(first ^ 2, second, root1, root2, path)),
        ("second * 2", probe(first, second * 2, root1, root2, path)),
        ("second // 2", probe(first, second // 2, root1, root2, path)),
        ("wrong root1", probe(first, second, SOME_HASH, root2, path)),
        ("wrong root2", probe(first, second, root1, SOME_HASH, path)),
        ("swapped roots", probe(first, second, root2, root1, path)),
        ("empty proof", probe(first, second, root1, root2, [])),
        ("trailing root1", probe(first, second, root1, root2, [*path, root1])),
        ("trailing root2", probe(first, second, root1, root2, [*path, root2])),
        ("preceding root1", probe(first, second, root1, root2, [root1, *path])),
        ("preceding root2", probe(first, second, root1, root2, [root2, *path])),
        ("preceding path[0]", probe(first, second, root1, root2, [path[0], *path])),
        ("truncated proof", probe(first, second, root1, root2, path[:-1])),
    ]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((f"flipped path[{i}]", probe(first, second, root1, root2, flipped)))
    return probes


def test_corrupted_inclusion_proofs_are_rejected() -> None:
    tree, _ = _big()
    for size in range(1, 70):
        root = tree.root(size)
        for index in range(size):
            path = tree.inclusion_proof(index, size)
            leaf = tree.leaf_hash_at(index)
            for name, check in _inclusion_probes(index, size, leaf, path, root):
                with pytest.raises(VerificationError):
                    check()
                    pytest.fail(f"{name} verified for index {index}, size {size}")


def test_corrupted_consistency_proofs_are_rejected() -> None:
    tree, _ = _big()
    for second in range(2, 70):
        root2 = tree.root(second)
        for first in range(1, second):
            path = tree.consistency_proof(first, second)
            root1 = tree.root(first)
            for name, check in _consistency_probes(first, second, root1, root2, path):
                with pytest.raises(VerificationError):
                    check()
                    pytest.fail(f"{name} verified for sizes {first}, {second}")


def test_inclusion_failures_say_what_failed() -> None:
    tree, _ = _big()
    leaf, path, root = tree.leaf_hash_at(5), tree.inclusion_proof(5, 13), tree.root(13)
    with pytest.raises(VerificationError, match="index 13 is not below tree size 13"):
        verify_inclusion(leaf, 13, 13, path, root)
    with pytest.raises(VerificationError, match="index 0 is not below tree size 0"):
        verify_inclusion(leaf, 0, 0, [], EMPTY_ROOT)
    with pytest.raises(VerificationError, match=r"path too short: 3 hashes .* needs 4"):
        verify_inclusion(leaf, 5, 13, path[:-1], root)
    with pytest.raises(VerificationError, match=r"path too long: 5 hashes .* needs 4"):
        verify_inclusion(leaf, 5, 13, [*path, root], root)
    with pytest.raises(VerificationError, match="leaf 5 does not lead to the root of tree size 13"):
        verify_inclusion(leaf_hash(b"x"), 5, 13, path, root)
    with pytest.raises(VerificationError, match=r"path\[1\] is not a 32-byte hash"):
        verify_inclusion(leaf, 5, 13, [path[0], path[1][:31], *path[2:]], root)
    with pytest.raises(VerificationError, match="root hash is not a 32-byte hash"):
        verify_inclusion(leaf, 5, 13, path, root.hex().encode())
    with pytest.raises(VerificationError, match="index must be a non-negative integer"):
        verify_inclusion(leaf, -1, 13, path, root)
    assert root_from_inclusion(leaf, 5, 13, path) == root


def test_consistency_failures_say_what_failed() -> None:
    tree, _ = _big()
    r5, r13 = tree.root(5), tree.root(13)
    path = tree.consistency_proof(5, 13)
    with pytest.raises(VerificationError, match="first size 13 is larger than second size 5"):
        verify_consistency(13, 5, r13, r5, [])
    with pytest.raises(VerificationError, match="two different roots for the same tree size 5"):
        verify_consistency(5, 5, r5, tree.root(4), [])
    with pytest.raises(VerificationError, match="path must be empty for equal sizes"):
        verify_consistency(5, 5, r5, r5, path)
    with pytest.raises(VerificationError, match="root given for tree size 0 is not the empty"):
        verify_consistency(0, 5, r5, r5, [])
    with pytest.raises(VerificationError, match="path must be empty from the empty tree"):
        verify_consistency(0, 5, EMPTY_ROOT, r5, path)
    with pytest.raises(VerificationError, match="path too short: 0 hashes"):
        verify_consistency(5, 13, r5, r13, [])
    with pytest.raises(VerificationError, match="path too long"):
        verify_consistency(5, 13, r5, r13, [*path, r5])
    with pytest.raises(VerificationError, match="does not lead to the root of tree size 5"):
        verify_consistency(5, 13, tree.root(4), r13, path)
    with pytest.raises(VerificationError, match="does not lead to the root of tree size 13"):
        verify_consistency(5, 13, r5, tree.root(12), path)
    with pytest.raises(VerificationError, match="0 < first < second"):
        roots_from_consistency(5, 5, r5, [])
    assert roots_from_consistency(5, 13, r5, path) == (r5, r13)


# -- hypothesis ----------------------------------------------------------------------------------

_SIZES = st.integers(min_value=1, max_value=4000)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=_SIZES)
def test_any_consistency_proof_verifies(data: st.DataObject, n: int) -> None:
    tree, _ = _big()
    m = data.draw(st.integers(min_value=0, max_value=n), label="m")
    verify_consistency(m, n, tree.root(m), tree.root(n), tree.consistency_proof(m, n))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=_SIZES)
def test_any_inclusion_proof_verifies(data: st.DataObject, n: int) -> None:
    tree, _ = _big()
    m = data.draw(st.integers(min_value=0, max_value=n - 1), label="index")
    verify_inclusion(tree.leaf_hash_at(m), m, n, tree.inclusion_proof(m, n), tree.root(n))


def _flip(path: list[bytes], data: st.DataObject) -> list[bytes]:
    i = data.draw(st.integers(min_value=0, max_value=len(path) - 1), label="element")
    b = data.draw(st.integers(min_value=0, max_value=31), label="byte")
    x = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    flipped = bytearray(path[i])
    flipped[b] ^= x
    return [*path[:i], bytes(flipped), *path[i + 1 :]]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(min_value=2, max_value=4000))
def test_any_byte_flip_in_an_inclusion_proof_fails(data: st.DataObject, n: int) -> None:
    tree, _ = _big()
    m = data.draw(st.integers(min_value=0, max_value=n - 1), label="index")
    path = _flip(tree.inclusion_proof(m, n), data)
    with pytest.raises(VerificationError, match="does not lead to the root"):
        verify_inclusion(tree.leaf_hash_at(m), m, n, path, tree.root(n))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(min_value=2, max_value=4000))
def test_any_byte_flip_in_a_consistency_proof_fails(data: st.DataObject, n: int) -> None:
    tree, _ = _big()
    m = data.draw(st.integers(min_value=1, max_value=n - 1), label="m")
    path = _flip(tree.consistency_proof(m, n), data)
    with pytest.raises(VerificationError, match="does not lead to the root"):
        verify_consistency(m, n, tree.root(m), tree.root(n), path)
