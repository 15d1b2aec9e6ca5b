"""accord.geo.distance against oracles nobody here wrote: GeographicLib (point to point, and dense
sampling of geodesic edges) and PostGIS (a golden file, tests/assets/postgis/)."""

from __future__ import annotations

import json
import math
import random
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import pytest
import shapely
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from tests import geoshapes as gs

from accord.errors import InvalidInput
from accord.geo.distance import (
    CHORD_ERROR_M,
    EPS_M,
    RHO_LIMIT_M,
    Chord,
    Distance,
    _sagitta,
    disc_metres,
    distance,
    point_distance,
    within,
)
from accord.geo.parse import parse_geometry
from accord.geo.shapes import Area, Corridor, Disc, LonLat, Shape

G = Geodesic.WGS84
GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "postgis" / "distances.json"


# --- an independent oracle: GeographicLib, sampling each geodesic edge densely -------------


def _inverse(p: LonLat, q: LonLat) -> float:
    return float(G.Inverse(p[1], p[0], q[1], q[0])["s12"])


def oracle_point_edge(p: LonLat, a: LonLat, b: LonLat) -> float:
    """Least distance from p to the geodesic a-b: 64 samples, then golden section to 1e-6 m."""
    line = G.InverseLine(a[1], a[0], b[1], b[0])
    length = line.s13

    def f(s: float) -> float:
        q = line.Position(s, Geodesic.LATITUDE | Geodesic.LONGITUDE)
        return float(G.Inverse(p[1], p[0], q["lat2"], q["lon2"])["s12"])

    n = 64
    samples = [(f(length * i / n), i) for i in range(n + 1)]
    best, i = min(samples)
    lo, hi = length * max(0, i - 1) / n, length * min(n, i + 1) / n
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    fc, fd = f(c), f(d)
    while hi - lo > 1e-6:
        if fc < fd:
            hi, d, fd = d, c, fc
            c = hi - g * (hi - lo)
            fc = f(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + g * (hi - lo)
            fd = f(d)
    return min(best, fc, fd)


def _edges(rings: list[list[LonLat]]) -> list[tuple[LonLat, LonLat]]:
    return [(r[i], r[i + 1]) for r in rings for i in range(len(r) - 1)]


def oracle_point_boundary(p: LonLat, rings: list[list[LonLat]], best: float = math.inf) -> float:
    """Least distance from p to polylines (edges pruned by the triangle inequality)."""
    ends = {q: _inverse(p, q) for r in rings for q in r}
    best = min(best, *ends.values())
    for a, b in sorted(_edges(rings), key=lambda e: ends[e[0]] + ends[e[1]]):
        if (ends[a] + ends[b] - _inverse(a, b)) / 2.0 < best:
            best = min(best, oracle_point_edge(p, a, b))
    return best


def core_rings(shape: Shape) -> list[list[LonLat]]:
    if isinstance(shape, Disc):
        return [[(shape.lon, shape.lat)]]
    if isinstance(shape, Corridor):
        return [list(shape.coords)]
    return [list(r) for poly in shape.polygons for r in poly]


def oracle_disjoint(a: Shape, b: Shape) -> float:
    """Distance between two cores that do not meet: the least vertex-to-boundary distance."""
    ra, rb = core_rings(a), core_rings(b)
    best = math.inf
    for rings, other in ((ra, rb), (rb, ra)):
        for v in {q for r in rings for q in r}:
            best = oracle_point_boundary(v, other, best)
    return best


def core(shape: Shape) -> Shape:
    if isinstance(shape, Disc):
        return Disc(shape.lon, shape.lat, 0.0)
    if isinstance(shape, Corridor):
        return Corridor(shape.coords, 0.0)
    return shape


def buffer_of(shape: Shape) -> float:
    if isinstance(shape, Disc):
        return shape.radius_m
    if isinstance(shape, Corridor):
        return shape.width_m / 2.0
    return 0.0


# --- the chord's lower bound ---------------------------------------------------------------

_ECEF = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4978", always_xy=True)
lats = st.floats(-90.0, 90.0)
lons = st.floats(-180.0, 180.0)


@settings(max_examples=400, deadline=None)
@given(lons, lats, lons, lats, st.floats(0.0, 360.0), st.floats(-3.0, 7.3))
def test_the_chord_never_exceeds_the_geodesic(
    lon1: float, lat1: float, lon2: float, lat2: float, azimuth: float, log_s: float
) -> None:
    """Against GeographicLib, for far pairs and for pairs 1 mm to 20,000 km apart; and against
    PROJ's Earth-centred coordinates (EPSG:4978) for the chord itself."""
    near = G.Direct(lat1, lon1, azimuth, 10.0**log_s)
    for lon_b, lat_b in ((lon2, lat2), (near["lon2"], near["lat2"])):
        s = G.Inverse(lat1, lon1, lat_b, lon_b)["s12"]
        lower = Chord(lon1, lat1).lower_m(lon_b, lat_b)
        assert lower <= s
        a = np.array(_ECEF.transform(lon1, lat1, 0.0))
        b = np.array(_ECEF.transform(lon_b, lat_b, 0.0))
        assert abs(lower + CHORD_ERROR_M - float(np.linalg.norm(a - b))) <= 1e-7


@given(lons, lats, st.floats(0.0, 360.0), st.floats(0.0, 10_000.0))
def test_the_chord_falls_short_of_the_geodesic_by_at_most_its_curvature_bound(
    lon: float, lat: float, azimuth: float, s: float
) -> None:
    """Tight enough that the verdict's sites near the edge of a hazard area are still pruned: a
    curve of curvature at most k has a chord of at least (2 / k) sin(k s / 2) (Schur), and a
    geodesic's curvature is the ellipsoid's normal curvature, at most 1 / a(1 - e^2)."""
    far = G.Direct(lat, lon, azimuth, s)
    lower = Chord(lon, lat).lower_m(far["lon2"], far["lat2"])
    m_min = G.a * (1.0 - G.f * (2.0 - G.f))
    assert s - s**3 / (24.0 * m_min**2) - CHORD_ERROR_M - 1e-8 <= lower <= s


def test_the_chord_of_a_nan_point_is_nan() -> None:
    assert math.isnan(Chord(71.0, 34.9).lower_m(math.nan, 34.9))


# --- point to point -----------------------------------------------------------------------


def test_point_to_point_matches_geographiclib_to_a_micrometre() -> None:
    rng = random.Random(1)
    for i in range(3000):
        lat1 = rng.choice([rng.uniform(-90, 90), rng.uniform(85, 90), -90.0, 90.0])
        lon1 = rng.uniform(-180, 180)
        if i % 3 == 0:  # nearby, across the antimeridian sometimes
            r = G.Direct(lat1, lon1, rng.uniform(-180, 180), 10 ** rng.uniform(-2, 6))
            lat2, lon2 = r["lat2"], (r["lon2"] + 180) % 360 - 180
        elif i % 3 == 1:  # nearly antipodal
            lat2, lon2 = (
                max(-90.0, min(90.0, -lat1 + rng.uniform(-0.5, 0.5))),
                (lon1 + 180 + rng.uniform(-0.5, 0.5)) % 360 - 180,
            )
        else:
            lat2, lon2 = rng.uniform(-90, 90), rng.uniform(-180, 180)
        ref = G.Inverse(lat1, lon1, lat2, lon2)["s12"]
        d = distance(Disc(lon1, lat1), Disc(lon2, lat2))
        assert abs(d.metres - ref) <= d.error_m <= 1e-3, (lon1, lat1, lon2, lat2)


def test_disc_radii_subtract_and_clamp_at_zero() -> None:
    s = G.Inverse(34.9, 71.0, 34.95, 71.05)["s12"]
    d = distance(Disc(71.0, 34.9, 1000.0), Disc(71.05, 34.95, 2000.0))
    assert abs(d.metres - (s - 3000.0)) <= d.error_m
    assert distance(Disc(71.0, 34.9, s), Disc(71.05, 34.95, 1.0)).metres == 0.0


# --- point to a geodesic edge ---------------------------------------------------------------


def test_point_to_edge_matches_dense_sampling() -> None:
    rng = random.Random(2)
    worst = 0.0
    for _ in range(150):
        lat = rng.choice([rng.uniform(-60, 60), rng.uniform(60, 88), rng.uniform(-88, -60)])
        lon = rng.choice([rng.uniform(-180, 180), rng.uniform(179, 180), rng.uniform(-180, -179)])
        a = (lon, lat)
        b = tuple(gs.dest(lon, lat, rng.uniform(0, 360), 10 ** rng.uniform(2, 5.8)))
        p = tuple(gs.dest(lon, lat, rng.uniform(0, 360), 10 ** rng.uniform(0, 6.3)))
        d = distance(Disc(p[0], p[1]), Corridor((a, (b[0], b[1])), 0.0))
        ref = oracle_point_edge((p[0], p[1]), a, (b[0], b[1]))
        assert abs(d.metres - ref) <= d.error_m + 1e-6, (p, a, b, d, ref)
        assert d.error_m < 0.01
        worst = max(worst, abs(d.metres - ref) / d.error_m)
    assert worst > 0.01  # the oracle does see the difference: the bounds are not vacuous


def test_stated_chord_deviation_bound_holds() -> None:
    """S(rho, L) bounds how far a geodesic edge drawn in aeqd strays from its chord (edges sampled
    with PROJ's geodesics, 2,000 random edges up to RHO_LIMIT_M from the frame's centre)."""
    geod = pyproj.Geod(ellps="WGS84")
    rng = np.random.default_rng(3)
    worst = 0.0
    n = 2000
    clat = rng.uniform(-89, 89, n)
    clon = rng.uniform(-180, 180, n)
    alon, alat, _ = geod.fwd(clon, clat, rng.uniform(0, 360, n), rng.uniform(0, RHO_LIMIT_M, n))
    length = 10 ** rng.uniform(3, 5.7, n)
    blon, blat, _ = geod.fwd(alon, alat, rng.uniform(0, 360, n), length)
    for i in range(n):
        line = geod.inv_intermediate(
            alon[i],
            alat[i],
            blon[i],
            blat[i],
            npts=101,
            initial_idx=0,
            terminus_idx=0,
            return_back_azimuth=True,
        )
        lons, lats = np.asarray(line.lons), np.asarray(line.lats)
        az, _, rho = geod.inv(np.full(101, clon[i]), np.full(101, clat[i]), lons, lats)
        x = rho * np.sin(np.radians(az))
        y = rho * np.cos(np.radians(az))
        rho_max = max(rho[0], rho[-1])
        if rho_max > RHO_LIMIT_M:
            continue
        chord = shapely.LineString([(x[0], y[0]), (x[-1], y[-1])])
        dev = float(np.max(shapely.distance(shapely.points(x, y), chord)))
        bound = float(_sagitta(np.array([rho_max]), np.array([length[i]]))[0])
        assert dev <= bound, (clon[i], clat[i], alon[i], alat[i], length[i], dev, bound)
        assert rho.max() <= rho_max + 1e-6  # the edge stays within its ends' distance
        worst = max(worst, dev / bound)
    assert worst > 0.3  # and the bound is not loose by orders of magnitude


# --- PostGIS --------------------------------------------------------------------------------


@cache
def golden() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(GOLDEN.read_text())["cases"]
    return cases


def _shape(spec: dict[str, Any]) -> Shape:
    width = spec.get("width_m")
    shape = parse_geometry(
        spec["geometry"], radius_m=spec.get("radius_m"), width_m=1.0 if width == 0.0 else width
    )
    if width == 0.0:  # a bare line (the nearly touching cases): parse needs a width, distance not
        assert isinstance(shape, Corridor)
        return Corridor(shape.coords, 0.0)
    return shape


def test_golden_file_covers_the_cases_asked_for() -> None:
    cases = golden()
    assert len(cases) >= 2000
    kinds = {c["kind"] for c in cases if not c["kind"].startswith("kiss:")}
    assert kinds == {
        "point-polygon",
        "polygon-polygon",
        "point-line",
        "line-polygon",
        "line-line",
        "point-point",
    }
    assert {c["where"] for c in cases} == {"mid", "high", "antimeridian"}
    assert sum(c["postgis_m"] == 0.0 for c in cases) > 100  # overlapping / containing
    assert max(c["postgis_m"] for c in cases) > 400_000


def test_matches_postgis_within_a_metre_or_a_thousandth() -> None:
    failures = []
    for c in golden():
        a, b = _shape(c["a"]), _shape(c["b"])
        expected = max(0.0, c["postgis_m"] - buffer_of(a) - buffer_of(b))
        d = distance(a, b)
        if abs(d.metres - expected) > max(1.0, 0.001 * expected):
            failures.append((c["id"], c["kind"], expected, d))
        r = distance(b, a)
        assert abs(d.metres - r.metres) <= d.error_m + r.error_m
    assert failures == []


def test_nearly_touching_pairs_match_postgis_to_a_millimetre() -> None:
    """A vertex placed 1 mm to 10 m outside (or inside) the middle of an edge: PostGIS and we agree
    within our bound plus 1 mm, and with the gap as constructed where that is the nearest one."""
    kiss = [c for c in golden() if c["kind"].startswith("kiss:")]
    assert len(kiss) >= 400
    assert sum(c["gap_m"] < 0.0 for c in kiss) > 20
    assert sum(0.0 < c["gap_m"] < 0.01 for c in kiss) > 20
    constructed = 0
    for c in kiss:
        a, b = _shape(c["a"]), _shape(c["b"])
        d = distance(a, b)
        assert abs(d.metres - c["postgis_m"]) <= d.error_m + 1e-3, (c["id"], d, c["postgis_m"])
        gap = max(0.0, c["gap_m"])
        if abs(c["postgis_m"] - gap) < 1e-3:
            assert abs(d.metres - gap) <= d.error_m + 1e-6, (c["id"], d, gap)
            constructed += 1
        if c["gap_m"] < 0.0:
            assert d.metres == 0.0
    assert constructed > 350


def test_golden_pairs_match_the_geographiclib_oracle() -> None:
    """Disjoint golden pairs, every kind: our value is within our stated bound of the oracle."""
    picked: dict[str, int] = {}
    for c in golden():
        if c["kind"].startswith("kiss:") or c["postgis_m"] < 5.0 or picked.get(c["kind"], 0) >= 3:
            continue
        a, b = core(_shape(c["a"])), core(_shape(c["b"]))
        if sum(len(r) for r in core_rings(a) + core_rings(b)) > 30:
            continue
        picked[c["kind"]] = picked.get(c["kind"], 0) + 1
        d = distance(a, b)
        ref = oracle_disjoint(a, b)
        assert abs(d.metres - ref) <= d.error_m + 1e-6, (c["id"], d, ref)
    assert sum(picked.values()) == 18


# --- special places -------------------------------------------------------------------------


def test_disc_inside_polygon_is_at_zero() -> None:
    area = parse_geometry(gs.SQUARE_1KM)
    assert distance(Disc(71.0, 34.9), area) == Distance(
        0.0, distance(Disc(71.0, 34.9), area).error_m
    )
    assert distance(Disc(71.0, 34.9), area).metres == 0.0
    assert within(Disc(71.0, 34.9), area, 0.0)


def test_disc_in_a_hole_is_at_the_hole_boundary() -> None:
    area = parse_geometry(gs.WITH_HOLE)
    d = distance(Disc(71.2, 34.9), area)
    assert isinstance(area, Area)
    ref = oracle_point_boundary((71.2, 34.9), [list(area.polygons[0][1])])
    assert 900.0 < d.metres < 1000.0
    assert abs(d.metres - ref) <= d.error_m
    ring_point = gs.dest(71.2, 34.9, 45.0, 2000.0)
    assert distance(Disc(ring_point[0], ring_point[1]), area).metres == 0.0


def test_antimeridian_polygon() -> None:
    area = parse_geometry(gs.ANTIMERIDIAN)
    assert distance(Disc(180.0, 0.0), area).metres == 0.0
    assert distance(Disc(-180.0, 0.05), area).metres == 0.0
    d = distance(Disc(-179.8, 0.0), area)
    ref = G.Inverse(0.0, -179.8, 0.0, -179.9)["s12"]  # to the meridian edge at -179.9
    assert abs(d.metres - ref) <= d.error_m
    d = distance(Disc(179.5, 0.0), area)
    assert abs(d.metres - G.Inverse(0.0, 179.5, 0.0, 179.9)["s12"]) <= d.error_m


def test_near_pole_shapes() -> None:
    area = parse_geometry(gs.NEAR_POLE)
    pole = Disc(0.0, 90.0)
    d = distance(pole, area)
    assert isinstance(area, Area)
    ref = oracle_point_boundary((0.0, 90.0), [list(area.polygons[0][0])])
    assert abs(d.metres - ref) <= d.error_m
    # a point on the far side of the pole
    p = (-170.0, 89.8)
    assert abs(distance(Disc(*p), area).metres - oracle_point_boundary(p, core_rings(area))) < 1e-3
    # an edge that passes 1 km from the pole (longitudes 170° apart)
    corridor = parse_geometry(gs.line([100.0, 89.9], [-90.0, 89.9]), width_m=10.0)
    d = distance(pole, corridor)
    ref = oracle_point_edge((0.0, 90.0), (100.0, 89.9), (-90.0, 89.9))
    assert abs(d.metres - (ref - 5.0)) <= d.error_m
    assert 800.0 < ref < 1000.0


def test_big_polygon_takes_the_vectorised_path() -> None:
    area = parse_geometry(gs.polygon(gs.star(30.0, 50.0, 80_000.0, 300)))
    assert isinstance(area, Area)
    assert distance(Disc(30.0, 50.0), area).metres == 0.0
    rng = random.Random(4)
    for _ in range(6):
        p = gs.dest(30.0, 50.0, rng.uniform(0, 360), rng.uniform(81_000, 300_000))
        d = distance(Disc(p[0], p[1]), area)
        ref = oracle_point_boundary((p[0], p[1]), core_rings(area))
        assert abs(d.metres - ref) <= d.error_m + 1e-6
    inside = gs.dest(30.0, 50.0, 10.0, 79_000.0)
    assert distance(Disc(inside[0], inside[1]), area).metres == 0.0


def test_big_polygon_with_a_big_hole() -> None:
    """Blocks of edges skipped far from the point still count in the winding numbers."""
    outer = gs.star(-60.0, -20.0, 60_000.0, 240)
    hole = gs.star(-60.0, -20.0, 30_000.0, 64)[::-1]
    area = parse_geometry(gs.polygon(outer, hole))
    assert isinstance(area, Area)
    for metres, expect_zero in (
        (0.0, False),
        (10_000.0, False),
        (45_000.0, True),
        (59_000.0, True),
    ):
        p = gs.dest(-60.0, -20.0, 77.0, metres)
        d = distance(Disc(p[0], p[1]), area)
        if expect_zero:
            assert d.metres == 0.0
        else:
            ref = oracle_point_boundary((p[0], p[1]), [list(area.polygons[0][1])])
            assert abs(d.metres - ref) <= d.error_m + 1e-6
            assert d.metres > 5_000.0


@settings(max_examples=25, deadline=None)
@given(
    centre=st.tuples(st.floats(-180.0, 180.0), st.floats(-80.0, 80.0)),
    radius=st.floats(1_000.0, 200_000.0),
    n=st.integers(49, 400),
    where=st.one_of(st.floats(0.0, 0.9), st.floats(1.05, 3.0)),
    azimuth=st.floats(0.0, 360.0),
)
def test_many_sided_polygons_inside_and_out(
    centre: LonLat, radius: float, n: int, where: float, azimuth: float
) -> None:
    """Regular polygons of 49-400 sides (the block path): a point well inside is at 0, a point
    outside is at the oracle's distance."""
    lon, lat = centre
    area = parse_geometry(gs.polygon(gs.star(lon, lat, radius, n)))
    inner = math.cos(math.pi / n)  # the polygon holds every point this close (relative)
    p = gs.dest(lon, lat, azimuth, where * inner * radius if where < 1 else where * radius)
    d = distance(Disc(p[0], p[1]), area)
    if where < 1:
        assert d.metres == 0.0
    else:
        ref = oracle_point_boundary((p[0], p[1]), core_rings(area))
        assert abs(d.metres - ref) <= d.error_m + 1e-6


def test_long_edges_are_solved_exactly() -> None:
    corridor = Corridor(((10.0, 40.0), (25.0, 45.0)), 0.0)  # a 1,400 km geodesic
    mid = G.InverseLine(40.0, 10.0, 45.0, 25.0).Position(700_000.0)
    p = gs.dest(mid["lon2"], mid["lat2"], mid["azi2"] + 90.0, 20_000.0)
    d = distance(Disc(p[0], p[1]), corridor)
    assert abs(d.metres - 20_000.0) <= d.error_m < 1e-3


def test_containment_and_crossing_are_zero() -> None:
    big = parse_geometry(gs.polygon(gs.star(5.0, 5.0, 20_000.0, 12)))
    small = parse_geometry(gs.polygon(gs.star(5.01, 5.0, 2_000.0, 7)))
    assert distance(big, small).metres == 0.0
    crossing = parse_geometry(gs.line([4.5, 5.0], [5.5, 5.0]), width_m=1)
    assert distance(crossing, big).metres == 0.0
    other = parse_geometry(gs.line([5.0, 4.5], [5.0, 5.5]), width_m=1)
    assert distance(crossing, other).metres == 0.0
    assert (
        distance(
            Corridor(((4.5, 5.0), (5.5, 5.0)), 0.0), Corridor(((5.0, 4.5), (5.0, 5.5)), 0.0)
        ).metres
        == 0.0
    )


def test_identical_shapes_are_at_zero() -> None:
    area = parse_geometry(gs.WITH_HOLE)
    copy = parse_geometry(gs.WITH_HOLE)
    assert distance(area, copy).metres == 0.0


# --- within ---------------------------------------------------------------------------------


def test_within_errs_towards_conflict_and_agrees_with_distance() -> None:
    area = parse_geometry(gs.SQUARE_1KM)
    disc = Disc(71.02, 34.91, 25.0)
    d = distance(disc, area)
    assert d.metres > 1000
    low = d.metres - d.error_m
    assert within(disc, area, low)
    assert not within(disc, area, low - 1e-3)
    assert within(area, disc, low) and not within(area, disc, low - 1e-3)


def test_within_refuses_nan_and_non_numbers() -> None:
    area = parse_geometry(gs.SQUARE_1KM)
    with pytest.raises(InvalidInput, match="must be a number"):
        within(Disc(0, 0), Disc(1, 1), math.nan)
    with pytest.raises(InvalidInput, match="must be a number"):
        within(Disc(0, 0), area, math.nan)
    with pytest.raises(TypeError):
        within(Disc(0, 0), Disc(1, 1), "5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        within(Disc(0, 0), area, "5")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="expected a Disc, Corridor or Area"):
        distance(Disc(0, 0), "area")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="not a valid disc"):
        distance(Disc(0, math.nan), area)
    with pytest.raises(InvalidInput, match="not a valid disc"):
        distance(Disc(0, 91.0), Disc(0, 0))
    with pytest.raises(InvalidInput, match="not a valid disc"):
        distance(Disc(0, 0), Disc(0, 1, -5.0))


def test_nan_disc_counts_as_within_and_a_negative_radius_is_refused() -> None:
    assert within(Disc(0.0, math.nan), Disc(1.0, 1.0), 0.0)
    with pytest.raises(InvalidInput, match="not a valid disc"):
        within(Disc(0.0, 0.0, -500.0), Disc(1.0, 1.0), 0.0)


# --- properties -----------------------------------------------------------------------------

_lon = st.floats(-180.0, 180.0)
_lat = st.floats(-80.0, 80.0)


@st.composite
def shapes(draw: st.DrawFn, lon: float | None = None, lat: float | None = None) -> Shape:
    """A random disc, corridor or polygon of up to ~40 km, around (lon, lat)."""
    lon = draw(_lon) if lon is None else lon
    lat = draw(_lat) if lat is None else lat
    kind = draw(st.sampled_from(["disc", "corridor", "area"]))
    size = draw(st.floats(50.0, 20_000.0))
    if kind == "disc":
        return Disc(lon, lat, draw(st.sampled_from([0.0, size / 10])))
    if kind == "corridor":
        pts = [[lon, lat]]
        for _ in range(draw(st.integers(1, 4))):
            pts.append(gs.dest(pts[-1][0], pts[-1][1], draw(st.floats(0, 360)), size))
        shape = parse_geometry(gs.line(*pts), width_m=draw(st.floats(1.0, 500.0)))
        return shape
    return parse_geometry(gs.polygon(gs.star(lon, lat, size, draw(st.integers(3, 12)))))


@st.composite
def pairs(draw: st.DrawFn) -> tuple[Shape, Shape]:
    lon, lat = draw(_lon), draw(_lat)
    a = draw(shapes(lon, lat))
    far = gs.dest(
        lon,
        lat,
        draw(st.floats(0, 360)),
        draw(st.sampled_from([0.0, 1e3, 3e4, 3e5])) * draw(st.floats(0, 1)),
    )
    return a, draw(shapes(far[0], far[1]))


def _shift(shape: Shape, dlon: float) -> Shape:
    def m(p: LonLat) -> LonLat:
        return ((p[0] + dlon + 180.0) % 360.0 - 180.0, p[1])

    if isinstance(shape, Disc):
        lon, _ = m((shape.lon, shape.lat))
        return Disc(lon, shape.lat, shape.radius_m)
    if isinstance(shape, Corridor):
        return Corridor(tuple(m(p) for p in shape.coords), shape.width_m)
    return Area(tuple(tuple(tuple(m(p) for p in r) for r in poly) for poly in shape.polygons))


@settings(max_examples=250, deadline=None)
@given(pair=pairs(), dlon=st.floats(-180.0, 180.0))
def test_symmetric_and_unchanged_by_turning_about_the_axis(
    pair: tuple[Shape, Shape], dlon: float
) -> None:
    a, b = pair
    d = distance(a, b)
    assert d.metres >= 0.0 and d.error_m >= 0.0
    r = distance(b, a)
    assert abs(d.metres - r.metres) <= d.error_m + r.error_m
    t = distance(_shift(a, dlon), _shift(b, dlon))  # crosses the antimeridian for some dlon
    assert abs(d.metres - t.metres) <= d.error_m + t.error_m + 1e-6


@settings(max_examples=200, deadline=None)
@given(pair=pairs(), ds=st.lists(st.floats(0.0, 400_000.0), min_size=2, max_size=5))
def test_within_is_monotone_in_d_and_agrees_with_distance(
    pair: tuple[Shape, Shape], ds: list[float]
) -> None:
    a, b = pair
    d = distance(a, b)
    answers = [within(a, b, x) for x in sorted(ds)]
    assert answers == sorted(answers)  # False ... False True ... True
    for x in ds:
        assert within(a, b, x) == (d.metres - d.error_m <= x)


@settings(max_examples=200, deadline=None)
@given(pair=pairs())
def test_point_distance_is_the_distance_of_the_bare_disc(pair: tuple[Shape, Shape]) -> None:
    """The verdict's path (no Disc built) gives exactly the value and bound of ``distance``."""
    a, b = pair
    lon, lat = (a.lon, a.lat) if isinstance(a, Disc) else _vertex(a)
    assert point_distance(lon, lat, b) == distance(Disc(lon, lat, 0.0), b)
    assert point_distance(lon, lat, b) == distance(Disc(lon, lat), b)


@st.composite
def disc_pairs(draw: st.DrawFn) -> tuple[Disc, Disc]:
    lon, lat = draw(_lon), draw(_lat)
    far = gs.dest(lon, lat, draw(st.floats(0, 360)), draw(st.floats(0.0, 3e5)))
    radii = st.floats(0.0, 5000.0)
    return Disc(lon, lat, draw(radii)), Disc(far[0], far[1], draw(radii))


@settings(max_examples=300, deadline=None)
@given(pair=disc_pairs())
def test_disc_metres_is_the_distance_between_two_discs(pair: tuple[Disc, Disc]) -> None:
    """The verdict's per-candidate path: the metres of ``distance``, whose bound is then EPS_M."""
    a, b = pair
    m = disc_metres(a.lon, a.lat, a.radius_m, b)
    assert distance(a, b) == Distance(m, EPS_M)
    assert point_distance(a.lon, a.lat, b) == Distance(disc_metres(a.lon, a.lat, 0.0, b), EPS_M)


def test_disc_metres_is_nan_where_distance_validates() -> None:
    assert math.isnan(disc_metres(0.0, math.nan, 0.0, Disc(1.0, 1.0)))
    assert math.isnan(disc_metres(0.0, 0.0, 0.0, Disc(1.0, 1.0, -5.0)))
    assert math.isnan(disc_metres(0.0, 0.0, -1.0, Disc(1.0, 1.0)))


def _vertex(shape: Shape) -> LonLat:
    """A vertex of a corridor or polygon (a point near the pair's other shape)."""
    if isinstance(shape, Corridor):
        return shape.coords[0]
    assert isinstance(shape, Area)
    return shape.polygons[0][0][0]


def test_point_distance_refuses_what_distance_refuses() -> None:
    with pytest.raises(InvalidInput, match="not a valid disc"):
        point_distance(0.0, math.nan, Disc(1.0, 1.0))
    with pytest.raises(InvalidInput, match="not a valid disc"):
        point_distance(0.0, 0.0, Disc(1.0, 1.0, -5.0))


@settings(max_examples=200, deadline=None)
@given(p=st.tuples(_lon, _lat), q=st.tuples(_lon, _lat), r=st.tuples(_lon, _lat), shape=shapes())
def test_triangle_inequality(p: LonLat, q: LonLat, r: LonLat, shape: Shape) -> None:
    dpq = distance(Disc(*p), Disc(*q))
    dqr = distance(Disc(*q), Disc(*r))
    dpr = distance(Disc(*p), Disc(*r))
    assert dpr.metres <= dpq.metres + dqr.metres + 3e-6
    # a point's distance to a shape moves no faster than the point
    ds = [distance(Disc(*x), shape) for x in (p, q)]
    assert abs(ds[0].metres - ds[1].metres) <= dpq.metres + ds[0].error_m + ds[1].error_m + 1e-6


@settings(max_examples=300, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(
            st.floats(-0.1, 0.1), st.floats(-0.1, 0.1), st.floats(1e-4, 0.02), st.floats(1e-4, 0.02)
        ),
        min_size=2,
        max_size=2,
    ),
    kinds=st.tuples(st.booleans(), st.booleans()),
)
def test_zero_iff_they_meet_for_small_boxes_at_the_equator(
    boxes: list[tuple[float, float, float, float]], kinds: tuple[bool, bool]
) -> None:
    """Near the equator and small, geodesic and lon/lat-straight edges differ by micrometres, so
    shapely's planar answer is the truth unless the boxes nearly touch."""
    geoms, shapes_ = [], []
    for (x, y, w, h), as_line in zip(boxes, kinds, strict=True):
        ring = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
        if as_line:
            geoms.append(shapely.LineString(ring[:3]))
            shapes_.append(parse_geometry(gs.line(*ring[:3]), width_m=0.001))
        else:
            geoms.append(shapely.Polygon(ring))
            shapes_.append(parse_geometry(gs.polygon(ring)))
    planar = float(shapely.distance(geoms[0], geoms[1]))
    d = distance(shapes_[0], shapes_[1])
    if planar == 0.0:
        assert d.metres - d.error_m <= 0.01
    elif planar > 1e-6:  # over 10 cm
        assert d.metres - d.error_m > 0.0
        assert d.metres == pytest.approx(planar * 110_574.0, rel=0.02)
