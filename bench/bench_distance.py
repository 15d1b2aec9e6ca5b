"""Benchmark accord.geo.distance: medians of repeated timings, one line per case.

    PYTHONPATH=src .venv/bin/python bench/bench_distance.py [--quick]

Shapes are made with accord.geo.parse from GeoJSON near 34.9°N 71.0°E; each case is timed as the
median over 7 runs of a loop (the per-call time is printed in microseconds). Results and the machine
are recorded in docs/PERF-geo-distance.md.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import timeit
from collections.abc import Callable

from accord.geo.distance import distance, within
from accord.geo.parse import parse_geometry
from accord.geo.shapes import Disc, Shape

try:
    from geographiclib.geodesic import Geodesic
except ImportError:  # pragma: no cover - geographiclib is a dev dependency
    sys.exit("bench_distance needs geographiclib (pip install geographiclib)")

G = Geodesic.WGS84


def dest(lon: float, lat: float, azimuth: float, metres: float) -> list[float]:
    r = G.Direct(lat, lon, azimuth, metres)
    return [r["lon2"], r["lat2"]]


def star(lon: float, lat: float, radius: float, n: int, wiggle: float = 0.0) -> list[list[float]]:
    ring = [
        dest(lon, lat, -i * 360.0 / n, radius * (1.0 + wiggle * math.sin(i * 0.37)))
        for i in range(n)
    ]
    return [*ring, ring[0]]


def area(ring: list[list[float]]) -> Shape:
    return parse_geometry({"type": "Polygon", "coordinates": [ring]})


def median_us(fn: Callable[[], object], number: int) -> float:
    fn()  # warm the per-shape cache, as in service
    runs = timeit.repeat(fn, number=number, repeat=7)
    return statistics.median(runs) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations")
    args = ap.parse_args()
    scale = 0.1 if args.quick else 1.0

    lon, lat = 71.0, 34.9
    square = area(star(lon, lat, 500.0, 10))  # 1 km across, 10 vertices
    near = Disc(*dest(lon, lat, 30.0, 1500.0), radius_m=50.0)  # 1 km from the polygon
    inside = Disc(*dest(lon, lat, 30.0, 200.0), radius_m=50.0)
    far = Disc(*dest(lon, lat, 30.0, 40_000.0), radius_m=50.0)
    other = Disc(*dest(lon, lat, 100.0, 2500.0), radius_m=30.0)
    corridor = parse_geometry(
        {"type": "LineString", "coordinates": [dest(lon, lat, 60.0, 3000.0 * i) for i in range(5)]},
        width_m=200.0,
    )
    square2 = area(star(*dest(lon, lat, 80.0, 3000.0), 500.0, 10))
    overlapping = area(star(*dest(lon, lat, 80.0, 600.0), 500.0, 10))
    poly100 = area(star(lon, lat, 5000.0, 100))
    big = area(star(70.0, 34.0, 300_000.0, 9000, wiggle=0.02))
    near_big = area(star(*dest(70.0, 34.0, 45.0, 306_000.0), 1000.0, 10))
    outside_big = Disc(*dest(70.0, 34.0, 10.0, 310_000.0), radius_m=50.0)

    cases: list[tuple[str, Callable[[], object], int]] = [
        ("Disc-Disc within", lambda: within(near, other, 1000.0), 200_000),
        ("Disc-Disc distance", lambda: distance(near, other), 200_000),
        (
            "Disc-Area within, disc 40 km away (cap test)",
            lambda: within(far, square, 2000.0),
            50_000,
        ),
        (
            "Disc-Area distance, 10-vertex 1 km polygon, disc 1 km out",
            lambda: distance(near, square),
            20_000,
        ),
        ("Disc-Area within, same", lambda: within(near, square, 2000.0), 20_000),
        ("Disc-Area distance, disc inside", lambda: distance(inside, square), 20_000),
        ("Disc-Corridor distance, 5 vertices", lambda: distance(near, corridor), 20_000),
        ("Disc-Area distance, 100-vertex polygon", lambda: distance(near, poly100), 2_000),
        (
            "Area-Area distance, two 1 km polygons 2 km apart",
            lambda: distance(square, square2),
            2_000,
        ),
        ("Area-Area distance, overlapping", lambda: distance(square, overlapping), 2_000),
        ("Corridor-Area distance", lambda: distance(corridor, square2), 2_000),
        ("Disc-Area distance, 9,000-vertex polygon, disc inside", lambda: distance(near, big), 50),
        (
            "Disc-Area distance, 9,000-vertex polygon, disc 4 km outside",
            lambda: distance(outside_big, big),
            50,
        ),
        (
            "Area-Area distance, 1 km polygon 6 km off a 9,000-vertex one",
            lambda: distance(near_big, big),
            20,
        ),
    ]
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    for label, fn, number in cases:
        n = max(1, int(number * scale))
        print(f"{median_us(fn, n):12.1f} µs  {label}")


if __name__ == "__main__":
    main()
