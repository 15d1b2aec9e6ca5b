"""Instructions per applied position update, for comparing two versions on a machine too loaded
for timings.

Builds bench_core's update state (``--units`` units, ``--clearances`` open clearances among them),
then applies BATCHES batches of ``--batch`` steps of a few metres (decide, which recomputes the
affected verdicts, and evolve), as ``bench_core.bench_updates`` does. Run it under callgrind with
two numbers of batches; the difference over their difference x batch is the instructions of one
update, the build cancelling out:

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/count_updates.py 50 2>&1 | grep Collected
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/count_updates.py 250 2>&1 | grep Collected

Results: docs/PERF-core.md.
"""

from __future__ import annotations

import argparse
import random
from datetime import timedelta

import bench.bench_core as bc

from accord.core.decide import decide, evolve


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("batches", type=int)
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--clearances", type=int, default=500)
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args()
    rng = random.Random(7)
    state = bc.updates_state(args.units, args.clearances, rng)
    for b in range(args.batches):
        now = bc.T0 + timedelta(seconds=0.01 * (b + 1))
        for e in decide(state, bc.step_command(state, args.units, args.batch, now, rng), now):
            evolve(state, e)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
