"""Instructions per verdict, for comparing two versions on a machine too loaded for timings.

Builds ``--sites`` sites and ``--units`` units (30 m/s) over a square of ``--span`` degrees
around 34.9N 71E (bench_core's state), then judges ``--requests`` random clearances (a disc of
100-500 m, ``--hazard`` metres, the window starting ``--ahead`` seconds from now) ``ROUNDS``
times. Run it under callgrind with 0 and with 2 rounds; the difference over 2 x requests is the
instructions of one verdict, the build cancelling out:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/count_verdict.py 0 --ahead 60 2>&1 | grep Collected
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/count_verdict.py 2 --ahead 60 2>&1 | grep Collected

``--statuses`` prints how many verdicts come out clear and in conflict (not under callgrind: it
judges them once more). Results: docs/PERF-core.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys

import bench.bench_core as bc

from accord.core.verdict import Scratch, evaluate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rounds", type=int)
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--units", type=int, default=1_000)
    ap.add_argument("--span", type=float, default=1.0, help="half the square's side, degrees")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--hazard", type=float, default=100.0)
    ap.add_argument("--ahead", type=float, default=0.0)
    ap.add_argument("--statuses", action="store_true")
    args = ap.parse_args()
    bc.SPAN = args.span
    rng = random.Random(7)
    state = bc.build(args.sites, args.units, rng)
    now = bc.T0.timestamp() + 30
    requests = [
        dataclasses.replace(c, window_start=now + args.ahead, hazard_m=args.hazard)
        for c in (bc.random_clearance(f"b{i}", now, rng) for i in range(args.requests))
    ]
    for _ in range(args.rounds):
        for c in requests:
            evaluate(Scratch(state), c, now)
    if args.statuses:
        statuses: dict[str, int] = {}
        for c in requests:
            status = evaluate(Scratch(state), c, now).status
            statuses[status] = statuses.get(status, 0) + 1
        print(statuses, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
