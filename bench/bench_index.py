"""Benchmark of accord.geo.index.SpatialIndex against alternatives, in the same run.

    PYTHONPATH=src .venv/bin/python bench/bench_index.py            # 10^5 and 10^6 entries
    PYTHONPATH=src .venv/bin/python bench/bench_index.py --sizes 100000 --queries 2000

Data: N presences, points uniform over 66-76°E x 30-40°N (~1.06 million km², ~1 per km² at 10^6),
each with an uncertainty (reach) of 10-100 m. Requests: discs of radius 250 m at uniform points of
the same region, hazard d = 50 m, 2 km, 10 km.

Structures compared:
- grid-0.03 (the default) / grid-0.02 / grid-0.05 / grid-0.1: accord's SpatialIndex with level-0
  cells of that many degrees;
- h3-r7 / h3-r8: a dict of H3 cells (points only), query by grid_disk with k from the mean edge;
  it is NOT a proven superset (no conservative edge bound), so it flatters H3;
- strtree: shapely STRtree over the points, queried with the same boxes; it cannot insert, so a
  "move" is a rebuild of the whole tree.

For each: build time, moves per second (a track step of <= 20 m, and a jump anywhere), query
latency p50/p99 for the index alone, the number of candidates, and the "verdict" latency p50/p99 =
query + the caller's exact test of each candidate (one pyproj Geod.inv per candidate, the cost the
core pays), and the index's own memory per entry (tracemalloc, keys and shapes excluded: the index
holds neither shapes nor copies of the keys). Prints a table; figures in docs/PERF-geo-index.md.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import shapely
from pyproj import Geod

from accord.geo.discrepancy import BoundaryLayer, discrepancy_zones
from accord.geo.index import SpatialIndex, bounds
from accord.geo.shapes import Area, Disc

try:
    import h3.api.basic_int as h3
except ImportError:  # h3 is only needed for the comparison
    h3 = None

GEOD = Geod(ellps="WGS84")
LON0, LON1, LAT0, LAT1 = 66.0, 76.0, 30.0, 40.0
QUERY_RADIUS_M = 250.0
DISTANCES = (50.0, 2000.0, 10000.0)


class Data:
    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.lon = rng.uniform(LON0, LON1, n).tolist()
        self.lat = rng.uniform(LAT0, LAT1, n).tolist()
        self.reach = rng.uniform(10.0, 100.0, n).tolist()
        self.n = n


class GridImpl:
    """Accord's index. Its keys are strings: the point's row number written out, and ``query``
    answers the rows (the caller's exact test indexes the data's arrays)."""

    def __init__(self, cell_deg: float) -> None:
        self.name = f"grid-{cell_deg:g}"
        self.cell_deg = cell_deg
        self.ix: SpatialIndex = SpatialIndex(cell_deg=cell_deg)

    def build(self, data: Data) -> None:
        ix = SpatialIndex(cell_deg=self.cell_deg)
        insert = ix.insert
        self.keys = [str(i) for i in range(len(data.lon))]
        self.rows = {k: i for i, k in enumerate(self.keys)}
        for k, x, y, r in zip(self.keys, data.lon, data.lat, data.reach, strict=True):
            insert(k, Disc(x, y, 0.0), r)
        self.ix = ix

    def move(self, key: int, lon: float, lat: float, reach: float) -> None:
        self.ix.move(self.keys[key], Disc(lon, lat, 0.0), reach)

    def query(self, q: Disc, d: float) -> Any:
        rows = self.rows
        return [rows[k] for k in self.ix.query(q, d)]

    def describe(self) -> str:
        s = self.ix.stats()
        return f"cells={s['cells']} registrations={s['registrations']}"


class H3Impl:
    """Points only: key -> cell, cell -> set of keys. Query: grid_disk around the request's cell."""

    def __init__(self, res: int) -> None:
        self.name = f"h3-r{res}"
        self.res = res
        self.edge = h3.average_hexagon_edge_length(res, "m")
        self.cells: dict[int, set[int]] = {}
        self.where: dict[int, int] = {}
        self.max_reach = 0.0

    def build(self, data: Data) -> None:
        self.cells = {}
        self.where = {}
        cells = self.cells
        where = self.where
        res = self.res
        to_cell = h3.latlng_to_cell
        for i, (x, y) in enumerate(zip(data.lon, data.lat, strict=True)):
            c = to_cell(y, x, res)
            where[i] = c
            s = cells.get(c)
            if s is None:
                cells[c] = {i}
            else:
                s.add(i)
        self.max_reach = max(data.reach)

    def move(self, key: int, lon: float, lat: float, reach: float) -> None:
        c = h3.latlng_to_cell(lat, lon, self.res)
        old = self.where[key]
        if c == old:
            return
        s = self.cells[old]
        s.discard(key)
        if not s:
            del self.cells[old]
        self.where[key] = c
        t = self.cells.get(c)
        if t is None:
            self.cells[c] = {key}
        else:
            t.add(key)
        self.max_reach = max(self.max_reach, reach)

    def query(self, q: Disc, d: float) -> Any:
        # hexagon inradius = edge * sqrt(3)/2; ring k reaches >= k * edge * sqrt(3) from the centre
        reach = d + q.radius_m + self.max_reach + 2.0 * self.edge
        k = math.ceil(reach / (self.edge * math.sqrt(3.0)))
        out: set[int] = set()
        cells = self.cells
        for c in h3.grid_disk(h3.latlng_to_cell(q.lat, q.lon, self.res), k):
            s = cells.get(c)
            if s is not None:
                out |= s
        return out

    def describe(self) -> str:
        return f"cells={len(self.cells)}"


class StrtreeImpl:
    """shapely STRtree over the points' grown boxes (static: a move means a rebuild)."""

    name = "strtree"

    def __init__(self) -> None:
        self.tree: Any = None
        self.build_s = 0.0

    def build(self, data: Data) -> None:
        t = time.perf_counter()
        boxes = [
            bounds(Disc(x, y, 0.0), r)[0]
            for x, y, r in zip(data.lon, data.lat, data.reach, strict=True)
        ]
        arr = np.asarray(boxes)
        geoms = shapely.box(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
        self.tree = shapely.STRtree(geoms)
        self.build_s = time.perf_counter() - t

    def move(self, key: int, lon: float, lat: float, reach: float) -> None:
        raise NotImplementedError

    def query(self, q: Disc, d: float) -> Any:
        out: list[Any] = []
        for b in bounds(q, d):
            out.extend(self.tree.query(shapely.box(*b)).tolist())
        return out

    def describe(self) -> str:
        return f"rebuild={self.build_s:.2f}s"


def percentile(xs: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p))


def cpu_per_query(impl: Any, queries: list[Disc], d: float) -> float:
    """Mean CPU time of one query (µs): unlike wall time, not inflated by other processes."""
    query = impl.query
    t = time.process_time()
    for q in queries:
        query(q, d)
    return (time.process_time() - t) / len(queries) * 1e6


def time_queries(
    impl: Any, data: Data, queries: list[Disc], d: float
) -> tuple[list[float], list[float], float]:
    """Per-query latency of the index alone and of query + exact check (µs, wall clock, which
    includes one perf_counter_ns call), mean candidates."""
    lon, lat, reach = data.lon, data.lat, data.reach
    inv = GEOD.inv
    q_only: list[float] = []
    verdict: list[float] = []
    ncand = 0
    pc = time.perf_counter_ns
    for q in queries:
        t0 = pc()
        cand = impl.query(q, d)
        t1 = pc()
        # the caller's exact test: geodesic distance between centres vs the sum of the radii
        hits = 0
        qx, qy, qr = q.lon, q.lat, q.radius_m + d
        for k in cand:
            if inv(qx, qy, lon[k], lat[k])[2] <= qr + reach[k]:
                hits += 1
        t2 = pc()
        q_only.append((t1 - t0) / 1000.0)
        verdict.append((t2 - t0) / 1000.0)
        ncand += len(cand)
    return q_only, verdict, ncand / len(queries)


def time_moves(impl: Any, data: Data, n_moves: int, jump: bool, seed: int) -> float:
    rng = random.Random(seed)
    keys = [rng.randrange(data.n) for _ in range(n_moves)]
    if jump:
        targets = [
            (rng.uniform(LON0, LON1), rng.uniform(LAT0, LAT1), rng.uniform(10, 100)) for _ in keys
        ]
    else:  # a track step: up to ~20 m
        targets = [
            (
                data.lon[k] + rng.uniform(-1.5e-4, 1.5e-4),
                data.lat[k] + rng.uniform(-1.5e-4, 1.5e-4),
                data.reach[k],
            )
            for k in keys
        ]
    move = impl.move
    t = time.perf_counter()
    for k, (x, y, r) in zip(keys, targets, strict=True):
        move(k, x, y, r)
    dt = time.perf_counter() - t
    for k, (x, y, r) in zip(keys, targets, strict=True):
        data.lon[k], data.lat[k], data.reach[k] = x, y, r
    return n_moves / dt


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def measure_memory(factory: Callable[[], Any], data: Data) -> tuple[float, float]:
    """Bytes per entry held after build(): Python objects (tracemalloc) and the process's resident
    set (RSS, which also sees memory allocated by C libraries such as GEOS)."""
    gc.collect()
    impl = factory()
    rss0 = rss_bytes()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    impl.build(data)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rss1 = rss_bytes()
    del impl
    gc.collect()
    return (after - before) / data.n, (rss1 - rss0) / data.n


def run(sizes: list[int], n_queries: int, n_moves: int, impls: list[str], repeat: int) -> None:
    factories: dict[str, Callable[[], Any]] = {
        "grid-0.03": lambda: GridImpl(0.03),
        "grid-0.02": lambda: GridImpl(0.02),
        "grid-0.05": lambda: GridImpl(0.05),
        "grid-0.1": lambda: GridImpl(0.1),
        "strtree": StrtreeImpl,
    }
    if h3 is not None:
        factories["h3-r7"] = lambda: H3Impl(7)
        factories["h3-r8"] = lambda: H3Impl(8)
    names = [n for n in impls if n in factories]
    print(
        f"# python {sys.version.split()[0]}, shapely {shapely.__version__}, "
        f"numpy {np.__version__}, h3 {'absent' if h3 is None else 'present'}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()}"
    )
    header = (
        f"{'N':>8} {'index':<10} {'build s':>8} {'B/entry':>8} {'RSS B/e':>8} {'step/s':>9} "
        f"{'jump/s':>9} "
        f"{'d m':>6} {'q p50':>7} {'q p99':>7} {'q cpu':>7} {'cand':>7} {'v p50':>7} "
        f"{'v p99':>7}"
    )
    print(
        "# q = index query alone (p50/p99 wall clock, mean CPU time), v = query + exact Geod.inv "
        f"per candidate; times in µs; medians of {repeat} runs over the same index"
    )
    print(header)
    for n in sizes:
        qrng = np.random.default_rng(12345)
        queries = [
            Disc(float(x), float(y), QUERY_RADIUS_M)
            for x, y in zip(
                qrng.uniform(LON0 + 0.2, LON1 - 0.2, n_queries),
                qrng.uniform(LAT0 + 0.2, LAT1 - 0.2, n_queries),
                strict=True,
            )
        ]
        for name in names:
            data = Data(n, seed=7)
            mem, rss = measure_memory(factories[name], data)
            impl = factories[name]()
            gc.collect()
            t = time.perf_counter()
            impl.build(data)
            build_s = time.perf_counter() - t
            gc.collect()
            if name == "strtree":
                step = jump = 1.0 / impl.build_s
            else:
                step = statistics.median(
                    time_moves(impl, data, n_moves, jump=False, seed=1 + r) for r in range(repeat)
                )
                jump = statistics.median(
                    time_moves(impl, data, n_moves, jump=True, seed=100 + r) for r in range(repeat)
                )
            for d in DISTANCES:
                runs = [time_queries(impl, data, queries, d) for _ in range(repeat)]
                q50 = statistics.median(statistics.median(q) for q, _, _ in runs)
                q99 = statistics.median(percentile(q, 99) for q, _, _ in runs)
                v50 = statistics.median(statistics.median(v) for _, v, _ in runs)
                v99 = statistics.median(percentile(v, 99) for _, v, _ in runs)
                cand = runs[0][2]
                cpu = statistics.median(cpu_per_query(impl, queries, d) for _ in range(repeat))
                print(
                    f"{n:>8} {name:<10} {build_s:>8.2f} {mem:>8.0f} {rss:>8.0f} {step:>9.0f} "
                    f"{jump:>9.0f} "
                    f"{d:>6.0f} {q50:>7.1f} {q99:>7.1f} {cpu:>7.1f} {cand:>7.1f} {v50:>7.1f} "
                    f"{v99:>7.1f}",
                    flush=True,
                )
            print(f"{'':>8} {name:<10} {impl.describe()}", flush=True)
            del impl, data
            gc.collect()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# max RSS of the whole run: {rss:.0f} MiB; load average {os.getloadavg()}")


def run_large(n_points: int, n_queries: int) -> None:
    """Mixed sizes: points plus polygons of 5-300 km and discs of 1-500 km reach."""
    rng = np.random.default_rng(3)
    ix = SpatialIndex()  # the default cell size
    for i in range(n_points):
        ix.insert(
            str(i), Disc(float(rng.uniform(LON0, LON1)), float(rng.uniform(LAT0, LAT1))), 50.0
        )
    k = n_points
    for size_km in (5, 20, 80, 300):
        for _ in range(250):
            x, y = float(rng.uniform(LON0, LON1)), float(rng.uniform(LAT0, LAT1))
            dy = size_km / 111.0
            dx = dy / math.cos(math.radians(y))
            ring = ((x, y), (x + dx, y), (x + dx, y + dy), (x, y + dy), (x, y))
            ix.insert(str(k), Area(((ring,),)), 0.0)
            k += 1
    for reach_km in (1, 10, 100, 500):
        for _ in range(250):
            x, y = float(rng.uniform(LON0, LON1)), float(rng.uniform(LAT0, LAT1))
            ix.insert(str(k), Disc(x, y), reach_km * 1000.0)
            k += 1
    s = ix.stats()
    print(
        f"# mixed: {n_points} points + 1000 polygons (5-300 km) + 1000 discs (1-500 km reach): "
        f"registrations/entry {s['registrations'] / s['entries']:.3f}, "
        f"entries per level {s['level_entries']}"
    )
    qs = [
        Disc(float(x), float(y), QUERY_RADIUS_M)
        for x, y in zip(
            rng.uniform(LON0, LON1, n_queries), rng.uniform(LAT0, LAT1, n_queries), strict=True
        )
    ]
    for d in DISTANCES:
        lat_us = []
        cand = 0
        for q in qs:
            t0 = time.perf_counter_ns()
            c = ix.query(q, d)
            lat_us.append((time.perf_counter_ns() - t0) / 1000.0)
            cand += len(c)
        print(
            f"# mixed d={d:.0f}: query p50 {statistics.median(lat_us):.1f} µs, "
            f"p99 {percentile(lat_us, 99):.1f} µs, candidates {cand / len(qs):.1f}"
        )


def run_discrepancy() -> None:
    """Discrepancy zones between three 800 km borders (8,001 vertices each), one of them with 20
    stretches moved by 300-900 m and 20 m of noise everywhere."""
    n = 8001
    d = np.arange(n) * 100.0
    lon, lat, back = GEOD.fwd(np.full(n, 70.0), np.full(n, 30.0), np.full(n, 45.0), d)
    a = np.column_stack((lon, lat))
    offset = np.random.default_rng(5).uniform(-20.0, 20.0, n)
    for k in range(20):
        offset[(d >= (k * 40 + 5) * 1000) & (d <= (k * 40 + 12) * 1000)] += 300.0 * (1 + k % 3)
    x, y, _ = GEOD.fwd(lon, lat, np.asarray(back) + 90.0, offset)
    b = np.column_stack((x, y))
    layers = [
        BoundaryLayer("a", shapely.LineString(a)),
        BoundaryLayer("b", shapely.LineString(b)),
        BoundaryLayer("c", shapely.LineString(a.copy())),
    ]
    times = []
    zones = []
    for _ in range(3):
        t = time.process_time()
        zones = discrepancy_zones(layers, 100.0)
        times.append(time.process_time() - t)
    print(
        f"# discrepancy: 3 layers x {n} vertices (800 km), 20 offsets: {len(zones)} zones, "
        f"median CPU {statistics.median(times):.2f} s over 3 runs"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=10_000)
    p.add_argument("--moves", type=int, default=100_000)
    p.add_argument(
        "--impls",
        nargs="+",
        default=["grid-0.03", "grid-0.02", "grid-0.05", "h3-r7", "h3-r8", "strtree"],
    )
    p.add_argument("--mixed", type=int, default=100_000, help="points in the mixed run (0: skip)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each timing (medians)")
    p.add_argument("--no-discrepancy", action="store_true", help="skip the discrepancy timing")
    args = p.parse_args(argv)
    run(args.sizes, args.queries, args.moves, args.impls, args.repeat)
    if args.mixed:
        run_large(args.mixed, args.queries)
    if not args.no_discrepancy:
        run_discrepancy()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
