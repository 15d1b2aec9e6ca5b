"""Make tests/assets/postgis/distances.json: random shape pairs and PostGIS's distances for them.

Usage (needs PostgreSQL 15 + PostGIS 3 from Debian: postgresql-15, postgresql-15-postgis-3)::

    .venv/bin/python tests/assets/postgis/make_golden.py [--cases 2400] [--seed 20261122]

It starts a throwaway cluster (initdb into a temporary directory, unix socket only, run as the
``postgres`` user when started as root), computes
``ST_Distance(a::geography, b::geography, true)`` for every pair and stops and deletes the cluster.

Each case has two geometries (GeoJSON), the buffer of each (a disc's ``radius_m``, a corridor's
``width_m``) and ``postgis_m``: PostGIS's distance between the two geometries *without* buffers
(a disc is its centre point, a corridor its line). The test compares
``max(0, postgis_m - radius - width/2)`` with accord.geo.distance.

Shapes: star-shaped polygons (3-12 vertices, 200 m to 30 km across; some with a hole, some
multipolygons), polylines of 2-6 vertices, points; the second shape 0 to 500 km from the first
(a quarter of them within 3 km: touching, overlapping, containing); a share near the antimeridian
and at high latitude (60-85°, shapes up to 10 km there).

PostGIS and Accord differ slightly, and PostGIS is the one that is off: it finds the nearest points
on a sphere (edges as great circles through the geodetic coordinates) and then measures them on the
spheroid. The sphere's nearest point is up to about f * D away from the spheroid's (f = 1/298, D
the distance), which lengthens the result by up to about f^2 * D / 2 (1.6 m at 130 km, 6 m at
500 km): far inside the 0.1 % the test allows, and Accord's own answers are checked against a
dense GeographicLib oracle as well (tests/unit/test_distance.py).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from geographiclib.geodesic import Geodesic

HERE = Path(__file__).resolve().parent
BIN = Path("/usr/lib/postgresql/15/bin")
PORT = 54_329
G = Geodesic.WGS84

KINDS = [
    ("point", "polygon"),
    ("polygon", "polygon"),
    ("point", "line"),
    ("line", "polygon"),
    ("line", "line"),
    ("point", "point"),
]


def _dest(lon: float, lat: float, az: float, dist: float) -> tuple[float, float]:
    r = G.Direct(lat, lon, az, dist)
    lon2 = (r["lon2"] + 180.0) % 360.0 - 180.0
    return (round(lon2, 8), round(r["lat2"], 8))


def _centre(rng: random.Random) -> tuple[float, float, str]:
    u = rng.random()
    if u < 0.15:
        lon = rng.choice([rng.uniform(179.0, 180.0), rng.uniform(-180.0, -179.0)])
        return (lon, rng.uniform(-60.0, 60.0), "antimeridian")
    if u < 0.30:
        return (rng.uniform(-180.0, 180.0), rng.choice([1, -1]) * rng.uniform(60.0, 85.0), "high")
    return (rng.uniform(-180.0, 180.0), rng.uniform(-60.0, 60.0), "mid")


def _star(
    rng: random.Random, lon: float, lat: float, radius: float, n: int
) -> list[tuple[float, float]]:
    # consecutive vertices less than 180° apart around the centre: star-shaped, clearly simple
    angles = [i * 360.0 / n + rng.uniform(-0.2, 0.2) * 360.0 / n for i in range(n)]
    ring = [_dest(lon, lat, a, radius * rng.uniform(0.5, 1.0)) for a in angles]
    return [*ring, ring[0]]


def _polygon(rng: random.Random, lon: float, lat: float, size: float) -> dict[str, object]:
    n = rng.randint(3, 12)
    outer = _star(rng, lon, lat, size, n)
    u = rng.random()
    if u < 0.2 and n >= 5:  # with a hole
        hole = _star(rng, lon, lat, size * 0.2, rng.randint(3, 6))
        return {"type": "Polygon", "coordinates": [outer, hole[::-1]]}
    if u < 0.35:  # two parts
        far = _dest(lon, lat, rng.uniform(0, 360), size * 2.5)
        other = _star(rng, far[0], far[1], size * 0.8, rng.randint(3, 8))
        return {"type": "MultiPolygon", "coordinates": [[outer], [other]]}
    return {"type": "Polygon", "coordinates": [outer]}


def _line(rng: random.Random, lon: float, lat: float, size: float) -> dict[str, object]:
    pts = [(round(lon, 8), round(lat, 8))]
    az = rng.uniform(0.0, 360.0)
    for _ in range(rng.randint(1, 5)):
        az += rng.uniform(-100.0, 100.0)
        pts.append(_dest(pts[-1][0], pts[-1][1], az, size * rng.uniform(0.3, 1.0)))
    return {"type": "LineString", "coordinates": pts}


def _shape(rng: random.Random, kind: str, lon: float, lat: float, high: bool) -> dict[str, object]:
    size = 10 ** rng.uniform(2.3, 4.0 if high else 4.5)
    if kind == "point":
        return {
            "geometry": {"type": "Point", "coordinates": [round(lon, 8), round(lat, 8)]},
            "radius_m": rng.choice([0.0, round(10 ** rng.uniform(0, 3.7), 3)]),
        }
    if kind == "line":
        return {
            "geometry": _line(rng, lon, lat, size),
            "width_m": round(10 ** rng.uniform(1, 3.3), 3),
        }
    return {"geometry": _polygon(rng, lon, lat, size)}


def make_cases(n: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    cases: list[dict[str, object]] = []
    for i in range(n):
        ka, kb = KINDS[i % len(KINDS)]
        lon, lat, where = _centre(rng)
        high = where == "high"
        a = _shape(rng, ka, lon, lat, high)
        u = rng.random()
        if u < 0.25:
            dist = rng.uniform(0.0, 3000.0)  # overlapping or touching
        else:
            dist = 10 ** rng.uniform(0.0, math.log10(500_000.0))
        blon, blat = _dest(lon, lat, rng.uniform(0.0, 360.0), dist)
        b = _shape(rng, kb, blon, blat, high)
        cases.append({"id": i, "kind": f"{ka}-{kb}", "where": where, "a": a, "b": b})
    return cases


def _kiss_case(rng: random.Random, i: int) -> dict[str, object]:
    """Two shapes that nearly touch: a vertex of the second lies ``gap`` (-1 m to 10 m) outside
    the middle of an edge of the first (negative: inside), measured along the geodesic normal."""
    kinds = [("polygon", "point"), ("polygon", "polygon"), ("polygon", "line"), ("line", "line")]
    ka, kb = kinds[i % len(kinds)]
    lon, lat, where = _centre(rng)
    size = 10 ** rng.uniform(2.3, 3.3)
    if ka == "polygon":
        ring = _star(rng, lon, lat, size, rng.randint(4, 10))
        a: dict[str, object] = {"geometry": {"type": "Polygon", "coordinates": [ring]}}
    else:
        line = _line(rng, lon, lat, size)
        ring = line["coordinates"]  # type: ignore[assignment]
        a = {"geometry": line, "width_m": 0.0}
    k = rng.randrange(len(ring) - 1)
    (x1, y1), (x2, y2) = ring[k], ring[k + 1]
    edge = G.InverseLine(y1, x1, y2, x2)
    mid = edge.Position(edge.s13 / 2.0)
    side = rng.choice([90.0, -90.0])
    if ka == "polygon":  # outwards: the side further from the centre
        probe = [G.Direct(mid["lat2"], mid["lon2"], mid["azi2"] + s, 10.0) for s in (90.0, -90.0)]
        far = [G.Inverse(lat, lon, q["lat2"], q["lon2"])["s12"] for q in probe]
        side = 90.0 if far[0] > far[1] else -90.0
    normal = mid["azi2"] + side
    gap = (
        rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(-3.0, 1.0)
        if rng.random() < 0.2
        else (10 ** rng.uniform(-3.0, 1.0))
    )
    q = G.Direct(mid["lat2"], mid["lon2"], normal, gap)
    qlon, qlat = (q["lon2"] + 180.0) % 360.0 - 180.0, q["lat2"]
    out = q["azi2"]
    far1 = _dest(qlon, qlat, out + 40.0, size)
    far2 = _dest(qlon, qlat, out - 40.0, size)
    qq = [qlon, qlat]
    if kb == "point":
        b: dict[str, object] = {"geometry": {"type": "Point", "coordinates": qq}, "radius_m": 0.0}
    elif kb == "polygon":
        tri = [qq, list(far2), list(far1), qq] if side > 0 else [qq, list(far1), list(far2), qq]
        b = {"geometry": {"type": "Polygon", "coordinates": [tri]}}
    else:
        b = {"geometry": {"type": "LineString", "coordinates": [qq, list(far1)]}, "width_m": 0.0}
    return {"id": i, "kind": f"{ka}-{kb}", "where": where, "gap_m": gap, "a": a, "b": b}


def make_kiss_cases(n: int, seed: int, first_id: int) -> list[dict[str, object]]:
    rng = random.Random(seed + 1)
    cases = [_kiss_case(rng, i) for i in range(n)]
    for c in cases:
        c["id"] = first_id + int(str(c["id"]))
        c["kind"] = f"kiss:{c['kind']}"
    return cases


def _run(cmd: list[str], as_postgres: bool, **kw: object) -> subprocess.CompletedProcess[str]:
    if as_postgres:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    done = subprocess.run(cmd, check=False, text=True, capture_output=True, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return done  # type: ignore[no-any-return]


def postgis_distances(cases: list[dict[str, object]]) -> tuple[list[float], str]:
    as_postgres = os.geteuid() == 0
    tmp = Path(tempfile.mkdtemp(prefix="accord-postgis-"))
    data = tmp / "data"
    try:
        if as_postgres:
            shutil.chown(tmp, "postgres")
        _run(
            [
                str(BIN / "initdb"),
                "-D",
                str(data),
                "--no-locale",
                "-E",
                "UTF8",
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
            as_postgres,
        )
        opts = f"-k {tmp} -c listen_addresses='' -p {PORT} -c fsync=off"
        _run(
            [
                str(BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(tmp / "log"),
                "-w",
                "start",
            ],
            as_postgres,
        )
        try:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            for c in cases:
                a = c["a"]
                b = c["b"]
                assert isinstance(a, dict) and isinstance(b, dict)
                w.writerow([c["id"], json.dumps(a["geometry"]), json.dumps(b["geometry"])])
            sql = (
                "CREATE EXTENSION postgis;\n"
                "CREATE TABLE cases (id int primary key, a text, b text);\n"
                "COPY cases FROM STDIN WITH (FORMAT csv);\n"
                f"{buf.getvalue()}\\.\n"
                "SET extra_float_digits = 3;\n"
                "SELECT 'version', postgis_full_version();\n"
                "SELECT id, ST_Distance(ST_GeomFromGeoJSON(a)::geography,"
                " ST_GeomFromGeoJSON(b)::geography, true) FROM cases ORDER BY id;\n"
            )
            out = _run(
                [
                    str(BIN / "psql"),
                    "-h",
                    str(tmp),
                    "-p",
                    str(PORT),
                    "-U",
                    "postgres",
                    "-X",
                    "-q",
                    "-At",
                    "-F",
                    "\t",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-d",
                    "postgres",
                ],
                False,
                input=sql,
            ).stdout
        finally:
            _run([str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], as_postgres)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    version = ""
    dists: dict[int, float] = {}
    for line in out.splitlines():
        key, value = line.split("\t", 1)
        if key == "version":
            version = value
        else:
            dists[int(key)] = float(value)
    return [dists[int(str(c["id"]))] for c in cases], version


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--cases", type=int, default=2400)
    ap.add_argument("--kiss", type=int, default=400, help="nearly touching pairs")
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--out", type=Path, default=HERE / "distances.json")
    args = ap.parse_args()
    cases = make_cases(args.cases, args.seed) + make_kiss_cases(args.kiss, args.seed, args.cases)
    dists, version = postgis_distances(cases)
    for c, d in zip(cases, dists, strict=True):
        c["postgis_m"] = d
    doc = {
        "made_by": "tests/assets/postgis/make_golden.py"
        f" --cases {args.cases} --kiss {args.kiss} --seed {args.seed}",
        "postgis": version,
        "query": "ST_Distance(ST_GeomFromGeoJSON(a)::geography,"
        " ST_GeomFromGeoJSON(b)::geography, true)",
        "note": "postgis_m is the distance between the geometries without radius_m / width_m",
        "cases": cases,
    }
    args.out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{len(cases)} cases written to {args.out}")


if __name__ == "__main__":
    main()
