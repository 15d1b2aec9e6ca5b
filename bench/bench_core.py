"""Benchmarks of the core's hot paths (printed, never asserted). Results: docs/PERF-core.md.

    PYTHONPATH=src .venv/bin/python bench/bench_core.py [--sizes 100000,1000000] [--requests 2000]
        [--units 100000] [--clearances 500] [--span 5.0] [--no-freeze]
    PYTHONPATH=src .venv/bin/python bench/bench_core.py --stale 300,3600 [--units 100000]
        [--stale-requests 200]

1. verdict latency: one clearance request (a disc of 100-500 m, hazard 0-2 km) judged against N
   sites (points with 10-100 m uncertainty scattered uniformly over a 10 x 10 degree region around
   34.9N 71E, i.e. about 1,000 km x 1,100 km) -- the full rules R1-R9 through the indexes;
2. position updates: batches of UpdatePositions for 10^5 units moving a few metres, with 500 open
   clearances among them, decide (which recomputes the affected verdicts) + evolve, per second.
   ``--span`` narrows the region (half its side, in degrees): ``--units 1000 --clearances 600
   --span 1`` is a busy cell, where most moves touch an open clearance. The request budget (R14)
   is lifted for the clearances, as ``serve --request-budget 0`` does: a benchmark is no probe.
3. ``--stale AGES`` (instead of 1 and 2): the verdict latency of requests as in 1, against
   ``--units`` units (30 m/s, 20 m, fixed at T0, scattered as the sites) judged AGES seconds later,
   when no unit has reported for that long: every track is stale after 166 s (R6), and a unit's
   grown disc is then 30 m/s x age across. The first verdict of each age is timed on its own (it
   moves the stale units up their bands, accord.core.stale), and the number of unit reasons per
   verdict is given (the output a verdict cannot avoid).

Each figure is given as wall-clock time and as the CPU time of this thread (``time.thread_time``),
which other processes on a shared machine inflate less. The state is built by ``evolve`` with the
garbage collector paused (it would walk the growing heap again and again: 4x the build time at
2 x 10^5), then the built objects are moved out of its sight with ``gc.freeze()``, as a service
does after loading (``--no-freeze`` leaves them in; the collections seen while measuring are
counted either way).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from accord.core import commands as cmd
from accord.core.decide import decide, evolve
from accord.core.model import ProbePolicy, fmt_time
from accord.core.state import ClearanceRec, State
from accord.core.verdict import Scratch, evaluate
from accord.geo.datums import NO_TRANSFORMATION
from accord.geo.location import Position
from accord.geo.shapes import Disc

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LON0, LAT0, SPAN = 71.0, 34.9, 5.0


def presence_event(  # noqa: PLR0917
    owner: str, pid: str, lon: float, lat: float, unc: float, kind: str
) -> dict:
    return {
        "type": "presence_upserted",
        "time": fmt_time(T0.timestamp()),
        "party": owner,
        "id": pid,
        "kind": kind,
        "label": "",
        "position": {
            "input": {"type": "Point", "coordinates": [lon, lat]},
            "wgs84": {"type": "Point", "coordinates": [lon, lat]},
            "transformation": {"description": "none", "accuracy_m": 0.0, "ballpark": False},
            "added_uncertainty_m": 0.0,
            "uncertainty_m": unc,
            "datum_warning": None,
        },
        "uncertainty_m": unc,
        "area": None,
        "shape": None,
        "valid_from": None,
        "valid_until": None,
        "max_speed_mps": 30.0 if kind == "unit" else None,
        # exact for everyone, so that the probing budget (R14) does not refuse the bench's requests
        "disclosure": {"default": "exact", "parties": {}},
        "version": 1,
    }


FREEZE = True


def _collections() -> int:
    return sum(g["collections"] for g in gc.get_stats())


def build(n_sites: int, n_units: int, rng: random.Random) -> State:
    """The state after the events of N presences (the collector paused while they are applied)."""
    gc.collect()
    gc.disable()
    try:
        return _build(n_sites, n_units, rng)
    finally:
        gc.enable()
        if FREEZE:
            gc.freeze()


def release() -> None:
    """After the last reference to a built state is dropped: frozen objects are not collected
    until they are unfrozen."""
    gc.unfreeze()
    gc.collect()


def _build(n_sites: int, n_units: int, rng: random.Random) -> State:
    s = State.empty()
    for p in ("alpha", "bravo", "charlie", *(f"r{i}" for i in range(10))):
        s = evolve(
            s,
            {
                "type": "party_registered",
                "time": fmt_time(T0.timestamp()),
                "party": "admin",
                "id": p,
                "name": p,
            },
        )
    for i in range(n_sites):
        lon = LON0 + rng.uniform(-SPAN, SPAN)
        lat = LAT0 + rng.uniform(-SPAN, SPAN)
        evolve(s, presence_event("bravo", f"s{i}", lon, lat, rng.uniform(10, 100), "site"))
    for i in range(n_units):
        lon = LON0 + rng.uniform(-SPAN, SPAN)
        lat = LAT0 + rng.uniform(-SPAN, SPAN)
        evolve(s, presence_event("charlie", f"u{i}", lon, lat, 20.0, "unit"))
    return s


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def random_clearance(cid: str, now: float, rng: random.Random) -> ClearanceRec:
    """A request judged as it is (not through decide): a disc of 100-500 m, hazard 0-2 km, in the
    region (0.1 degree inside its edge), its window starting now for an hour."""
    lon = LON0 + rng.uniform(-SPAN + 0.1, SPAN - 0.1)
    lat = LAT0 + rng.uniform(-SPAN + 0.1, SPAN - 0.1)
    return ClearanceRec(
        id=cid,
        requester="alpha",
        area=Disc(lon, lat, rng.uniform(100, 500)),
        area_json={},
        radius_m=None,
        width_m=None,
        hazard_m=rng.uniform(0, 2000),
        window_start=now,
        window_end=now + 3600,
        purpose="",
        confirm=(),
        requested=now,
    )


def request_command(
    i: int, now: datetime, hazard_m: float, rng: random.Random
) -> cmd.RequestClearance:
    """Clearance request ``c{i}`` of one of ten requesters: a 300 m disc anywhere in the region,
    for six hours from ``now``."""
    lon = LON0 + rng.uniform(-SPAN, SPAN)
    lat = LAT0 + rng.uniform(-SPAN, SPAN)
    return cmd.RequestClearance(
        f"r{i % 10}",
        f"c{i}",
        Disc(lon, lat, 300),
        {},
        300,
        None,
        hazard_m,
        now,
        now + timedelta(hours=6),
        "",
        (),
    )


def bench_verdict(n: int, requests: int, rng: random.Random) -> None:
    t = time.perf_counter()
    s = build(n, 0, rng)
    built = time.perf_counter() - t
    now = T0.timestamp()
    times: list[float] = []
    cpu: list[float] = []
    statuses: dict[str, int] = {}
    collections = _collections()
    for i in range(requests):
        c = random_clearance(f"b{i}", now, rng)
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        ev = evaluate(Scratch(s), c, now)
        times.append((time.perf_counter_ns() - t0) / 1000)
        cpu.append((time.thread_time_ns() - c0) / 1000)
        statuses[ev.status] = statuses.get(ev.status, 0) + 1
    print(
        f"verdict  N={n:>9,}  build {built:6.1f} s  p50 {statistics.median(times):7.1f} us  "
        f"p90 {pct(times, 0.9):7.1f} us  p99 {pct(times, 0.99):7.1f} us  "
        f"(CPU p50 {statistics.median(cpu):6.1f} p99 {pct(cpu, 0.99):7.1f} us)  {statuses}  "
        f"gc runs {_collections() - collections}"
    )
    del s
    release()


def bench_stale(n_units: int, ages: list[float], requests: int, rng: random.Random) -> None:
    t = time.perf_counter()
    s = build(0, n_units, rng)
    built = time.perf_counter() - t
    for age in ages:
        now = T0.timestamp() + age
        times: list[float] = []
        cpu: list[float] = []
        statuses: dict[str, int] = {}
        reasons = 0
        first = 0.0
        collections = _collections()
        for i in range(requests + 1):
            c = random_clearance(f"s{i}", now, rng)
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            ev = evaluate(Scratch(s), c, now)
            wall = (time.perf_counter_ns() - t0) / 1000
            if i == 0:
                first = wall
                continue
            times.append(wall)
            cpu.append((time.thread_time_ns() - c0) / 1000)
            statuses[ev.status] = statuses.get(ev.status, 0) + 1
            reasons += len(ev.reasons)
        print(
            f"stale    units={n_units:,} age {age:6.0f} s  build {built:4.1f} s  "
            f"first {first / 1000:7.1f} ms  p50 {statistics.median(times):8.1f} us  "
            f"p90 {pct(times, 0.9):8.1f} us  p99 {pct(times, 0.99):8.1f} us  "
            f"(CPU p50 {statistics.median(cpu):8.1f} p99 {pct(cpu, 0.99):8.1f} us)  "
            f"reasons/verdict {reasons / requests:7.1f}  {statuses}  "
            f"gc runs {_collections() - collections}"
        )
    del s
    release()


def updates_state(n_units: int, n_clearances: int, rng: random.Random) -> State:
    """bench_updates' state: ``n_units`` units and ``n_clearances`` open clearances among them
    (of 2 km hazard), the request budget lifted."""
    s = build(0, n_units, rng)
    s.policy = ProbePolicy(0, 0)
    for i in range(n_clearances):
        c = request_command(i, T0, 2000, rng)
        for e in decide(s, c, T0):
            evolve(s, e)
    return s


def step_command(
    s: State, n_units: int, batch: int, now: datetime, rng: random.Random
) -> cmd.UpdatePositions:
    """``batch`` of the units, each moved a few metres from where the state has it, at ``now``."""
    ups = []
    for k in rng.sample(range(n_units), batch):
        p = s.presences[f"charlie:u{k}"]
        lon = p.lon + rng.uniform(-2e-4, 2e-4)
        lat = p.lat + rng.uniform(-2e-4, 2e-4)
        position = Position(
            lon, lat, 0.0, {"type": "Point", "coordinates": [lon, lat]}, NO_TRANSFORMATION, None
        )
        ups.append(cmd.PositionUpdate(f"u{k}", position, 20.0, now))
    return cmd.UpdatePositions("charlie", tuple(ups))


def bench_updates(
    n_units: int, n_clearances: int, batch: int, batches: int, rng: random.Random
) -> None:
    s = updates_state(n_units, n_clearances, rng)
    total = 0
    verdict_events = 0
    elapsed = 0.0
    elapsed_cpu = 0.0
    collections = _collections()
    for b in range(batches):
        now = T0 + timedelta(seconds=0.01 * (b + 1))  # units report often: tracks stay fresh
        command = step_command(s, n_units, batch, now, rng)
        c0 = time.thread_time()
        t0 = time.perf_counter()
        events = decide(s, command, now)
        for e in events:
            evolve(s, e)
        elapsed += time.perf_counter() - t0
        elapsed_cpu += time.thread_time() - c0
        total += batch
        verdict_events += len(events) - 1
    print(
        f"updates  units={n_units:,} clearances={n_clearances} batch={batch}: "
        f"{total / elapsed:9,.0f} updates/s  (CPU {total / elapsed_cpu:9,.0f}/s)  "
        f"({verdict_events} verdict events, gc runs {_collections() - collections})"
    )
    del s
    release()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--clearances", type=int, default=500)
    ap.add_argument("--span", type=float, default=5.0, help="half the region's side, degrees")
    ap.add_argument("--no-freeze", action="store_true", help="leave the built state to the gc")
    ap.add_argument(
        "--stale", default="", help="only the stale-track verdicts at these ages (s): 300,3600"
    )
    ap.add_argument("--stale-requests", type=int, default=200)
    args = ap.parse_args()
    global FREEZE, SPAN  # noqa: PLW0603 - command-line switches
    FREEZE = not args.no_freeze
    SPAN = args.span
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  load average {os.getloadavg()}  freeze {FREEZE}")
    rng = random.Random(7)
    if args.stale:
        ages = [float(x) for x in args.stale.split(",")]
        bench_stale(args.units, ages, args.stale_requests, rng)
        return
    for n in (int(x) for x in args.sizes.split(",")):
        bench_verdict(n, args.requests, rng)
    for batch in (100, 1000):
        bench_updates(args.units, args.clearances, batch, max(20, 20_000 // batch), rng)


if __name__ == "__main__":
    main()
