"""Snapshot of a state with many clearances, each listing many reasons (printed, never asserted).

Builds, in process, N sites scattered over a square of ``2 * span`` degrees around 34.9N 71E and
C clearance requests (a 300 m disc, hazard 1 km) among them, each naming every site it meets as
a reason; then times ``to_snapshot`` once and ``from_snapshot`` ``--repeat`` times with the
cyclic collector off (as the service restores), and prints the snapshot's size. The request
budget (R14) is lifted, as ``serve --request-budget 0`` does.

    PYTHONPATH=src:. .venv/bin/python bench/bench_snapshot.py --n 1000000 --clearances 6000
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time

from bench import bench_core
from bench.bench_core import T0, build, request_command

from accord.core.decide import decide, evolve
from accord.core.model import ProbePolicy
from accord.core.state import from_snapshot, to_snapshot


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000, help="sites")
    ap.add_argument("--clearances", type=int, default=3000)
    ap.add_argument("--span", type=float, default=1.0, help="half the square's side, degrees")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bench_core.SPAN = args.span  # bench_core scatters the sites over its SPAN
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  load average {_load()}")
    rng = random.Random(1)
    state = build(args.n, 0, rng)
    state.policy = ProbePolicy(0, 0)
    for i in range(args.clearances):
        for e in decide(state, request_command(i, T0, 1000, rng), T0):
            evolve(state, e)
    reasons = sum(len(c.reasons) for c in state.clearances.values())
    print(f"{args.n} sites, {args.clearances} clearances, {reasons} reasons")
    t = time.perf_counter()
    data = to_snapshot(state)
    print(f"to_snapshot {time.perf_counter() - t:.2f} s, {len(data) / 1e6:.1f} MB")
    gc.disable()
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        from_snapshot(data)
        times.append(time.perf_counter() - t)
    print(
        f"from_snapshot (gc off) median of {args.repeat}: {statistics.median(times):.2f} s "
        f"({', '.join(f'{x:.2f}' for x in times)}); load average {_load()}"
    )


if __name__ == "__main__":
    main()
