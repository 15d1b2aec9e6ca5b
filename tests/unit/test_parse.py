"""accord.geo.parse: GeoJSON geometries to shapes, and every way they can be refused."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests import geoshapes as gs

from accord.errors import InvalidInput, PayloadTooLarge
from accord.geo.parse import (
    MAX_AREA_M2,
    MAX_EXTENT_M,
    MAX_RADIUS_M,
    MAX_VERTICES,
    MAX_WIDTH_M,
    parse_geometry,
    shape_to_geojson,
)
from accord.geo.shapes import Area, Corridor, Disc


def _raises(obj: object, match: str, path: str, **kw: Any) -> InvalidInput:
    """parse_geometry(obj, **kw) raises InvalidInput matching ``match``, naming ``path``."""
    with pytest.raises(InvalidInput, match=match) as info:
        parse_geometry(obj, **kw)
    assert info.value.field == path
    return info.value


# --- accepted shapes ------------------------------------------------------------------------


def test_point_with_radius_is_a_disc() -> None:
    assert parse_geometry(gs.point(71.09, 34.91), radius_m=500) == Disc(71.09, 34.91, 500.0)


def test_point_without_radius_is_a_bare_point() -> None:
    assert parse_geometry(gs.point(-180, -90)) == Disc(-180.0, -90.0, 0.0)


def test_linestring_with_width_is_a_corridor() -> None:
    shape = parse_geometry(gs.line([71.0, 34.9], [71.1, 35.0]), width_m=250)
    assert shape == Corridor(((71.0, 34.9), (71.1, 35.0)), 250.0)


def test_polygon_is_an_area_with_closed_rings() -> None:
    shape = parse_geometry(gs.SQUARE_1KM)
    assert isinstance(shape, Area)
    (ring,) = shape.polygons[0]
    assert len(ring) == 11
    assert ring[0] == ring[-1]


def test_polygon_with_hole_keeps_the_hole() -> None:
    shape = parse_geometry(gs.WITH_HOLE)
    assert isinstance(shape, Area)
    assert [len(r) for r in shape.polygons[0]] == [13, 9]


def test_multipolygon_keeps_every_polygon() -> None:
    obj = {
        "type": "MultiPolygon",
        "coordinates": [[gs.star(10, 10, 1000)], [gs.star(10.1, 10, 1000)]],
    }
    shape = parse_geometry(obj)
    assert isinstance(shape, Area)
    assert len(shape.polygons) == 2


def test_rings_follow_the_right_hand_rule() -> None:
    clockwise = [[0.0, 0.0], [0.0, 0.01], [0.01, 0.01], [0.01, 0.0], [0.0, 0.0]]
    hole_ccw = [[0.004, 0.004], [0.006, 0.004], [0.006, 0.006], [0.004, 0.004]]
    shape = parse_geometry(gs.polygon(clockwise, hole_ccw))
    assert isinstance(shape, Area)
    outer, hole = shape.polygons[0]
    assert outer == tuple((x, y) for x, y in clockwise[::-1])
    assert hole == tuple((x, y) for x, y in hole_ccw[::-1])


def test_repeated_positions_are_dropped_and_altitude_ignored() -> None:
    ring = [[0, 0, 5], [0.01, 0, 5], [0.01, 0, 7], [0.01, 0.01], [0, 0.01], [0, 0, 5]]
    shape = parse_geometry(gs.polygon(ring))
    assert isinstance(shape, Area)
    assert shape.polygons[0][0] == ((0.0, 0.0), (0.01, 0.0), (0.01, 0.01), (0.0, 0.01), (0.0, 0.0))


def test_antimeridian_polygon_is_accepted_as_a_small_square() -> None:
    shape = parse_geometry(gs.ANTIMERIDIAN)
    assert isinstance(shape, Area)
    assert (179.9, -0.1) in shape.polygons[0][0]


def test_near_pole_polygon_is_accepted() -> None:
    assert isinstance(parse_geometry(gs.NEAR_POLE), Area)


def test_tiny_polygon_is_accepted() -> None:
    assert isinstance(parse_geometry(gs.TINY), Area)


def test_wgs84_crs_member_is_accepted() -> None:
    obj = {**gs.point(1, 2), "crs": {"type": "name", "properties": {"name": "EPSG:4326"}}}
    assert parse_geometry(obj) == Disc(1.0, 2.0, 0.0)


@pytest.mark.parametrize(
    ("obj", "kw"),
    [
        (gs.point(71.5, -12.25), {"radius_m": 30}),
        (gs.line([179.5, 10], [-179.5, 10.5], [-179, 10]), {"width_m": 80}),
        (gs.SQUARE_1KM, {}),
        (gs.WITH_HOLE, {}),
        (gs.ANTIMERIDIAN, {}),
        ({"type": "MultiPolygon", "coordinates": [[gs.star(0, 0, 500)], [gs.star(1, 0, 500)]]}, {}),
    ],
)
def test_shape_to_geojson_round_trips(obj: dict[str, object], kw: dict[str, float]) -> None:
    shape = parse_geometry(obj, **kw)
    back = shape_to_geojson(shape)
    assert back["type"] == obj["type"]
    assert parse_geometry(back, **kw) == shape


# --- refusals: types and numbers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "field", "match"),
    [
        ([1, 2], "area", "expected a GeoJSON geometry object, got an array"),
        ("Point", "area", "got a string"),
        ({"type": "Feature", "geometry": gs.point(0, 0)}, "area.type", "got a Feature"),
        ({"type": "GeometryCollection"}, "area.type", "unsupported geometry type 'Geometry"),
        ({"type": "MultiPoint", "coordinates": []}, "area.type", "unsupported"),
        ({"coordinates": [0, 0]}, "area.type", "unsupported geometry type null"),
        ({"type": "Point"}, "area.coordinates", "missing"),
        ({"type": "Point", "coordinates": "0,0"}, "area.coordinates", "must be an array"),
        ({"type": "Point", "coordinates": [1]}, "area.coordinates", "needs 2 numbers"),
        ({"type": "Point", "coordinates": [1, 2, 3, 4]}, "area.coordinates", "2 or 3 numbers"),
        ({"type": "Point", "coordinates": [True, 2]}, "area.coordinates", "longitude must be a "),
        ({"type": "Point", "coordinates": ["1", 2]}, "area.coordinates", "got a string"),
        ({"type": "Point", "coordinates": [1, None]}, "area.coordinates", "latitude must be a n"),
        ({"type": "Point", "coordinates": [math.nan, 2]}, "area.coordinates", "finite"),
        ({"type": "Point", "coordinates": [1, math.inf]}, "area.coordinates", "finite"),
        ({"type": "Point", "coordinates": [1, 2, math.nan]}, "area.coordinates", "altitude"),
        ({"type": "Point", "coordinates": [10**400, 2]}, "area.coordinates", "out of range"),
        ({"type": "Point", "coordinates": [180.5, 2]}, "area.coordinates", "longitude 180.5"),
        ({"type": "Point", "coordinates": [1, -90.01]}, "area.coordinates", "latitude -90.01"),
        (
            {**gs.point(1, 2), "crs": {"type": "name", "properties": {"name": "EPSG:32642"}}},
            "area.crs",
            "only WGS84",
        ),
    ],
)
def test_bad_types_and_numbers_are_refused(obj: object, field: str, match: str) -> None:
    _raises(obj, match, field)


def test_position_errors_name_the_position() -> None:
    ring = [*gs.star(0, 0, 1000, 5)]
    ring[3] = [0, 91]
    _raises(gs.polygon(ring), "latitude 91", "area.coordinates[0][3]")
    multi = {"type": "MultiPolygon", "coordinates": [[gs.star(0, 0, 500)], [ring]]}
    _raises(multi, "latitude 91", "area.coordinates[1][0][3]")


def test_field_prefix_reaches_every_path() -> None:
    _raises(gs.point(0, 0), "0 or more", "clearance.radius_m", field="clearance.area", radius_m=-1)
    _raises(gs.BOWTIE, "crosses", "clearance.area.coordinates[0]", field="clearance.area")


# --- refusals: radius and width -------------------------------------------------------------


@pytest.mark.parametrize(
    ("radius", "match", "cls"),
    [
        (-1, "0 or more", InvalidInput),
        (math.nan, "finite", InvalidInput),
        (math.inf, "finite", InvalidInput),
        ("500", "must be a number, got a string", InvalidInput),
        (True, "got a boolean", InvalidInput),
        (MAX_RADIUS_M * 1.01, "limit", PayloadTooLarge),
    ],
)
def test_bad_radius_is_refused(radius: object, match: str, cls: type[InvalidInput]) -> None:
    with pytest.raises(cls, match=match) as info:
        parse_geometry(gs.point(0, 0), radius_m=radius)
    assert info.value.field == "radius_m"


@pytest.mark.parametrize(
    ("width", "match", "cls"),
    [
        (None, "required", InvalidInput),
        (0, "more than 0", InvalidInput),
        (-5, "more than 0", InvalidInput),
        (math.nan, "finite", InvalidInput),
        ([10], "got an array", InvalidInput),
        (MAX_WIDTH_M * 2, "limit", PayloadTooLarge),
    ],
)
def test_bad_width_is_refused(width: object, match: str, cls: type[InvalidInput]) -> None:
    with pytest.raises(cls, match=match) as info:
        parse_geometry(gs.line([0, 0], [0.1, 0]), width_m=width)
    assert info.value.field == "width_m"


def test_radius_or_width_on_the_wrong_geometry_is_refused() -> None:
    _raises(gs.SQUARE_1KM, "radius_m applies to a Point only", "radius_m", radius_m=10)
    _raises(gs.SQUARE_1KM, "width_m applies to a LineString only", "width_m", width_m=10)
    _raises(gs.point(0, 0), "width_m applies", "width_m", width_m=10)
    _raises(gs.line([0, 0], [1, 0]), "radius_m applies", "radius_m", radius_m=10, width_m=5)


# --- refusals: rings and polygons ----------------------------------------------------------


def test_empty_shapes_are_refused() -> None:
    _raises(gs.EMPTY, "polygon is empty", "area.coordinates")
    _raises(gs.EMPTY_MULTI, "MultiPolygon is empty", "area.coordinates")
    _raises({"type": "Polygon", "coordinates": [[]]}, "at least 4 positions", "area.coordinates[0]")
    _raises(gs.line(), "at least 2 positions", "area.coordinates", width_m=10)


def test_ring_must_be_closed() -> None:
    ring = gs.star(0, 0, 1000, 5)
    ring[-1] = [0.001, 0.001]
    _raises(gs.polygon(ring), "not closed", "area.coordinates[0][5]")


def test_ring_needs_four_positions() -> None:
    _raises(gs.polygon([[0, 0], [1, 0], [0, 0]]), "at least 4 positions", "area.coordinates[0]")


def test_ring_with_fewer_than_three_distinct_positions_is_degenerate() -> None:
    ring = [[0, 0], [0.01, 0], [0.01, 0], [0, 0]]
    _raises(gs.polygon(ring), "fewer than 3 distinct", "area.coordinates[0]")


def test_zero_area_polygon_is_degenerate() -> None:
    # three points on the equator, a geodesic: the ring encloses nothing
    ring = [[0, 0], [0.01, 0], [0.02, 0], [0.01, 0], [0, 0]]
    _raises(gs.polygon(ring), "crosses or touches itself|degenerate", "area.coordinates[0]")
    sliver = [[0, 0], [1e-6, 0], [1e-6, 1e-6], [0, 1e-6], [0, 0]]  # 0.012 m²
    _raises(gs.polygon(sliver), "degenerate: its area is 0.0123 m²", "area.coordinates[0]")


def test_degenerate_line_is_refused() -> None:
    _raises(
        gs.line([1, 2], [1, 2], [1, 2]),
        "all its positions are the same",
        "area.coordinates",
        width_m=5,
    )


def test_bowtie_is_refused_with_its_crossing() -> None:
    e = _raises(gs.BOWTIE, r"crosses or touches itself near \[71\.00", "area.coordinates[0]")
    assert "34.90" in str(e)


def test_hole_outside_shell_is_refused() -> None:
    outer = gs.star(0, 0, 1000, 6)
    hole = gs.star(0.05, 0, 300, 5)[::-1]
    _raises(gs.polygon(outer, hole), "hole lies outside the exterior ring", "area.coordinates")


def test_nested_holes_are_refused() -> None:
    outer = gs.star(0, 0, 5000, 12)
    _raises(
        gs.polygon(outer, gs.star(0, 0, 2000, 8)[::-1], gs.star(0, 0, 500, 6)[::-1]),
        "hole lies inside another hole",
        "area.coordinates",
    )


def test_crossing_hole_is_refused() -> None:
    outer = gs.star(0, 0, 1000, 8)
    hole = gs.star(0.008, 0, 500, 8)[::-1]
    _raises(gs.polygon(outer, hole), "cross or touch each other", "area.coordinates")


def test_overlapping_multipolygon_parts_are_refused() -> None:
    obj = {"type": "MultiPolygon", "coordinates": [[gs.star(0, 0, 1000)], [gs.star(0.01, 0, 1000)]]}
    _raises(obj, "invalid multipolygon: polygons overlap near", "area.coordinates")


def test_geodesic_edges_decide_validity() -> None:
    # Two rings at 60°N whose straight lon/lat drawings are disjoint, but the long upper edge of the
    # lower ring bulges north (a geodesic) across the lower edge of the upper one.
    lower = [[0, 60.0], [20, 60.0], [20, 60.2], [0, 60.2], [0, 60.0]]
    upper = [[9, 60.5], [11, 60.5], [11, 61], [9, 61], [9, 60.5]]
    obj = {"type": "MultiPolygon", "coordinates": [[lower], [upper]]}
    _raises(obj, "polygons overlap", "area.coordinates")


# --- refusals: poles, antimeridian and size --------------------------------------------------


def test_polygon_around_a_pole_is_refused() -> None:
    _raises(gs.POLE, "encloses the North Pole", "area.coordinates[0]")
    south = gs.polygon([[0, -88], [-90, -88], [180, -88], [90, -88], [0, -88]])
    _raises(south, "encloses the South Pole", "area.coordinates[0]")


def test_vertex_at_a_pole_is_refused() -> None:
    _raises(
        gs.polygon([[0, 89], [10, 89], [0, 90], [0, 89]]),
        "touches the North Pole",
        "area.coordinates[0][2]",
    )
    _raises(gs.line([0, -89], [0, -90]), "touches the South Pole", "area.coordinates[1]", width_m=5)


def test_edge_over_a_pole_is_refused() -> None:
    _raises(
        gs.line([0, 89], [180, 89]), "passes over the North Pole", "area.coordinates[1]", width_m=5
    )


def test_shape_spanning_180_degrees_of_longitude_is_refused() -> None:
    # a C-shaped ring near the pole that does not enclose it
    ring = [[0, 89], [100, 89], [-160, 89], [-160, 89.5], [100, 89.5], [0, 89.5], [0, 89]]
    _raises(gs.polygon(ring), "spans 200.0° of longitude", "area.coordinates[0]")


def test_too_many_vertices_is_refused_before_anything_else() -> None:
    ring = [[0, 0]] * (MAX_VERTICES + 1)
    with pytest.raises(PayloadTooLarge, match=f"limit is {MAX_VERTICES}") as info:
        parse_geometry(gs.polygon(ring))
    assert info.value.field == "area.coordinates"


def test_shape_beyond_the_extent_limit_is_refused() -> None:
    with pytest.raises(PayloadTooLarge, match=f"the limit is {MAX_EXTENT_M / 1000:.0f} km"):
        parse_geometry(gs.HUGE)
    with pytest.raises(PayloadTooLarge, match="km from its centre"):
        parse_geometry(gs.line([0, 0], [30, 0]), width_m=10)


def test_area_beyond_the_limit_is_refused() -> None:
    big = gs.polygon(gs.star(20, 0, 950_000, 60))  # about 2.8 million km²
    with pytest.raises(PayloadTooLarge, match=f"limit is {MAX_AREA_M2 / 1e6:,.0f} km²"):
        parse_geometry(big)


# --- never anything but InvalidInput --------------------------------------------------------

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.booleans(),
)
_scalars = st.one_of(st.none(), _numbers, st.text(max_size=5))
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(
            st.sampled_from(["type", "coordinates", "crs", "geometry", "x"]), children, max_size=4
        ),
    ),
    max_leaves=40,
)
_position = st.lists(st.one_of(_numbers, st.floats(-1, 1)), min_size=0, max_size=4)
_ring = st.lists(_position, max_size=8).map(lambda r: [*r, r[0]] if r else r)
_coords = st.one_of(
    _position,
    st.lists(_position, max_size=8),
    st.lists(_ring, max_size=3),
    st.lists(st.lists(_ring, max_size=2), max_size=3),
    _json,
)
_geometry = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Point", "LineString", "Polygon", "MultiPolygon", "Feature", 7]),
        "coordinates": _coords,
    }
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=st.one_of(_geometry, _json), radius=_scalars, width=_scalars)
def test_parse_geometry_raises_only_invalid_input(
    obj: object, radius: object, width: object
) -> None:
    try:
        shape = parse_geometry(obj, radius_m=radius, width_m=width)
    except InvalidInput as exc:
        assert exc.errors and exc.field.startswith(("area", "radius_m", "width_m"))
        assert str(exc)
    else:
        assert isinstance(shape, Disc | Corridor | Area)
        assert parse_geometry(shape_to_geojson(shape), radius_m=radius, width_m=width) == shape


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-180, 180),
    lat=st.floats(-80, 80),
    radius=st.floats(1.0, 50_000.0),
    n=st.integers(3, 30),
)
def test_any_star_polygon_is_valid_and_round_trips(
    lon: float, lat: float, radius: float, n: int
) -> None:
    ring = gs.star(lon, lat, radius, n)
    shape = parse_geometry(gs.polygon(ring))
    assert isinstance(shape, Area)
    assert parse_geometry(shape_to_geojson(shape)) == shape
