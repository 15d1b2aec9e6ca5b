"""Benchmark: 10^5 lines through ``accord convert --json`` (batch mode, streaming), end to end.

Runs the CLI in a subprocess (as a user would: ``python -m accord.cli convert --json < lines``),
three times per input mix, and prints the median wall time (lines per second) and the median CPU
time of the process (user + system: what the machine's other load inflates less). The inputs are
drawn with a fixed seed: decimal degrees, DMS, MGRS and UTM text in equal parts, and each form
alone, and decimal degrees in Kalianpur 1962 (a datum shift per line).
Usage: ``.venv/bin/python bench/bench_convert.py [n_lines]``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from accord.cli import _json_lines, _read  # noqa: E402
from accord.geo.coords import parse_text  # noqa: E402
from accord.geo.mgrs import (  # noqa: E402
    format_dms,
    format_dms_many,
    format_mgrs,
    format_utm,
    grid_forward_many,
    mgrs_many,
    utm_text_many,
)


def lines(n: int, form: str, rng: random.Random) -> list[str]:
    out = []
    for k in range(n):
        lat, lon = rng.uniform(-79.9, 83.9), rng.uniform(-180, 180)
        if form == "kalianpur":  # Pakistan and north-west India, in Kalianpur 1962
            out.append(f"{rng.uniform(23.7, 37.0):.6f}, {rng.uniform(61.0, 77.8):.6f}")
            continue
        f = form if form != "mixed" else ("decimal", "dms", "mgrs", "utm")[k % 4]
        if f == "decimal":
            out.append(f"{lat:.6f}, {lon:.6f}")
        elif f == "dms":
            out.append(format_dms(lon, lat))
        elif f == "mgrs":
            out.append(format_mgrs(lon, lat))
        else:
            out.append(format_utm(lon, lat))
    return out


def run(path: Path, extra: list[str]) -> tuple[float, float, int]:
    """Wall time, CPU time (user + system) of the child, and the number of output lines."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "accord.cli", "convert", *extra]
    with path.open("rb") as stdin:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdin=stdin, capture_output=True, env=env, check=False)
        dt = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"accord convert failed: {proc.stderr.decode()[:500]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dt, cpu, proc.stdout.count(b"\n")


def stages(rng: random.Random) -> None:
    """In-process cost per line of each stage (best of 5 runs over 20,000 lines)."""
    args = argparse.Namespace(crs="EPSG:4326", allow_ballpark=False)
    for form in ("decimal", "dms", "mgrs", "utm"):
        texts = lines(20_000, form, rng)
        rows = [_read(t, args) for t in texts]
        lons = np.array([r.position.lon for r in rows if r.position])
        lats = np.array([r.position.lat for r in rows if r.position])
        grid = grid_forward_many(lons, lats)
        costs = {
            "parse_text": lambda texts=texts: [parse_text(t) for t in texts],
            "read (parse + position)": lambda texts=texts: [_read(t, args) for t in texts],
            "grid (vectorised)": lambda lons=lons, lats=lats: grid_forward_many(lons, lats),
            "mgrs (vectorised)": lambda grid=grid, lats=lats: mgrs_many(grid, lats),
            "utm (vectorised)": lambda grid=grid: utm_text_many(grid),
            "dms (vectorised)": lambda lons=lons, lats=lats: format_dms_many(lons, lats),
            "json line (all forms)": lambda rows=rows: _json_lines(rows),
        }
        for name, fn in costs.items():
            best = min(timeit.repeat(fn, number=1, repeat=5))
            print(f"  {form:8} {name:24} {best / len(texts) * 1e6:6.2f} us/line")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rng = random.Random(20261122)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "accord.cli", "convert", "0 0"],
        env=env,
        check=True,
        capture_output=True,
    )
    startup = time.perf_counter() - t0
    print(f"load average: {os.getloadavg()[0]:.1f} (2 vCPU)")
    print(f"startup (one conversion): {startup * 1e3:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        for form, extra in (
            ("mixed", ["--json"]),
            ("decimal", ["--json"]),
            ("dms", ["--json"]),
            ("mgrs", ["--json"]),
            ("utm", ["--json"]),
            ("mixed", ["--to", "mgrs"]),
            ("kalianpur", ["--json", "--crs", "EPSG:4145"]),
        ):
            path = Path(tmp) / f"{form}.txt"
            if not path.exists():
                path.write_text("\n".join(lines(n, form, rng)) + "\n")
            walls, cpus = [], []
            for _ in range(3):
                dt, cpu, count = run(path, extra)
                assert count == n, count
                walls.append(dt)
                cpus.append(cpu)
            wall, cpu = statistics.median(walls), statistics.median(cpus)
            print(
                f"{form:8} {' '.join(extra):12} {n} lines: wall {wall:.2f} s "
                f"({n / wall:,.0f} lines/s), CPU {cpu:.2f} s ({cpu / n * 1e6:.1f} us/line)"
            )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 vCPU)")
    print("in-process stages, best of 5:")
    stages(rng)


if __name__ == "__main__":
    main()
