"""parse_location: every form of SPEC.md "Locations", what it keeps, and what it refuses."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from accord.errors import InvalidInput
from accord.geo.location import (
    Position,
    Transformation,
    _form,
    _json_copy,
    _point_copy,
    parse_location,
    position_from_text,
)

GEOD = Geod(ellps="WGS84")


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


SPEC_EXAMPLES: list[dict[str, Any]] = [
    {"type": "Point", "coordinates": [71.0917, 34.9183]},
    {"mgrs": "42SXD 12345 67890"},
    {"text": "34°55'06\"N 71°05'30\"E", "crs": "EPSG:4240", "allow_ballpark": True},
    {"x": 508432.1, "y": 3864421.7, "crs": "EPSG:32642"},
]


@pytest.mark.parametrize("obj", SPEC_EXAMPLES)
def test_input_is_kept_exactly_as_sent_and_is_a_copy(obj: dict[str, Any]) -> None:
    obj = copy.deepcopy(obj)
    original = copy.deepcopy(obj)
    p = parse_location(obj)
    assert p.input == original
    obj.clear()
    assert p.input == original
    assert p.wgs84() == {"type": "Point", "coordinates": [p.lon, p.lat]}
    assert isinstance(p.transformation, Transformation)


def test_geojson_point_is_taken_as_it_is() -> None:
    p = parse_location({"type": "Point", "coordinates": [71.0917, 34.9183, 1200]})
    assert (p.lon, p.lat, p.added_uncertainty_m, p.datum_warning) == (71.0917, 34.9183, 0.0, None)
    assert p.transformation.description == "none"


def test_mgrs_adds_the_half_diagonal_of_its_square() -> None:
    p = parse_location({"mgrs": "42SXD12"})  # a 10 km square
    assert 10_000 * math.sqrt(2) / 2 <= p.added_uncertainty_m <= 10_000 * math.sqrt(2) / 2 / 0.9996
    oracle = Transformer.from_crs("EPSG:32642", "EPSG:4326", always_xy=True)
    assert distance_m(*oracle.transform(615_000, 3_825_000), p.lon, p.lat) <= 1e-6


def test_text_in_kalianpur_1962_is_shifted_and_carries_the_stated_accuracy() -> None:
    p = parse_location({"text": "34.9, 71.0", "crs": "EPSG:4145"})
    assert 60 <= distance_m(71.0, 34.9, p.lon, p.lat) <= 90
    assert p.transformation.accuracy_m is not None
    reading = parse_location({"text": "34.9, 71.0"}).added_uncertainty_m
    assert p.added_uncertainty_m == pytest.approx(p.transformation.accuracy_m + reading)


def test_spec_example_in_indian_1975_is_refused_without_allow_ballpark() -> None:
    with pytest.raises(InvalidInput, match="Indian 1975") as info:
        parse_location({"text": "34°55'06\"N 71°05'30\"E", "crs": "EPSG:4240"})
    assert info.value.field == "location.crs"
    p = parse_location(copy.deepcopy(SPEC_EXAMPLES[2]))
    assert p.added_uncertainty_m >= 1000
    assert p.transformation.ballpark and p.datum_warning is not None


def test_utm_text_on_a_legacy_datum() -> None:
    p = parse_location({"text": "42S 508432 3864421", "crs": "EPSG:4145"})
    epsg = parse_location({"x": 508432, "y": 3864421, "crs": "EPSG:24312"})
    assert distance_m(p.lon, p.lat, epsg.lon, epsg.lat) <= 1e-6


def test_mgrs_on_a_legacy_datum_is_refused() -> None:
    with pytest.raises(InvalidInput, match="lettering"):
        parse_location({"mgrs": "42SXD1234", "crs": "EPSG:4145"})
    with pytest.raises(InvalidInput, match="lettering"):
        parse_location({"text": "42SXD1234", "crs": "EPSG:4145"})


def test_band_check_applies_to_text_in_a_location() -> None:
    with pytest.raises(InvalidInput, match="band T") as info:
        parse_location({"text": "42T 691075 3865980"}, field="presence.location")
    assert info.value.field == "presence.location.text"


@pytest.mark.parametrize(
    ("obj", "field", "message"),
    [
        ("34.9, 71.0", "location", "expected an object"),
        ([71.0, 34.9], "location", "expected an object"),
        ({}, "location", "expected a GeoJSON Point"),
        ({"mgrs": "42SXD12", "text": "1 2"}, "location", "not several"),
        ({"mgrs": "42SXD12", "label": "x"}, "location.label", "unknown member"),
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "location.type", "'Point'"),
        ({"type": "Point", "coordinates": [71.0]}, "location.coordinates", "longitude, latitude"),
        ({"type": "Point", "coordinates": "71 34"}, "location.coordinates", "longitude, latitude"),
        ({"type": "Point", "coordinates": [True, 34.9]}, "location.coordinates[0]", "number"),
        ({"type": "Point", "coordinates": [71, math.nan]}, "location.coordinates[1]", "finite"),
        ({"type": "Point", "coordinates": [71, math.inf]}, "location.coordinates[1]", "finite"),
        ({"type": "Point", "coordinates": [10**400, 0]}, "location.coordinates[0]", "too large"),
        ({"type": "Point", "coordinates": [181, 0]}, "location.coordinates[0]", "longitude"),
        ({"type": "Point", "coordinates": [0, 90.5]}, "location.coordinates[1]", "latitude"),
        ({"type": "Point", "coordinates": [0, 0], "crs": "EPSG:4145"}, "location.crs", "unknown"),
        ({"x": 1.0, "y": 2.0}, "location.crs", "need a crs"),
        ({"x": 1.0, "crs": "EPSG:4326"}, "location", "both x and y"),
        ({"x": "1", "y": 2.0, "crs": "EPSG:4326"}, "location.x", "number"),
        ({"x": 1.0, "y": 2.0, "crs": "EPSG:0"}, "location.crs", "EPSG:0"),
        ({"text": 5}, "location.text", "string"),
        ({"mgrs": None}, "location.mgrs", "string"),
        ({"text": "34.9, 71.0", "crs": "EPSG:32642"}, "location.crs", "projected"),
        ({"text": "34.9, 71.0", "allow_ballpark": "yes"}, "location.allow_ballpark", "true or"),
        ({"text": "34.9, 71.0", "crs": 4145}, "location.crs", "string"),
        ({"text": "34.9N"}, "location.text", "hemisphere"),
        ({"mgrs": "42SXD1"}, "location.mgrs", "odd number"),
        ({"type": "Point", "coordinates": [0, 0], 1: 2}, "location", "keys must be strings"),
        ({"type": "Point", "coordinates": {0, 1}}, "location.coordinates", "not a JSON value"),
    ],
)
def test_bad_locations_are_refused_naming_the_field(obj: object, field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        parse_location(obj)
    assert info.value.field == field


def test_deeply_nested_input_is_refused() -> None:
    deep: Any = 0
    for _ in range(50):
        deep = [deep]
    with pytest.raises(InvalidInput, match="nested too deeply"):
        parse_location({"type": "Point", "coordinates": deep})


def test_position_from_text_records_what_was_typed() -> None:
    p = position_from_text("42SXD1234567890")
    assert p.input == {"text": "42SXD1234567890"}
    q = position_from_text("34.9 71.0", "EPSG:4144", allow_ballpark=True)
    assert q.input == {"text": "34.9 71.0", "crs": "EPSG:4144", "allow_ballpark": True}


def test_positions_are_values() -> None:
    a = parse_location({"type": "Point", "coordinates": [1.0, 2.0]})
    b = parse_location({"type": "Point", "coordinates": [1.0, 2.0]})
    assert a == b
    with pytest.raises(AttributeError):
        a.lon = 3.0  # type: ignore[misc]
    assert isinstance(a, Position)


# --- properties -----------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats()
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    ["type", "coordinates", "mgrs", "text", "crs", "x", "y", "allow_ballpark", "other"]
)
crs_values = st.sampled_from(
    ["EPSG:4326", "EPSG:4145", "EPSG:4144", "EPSG:32642", "EPSG:4978", "EPSG:99999", "EPSG:4240"]
)
field_values = st.one_of(
    json_values,
    crs_values,
    st.just("Point"),
    st.lists(st.floats(min_value=-200, max_value=200), min_size=2, max_size=3),
    st.sampled_from(["42SXD1234", "34.9, 71.0", "42S 691075 3865980", "north 2019280 1890660"]),
)
location_like = st.dictionaries(keys, field_values, max_size=4)


@settings(max_examples=400, deadline=None)
@given(st.one_of(json_values, location_like))
def test_any_json_is_a_position_or_invalid_input(obj: object) -> None:
    try:
        p = parse_location(obj)
    except InvalidInput:
        return
    assert -180 <= p.lon <= 180 and -90 <= p.lat <= 90
    assert p.added_uncertainty_m >= 0
    assert p.input == obj


point_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["Point", "Polygon"]) | json_scalars, "coordinates": field_values}
) | st.dictionaries(st.sampled_from(["type", "coordinates", "x"]), field_values, max_size=3)


@settings(max_examples=400, deadline=None)
@given(st.one_of(point_like, location_like))
def test_the_common_point_is_copied_as_the_general_copy_does(obj: dict[str, Any]) -> None:
    """The fast copy of a two-member point (or none) is the general copy, member order and all,
    and the general reading would take it as a point too."""
    fast = _point_copy(obj)
    if fast is None:
        return
    general = _json_copy(obj, "location")
    assert isinstance(general, dict)
    assert list(fast.items()) == list(general.items())
    assert fast["coordinates"] is not obj["coordinates"]  # a copy, not the caller's list
    assert _form(general, "location") == "point"
