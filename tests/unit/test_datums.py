"""Datum shifts to WGS 84. Oracle: pyproj/PROJ itself, asked directly for the place, and the
geodesic distance of the shift (GeographicLib through pyproj.Geod)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import ProjError
from pyproj.transformer import AreaOfInterest

from accord.errors import InvalidInput
from accord.geo.datums import (
    BALLPARK_UNCERTAINTY_M,
    NO_TRANSFORMATION,
    grid_to_wgs84,
    normalise_crs,
    text_crs,
    to_wgs84,
)
from accord.geo.mgrs import GridRef

GEOD = Geod(ellps="WGS84")


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@dataclass
class Oracle:
    lon: float
    lat: float
    description: str
    accuracy: float


def proj_at(crs: str, x: float, y: float, lon: float, lat: float) -> Oracle:
    """What PROJ itself does with (x, y), given a tiny area of interest around (lon, lat)."""
    aoi = AreaOfInterest(lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4)
    t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True, area_of_interest=aoi)
    out_lon, out_lat = t.transform(x, y)
    try:
        used = t.get_last_used_operation()
    except ProjError:  # a no-op (a ballpark shift of zero) is never "used"
        used = t
    return Oracle(out_lon, out_lat, used.description, used.accuracy)


def test_kalianpur_1962_moves_about_75_m_with_the_stated_accuracy_added() -> None:
    c = to_wgs84(71.0, 34.9, "EPSG:4145")
    shift = distance_m(71.0, 34.9, c.lon, c.lat)
    assert 60 <= shift <= 90
    oracle = proj_at("EPSG:4145", 71.0, 34.9, 71.0, 34.9)
    assert distance_m(oracle.lon, oracle.lat, c.lon, c.lat) <= 1e-3
    assert c.transformation.description == oracle.description
    assert "Kalianpur 1962 to WGS 84" in c.transformation.description
    assert c.transformation.accuracy_m == oracle.accuracy > 0
    assert c.added_uncertainty_m == oracle.accuracy
    assert not c.transformation.ballpark and c.datum_warning is None


def test_the_transformation_is_the_one_for_the_place() -> None:
    # Kalianpur 1962 has several EPSG transformations; PROJ ranks a 3 m one best in Sindh
    here = to_wgs84(69.5, 26.5, "EPSG:4145")
    there = to_wgs84(71.0, 34.9, "EPSG:4145")
    assert here.transformation.description != there.transformation.description
    oracle = proj_at("EPSG:4145", 69.5, 26.5, 69.5, 26.5)
    assert here.transformation.description == oracle.description
    assert here.added_uncertainty_m == oracle.accuracy
    assert distance_m(oracle.lon, oracle.lat, here.lon, here.lat) <= 1e-3


@pytest.mark.parametrize(
    ("crs", "box"),
    [
        ("EPSG:4145", (60.0, 23.0, 78.0, 37.0)),  # Kalianpur 1962: seven operations
        ("EPSG:4230", (-10.0, 35.0, 30.0, 72.0)),  # ED50: dozens, equal accuracies overlap
        ("EPSG:4202", (110.0, -45.0, 155.0, -10.0)),  # AGD66: likewise
    ],
)
def test_the_operation_is_the_one_proj_uses_at_each_point(
    crs: str, box: tuple[float, float, float, float]
) -> None:
    rng = random.Random(crs)
    for _ in range(15):
        lon, lat = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
        ours = to_wgs84(lon, lat, crs, allow_ballpark=True)
        oracle = proj_at(crs, lon, lat, lon, lat)
        assert ours.transformation.description == oracle.description, (lon, lat)
        assert distance_m(oracle.lon, oracle.lat, ours.lon, ours.lat) <= 1e-3


def test_kalianpur_1937_is_refused_as_ballpark_naming_the_datum() -> None:
    with pytest.raises(InvalidInput, match=r"ballpark.*Kalianpur 1937") as info:
        to_wgs84(71.0, 34.9, "EPSG:4144")
    assert info.value.field == "location.crs"
    assert "allow_ballpark" in str(info.value)


def test_kalianpur_1937_allowed_as_ballpark_adds_1000_m_and_warns() -> None:
    c = to_wgs84(71.0, 34.9, "EPSG:4144", allow_ballpark=True)
    oracle = proj_at("EPSG:4144", 71.0, 34.9, 71.0, 34.9)
    assert "Ballpark" in oracle.description  # PROJ itself knows no shift here
    assert (c.lon, c.lat) == pytest.approx((oracle.lon, oracle.lat), abs=1e-12)
    assert c.transformation.ballpark
    assert c.transformation.accuracy_m is None
    assert c.added_uncertainty_m >= BALLPARK_UNCERTAINTY_M == 1000
    assert c.datum_warning is not None and "Kalianpur 1937" in c.datum_warning


def test_kalianpur_1975_has_its_stated_accuracy() -> None:
    c = to_wgs84(71.0, 34.9, "EPSG:4146")
    oracle = proj_at("EPSG:4146", 71.0, 34.9, 71.0, 34.9)
    assert c.added_uncertainty_m == oracle.accuracy
    assert 60 <= distance_m(71.0, 34.9, c.lon, c.lat) <= 100


def test_indian_1975_is_known_in_thailand_but_only_ballpark_in_pakistan() -> None:
    # EPSG:4240 is Indian 1975, the datum of Thailand and Cambodia (the SPEC's example location
    # is in Pakistan, where PROJ has no transformation for it)
    assert CRS.from_epsg(4240).name == "Indian 1975"
    with pytest.raises(InvalidInput, match=r"ballpark.*Indian 1975"):
        to_wgs84(71.0917, 34.9183, "EPSG:4240")
    bangkok = to_wgs84(100.5, 13.75, "EPSG:4240")
    oracle = proj_at("EPSG:4240", 100.5, 13.75, 100.5, 13.75)
    assert not bangkok.transformation.ballpark
    assert bangkok.added_uncertainty_m == oracle.accuracy
    assert distance_m(oracle.lon, oracle.lat, bangkok.lon, bangkok.lat) <= 1e-3


def test_projected_utm_input() -> None:
    c = to_wgs84(508432.1, 3864421.7, "EPSG:32642")
    oracle = Transformer.from_crs("EPSG:32642", "EPSG:4326", always_xy=True)
    o_lon, o_lat = oracle.transform(508432.1, 3864421.7)
    assert distance_m(o_lon, o_lat, c.lon, c.lat) <= 1e-6
    assert "UTM zone 42N" in c.transformation.description
    assert c.added_uncertainty_m == 0.0


def test_projected_input_on_a_legacy_datum() -> None:
    c = to_wgs84(508432.1, 3864421.7, "EPSG:24312")  # Kalianpur 1962 / UTM zone 42N
    g_lon, g_lat = Transformer.from_crs("EPSG:24312", "EPSG:4145", always_xy=True).transform(
        508432.1, 3864421.7
    )
    oracle = proj_at("EPSG:24312", 508432.1, 3864421.7, g_lon, g_lat)
    assert distance_m(oracle.lon, oracle.lat, c.lon, c.lat) <= 1e-3
    assert c.added_uncertainty_m == oracle.accuracy


def test_utm_grid_on_a_legacy_datum_equals_the_epsg_projected_crs() -> None:
    ours = grid_to_wgs84(GridRef(42, True, 508432.1, 3864421.7), "EPSG:4145")
    epsg = to_wgs84(508432.1, 3864421.7, "EPSG:24312")
    assert distance_m(ours.lon, ours.lat, epsg.lon, epsg.lat) <= 1e-6
    assert ours.added_uncertainty_m == epsg.added_uncertainty_m


def test_wgs84_grid_needs_no_transformation() -> None:
    c = grid_to_wgs84(GridRef(42, True, 508432.1, 3864421.7))
    assert c.added_uncertainty_m == 0.0
    assert c.transformation.accuracy_m == 0.0


def test_wgs84_is_not_transformed() -> None:
    c = to_wgs84(71.0, 34.9, "EPSG:4326")
    assert (c.lon, c.lat, c.transformation) == (71.0, 34.9, NO_TRANSFORMATION)


def test_non_degree_geographic_and_projected_crs_are_converted() -> None:
    # NTF (Paris): grads from the Paris meridian; its Lambert II projection
    paris = to_wgs84(600000.0, 2428000.0, "EPSG:27572")
    oracle = Transformer.from_crs("EPSG:27572", "EPSG:4326", always_xy=True)
    assert distance_m(*oracle.transform(600000.0, 2428000.0), paris.lon, paris.lat) <= 0.01
    with pytest.raises(InvalidInput, match="degrees from Greenwich"):
        text_crs("EPSG:4807")


@pytest.mark.parametrize(
    ("crs", "message"),
    [
        ("EPSG:99999", "EPSG:99999 is not a CRS that PROJ knows"),
        ("epsg:4978", "Geocentric"),
        ("EPSG:7405", "Compound"),
        ("+proj=longlat", "not an EPSG code"),
        ("4326", "not an EPSG code"),
        (4326, "expected a string"),
    ],
)
def test_bad_crs_is_refused_naming_it(crs: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        to_wgs84(71.0, 34.9, crs)
    assert info.value.field == "location.crs"


@pytest.mark.parametrize(
    ("x", "y", "crs", "message"),
    [
        (1e12, 1e12, "EPSG:32642", "cannot be converted|outside"),
        (5e6, 1e6, "EPSG:32642", "far outside the area"),
        (181.0, 0.0, "EPSG:4145", "longitude 181"),
        (0.0, -91.0, "EPSG:4145", "latitude -91"),
        (float("nan"), 0.0, "EPSG:4326", "finite"),
        (True, 0.0, "EPSG:4326", "expected a number"),
        ("1", 0.0, "EPSG:4326", "expected a number"),
        (10**400, 0.0, "EPSG:4326", "too large"),
    ],
)
def test_bad_coordinates_are_refused(x: object, y: object, crs: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        to_wgs84(x, y, crs)


def test_text_crs_must_be_geographic() -> None:
    assert normalise_crs(" epsg : 4145 ") == "EPSG:4145"
    with pytest.raises(InvalidInput, match="projected"):
        text_crs("EPSG:32642")
