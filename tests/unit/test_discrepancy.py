"""Boundary discrepancy zones on synthetic borders whose answer is known by construction.

Borders are built with pyproj's Geod (GeographicLib): a geodesic, sampled every 100 m, and a copy of
it with a stretch moved sideways by an exact distance (Geod.fwd perpendicular to the geodesic).
Areas and perimeters of the zones found are measured with Geod.polygon_area_perimeter.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon

from accord.errors import InvalidInput, PayloadTooLarge
from accord.geo.discrepancy import (
    BoundaryLayer,
    DiscrepancyZone,
    discrepancy_zones,
    parse_boundary_features,
)

GEOD = Geod(ellps="WGS84")


def border(
    lon0: float,
    lat0: float,
    az: float,
    length_km: float,
    bumps: tuple[tuple[float, float, float], ...] = (),
    *,
    jitter_m: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """(n, 2) lon/lat along a geodesic every 100 m; each bump (start_km, end_km, offset_m) moves
    that stretch sideways (positive: to the left); jitter moves every vertex sideways at random."""
    step = 100.0
    n = round(length_km * 1000 / step) + 1
    d = np.arange(n) * step
    lon, lat, back = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), np.full(n, az), d)
    pts = np.column_stack((lon, lat))
    left = np.asarray(back) + 180.0 - 90.0  # forward azimuth there, minus 90°
    offset = np.zeros(n)
    for start, end, off in bumps:
        offset[(d >= start * 1000 - 1e-6) & (d <= end * 1000 + 1e-6)] += off
    if jitter_m:
        offset += np.random.default_rng(seed).uniform(-jitter_m, jitter_m, n)
    moved = offset != 0
    if moved.any():
        az_side = np.where(offset[moved] > 0, left[moved], left[moved] + 180.0)
        x, y, _ = GEOD.fwd(pts[moved, 0], pts[moved, 1], az_side, np.abs(offset[moved]))
        pts[moved, 0] = x
        pts[moved, 1] = y
    return pts


def layer(name: str, pts: np.ndarray) -> BoundaryLayer:
    return BoundaryLayer(name, LineString(pts))


def measure(zone: DiscrepancyZone) -> tuple[float, float]:
    """Geodesic area (km²) and perimeter (km) of a zone."""
    area = 0.0
    perimeter = 0.0
    for polygon in zone.area.polygons:
        for i, ring in enumerate(polygon):
            a, p = GEOD.polygon_area_perimeter([q[0] for q in ring], [q[1] for q in ring])
            area += abs(a) if i == 0 else -abs(a)
            perimeter += p
    return area / 1e6, perimeter / 1e3


def contains(zone: DiscrepancyZone, lon: float, lat: float) -> bool:
    """Whether the zone holds the point: tested in an azimuthal projection centred on the point
    (so rings across the antimeridian or near a pole need nothing special)."""
    crs = CRS.from_dict({"proj": "aeqd", "lon_0": lon, "lat_0": lat, "datum": "WGS84"})
    to_plane = Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    def plane(ring: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
        x, y = to_plane.transform([q[0] for q in ring], [q[1] for q in ring])
        return list(zip(x, y, strict=True))

    return any(
        Polygon(plane(poly[0]), [plane(h) for h in poly[1:]]).contains(Point(0.0, 0.0))
        for poly in zone.area.polygons
    )


def midpoint_of_bump(lon0: float, lat0: float, az: float, along_km: float, off_m: float) -> Point:
    x, y, back = GEOD.fwd(lon0, lat0, az, along_km * 1000)
    x2, y2, _ = GEOD.fwd(x, y, back + 180.0 - 90.0, off_m / 2)
    return Point(x2, y2)


BUMP = ((10.0, 17.0, 1500.0),)


@pytest.mark.parametrize(
    ("lon0", "lat0", "az"),
    [
        (70.0, 35.0, 90.0),  # mid-latitude, east-west
        (71.2, 34.1, 33.0),  # oblique
        (179.9, -16.5, 90.0),  # across the antimeridian (Fiji)
        (10.0, 85.0, 75.0),  # near the north pole
        (-60.0, -0.01, 0.0),  # along a meridian, across the equator
    ],
)
def test_one_offset_stretch_gives_one_zone(lon0: float, lat0: float, az: float) -> None:
    a = border(lon0, lat0, az, 30.0)
    b = border(lon0, lat0, az, 30.0, BUMP)
    zones = discrepancy_zones([layer("a", a), layer("b", b)], tolerance_m=100.0)
    assert len(zones) == 1
    zone = zones[0]
    assert zone.layers == ("a", "b")
    assert zone.max_separation_m == pytest.approx(1500.0, abs=2.0)
    area, perimeter = measure(zone)
    # 7 km x 1.5 km, plus the two 100 m slanted ends (0.15 km²) and a 1 m ribbon
    assert area == pytest.approx(7.0 * 1.5 + 0.15, rel=0.02)
    length_km = (perimeter - 2 * 1.5) / 2  # the zone's length along the border
    assert length_km == pytest.approx(7.0, abs=0.2)
    middle = midpoint_of_bump(lon0, lat0, az, 13.5, 1500.0)
    assert contains(zone, middle.x, middle.y)
    far_away = midpoint_of_bump(lon0, lat0, az, 25.0, 1500.0)
    assert not contains(zone, far_away.x, far_away.y)


def test_identical_layers_have_no_zone() -> None:
    a = border(70.0, 35.0, 90.0, 30.0)
    assert discrepancy_zones([layer("a", a), layer("b", a.copy())], 100.0) == []


def test_lines_closer_than_the_tolerance_have_no_zone() -> None:
    a = border(70.0, 35.0, 90.0, 30.0)
    shifted = border(70.0, 35.0, 90.0, 30.0, ((0.0, 30.0, 90.0),))
    jittered = border(70.0, 35.0, 90.0, 30.0, jitter_m=45.0, seed=1)
    assert discrepancy_zones([layer("a", a), layer("b", shifted)], 100.0) == []
    assert discrepancy_zones([layer("a", a), layer("b", jittered)], 100.0) == []
    # the same shift is a discrepancy at a tighter tolerance, over the whole shared length
    zones = discrepancy_zones([layer("a", a), layer("b", shifted)], 50.0)
    assert len(zones) == 1
    assert zones[0].max_separation_m == pytest.approx(90.0, abs=1.0)
    area, _ = measure(zones[0])
    assert area == pytest.approx(30.0 * 0.09, rel=0.05)


def test_noisy_layers_with_one_real_difference() -> None:
    a = border(70.0, 35.0, 90.0, 30.0, jitter_m=30.0, seed=2)
    b = border(70.0, 35.0, 90.0, 30.0, BUMP, jitter_m=30.0, seed=3)
    zones = discrepancy_zones([layer("a", a), layer("b", b)], 100.0)
    assert len(zones) == 1
    assert zones[0].max_separation_m == pytest.approx(1500.0, abs=65.0)


def test_tolerance_decides() -> None:
    a = border(70.0, 35.0, 90.0, 30.0)
    b = border(70.0, 35.0, 90.0, 30.0, ((10.0, 17.0, 400.0),))
    assert len(discrepancy_zones([layer("a", a), layer("b", b)], 300.0)) == 1
    assert discrepancy_zones([layer("a", a), layer("b", b)], 450.0) == []


def test_a_layer_going_on_beyond_the_other_is_not_a_discrepancy() -> None:
    a = border(70.0, 35.0, 90.0, 30.0)
    b = border(70.0, 35.0, 90.0, 18.0)  # stops 12 km earlier on the same line
    assert discrepancy_zones([layer("a", a), layer("b", b)], 100.0) == []
    # ... nor is a layer more than search_m away (another boundary altogether)
    far = border(70.0, 35.8, 90.0, 30.0)  # ~89 km north
    assert discrepancy_zones([layer("a", a), layer("b", far)], 100.0) == []


def test_a_layer_veering_off_at_its_end() -> None:
    a = border(70.0, 35.0, 90.0, 30.0)
    b = border(70.0, 35.0, 90.0, 30.0, ((28.0, 30.0, 1200.0),))
    zones = discrepancy_zones([layer("a", a), layer("b", b)], 100.0)
    assert len(zones) == 1
    assert zones[0].max_separation_m == pytest.approx(1200.0, abs=2.0)
    area, _ = measure(zones[0])
    assert area == pytest.approx(2.0 * 1.2 + 0.06, rel=0.05)


def test_crossing_lines_give_a_zone_each_side() -> None:
    a = border(70.0, 35.0, 90.0, 30.0)
    b = border(70.0, 35.0, 90.0, 30.0, ((5.0, 10.0, 800.0), (10.1, 15.0, -600.0)))
    zones = discrepancy_zones([layer("a", a), layer("b", b)], 100.0)
    assert len(zones) == 2
    seps = sorted(z.max_separation_m for z in zones)
    assert seps == pytest.approx([600.0, 800.0], abs=2.0)


def test_three_layers() -> None:
    a = border(70.0, 35.0, 90.0, 40.0)
    b = border(70.0, 35.0, 90.0, 40.0, ((5.0, 12.0, 1500.0),))
    c = border(70.0, 35.0, 90.0, 40.0, ((20.0, 28.0, -800.0),))
    zones = discrepancy_zones([layer("a", a), layer("b", b), layer("c", c)], 100.0)
    assert len(zones) == 2
    by_sep = sorted(zones, key=lambda z: z.max_separation_m)
    # b's stretch disagrees with both a and c; c's with both a and b: every layer is concerned
    assert by_sep[0].layers == ("a", "b", "c")
    assert by_sep[0].max_separation_m == pytest.approx(800.0, abs=2.0)
    assert by_sep[1].layers == ("a", "b", "c")
    assert by_sep[1].max_separation_m == pytest.approx(1500.0, abs=2.0)
    # a and c agree where b differs: a pair of agreeing layers among three gives no extra zone
    only_ac = discrepancy_zones([layer("a", a), layer("c2", a.copy()), layer("b", b)], 100.0)
    assert len(only_ac) == 1
    assert only_ac[0].layers == ("a", "c2", "b")


def square(lon0: float, lat0: float, side_km: float, bump_m: float = 0.0) -> np.ndarray:
    """A closed ring: four geodesic sides, counter-clockwise; the south side (the first) gets a
    bump of bump_m outwards (to the right, south) from 6 to 13 km."""
    pts = []
    lon, lat, az = lon0, lat0, 90.0
    for side in range(4):
        bumps = ((6.0, 13.0, -bump_m),) if side == 0 and bump_m else ()
        chain = border(lon, lat, az, side_km, bumps)
        pts.append(chain[:-1])
        lon, lat = chain[-1]
        _, back, _ = GEOD.inv(chain[-2, 0], chain[-2, 1], lon, lat)
        az = back + 180.0 + 90.0  # turn left
    ring = np.vstack([*pts, pts[0][:1]])
    return ring


def test_polygons_as_input_use_their_boundaries() -> None:
    a = Polygon(square(70.0, 35.0, 20.0))
    b = Polygon(square(70.0, 35.0, 20.0, bump_m=1500.0))
    assert a.is_valid and b.is_valid
    zones = discrepancy_zones([BoundaryLayer("a", MultiPolygon([a])), BoundaryLayer("b", b)], 100.0)
    assert len(zones) == 1  # the bump, not the whole territory
    assert zones[0].max_separation_m == pytest.approx(1500.0, abs=3.0)
    area, _ = measure(zones[0])
    assert area == pytest.approx(7.0 * 1.5 + 0.15, rel=0.03)


def test_geojson_round_trip_through_the_parser() -> None:
    a = border(70.0, 35.0, 90.0, 30.0)
    b = border(70.0, 35.0, 90.0, 30.0, BUMP)
    fc_a = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "LineString", "coordinates": a.tolist()},
            }
        ],
    }
    fc_b = {"type": "LineString", "coordinates": [[x, y, 0.0] for x, y in b.tolist()]}
    ga = parse_boundary_features(json.loads(json.dumps(fc_a)))
    gb = parse_boundary_features(fc_b)
    assert isinstance(ga, MultiLineString)
    assert isinstance(gb, MultiLineString)
    zones = discrepancy_zones([BoundaryLayer("a", ga), BoundaryLayer("b", gb)], 100.0)
    assert len(zones) == 1
    assert zones[0].max_separation_m == pytest.approx(1500.0, abs=2.0)


def test_parser_kinds() -> None:
    line = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
    poly = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    assert parse_boundary_features(poly).geom_type == "MultiPolygon"
    mixed = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": line, "properties": None},
            {"type": "Feature", "geometry": poly, "properties": None},
        ],
    }
    g = parse_boundary_features(mixed)
    assert g.geom_type == "GeometryCollection"
    assert len(g.geoms) == 2
    multi = {
        "type": "Feature",
        "geometry": {
            "type": "MultiLineString",
            "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3]]],
        },
    }
    assert len(parse_boundary_features(multi).geoms) == 2


@pytest.mark.parametrize(
    ("fc", "field", "message"),
    [
        ("not json", "features", "FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "features.features", "non-empty"),
        (
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]},
            "features.features.0.geometry",
            "missing",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]}}
                ],
            },
            "features.features.0.geometry.type",
            "LineString",
        ),
        (
            {"type": "LineString", "coordinates": [[0, 0], [1, 91]]},
            "features.coordinates.1",
            "latitude",
        ),
        (
            {"type": "LineString", "coordinates": [[0, 0], [181, 1]]},
            "features.coordinates.1",
            "longitude",
        ),
        (
            {"type": "LineString", "coordinates": [[0, 0], [float("nan"), 1]]},
            "features.coordinates.1",
            "longitude",
        ),
        ({"type": "LineString", "coordinates": [[0, 0], [0, 0]]}, "features.coordinates", "two"),
        (
            {"type": "LineString", "coordinates": [[0, "1"], [0, 0]]},
            "features.coordinates.0",
            "numbers",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
            "features.coordinates.0",
            "closed",
        ),
        (
            {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [0, 0]]]]},
            "features.coordinates.0.0",
            "four positions",
        ),
        (
            {"type": "Feature", "geometry": {"type": "LineString"}},
            "features.geometry.coordinates",
            "missing",
        ),
        ({"type": "Topology"}, "features.type", "FeatureCollection"),
    ],
)
def test_invalid_feature_collections_name_the_field(fc: object, field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as exc:
        parse_boundary_features(fc)
    assert exc.value.field == field


def test_parser_uses_the_field_it_is_given() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_boundary_features({"type": "LineString", "coordinates": [[0, 0]]}, field="layer")
    assert exc.value.field == "layer.coordinates"


def test_too_many_positions() -> None:
    pos = [0.0, 0.0]
    fc = {"type": "LineString", "coordinates": [pos] * 1_000_001}
    with pytest.raises(PayloadTooLarge, match="at most 1000000 positions") as exc:
        parse_boundary_features(fc)
    assert exc.value.field == "features.coordinates"


def test_bad_arguments() -> None:
    a = layer("a", border(70.0, 35.0, 90.0, 5.0))
    b = layer("b", border(70.0, 35.0, 90.0, 5.0))
    for bad in (0.0, -5.0, float("nan"), float("inf"), "100"):
        with pytest.raises(InvalidInput, match="tolerance_m") as exc:
            discrepancy_zones([a, b], bad)  # type: ignore[arg-type]
        assert exc.value.field == "tolerance_m"
    with pytest.raises(InvalidInput, match="duplicate") as exc:
        discrepancy_zones([a, a], 100.0)
    assert exc.value.field == "layers.1.id"
    with pytest.raises(InvalidInput, match="lines or polygons") as exc:
        discrepancy_zones([a, BoundaryLayer("p", shapely.MultiPoint([(70, 35), (71, 35)]))], 100.0)
    assert exc.value.field == "layers.1.geometry"
    with pytest.raises(InvalidInput, match="lat in") as exc:
        discrepancy_zones([a, BoundaryLayer("q", LineString([(70, 35), (70, 95)]))], 100.0)
    assert exc.value.field == "layers.1.geometry"
    assert discrepancy_zones([a], 100.0) == []
    assert discrepancy_zones([], 100.0) == []


def test_layers_far_apart_are_compared_only_where_they_meet() -> None:
    # two borders on different continents, each drawn differently by two parties
    a = border(70.0, 35.0, 90.0, 30.0)
    b = border(70.0, 35.0, 90.0, 30.0, BUMP)
    c = border(-60.0, -20.0, 10.0, 30.0)
    d = border(-60.0, -20.0, 10.0, 30.0, ((3.0, 6.0, -700.0),))
    zones = discrepancy_zones([layer("a", a), layer("c", c), layer("b", b), layer("d", d)], 100.0)
    assert [(z.layers, round(z.max_separation_m)) for z in zones] == [
        (("a", "b"), 1500),
        (("c", "d"), 700),
    ]
