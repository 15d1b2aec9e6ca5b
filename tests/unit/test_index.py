"""SpatialIndex and bounds(): never miss, near the poles and across the antimeridian included.

Oracles: pyproj's Geod (GeographicLib): Geod.fwd places points at exact geodesic distances, Geod.inv
measures them, Geod.npts samples geodesic edges. The index is also compared with a brute-force scan
of the same boxes.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from accord.errors import InvalidInput
from accord.geo.index import Box, SpatialIndex, bounds
from accord.geo.shapes import Area, Corridor, Disc, Shape

GEOD = Geod(ellps="WGS84")

# Latitudes and longitudes where lon/lat grids go wrong, and anywhere.
lats = st.one_of(
    st.floats(-90.0, 90.0),
    st.sampled_from([-90.0, -89.999, -89.9, -85.0, -0.001, 0.0, 60.0, 84.99, 89.95, 90.0]),
    st.floats(89.0, 90.0),
    st.floats(-90.0, -89.0),
)
lons = st.one_of(
    st.floats(-180.0, 180.0),
    st.sampled_from([-180.0, -179.9999, 0.0, 179.9999, 180.0]),
    st.floats(179.0, 180.0),
    st.floats(-180.0, -179.0),
)
small_m = st.floats(0.0, 5_000.0)
any_m = st.one_of(small_m, st.floats(0.0, 200_000.0), st.floats(0.0, 3_000_000.0))


def in_boxes(lon: float, lat: float, boxes: list[Box]) -> bool:
    x = ((lon + 180.0) % 360.0) - 180.0  # [-180, 180); -180 is also 180
    xs = (x, 180.0) if x == -180.0 else (x,)
    return any(w <= v <= e and s <= lat <= n for (w, s, e, n) in boxes for v in xs)


def boxes_meet(a: list[Box], b: list[Box]) -> bool:
    return any(
        aw <= be and bw <= ae and as_ <= bn and bs <= an
        for (aw, as_, ae, an) in a
        for (bw, bs, be, bn) in b
    )


def shape_points(shape: Shape, per_edge: int = 20) -> np.ndarray:
    """Points of the shape's boundary (vertices and points along its geodesic edges), plus the
    centre of a disc."""
    if isinstance(shape, Disc):
        return np.array([[shape.lon, shape.lat]])
    chains: list[tuple[tuple[float, float], ...]]
    if isinstance(shape, Corridor):
        chains = [shape.coords]
    else:
        chains = [ring for polygon in shape.polygons for ring in polygon]
    pts: list[tuple[float, float]] = []
    for chain in chains:
        pts.extend(chain)
        for (x1, y1), (x2, y2) in itertools.pairwise(chain):
            if (x1, y1) != (x2, y2):
                pts.extend(GEOD.npts(x1, y1, x2, y2, per_edge))
    return np.array(pts)


def reach_of(shape: Shape) -> float:
    if isinstance(shape, Disc):
        return shape.radius_m
    if isinstance(shape, Corridor):
        return shape.width_m / 2.0
    return 0.0


# --------------------------------------------------------------------------------------------------
# bounds


@st.composite
def discs(draw: st.DrawFn) -> Disc:
    return Disc(draw(lons), draw(lats), draw(any_m))


@st.composite
def corridors(draw: st.DrawFn) -> Corridor:
    lon, lat = draw(lons), draw(lats)
    n = draw(st.integers(1, 4))
    pts = [(lon, lat)]
    for _ in range(n):
        az = draw(st.floats(-180.0, 180.0))
        dist = draw(st.one_of(st.floats(1.0, 50_000.0), st.floats(1.0, 3_000_000.0)))
        x, y, _ = GEOD.fwd(pts[-1][0], pts[-1][1], az, dist)
        pts.append((float(x), float(y)))
    return Corridor(tuple(pts), draw(st.floats(0.0, 2_000.0)))


@st.composite
def areas(draw: st.DrawFn) -> Area:
    """Convex-ish polygons: vertices round a centre at increasing azimuths."""
    lon, lat = draw(lons), draw(lats)
    radius = draw(st.one_of(st.floats(10.0, 20_000.0), st.floats(10.0, 2_000_000.0)))
    n = draw(st.integers(3, 6))
    start = draw(st.floats(0.0, 360.0))
    ring = []
    for k in range(n):
        x, y, _ = GEOD.fwd(lon, lat, start + 360.0 * k / n, radius)
        ring.append((float(x), float(y)))
    ring.append(ring[0])
    return Area(((tuple(ring),),))


shapes = st.one_of(discs(), corridors(), areas())


@given(shapes, any_m, st.integers(0, 2**32 - 1))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bounds_contain_the_grown_shape(shape: Shape, grow: float, seed: int) -> None:
    boxes = bounds(shape, grow)
    assert boxes
    for w, s, e, n in boxes:
        assert -180.0 <= w <= e <= 180.0
        assert -90.0 <= s <= n <= 90.0
    pts = shape_points(shape, per_edge=8)
    reach = reach_of(shape) + grow
    # every point of the shape, and points at up to `reach` from them in every direction (half
    # of them at exactly `reach`)
    rng = np.random.default_rng(seed)
    m = pts.shape[0] * 8
    az = rng.uniform(-180.0, 180.0, m)
    frac = np.where(rng.random(m) < 0.5, 1.0, rng.random(m))
    base = np.repeat(pts, 8, axis=0)
    x, y, _ = GEOD.fwd(base[:, 0], base[:, 1], az, reach * frac)
    moved = zip(np.asarray(x).tolist(), np.asarray(y).tolist(), strict=True)
    for lon, lat in [*pts.tolist(), *moved]:
        assert in_boxes(lon, lat, boxes), (lon, lat, boxes)


def test_geodesic_edges_bulge_poleward() -> None:
    # the geodesic from (0, 60) to (90, 60) reaches ~67.8°N between its ends
    (w, s, e, n) = bounds(Corridor(((0.0, 60.0), (90.0, 60.0)), 0.0))[0]
    top = max(lat for _, lat in GEOD.npts(0.0, 60.0, 90.0, 60.0, 100_000))
    assert top > 67.0
    assert top <= n < top + 1e-6
    assert s == pytest.approx(60.0, abs=1e-6)
    assert (w, e) == pytest.approx((0.0, 90.0), abs=1e-6)
    # and southward in the southern hemisphere
    (_, s2, _, _) = bounds(Corridor(((0.0, -60.0), (90.0, -60.0)), 0.0))[0]
    assert s2 == pytest.approx(-top, abs=1e-6)


def test_antimeridian_split_and_poles() -> None:
    boxes = bounds(Disc(179.99, 10.0, 0.0), 5_000.0)
    assert len(boxes) == 2
    assert any(b[2] == 180.0 for b in boxes) and any(b[0] == -180.0 for b in boxes)
    south = pytest.approx(89.99 - 5000 / 110574, abs=1e-6)
    assert bounds(Disc(0.0, 89.99, 0.0), 5_000.0) == [(-180.0, south, 180.0, 90.0)]
    # a polygon round the north pole (its ring winds round it) covers the globe, conservatively
    ring = tuple((float(lon), 80.0) for lon in range(-180, 181, 30))
    assert bounds(Area(((ring,),)), 0.0) == [(-180.0, -90.0, 180.0, 90.0)]
    # an edge of 180° of longitude: over a pole or round the equator? the globe
    assert bounds(Corridor(((0.0, 10.0), (180.0, 10.0)), 10.0), 0.0) == [
        (-180.0, -90.0, 180.0, 90.0)
    ]


def test_growth_uses_the_smallest_degree() -> None:
    # 110,574 m per degree of latitude; longitude at the box's poleward edge
    (_, _, e, n) = bounds(Disc(10.0, 45.0, 0.0), 110_574.0)[0]
    assert n - 45.0 == pytest.approx(1.0, abs=1e-6)
    assert e - 10.0 == pytest.approx(1.0 / math.cos(math.radians(46.0)), abs=1e-6)
    # and it is conservative against the true geodesic distance of those box edges
    assert GEOD.inv(10.0, 45.0, 10.0, n)[2] > 110_574.0
    assert GEOD.inv(10.0, 45.0, e, 45.0)[2] > 110_574.0


@pytest.mark.parametrize(
    ("shape", "grow", "field", "message"),
    [
        (Disc(0.0, 91.0, 0.0), 0.0, "shape.lat", "latitude"),
        (Disc(0.0, float("nan"), 0.0), 0.0, "shape.lat", "latitude"),
        (Disc(float("inf"), 0.0, 0.0), 0.0, "shape.lon", "longitude"),
        (Disc(0.0, 0.0, -1.0), 0.0, "shape.radius_m", "radius"),
        (Disc(0.0, 0.0, 0.0), -1.0, "grow_m", ">= 0"),
        (Disc(0.0, 0.0, 0.0), float("nan"), "grow_m", "finite"),
        (Corridor(((0.0, 0.0), (1.0, 95.0)), 10.0), 0.0, "shape.coords", "latitude"),
        (Corridor((), 10.0), 0.0, "shape.coords", "non-empty"),
        (Corridor(((0.0, 0.0), (1.0, 1.0)), float("nan")), 0.0, "shape.width_m", "width"),
        (Area(()), 0.0, "shape.polygons", "at least one polygon"),
        (
            Area(((((0.0, 0.0), (1.0, float("nan")), (0.0, 0.0)),),)),
            0.0,
            "shape.polygons.0.0",
            "latitude",
        ),
        ("POINT (0 0)", 0.0, "shape", "Disc, Corridor or Area"),
    ],
)
def test_bad_input(shape: object, grow: float, field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as exc:
        bounds(shape, grow)  # type: ignore[arg-type]
    assert exc.value.field == field


# --------------------------------------------------------------------------------------------------
# the index against brute force


@st.composite
def scenes(
    draw: st.DrawFn, queries: st.SearchStrategy[Shape] = shapes
) -> tuple[list[tuple[Shape, float]], Shape, float]:
    """Entries and a query, most entries placed close to the query's distance threshold."""
    query = draw(queries)
    d = draw(st.one_of(small_m, st.floats(0.0, 50_000.0)))
    entries: list[tuple[Shape, float]] = []
    qpts = shape_points(query, per_edge=3)
    for _ in range(draw(st.integers(1, 25))):
        kind = draw(st.integers(0, 3))
        reach = draw(st.one_of(small_m, any_m))
        if kind == 3:
            entries.append((draw(shapes), reach))
            continue
        # a disc placed from a point of the query at about the threshold distance
        x0, y0 = qpts[draw(st.integers(0, qpts.shape[0] - 1))]
        r = draw(small_m)
        threshold = reach_of(query) + d + r + reach
        dist = threshold * draw(st.sampled_from([0.0, 0.5, 0.999, 1.0, 1.001, 1.2]))
        x, y, _ = GEOD.fwd(x0, y0, draw(st.floats(-180.0, 180.0)), dist)
        entries.append((Disc(float(x), float(y), r), reach))
    return entries, query, d


def hull(boxes: list[Box]) -> list[Box]:
    return [
        (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
    ]


@given(scenes(), st.sampled_from([0.05, 0.02, 1.0]))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_query_matches_brute_force_over_boxes(
    scene: tuple[list[tuple[Shape, float]], Shape, float], cell_deg: float
) -> None:
    """Every key whose boxes meet the query's boxes, and no key whose boxes' hull does not (an
    entry split at the antimeridian may be stored as its hull where both halves share a cell)."""
    entries, query, d = scene
    ix: SpatialIndex = SpatialIndex(cell_deg=cell_deg)
    for k, (shape, reach) in enumerate(entries):
        ix.insert(str(k), shape, reach)
    qboxes = bounds(query, d)
    boxes = [bounds(shape, reach) for shape, reach in entries]
    must = {str(k) for k, b in enumerate(boxes) if boxes_meet(b, qboxes)}
    may = {str(k) for k, b in enumerate(boxes) if boxes_meet(hull(b), qboxes)}
    found = ix.query(query, d)
    assert must <= found <= may


@given(
    lon=st.floats(-180.0, 180.0),
    lat=st.floats(-85.0, 85.0),
    radius=st.floats(0.0, 2000.0),
    d=st.floats(0.0, 8000.0),
    cell_deg=st.sampled_from([0.01, 0.02, 0.03]),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=200, deadline=None)
def test_query_matches_brute_force_in_a_crowd(
    lon: float, lat: float, radius: float, d: float, cell_deg: float, seed: int
) -> None:
    """A query over many rows and columns of small cells, among points strewn round it and on
    the edges of its box: each side test of the edge rows and columns keeps what meets the query's
    boxes and drops the rest."""
    rng = random.Random(seed)
    query = Disc(lon, lat, radius)
    qboxes = bounds(query, d)
    ix: SpatialIndex = SpatialIndex(cell_deg=cell_deg)
    entries = []
    for k in range(300):
        w, s, e, n = rng.choice(qboxes)
        x = rng.uniform(w - 0.05, e + 0.05)
        y = rng.uniform(s - 0.05, n + 0.05)
        if rng.random() < 0.5:  # about a west or east edge (within ~30 m)
            x = rng.choice([w, e]) + rng.uniform(-3e-4, 3e-4)
        if rng.random() < 0.5:  # about a south or north edge
            y = rng.choice([s, n]) + rng.uniform(-3e-4, 3e-4)
        point = Disc(x, y, 0.0)
        reach = rng.choice([0.0, 0.0, 50.0, 500.0])
        ix.insert(str(k), point, reach)
        entries.append(bounds(point, reach))
    found = ix.query(query, d)
    assert found == {str(k) for k, b in enumerate(entries) if boxes_meet(b, qboxes)}


@given(scenes(discs()))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_never_misses_a_disc_within_d(
    scene: tuple[list[tuple[Shape, float]], Shape, float],
) -> None:
    entries, query, d = scene
    assert isinstance(query, Disc)
    ix: SpatialIndex = SpatialIndex()
    for k, (shape, reach) in enumerate(entries):
        ix.insert(str(k), shape, reach)
    found = ix.query(query, d)
    for k, (shape, reach) in enumerate(entries):
        if not isinstance(shape, Disc):
            continue
        # the exact geodesic distance between the discs' centres, against the sum of radii
        dist = GEOD.inv(query.lon, query.lat, shape.lon, shape.lat)[2]
        if dist <= query.radius_m + d + shape.radius_m + reach:
            assert str(k) in found, (shape, reach, dist)


@given(scenes(st.one_of(corridors(), areas())))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_never_misses_a_point_near_a_corridor_or_area(
    scene: tuple[list[tuple[Shape, float]], Shape, float],
) -> None:
    """Entries placed (by Geod.fwd) at most `threshold` from a point of the query's edges."""
    entries, query, d = scene
    ix: SpatialIndex = SpatialIndex()
    for k, (shape, reach) in enumerate(entries):
        ix.insert(str(k), shape, reach)
    found = ix.query(query, d)
    qpts = shape_points(query, per_edge=50)
    for k, (shape, reach) in enumerate(entries):
        if not isinstance(shape, Disc):
            continue
        # distance from the entry's centre to the query's sampled boundary: an upper bound of
        # the true distance, so "within" here implies within for real
        n = qpts.shape[0]
        dist = np.min(
            GEOD.inv(np.full(n, shape.lon), np.full(n, shape.lat), qpts[:, 0], qpts[:, 1])[2]
        )
        if dist <= reach_of(query) + d + shape.radius_m + reach:
            assert str(k) in found


# --------------------------------------------------------------------------------------------------
# updates


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["insert", "move", "remove", "query"]),
            st.integers(0, 15),
            shapes,
            any_m,
        ),
        max_size=60,
    )
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_updates_match_a_model(ops: list[tuple[str, int, Shape, float]]) -> None:
    ix: SpatialIndex = SpatialIndex()
    model: dict[str, tuple[Shape, float]] = {}
    for op, k, shape, m in ops:
        key = f"p{k}"
        if op in ("insert", "move"):
            getattr(ix, op)(key, shape, m)
            model[key] = (shape, m)
        elif op == "remove":
            ix.remove(key)
            model.pop(key, None)
        else:
            qb = bounds(shape, m)
            must = {x for x, (s, r) in model.items() if boxes_meet(bounds(s, r), qb)}
            may = {x for x, (s, r) in model.items() if boxes_meet(hull(bounds(s, r)), qb)}
            assert must <= ix.query(shape, m) <= may
        assert len(ix) == len(model)
        assert all(x in ix for x in model)
    stats = ix.stats()
    assert stats["entries"] == len(model)
    assert sum(stats["level_entries"]) == len(model)
    for key in list(model):
        ix.remove(key)
    assert len(ix) == 0
    assert ix.stats()["cells"] == 0 and ix.stats()["registrations"] == 0


def test_a_track_moving_round_the_world() -> None:
    ix: SpatialIndex = SpatialIndex()
    ix.insert("static", Disc(0.0, 0.0, 0.0), 10.0)
    lon, lat, az = 179.5, 88.0, 10.0
    for _ in range(400):
        lon, lat, back = GEOD.fwd(lon, lat, az, 2_000.0)
        az = back + 180.0
        ix.move("unit", Disc(float(lon), float(lat), 30.0), 50.0)
        assert "unit" in ix.query(Disc(float(lon), float(lat), 0.0), 0.0)
        assert ix.query(Disc(float(lon), float(lat), 0.0), 0.0) == {"unit"}
    assert len(ix) == 2
    ix.remove("unit")
    ix.remove("unit")  # absent: no error
    assert len(ix) == 1 and "unit" not in ix and "static" in ix


def test_large_entries_stay_small_in_memory_and_are_found() -> None:
    ix: SpatialIndex = SpatialIndex()
    huge_ring = tuple(
        (float(x), float(y)) for x, y in [(-20, -40), (60, -40), (60, 40), (-20, 40), (-20, -40)]
    )
    ix.insert("continent", Area(((huge_ring,),)), 0.0)
    ix.insert("far-reach", Disc(100.0, 10.0, 0.0), 3_000_000.0)
    ix.insert("globe", Disc(0.0, 0.0, 0.0), 30_000_000.0)
    ix.insert("pole", Disc(0.0, 90.0, 0.0), 100.0)
    for k in range(1000):
        ix.insert(f"p{k}", Disc(10.0 + k * 0.01, 5.0, 0.0), 50.0)
    stats = ix.stats()
    # at most max_cells (16) registrations per entry, whatever its size
    assert stats["registrations"] <= 16 * 4 + 1000 * 4
    assert ix.query(Disc(20.0, 0.0, 0.0), 0.0) >= {"continent", "globe"}
    assert "far-reach" in ix.query(Disc(110.0, 30.0, 0.0), 0.0)
    assert "pole" in ix.query(Disc(-170.0, 89.9995, 0.0), 0.0)  # 56 m from the pole
    assert ix.query(Disc(-100.0, -60.0, 0.0), 0.0) == {"globe"}


def test_query_of_the_whole_world_returns_everything() -> None:
    ix: SpatialIndex = SpatialIndex()
    rnd = random.Random(4)
    for k in range(500):
        ix.insert(str(k), Disc(rnd.uniform(-180, 180), rnd.uniform(-90, 90), 0.0), 10.0)
    assert ix.query(Disc(0.0, 0.0, 0.0), 25_000_000.0) == {str(k) for k in range(500)}


def test_bad_arguments_to_the_index() -> None:
    ix: SpatialIndex = SpatialIndex()
    with pytest.raises(InvalidInput, match="distance") as exc:
        ix.insert("a", Disc(0.0, 0.0, 0.0), -5.0)
    assert exc.value.field == "reach_m"
    with pytest.raises(InvalidInput, match="latitude") as exc:
        ix.move("a", Disc(0.0, 100.0, 0.0), 5.0)
    assert exc.value.field == "shape.lat"
    with pytest.raises(InvalidInput, match="finite") as exc:
        ix.query(Disc(0.0, 0.0, 0.0), float("inf"))
    assert exc.value.field == "d"
    assert len(ix) == 0  # nothing was inserted by the failed calls
    with pytest.raises(InvalidInput, match="cell size"):
        SpatialIndex(cell_deg=0.0)


def _internals(index: SpatialIndex) -> tuple[object, ...]:
    return (
        index._cells,  # the bulk path must build the very same structure
        index._entries,
        index._level_count,
        index._codes,
        index._halo,
        index._halo_of,
        index._halo_wide,
    )


points = st.lists(st.tuples(st.integers(0, 40), lons, lats, st.one_of(small_m, any_m)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    points=points,
    first=st.lists(st.tuples(st.integers(0, 40) | st.integers(100, 140), lons, lats, small_m)),
    halo=st.sampled_from([0.0, 2_000.0]),
)
def test_insert_points_builds_what_inserting_one_by_one_builds(
    points: list[tuple[int, float, float, float]],
    first: list[tuple[int, float, float, float]],
    halo: float,
) -> None:
    # keys may repeat, and may already be in the index (a bulk insert replaces them in turn);
    # an index with a halo keeps its halo too
    bulk: SpatialIndex = SpatialIndex(halo_m=halo)
    single: SpatialIndex = SpatialIndex(halo_m=halo)
    for k, lon, lat, r in first:
        bulk.insert(str(k), Disc(lon, lat, 0.0), r)
        single.insert(str(k), Disc(lon, lat, 0.0), r)
    for k, lon, lat, r in points:
        single.insert(str(k), Disc(lon, lat, 0.0), r)
    bulk.insert_points(
        [str(p[0]) for p in points],
        np.array([p[1] for p in points], dtype=np.float64),
        np.array([p[2] for p in points], dtype=np.float64),
        np.array([p[3] for p in points], dtype=np.float64),
    )
    assert _internals(bulk) == _internals(single)
    for _k, lon, lat, r in points[:5]:
        q = Disc(lon, lat, r)
        assert bulk.query(q, 1000.0) == single.query(q, 1000.0)


def test_insert_points_refuses_what_insert_refuses_after_the_rows_before() -> None:
    index: SpatialIndex = SpatialIndex()
    lons_ = np.array([10.0, 11.0, 12.0])
    with pytest.raises(InvalidInput, match="latitude"):
        index.insert_points(["a", "b", "c"], lons_, np.array([1.0, 91.0, 2.0]), np.zeros(3))
    assert "a" in index and "b" not in index and "c" not in index
    with pytest.raises(InvalidInput, match="reach_m"):
        index.insert_points(["d"], np.array([1.0]), np.array([1.0]), np.array([-1.0]))
    with pytest.raises(InvalidInput, match="one length"):
        index.insert_points(["e", "f"], np.array([1.0]), np.array([1.0]), np.array([1.0]))


# --------------------------------------------------------------------------------------------------
# the halo (an index that answers "nothing near" from one cell lookup)


@st.composite
def halo_scenes(
    draw: st.DrawFn,
) -> tuple[float, list[tuple[str, int, Shape, float]], list[tuple[Disc, float]]]:
    """Operations on entries placed around query discs at about the halo's distance, anywhere
    (poles and the antimeridian included), and those query discs (radius + d within the halo)."""
    halo = draw(st.sampled_from([30.0, 2_000.0, 5_500.0, 40_000.0]))
    queries: list[tuple[Disc, float]] = []
    ops: list[tuple[str, int, Shape, float]] = []
    for _ in range(draw(st.integers(1, 4))):
        g = halo * draw(st.sampled_from([0.0, 0.3, 1.0]))
        r = g * draw(st.sampled_from([0.0, 0.5, 1.0]))
        q = Disc(draw(lons), draw(lats), r)
        queries.append((q, g - r))
        for _ in range(draw(st.integers(1, 8))):
            key = draw(st.integers(0, 15))
            op = draw(st.sampled_from(["insert", "move", "move", "remove"]))
            reach = draw(small_m)
            if draw(st.integers(0, 4)) == 0:
                ops.append((op, key, draw(shapes), reach))
                continue
            radius = draw(small_m)
            far = (g + radius + reach) * draw(st.sampled_from([0.5, 1.0, 1.01, 1.5, 3.0, 6.0]))
            far += draw(st.sampled_from([0.0, 0.01, 2_000.0, 20_000.0]))
            x, y, _ = GEOD.fwd(q.lon, q.lat, draw(st.floats(-180.0, 180.0)), far)
            ops.append((op, key, Disc(float(x), float(y), radius), reach))
    return halo, ops, queries


@given(halo_scenes())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_halo_never_changes_what_a_query_returns(
    scene: tuple[float, list[tuple[str, int, Shape, float]], list[tuple[Disc, float]]],
) -> None:
    halo, ops, queries = scene
    plain: SpatialIndex = SpatialIndex()
    haloed: SpatialIndex = SpatialIndex(halo_m=halo)
    for op, k, shape, reach in ops:
        key = str(k)
        if op == "remove":
            plain.remove(key)
            haloed.remove(key)
        else:
            getattr(plain, op)(key, shape, reach)
            getattr(haloed, op)(key, shape, reach)
        for q, d in queries:
            assert haloed.query(q, d) == plain.query(q, d), (q, d)
            far = Disc(q.lon, q.lat, q.radius_m + halo)  # beyond the halo: the plain path
            assert haloed.query(far, d) == plain.query(far, d)
    for k in range(16):
        haloed.remove(str(k))
    assert haloed._halo == {} and haloed._halo_of == {} and haloed._halo_wide == 0


def test_the_halo_declines_far_queries_and_wide_entries_turn_it_off() -> None:
    ix: SpatialIndex = SpatialIndex(halo_m=5_000.0)
    ix.insert("c", Disc(71.0, 34.9, 300.0), 2_000.0)
    x, y, _ = GEOD.fwd(71.0, 34.9, 45.0, 300.0 + 2_000.0 + 4_999.0)
    assert ix.query(Disc(float(x), float(y), 0.0), 5_000.0) == {"c"}
    assert not ix._outside_halo(float(x), float(y), 5_000.0)
    x, y, _ = GEOD.fwd(71.0, 34.9, 45.0, 60_000.0)
    assert ix._outside_halo(float(x), float(y), 5_000.0)  # the fast "none"
    assert not ix._outside_halo(float(x), float(y), 5_001.0)  # beyond the halo: a real query
    assert ix.query(Disc(float(x), float(y), 0.0), 5_000.0) == set()
    ix.insert("country", Area(((((60.0, 25.0), (80.0, 25.0), (80.0, 40.0), (60.0, 25.0)),),)))
    assert not ix._outside_halo(float(x), float(y), 5_000.0)
    ix.remove("country")
    assert ix._outside_halo(float(x), float(y), 5_000.0)
    with pytest.raises(InvalidInput, match="halo_m"):
        SpatialIndex(halo_m=-1.0)


# --------------------------------------------------------------------------------------------------
# move_disc: the in-cell fast path of a moving point


@st.composite
def tracks(draw: st.DrawFn) -> list[tuple[int, float, float, float, float]]:
    """Moves of a few keys about an anchor each: a corner of a level-0 cell (the antimeridian's
    often) or anywhere (the poles included), the points a hair, metres or a cell away from it
    on either side; now and then a longitude written past ±180, a jump, or a bad value."""
    out: list[tuple[int, float, float, float, float]] = []
    level = SpatialIndex()._levels[0]
    near = st.sampled_from([0.0, 1e-9, -1e-9, 1e-5, -1e-5, 3e-4, -3e-4, 0.03, -0.03])
    few_m = st.sampled_from([0.0, 1.0, 20.0, 500.0])
    for key in range(draw(st.integers(1, 4))):
        lon, lat = draw(lons), draw(lats)
        if draw(st.booleans()):
            row = draw(st.integers(0, level.nrows - 1))
            lat = min(90.0, -90.0 + row * level.h)
            ncols = level.ncols[row]
            col = draw(st.sampled_from([0, ncols]) | st.integers(0, ncols))
            lon = -180.0 + col * 360.0 / ncols
        for _ in range(draw(st.integers(1, 12))):
            x = lon + draw(near)
            y = min(90.0, max(-90.0, lat + draw(near)))
            if draw(st.integers(0, 5)) == 0:
                x += draw(st.sampled_from([-360.0, 360.0]))
            if draw(st.integers(0, 10)) == 0:
                x, y = draw(lons), draw(lats)
            if draw(st.integers(0, 30)) == 0:
                y = draw(st.sampled_from([91.0, math.nan]))
            radius = draw(st.sampled_from([0.0, 0.0, 5.0, 2_000.0]))
            reach = draw(st.one_of(few_m, few_m, small_m, any_m, st.sampled_from([-1.0, math.nan])))
            out.append((key, x, y, radius, reach))
    return out


def _error_of(call: Callable[..., None], *args: object) -> tuple[str, str] | None:
    try:
        call(*args)
    except InvalidInput as exc:
        return exc.field, str(exc)
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moves=tracks(), halo=st.sampled_from([0.0, 2_000.0]))
def test_move_disc_builds_what_insert_builds(
    moves: list[tuple[int, float, float, float, float]], halo: float
) -> None:
    # the fast path (a point staying in its level-0 cell) and the general one (insert) must leave
    # the very same structure, and refuse the same values with the same error
    fast: SpatialIndex = SpatialIndex(halo_m=halo)
    slow: SpatialIndex = SpatialIndex(halo_m=halo)
    for k, lon, lat, radius, reach in moves:
        key = str(k)
        assert _error_of(fast.move_disc, key, lon, lat, radius, reach) == _error_of(
            slow.insert, key, Disc(lon, lat, radius), reach
        )
        assert _internals(fast) == _internals(slow)
    fast.move("0", Disc(0.0, 0.0, 1.0), 1.0)  # move() of a Disc goes the same way
    slow.insert("0", Disc(0.0, 0.0, 1.0), 1.0)
    assert _internals(fast) == _internals(slow)


def test_move_disc_across_the_antimeridian_and_near_the_poles() -> None:
    # a point stepping a hair or metres to every side of the antimeridian (the general path splits
    # its box there) and of a pole's cap, and of a cell's corner
    steps = [1e-5, 1e-9, 0.0, -1e-9, -1e-5, 3e-4, -3e-4, 1e-5]
    for lon0, lat0 in [(-180.0, 10.0), (180.0, -10.0), (0.0, 89.98), (7.0, -89.98), (0.0, 0.0)]:
        for reach in (0.0, 1.0, 20.0):
            fast: SpatialIndex = SpatialIndex()
            slow: SpatialIndex = SpatialIndex()
            for dx in steps:
                for dy in steps:
                    lon, lat = lon0 + dx, max(-90.0, min(90.0, lat0 + dy))
                    fast.move_disc("0", lon, lat, 0.0, reach)
                    slow.insert("0", Disc(lon, lat, 0.0), reach)
                    assert _internals(fast) == _internals(slow), (lon, lat, reach)


@given(halo_scenes(), st.lists(st.tuples(lons, lats), max_size=5))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_declines_points_answers_what_declines_answers(
    scene: tuple[float, list[tuple[str, int, Shape, float]], list[tuple[Disc, float]]],
    more: list[tuple[float, float]],
) -> None:
    halo, ops, queries = scene
    index: SpatialIndex = SpatialIndex(halo_m=halo)
    for op, k, shape, reach in ops:
        if op == "remove":
            index.remove(str(k))
        else:
            getattr(index, op)(str(k), shape, reach)
    # the query points (written 360° away too, or at the first float west of -180°), with their
    # reach, the halo's, a little over it; bad values too
    points = [
        (x, q.lat, q.radius_m + d)
        for q, d in queries
        for x in (q.lon, q.lon - 360.0, q.lon + 360.0, math.nextafter(-180.0, -math.inf))
    ]
    points += [(x, y, g) for x, y in more for g in (0.0, halo, halo * 1.0001 + 1e-9)]
    points += [(0.0, math.nan, 1.0), (math.inf, 0.0, 1.0), (0.0, 0.0, -1.0), (0.0, 0.0, math.nan)]
    xs, ys, gs = ([p[i] for p in points] for i in range(3))
    assert index.declines_points(xs, ys, gs) == [index.declines(*p[:2], 0.0, p[2]) for p in points]
    assert SpatialIndex().declines_points(xs, ys, gs) == [False] * len(points)


@st.composite
def crowd_ops(draw: st.DrawFn) -> list[tuple[str, int, float, float, float]]:
    """Inserts, moves, bulk inserts, removals and queries of a few keys clustered within a few
    level-0 cells (the poles and the antimeridian included), so that cells are queried, changed
    and queried again."""
    lon, lat = draw(lons), draw(lats)
    near = st.floats(-0.05, 0.05)
    kinds = st.sampled_from(["insert", "move_disc", "insert_points", "remove", "query", "query"])
    out = []
    for _ in range(draw(st.integers(1, 80))):
        y = min(90.0, max(-90.0, lat + draw(near)))
        reach = draw(st.sampled_from([0.0, 10.0, 300.0, 5_000.0]))
        out.append((draw(kinds), draw(st.integers(0, 30)), lon + draw(near), y, reach))
    return out


@given(crowd_ops(), st.sampled_from([1, 2, 5]))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_crowded_cells_answer_as_the_others_do(
    ops: list[tuple[str, int, float, float, float]], crowd: int
) -> None:
    """An index that tests its crowded cells on packed boxes (here every cell of ``crowd``
    entries or more) answers every query as one that never does, however its cells change
    between queries: no packed copy outlives a change of its cell."""
    packed: SpatialIndex = SpatialIndex(crowd=crowd)
    plain: SpatialIndex = SpatialIndex(crowd=10**9)
    for op, k, lon, lat, reach in ops:
        key = str(k)
        for index in (packed, plain):
            if op == "insert":
                index.insert(key, Disc(lon, lat, 0.0), reach)
            elif op == "move_disc":
                index.move_disc(key, lon, lat, 0.0, reach)
            elif op == "insert_points":
                keys = [key, str(k + 100)] if k % 2 else [str(k + 200)]
                n = len(keys)
                index.insert_points(keys, np.full(n, lon), np.full(n, lat), np.full(n, reach))
            elif op == "remove":
                index.remove(key)
        if op == "query":
            q = Disc(lon, lat, 0.0)
            for d in (0.0, reach, 3_000.0):
                assert packed.query(q, d) == plain.query(q, d)
    assert _internals(packed) == _internals(plain)
    probe = Disc(ops[0][2], ops[0][3], 0.0)
    assert packed.query(probe, 20_000.0) == plain.query(probe, 20_000.0)


def test_a_crowded_cell_is_tested_on_its_packed_boxes() -> None:
    ix: SpatialIndex = SpatialIndex(crowd=4)
    for k in range(6):  # six points ~9 m apart, in one level-0 cell
        ix.insert(f"p{k}", Disc(10.0 + k * 1e-4, 20.0, 0.0), 1.0)
    for _ in range(3):
        assert ix.query(Disc(10.0, 20.0, 0.0), 2.0) == {"p0"}
    packed = ix._packed[ix._entries["p0"]]
    assert packed is not None and len(packed[0]) == 6  # built by the second query ...
    ix.move_disc("p5", 10.0, 20.0, 0.0, 1.0)
    assert not ix._packed  # ... dropped by the move
    assert ix.query(Disc(10.0, 20.0, 0.0), 2.0) == {"p0", "p5"}
    assert ix._packed == {ix._entries["p0"]: None}  # queried once since
    with pytest.raises(InvalidInput, match="crowd"):
        SpatialIndex(crowd=0)
