"""The Merkle tree of the event log, hashed as RFC 9162 §2.1 says.

``leaf_hash(d) = SHA-256(0x00 ‖ d)`` and ``node_hash(l, r) = SHA-256(0x01 ‖ l ‖ r)``. The tree of
``n`` leaves splits at ``k``, the largest power of two smaller than ``n``; the empty tree's hash is
``SHA-256()``.

:class:`MerkleTree` keeps the hash of every *perfect* subtree it has completed, level by level:
``level[h]`` holds, one 32-byte hash after the other, the subtree of ``2**h`` leaves starting at
leaf ``j * 2**h`` for ``j = 0, 1, ...``. An append adds one leaf hash and, on average, one node
hash. The root of any size ``s`` up to the current one is the fold of the perfect subtrees given by
the bits of ``s``, and every hash an inclusion or a consistency proof needs is either stored or made
of O(log n) stored hashes: proofs cost O(log n) hashes, never a pass over the leaves.

The tree has one writer: callers serialise appends. Stored hashes never change once written, so a
proof for a size already reached stays the same whatever is appended later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from accord.errors import InvalidInput

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root hash of the empty tree, ``SHA-256()`` (RFC 9162 §2.1.1)."""

_sha256 = hashlib.sha256
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 ‖ data)``: the hash of one leaf."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)``: the hash of an interior node."""
    return _sha256(_NODE + left + right).digest()


class MerkleTree:
    """An append-only RFC 9162 Merkle tree with the roots and proofs of every size it has had.

    Leaves are numbered from 0. ``append`` takes the leaf itself (the 32-byte event commitment in
    Accord) and hashes it; ``append_leaf_hash`` and ``from_leaf_hashes`` take leaf hashes, for
    rebuilding a tree from storage.
    """

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        # _levels[h] is a bytearray of concatenated 32-byte hashes of the perfect subtrees of
        # height h, left to right. _levels[0] are the leaf hashes.
        self._levels: list[bytearray] = [bytearray()]

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> MerkleTree:
        """A tree holding the given leaf hashes, in order (each 32 bytes): a restart from storage.

        Costs one node hash per leaf, level by level (about 1 s for 10**6 leaves here).
        """
        items = hashes if isinstance(hashes, list) else list(hashes)
        try:
            level0 = bytearray(b"".join(items))
        except TypeError as exc:
            raise InvalidInput("leaf_hashes", f"must be bytes: {exc}") from exc
        if len(level0) != HASH_SIZE * len(items):
            i, h = next((i, h) for i, h in enumerate(items) if len(h) != HASH_SIZE)
            raise InvalidInput(f"leaf_hashes[{i}]", f"must be {HASH_SIZE} bytes, not {len(h)}")
        tree = cls()
        tree._levels = [level0]
        lower = level0
        sha, node, pair = _sha256, _NODE, 2 * HASH_SIZE
        while len(lower) >= pair:
            upper = bytearray(
                b"".join(
                    [
                        sha(node + lower[j : j + pair]).digest()
                        for j in range(0, len(lower) - pair + 1, pair)
                    ]
                )
            )
            tree._levels.append(upper)
            lower = upper
        return tree

    def append(self, leaf: bytes) -> int:
        """Append one leaf (hashed here with :func:`leaf_hash`); return its index."""
        levels = self._levels
        level = levels[0]
        level += _sha256(_LEAF + leaf).digest()
        index = len(level) // HASH_SIZE - 1
        height = 0
        # While the level holds an even number of hashes, its last two complete a parent.
        while not len(level) & HASH_SIZE:
            node = _sha256(_NODE + level[-2 * HASH_SIZE :]).digest()
            height += 1
            if height == len(levels):
                levels.append(bytearray())
            level = levels[height]
            level += node
        return index

    def append_leaf_hash(self, h: bytes) -> int:
        """Append one leaf given by its hash; return its index."""
        if len(h) != HASH_SIZE:
            raise InvalidInput("leaf_hash", f"must be {HASH_SIZE} bytes, not {len(h)}")
        levels = self._levels
        level = levels[0]
        level += h
        index = len(level) // HASH_SIZE - 1
        height = 0
        # While the level holds an even number of hashes, its last two complete a parent.
        while not len(level) & HASH_SIZE:
            h = _sha256(_NODE + level[-2 * HASH_SIZE :]).digest()
            height += 1
            if height == len(levels):
                levels.append(bytearray())
            level = levels[height]
            level += h
        return index

    def append_many(self, leaves: Iterable[bytes]) -> range:
        """Append leaves in order (each hashed with :func:`leaf_hash`); return their indexes."""
        start = self.size
        levels = self._levels
        sha = _sha256
        for leaf in leaves:
            level = levels[0]
            level += sha(_LEAF + leaf).digest()
            height = 0
            while not len(level) & HASH_SIZE:
                node = sha(_NODE + level[-2 * HASH_SIZE :]).digest()
                height += 1
                if height == len(levels):
                    levels.append(bytearray())
                level = levels[height]
                level += node
        return range(start, self.size)

    # -- reading -------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    def leaf_hash_at(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        self._check_index(index, self.size, "index")
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the tree of the first ``size`` leaves (default: all of them)."""
        size = self._check_size(size, "tree_size")
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The RFC 9162 inclusion path of leaf ``index`` in the tree of ``size`` leaves:
        ``PATH(index, D[0:size])`` (§2.1.3.1), from the leaf's sibling up to the root's child."""
        size = self._check_size(size, "tree_size")
        self._check_index(index, size, "index")
        return self._path(0, index, size)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """The RFC 9162 consistency proof between the trees of ``first`` and ``second`` leaves:
        ``PROOF(first, D[0:second])`` (§2.1.4.1); empty when ``first`` is 0 or ``second``.

        With ``first = a * 2**h`` (``a`` odd), the first tree ends with the perfect subtree node
        ``a - 1`` of height ``h``. The proof is that node's hash (left out when it is the whole
        first tree, ``a == 1``), then the hashes that lead from it to the root of ``second``.
        """
        second = self._check_size(second, "second")
        if not 0 <= first <= second:
            raise InvalidInput("first", f"must be between 0 and second ({second}), not {first}")
        if first in (0, second):
            return []
        height = (first & -first).bit_length() - 1
        node = (first >> height) - 1
        path = self._path(height, node, second)
        if node:
            j = node * HASH_SIZE
            path.insert(0, bytes(self._levels[height][j : j + HASH_SIZE]))
        return path

    # -- internals -----------------------------------------------------------------------------

    def _path(self, height: int, node: int, size: int) -> list[bytes]:
        """The sibling hashes from the perfect subtree node ``node`` of height ``height`` up to
        the root of the tree of ``size`` leaves, nearest first (RFC 9162's PATH, from a node).

        Below the level where ``node``'s ancestors meet the right edge of the tree, every level
        has a sibling: stored when complete, else the right edge's subtree ``[j << h, size)``
        (at most once, at the top of that stretch). On the right edge, a level has a sibling only
        where the ancestor is a right child, and that left sibling is complete.
        """
        levels = self._levels
        last = (size - 1) >> height
        inner = (node ^ last).bit_length()
        path: list[bytes] = []
        for d in range(inner):
            h = height + d
            sibling = (node >> d) ^ 1
            if (sibling + 1) << h <= size:
                j = sibling * HASH_SIZE
                path.append(bytes(levels[h][j : j + HASH_SIZE]))
            else:
                path.append(self._range_hash(sibling << h, size))
        for d in range(inner, last.bit_length()):
            ancestor = node >> d
            if ancestor & 1:
                j = (ancestor - 1) * HASH_SIZE
                path.append(bytes(levels[height + d][j : j + HASH_SIZE]))
        return path

    def _check_size(self, size: int | None, field: str) -> int:
        current = self.size
        if size is None:
            return current
        if not 0 <= size <= current:
            raise InvalidInput(field, f"must be between 0 and the tree size {current}, not {size}")
        return size

    @staticmethod
    def _check_index(index: int, size: int, field: str) -> None:
        if not 0 <= index < size:
            raise InvalidInput(
                field, f"must be at least 0 and below the tree size {size}, not {index}"
            )

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)``, where ``start`` is a multiple of the power of two
        ``>= end - start`` rounded down (true of every subtree RFC 9162's recursion visits).

        The range splits, left to right, into the perfect subtrees given by the bits of its width;
        each is stored, and the fold runs right to left as the RFC's recursion does.
        """
        width = end - start
        if width & (width - 1) == 0:  # a perfect subtree (or nothing): stored as is
            if width == 0:
                return EMPTY_ROOT
            height = width.bit_length() - 1
            j = (start >> height) * HASH_SIZE
            return bytes(self._levels[height][j : j + HASH_SIZE])
        parts: list[bytes] = []
        pos = start
        while width:
            height = width.bit_length() - 1
            j = (pos >> height) * HASH_SIZE
            parts.append(bytes(self._levels[height][j : j + HASH_SIZE]))
            pos += 1 << height
            width ^= 1 << height
        acc = parts.pop()
        while parts:
            acc = _sha256(_NODE + parts.pop() + acc).digest()
        return acc
