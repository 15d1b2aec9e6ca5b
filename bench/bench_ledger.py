"""Benchmarks of accord.ledger: appends, commitments, proofs, rebuild, signatures.

Run: ``PYTHONPATH=src .venv/bin/python bench/bench_ledger.py [--leaves 1000000] [--runs 3]``.
Prints the median of ``--runs`` runs for each figure (the results are kept in
docs/PERF-ledger.md).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable

from accord.ledger.commitment import commitment, new_salt
from accord.ledger.heads import Signer, sign_head, verify_head
from accord.ledger.merkle import MerkleTree, leaf_hash
from accord.ledger.proofs import verify_consistency, verify_inclusion

STAMP = "2026-11-22T10:15:00Z"


def _median(runs: int, once: Callable[[], float]) -> float:
    values = []
    for _ in range(runs):
        gc.collect()
        values.append(once())
    return statistics.median(values)


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f} /s   ({seconds * 1e6 / count:.2f} µs each)"


def _event(i: int) -> dict[str, object]:
    return {
        "log_index": i,
        "time": "2026-11-22T10:15:00.123456Z",
        "type": "presence_upserted",
        "party": "coalition",
        "presence": f"post-{i}",
        "version": 3,
        "location": {"type": "Point", "coordinates": [71.0917, 34.9183]},
        "uncertainty_m": 25,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    n, runs = args.leaves, args.runs
    print(f"accord.ledger benchmark: {n:,} leaves, median of {runs} runs")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    leaves = [random.randbytes(32) for _ in range(n)]

    # 1. append: leaf hash + tree update, one call per leaf.
    trees: list[MerkleTree] = []

    def append_once() -> float:
        tree = MerkleTree()
        append = tree.append
        t0 = time.perf_counter()
        for leaf in leaves:
            append(leaf)
        dt = time.perf_counter() - t0
        trees[:] = [tree]
        return dt

    print("append (leaf hash + tree update)      ", _rate(n, _median(runs, append_once)))

    def append_many_once() -> float:
        tree = MerkleTree()
        t0 = time.perf_counter()
        tree.append_many(leaves)
        return time.perf_counter() - t0

    print("append_many                           ", _rate(n, _median(runs, append_many_once)))

    hashed = [leaf_hash(leaf) for leaf in leaves]

    def append_hash_once() -> float:
        tree = MerkleTree()
        append = tree.append_leaf_hash
        t0 = time.perf_counter()
        for h in hashed:
            append(h)
        return time.perf_counter() - t0

    print("append_leaf_hash (tree update only)   ", _rate(n, _median(runs, append_hash_once)))
    tree = trees[0]

    tracemalloc.start()
    measured = MerkleTree()
    measured.append_many(leaves)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del measured
    print(f"tree memory at {n:,} leaves               {current / 1e6:>12.1f} MB")

    # 2. commitment (JCS of a small event + SHA-256) + append.
    m = min(n, 100_000)
    events = [_event(i) for i in range(m)]
    salts = [new_salt() for _ in range(m)]

    def commit_once() -> float:
        t = MerkleTree()
        append = t.append
        t0 = time.perf_counter()
        for salt, event in zip(salts, events, strict=True):
            append(commitment(salt, event))
        return time.perf_counter() - t0

    print("commitment (JCS) + append             ", _rate(m, _median(runs, commit_once)))

    # 3. inclusion proofs at full size, random indexes.
    k = 20_000
    rng = random.Random(1)
    size = tree.size
    root = tree.root()
    indexes = [rng.randrange(size) for _ in range(k)]
    proofs: list[list[bytes]] = []

    def inclusion_gen_once() -> float:
        t0 = time.perf_counter()
        out = [tree.inclusion_proof(i, size) for i in indexes]
        dt = time.perf_counter() - t0
        proofs[:] = out
        return dt

    print("inclusion proof generate              ", _rate(k, _median(runs, inclusion_gen_once)))
    leaf_hashes = [tree.leaf_hash_at(i) for i in indexes]

    def inclusion_verify_once() -> float:
        t0 = time.perf_counter()
        for i, h, p in zip(indexes, leaf_hashes, proofs, strict=True):
            verify_inclusion(h, i, size, p, root)
        return time.perf_counter() - t0

    print("inclusion proof verify                ", _rate(k, _median(runs, inclusion_verify_once)))

    # 4. consistency proofs between random earlier sizes and the full size.
    firsts = [rng.randrange(1, size) for _ in range(k)]
    first_roots: list[bytes] = []
    cproofs: list[list[bytes]] = []

    def root_once() -> float:
        t0 = time.perf_counter()
        out = [tree.root(f) for f in firsts]
        dt = time.perf_counter() - t0
        first_roots[:] = out
        return dt

    print("root of an earlier size               ", _rate(k, _median(runs, root_once)))

    def consistency_gen_once() -> float:
        t0 = time.perf_counter()
        out = [tree.consistency_proof(f, size) for f in firsts]
        dt = time.perf_counter() - t0
        cproofs[:] = out
        return dt

    print("consistency proof generate            ", _rate(k, _median(runs, consistency_gen_once)))

    def consistency_verify_once() -> float:
        t0 = time.perf_counter()
        for f, r, p in zip(firsts, first_roots, cproofs, strict=True):
            verify_consistency(f, size, r, root, p)
        return time.perf_counter() - t0

    print(
        "consistency proof verify              ", _rate(k, _median(runs, consistency_verify_once))
    )

    # 5. rebuild from the stored leaf hashes (a restart).
    all_hashes = [tree.leaf_hash_at(i) for i in range(size)]

    def rebuild_once() -> float:
        t0 = time.perf_counter()
        rebuilt = MerkleTree.from_leaf_hashes(all_hashes)
        dt = time.perf_counter() - t0
        assert rebuilt.root() == root
        return dt

    print(f"rebuild from {size:,} leaf hashes        {_median(runs, rebuild_once):>12.3f} s")

    # 6. Ed25519 signed tree heads.
    signer = Signer.from_seed(bytes(range(32)))
    h = 5_000
    heads: list[dict[str, object]] = []

    def sign_once() -> float:
        t0 = time.perf_counter()
        out = [sign_head(signer, size, root, STAMP).to_json() for _ in range(h)]
        dt = time.perf_counter() - t0
        heads[:] = out
        return dt

    print("sign_head (JCS + Ed25519) + to_json   ", _rate(h, _median(runs, sign_once)))

    def raw_sign_once() -> float:
        msg = b'{"root_hash":"' + root.hex().encode() + b'","timestamp":"x","tree_size":1}'
        t0 = time.perf_counter()
        for _ in range(h):
            signer.sign(msg)
        return time.perf_counter() - t0

    print("Ed25519 sign (raw)                    ", _rate(h, _median(runs, raw_sign_once)))

    def verify_head_once() -> float:
        t0 = time.perf_counter()
        for d in heads:
            verify_head(d, signer.public_key)
        return time.perf_counter() - t0

    print("verify_head (parse + JCS + Ed25519)   ", _rate(h, _median(runs, verify_head_once)))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
