"""Reading typed positions: decimal, DMS, MGRS, UTM/UPS. Oracle: GeoConvert's reading of the same
positions (golden file), and PROJ for distances."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from accord.errors import InvalidInput
from accord.geo.coords import (
    GeographicReading,
    GridReading,
    check_band,
    parse_geographic,
    parse_text,
    parse_utm,
)
from accord.geo.mgrs import format_decimal, format_dms, grid_inverse

GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "geoconvert"
GEOD = Geod(ellps="WGS84")


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def geographic(text: str) -> GeographicReading:
    reading = parse_text(text)
    assert isinstance(reading, GeographicReading)
    return reading


def grid(text: str) -> GridReading:
    reading = parse_text(text)
    assert isinstance(reading, GridReading)
    return reading


# --- latitude/longitude text, against GeoConvert --------------------------------------------


def test_geographic_text_reads_as_geoconvert_reads_its_equivalent() -> None:
    lines = (GOLDEN / "geographic_read.tsv").read_text(encoding="utf-8").splitlines()
    assert len(lines) > 500
    for line in lines:
        ours, theirs, latlon = line.split("\t")
        lat, lon = map(float, latlon.split())
        r = geographic(ours)
        assert abs(r.lat - lat) <= 1e-11, (ours, theirs)
        assert abs(r.lon - lon) <= 1e-11, (ours, theirs)


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("34.9183, 71.0917", "decimal"),
        ("34.9183 71.0917", "decimal"),
        ("34.9183N 71.0917E", "decimal"),
        ("71.0917E 34.9183N", "decimal"),
        ("N 34.9183, E 71.0917", "decimal"),
        ("34.9183° N 71.0917° E", "decimal"),
        ("  34.9183 ;  71.0917 ", "decimal"),
        ("34°55'06\"N 71°05'30\"E", "dms"),
        ("34º55'06''N 71º05'30''E", "dms"),
        ("34d55'06\"N 71d05'30\"E", "dms"),
        ("34°55’06”N 71°05’30”E", "dms"),
        ("34 55 06 N 71 05 30 E", "dms"),
        ("34-55-06N 071-05-30E", "dms"),
        ("34:55:06N 71:05:30E", "dms"),
        ("34° 55' 06\" 71° 05' 30\"", "dms"),
    ],
)
def test_the_forms_people_type_name_the_same_place(text: str, form: str) -> None:
    r = geographic(text)
    assert r.form == form
    expected = (34.9183, 71.0917) if form == "decimal" else (34 + 55 / 60 + 6 / 3600, 71 + 5.5 / 60)
    assert (r.lat, r.lon) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("34 55 71 05", "cannot tell where the latitude ends"),
        ("34 55 06 71 05 30", "cannot tell where the latitude ends"),
        ("34.9N", "only one hemisphere letter"),
        ("34.9183N, 71.0917", "on both latitude and longitude, or on neither"),
        ("34N 71N", "one coordinate must be N or S"),
        ("34E 71W", "one coordinate must be N or S"),
        ("-34N 71E", "both a sign and a hemisphere letter"),
        ("N34 71E", "all come before their numbers"),
        ("34N 71E 5S", "more than two hemisphere letters"),
        ("34 60 00 N 71 00 00 E", "minutes must be less than 60"),
        ("34 30 60 N 71 00 00 E", "seconds must be less than 60"),
        ("34.5 30 N 71 E", "only the last part may have a decimal fraction"),
        ("34°55'06\"12 N 71E", "more than three parts"),
        ("34'55° N 71E", "marked as minutes"),
        ("91 0", "latitude 91 is outside"),
        ("-90.5, 0", "latitude -90.5 is outside"),
        ("0 181", "longitude 181 is outside"),
        ("1,2,3", "more than one comma"),
        ("34,9183 71,0917", "more than one comma"),
        ("34.9183", "expected a latitude and a longitude"),
        ("34.9183 71.0917 x", "unexpected character 'x'"),
        ("34.9183 71.0917 #", "unexpected character '#'"),
        ("34.. 71", "malformed coordinate"),
        ("34. 71", "malformed coordinate"),
        ("34: 71:", "trailing"),
        (", 71", "a coordinate is missing"),
        ("N, E", "no number"),
        ("", "empty"),
        ("   ", "empty"),
        ("1" * 201, "longer than 200"),
    ],
)
def test_malformed_or_ambiguous_geographic_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_text(text)


def test_the_reading_precision_covers_the_rounding_box() -> None:
    # "34.9183, 71.0917" stands for anything in [34.91825, 34.91835] x [71.09165, 71.09175]
    r = geographic("34.9183, 71.0917")
    corner = distance_m(71.0917, 34.9183, 71.09175, 34.91835)
    assert corner <= r.precision_m <= 1.05 * corner
    finer = geographic("34.918300, 71.091700")
    assert finer.precision_m < r.precision_m / 50
    dms = geographic("34 55 06 N 71 05 30 E")
    assert (
        distance_m(dms.lon, dms.lat, dms.lon + 0.5 / 3600, dms.lat + 0.5 / 3600) <= dms.precision_m
    )


def test_parse_geographic_does_not_read_grid_references() -> None:
    with pytest.raises(InvalidInput, match="unexpected character"):
        parse_geographic("42SXD1234567890")


# --- UTM / UPS text and the band-letter rule -------------------------------------------------


def test_utm_with_band_letter_hemisphere_word_and_either_order() -> None:
    a = grid("42S 691075 3865980")
    assert a.band == "S"
    for text in (
        "42 S 691075 3865980",
        "691075 3865980 42S",
        "42north 691075 3865980",
        "42 north 691075 3865980",
        "42NORTH, 691075, 3865980",
        "42N 691075 3865980",
    ):
        assert grid(text).grid == a.grid, text


def test_band_n_outside_band_n_is_still_the_north() -> None:
    r = grid("42N 691075 3865980")  # 34.9N: band S, but "N" reads as north either way
    _, lat = grid_inverse(r.grid)
    check_band(r, lat)  # no error
    assert r.grid.north


def test_band_letter_must_hold_the_point() -> None:
    r = grid("42T 691075 3865980")
    _, lat = grid_inverse(r.grid)
    with pytest.raises(InvalidInput, match=r"band T \(40°N to 48°N\).*34\.91"):
        check_band(r, lat)


def test_band_s_is_never_south_and_says_how_to_write_south() -> None:
    r = grid("42S 632792 9000000")
    _, lat = grid_inverse(r.grid)
    with pytest.raises(InvalidInput, match="42south 632792 9000000"):
        check_band(r, lat)


def test_lower_case_s_is_refused_as_ambiguous() -> None:
    with pytest.raises(InvalidInput, match=r"ambiguous.*42S.*42south"):
        parse_text("42s 632792 3869831")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("42 691075 3865980", "needs a latitude band letter or north/south"),
        ("42S", "grid zone"),
        ("Z", "grid zone"),
        ("61S 500000 4000000", "zone 61"),
        ("42I 500000 4000000", "not a UTM latitude band"),
        ("42Q 1500000 4000000", "easting 1500000"),
        ("42north 500000 9700000", "northing 9700000"),
        ("42south 500000 500000", "northing 500000"),
        ("42S 500000 -3000", "northing -3000 is outside"),
        ("42S -500000 3000", "easting -500000 is outside"),
        ("42up 500000 4000000", "expected a latitude band letter"),
        ("north 500000 500000", "UPS north easting and northing"),
        ("Y 2100000 2000000", "UPS band Y is the western half"),
        ("Z 1900000 2000000", "UPS band Z is the eastern half"),
    ],
)
def test_bad_utm_text_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_text(text)


def test_ups_forms() -> None:
    a = grid("north 2019280 1890660")
    assert (a.grid.zone, a.grid.north) == (0, True)
    assert grid("Z 2019280 1890660").grid == a.grid
    assert grid("south 1903546 2547019").grid.north is False


def test_utm_precision_is_half_the_last_digit() -> None:
    coarse = parse_utm("42north 691075 3865980")
    fine = parse_utm("42north 691075.123 3865980.456")
    assert 0.7071 <= coarse.precision_m <= 0.7075
    assert fine.precision_m < coarse.precision_m / 900


def test_mgrs_text_denotes_its_square() -> None:
    r = grid("42SXD 1234 5678")
    assert r.form == "mgrs"
    assert r.square is not None and r.square.side_m == 10.0
    assert r.precision_m >= 10 * 2**0.5 / 2


# --- properties -----------------------------------------------------------------------------

lats = st.floats(min_value=-90, max_value=90, allow_nan=False)
lons = st.floats(min_value=-180, max_value=180, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(lat=lats, lon=lons)
def test_decimal_text_reads_back(lat: float, lon: float) -> None:
    r = geographic(format_decimal(lon, lat))
    assert abs(r.lat - lat) <= 5e-7 + 1e-12
    assert abs(r.lon - lon) <= 5e-7 + 1e-12
    assert distance_m(lon, lat, r.lon, r.lat) <= r.precision_m + 1e-9


@settings(max_examples=300, deadline=None)
@given(lat=lats, lon=lons)
def test_dms_text_reads_back(lat: float, lon: float) -> None:
    r = geographic(format_dms(lon, lat))
    assert abs(r.lat - lat) <= 0.005 / 3600 + 1e-12
    assert abs(r.lon - lon) <= 0.005 / 3600 + 1e-12
    assert distance_m(lon, lat, r.lon, r.lat) <= r.precision_m + 1e-9


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_any_text_is_read_or_refused_with_invalid_input(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        parse_text(text)


coordinate_alphabet = st.text(
    alphabet=st.sampled_from(list("0123456789012345.,;:- +NSEWnsewdXZAB°'\"′″")), max_size=40
)


@settings(max_examples=500, deadline=None)
@given(coordinate_alphabet)
def test_coordinate_like_text_is_read_or_refused_with_invalid_input(text: str) -> None:
    try:
        r = parse_text(text)
    except InvalidInput:
        return
    if isinstance(r, GeographicReading):
        assert -90 <= r.lat <= 90 and -180 <= r.lon <= 180
