"""MGRS / UTM / UPS both ways, against GeographicLib's GeoConvert (golden files) and PROJ."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from accord.errors import InvalidInput
from accord.geo.coords import parse_text
from accord.geo.mgrs import (
    GridRef,
    format_decimal,
    format_dms,
    format_dms_many,
    format_mgrs,
    format_utm,
    grid_forward,
    grid_forward_many,
    grid_inverse,
    mgrs_from_grid,
    mgrs_many,
    parse_mgrs,
    square_half_diagonal_m,
    standard_zone,
    standard_zones,
    utm_text_many,
)

GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "geoconvert"
GEOD = Geod(ellps="WGS84")


def rows(name: str) -> list[list[str]]:
    with (GOLDEN / name).open(encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f]


@cache
def forward_rows() -> list[list[str]]:
    return rows("forward.tsv")


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def test_golden_files_are_large() -> None:
    assert len(forward_rows()) > 6000
    assert len(rows("mgrs_read.tsv")) > 6000
    assert len(rows("utm_read.tsv")) > 6000


# --- formatting: exactly GeoConvert's strings ------------------------------------------------

COLUMNS = {
    "mgrs 5 digits (GeoConvert -m -p 0)": (1, lambda lon, lat: format_mgrs(lon, lat, 5)),
    "mgrs 4 digits (-m -p -1)": (2, lambda lon, lat: format_mgrs(lon, lat, 4)),
    "mgrs 3 digits (-m -p -2)": (3, lambda lon, lat: format_mgrs(lon, lat, 3)),
    "mgrs 2 digits (-m -p -3)": (4, lambda lon, lat: format_mgrs(lon, lat, 2)),
    "mgrs 1 digit (-m -p -4)": (5, lambda lon, lat: format_mgrs(lon, lat, 1)),
    "mgrs 100 km square (-m -p -5)": (6, lambda lon, lat: format_mgrs(lon, lat, 0)),
    "utm (-u -l -p 0)": (7, format_utm),
    "dms (-d -p 1, d for °)": (8, lambda lon, lat: format_dms(lon, lat).replace("°", "d")),
    "decimal (-p 1)": (9, format_decimal),
}


@pytest.mark.parametrize("column", list(COLUMNS))
def test_formatting_matches_geoconvert_exactly(column: str) -> None:
    index, fmt = COLUMNS[column]
    mismatches = []
    for row in forward_rows():
        lat_s, lon_s = row[0].split()
        ours = fmt(float(lon_s), float(lat_s))
        if ours != row[index]:
            mismatches.append((row[0], ours, row[index]))
    assert mismatches[:5] == []


def test_batch_formatting_matches_geoconvert_exactly() -> None:
    """The vectorised functions (the CLI's batch mode) give GeoConvert's strings too."""
    table = forward_rows()
    lats = np.array([float(r[0].split()[0]) for r in table])
    lons = np.array([float(r[0].split()[1]) for r in table])
    grid = grid_forward_many(lons, lats)
    produced = {
        **{1 + 5 - d: mgrs_many(grid, lats, d) for d in range(6)},
        7: utm_text_many(grid),
        8: [s.replace("°", "d") for s in format_dms_many(lons, lats)],
    }
    for column, values in produced.items():
        mismatches = [
            (r[0], v, r[column]) for v, r in zip(values, table, strict=True) if v != r[column]
        ]
        assert mismatches[:5] == [], column


def test_golden_points_cover_the_special_zones() -> None:
    zones = {row[1][:3] for row in forward_rows()}
    # Norway, the four Svalbard zones, and both polar caps (UPS bands A, B, Y, Z)
    assert {"32V", "31X", "33X", "35X", "37X"} <= zones
    assert {row[1][0] for row in forward_rows() if row[1][0].isalpha()} == set("ABYZ")


@pytest.mark.parametrize(
    ("lat", "lon", "zone"),
    [
        (60.0, 4.0, 32),  # Norway: 32V reaches west to 3E
        (60.0, 2.9, 31),
        (64.0, 4.0, 31),  # band W: no exception
        (78.0, 8.9, 31),  # Svalbard
        (78.0, 9.0, 33),
        (78.0, 20.9, 33),
        (78.0, 21.0, 35),
        (78.0, 33.0, 37),
        (78.0, 42.0, 38),
        (84.0, 0.0, 0),  # UPS from 84N
        (-80.0, 0.0, 31),  # UTM down to 80S inclusive
        (-80.000001, 0.0, 0),
        (0.0, 180.0, 1),
        (0.0, -180.0, 1),
    ],
)
def test_standard_zone_agrees_with_geoconvert_zone_letters(
    lat: float, lon: float, zone: int
) -> None:
    assert standard_zone(lat, lon) == zone


# --- reading: the centre of the square, within a millimetre of GeoConvert --------------------


def test_reading_mgrs_lands_on_geoconvert_centre_within_1_mm() -> None:
    worst = 0.0
    for ref, latlon, utm in rows("mgrs_read.tsv"):
        square = parse_mgrs(ref, min_digits=0)
        _, e, n = utm.split()
        assert abs(square.centre.easting - float(e)) <= 1e-3, ref
        assert abs(square.centre.northing - float(n)) <= 1e-3, ref
        lat, lon = map(float, latlon.split())
        ours_lon, ours_lat = grid_inverse(square.centre)
        worst = max(worst, distance_m(lon, lat, ours_lon, ours_lat))
    assert worst <= 1e-3


def test_reading_utm_lands_on_geoconvert_reading_within_1_mm() -> None:
    worst = 0.0
    for text, latlon in rows("utm_read.tsv"):
        reading = parse_text(text)
        lat, lon = map(float, latlon.split())
        ours_lon, ours_lat = grid_inverse(reading.grid)  # type: ignore[union-attr]
        worst = max(worst, distance_m(lon, lat, ours_lon, ours_lat))
    assert worst <= 1e-3


def test_which_squares_exist_agrees_with_geoconvert() -> None:
    """Every band x column x row combination (and malformed ones): accepted exactly when GeoConvert
    accepts them, except 32X/34X/36X, which GeoConvert reads but which do not exist."""
    disagreements = []
    for ref, answer in rows("mgrs_squares.tsv"):
        geoconvert_ok = not answer.startswith("ERROR")
        try:
            square = parse_mgrs(ref, min_digits=0)
        except InvalidInput as exc:
            if geoconvert_ok and not (ref[2] == "X" and ref[:2] in ("32", "34", "36")):
                disagreements.append((ref, answer, str(exc)))
            if geoconvert_ok:
                assert "does not exist" in str(exc)
            continue
        if not geoconvert_ok:
            disagreements.append((ref, answer, "accepted"))
            continue
        _, e, n = answer.split()
        assert (square.centre.easting, square.centre.northing) == (float(e), float(n)), ref
    assert disagreements[:5] == []


def test_the_square_table_exercises_band_row_compatibility() -> None:
    answers = [a for _, a in rows("mgrs_squares.tsv")]
    assert sum(a.startswith("ERROR: Block") for a in answers) > 5000
    assert sum(not a.startswith("ERROR") for a in answers) > 6000


# --- reading: the square and its size -------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "digits", "side"),
    [
        ("42SXD1", None, None),
        ("42SXD12", 1, 10_000.0),
        ("42SXD1234", 2, 1_000.0),
        ("42SXD123456", 3, 100.0),
        ("42SXD12345678", 4, 10.0),
        ("42SXD1234567890", 5, 1.0),
    ],
)
def test_precision_gives_the_square_side(ref: str, digits: int | None, side: float | None) -> None:
    if digits is None:
        with pytest.raises(InvalidInput, match="odd number of digits"):
            parse_mgrs(ref)
        return
    square = parse_mgrs(ref)
    assert (square.digits, square.side_m) == (digits, side)
    assert square_half_diagonal_m(square) >= side * math.sqrt(2) / 2


@pytest.mark.parametrize(
    "ref",
    [
        "42SXD1234567890",
        "42S XD 12345 67890",
        "42SXD 12345 67890",
        "42 S XD 1234567890",
        "42sxd1234567890",
    ],
)
def test_spaces_and_case_do_not_matter(ref: str) -> None:
    assert parse_mgrs(ref) == parse_mgrs("42SXD1234567890")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("42SXD 123 4567", "different numbers of digits"),
        ("42SXD 12 345678", "different numbers of digits"),
        ("42SXD123", "odd number of digits"),
        ("42SXD123456789012", "at most 5"),
        ("42SXD", "100 km square"),
        ("BAD", "100 km square"),
        ("61SXD12", "zone 61"),
        ("00SXD12", "zone 00"),
        ("42IXD12", "not a latitude band"),
        ("42ZXD12", "polar"),
        ("42SAD12", "column letter A"),
        ("42SXI12", "row letter I"),
        ("42RXD12", "not in zone 42R"),
        ("32XMF12", "does not exist"),
        ("QAA12", "not a polar"),
        ("YAA12", "column letter A"),
        ("ZAZ12", "row letter Z"),
        ("42SXD12345 6789O", "not an MGRS reference"),
        ("", "not an MGRS reference"),
        ("4" * 300, "longer than"),
    ],
)
def test_bad_references_are_refused_with_the_reason(ref: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_mgrs(ref)


def test_mgrs_precision_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidInput, match="precision"):
        format_mgrs(71.0, 34.9, 6)


def test_point_on_a_central_meridian_is_in_the_eastern_square() -> None:
    # PROJ puts lon = 33 (zone 36's central meridian) a hair west of easting 500000; GeographicLib
    # exactly on it. The reference must be GeoConvert's (the golden file has this point too).
    assert format_mgrs(33.0, 71.999999999) == "36WWE0000088932"


def test_mgrs_from_grid_refuses_coordinates_outside_mgrs_limits() -> None:
    with pytest.raises(InvalidInput, match="easting"):
        mgrs_from_grid(GridRef(42, True, 50_000.0, 3_000_000.0), 27.0)
    with pytest.raises(InvalidInput, match="northing"):
        mgrs_from_grid(GridRef(0, True, 2_000_000.0, 3_000_000.0), 85.0)


# --- properties -----------------------------------------------------------------------------

lats = st.floats(min_value=-90, max_value=90, allow_nan=False)
lons = st.floats(min_value=-180, max_value=180, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(lat=lats, lon=lons)
def test_mgrs_at_1_m_reads_back_to_the_square_holding_the_point(lat: float, lon: float) -> None:
    ref = format_mgrs(lon, lat)
    square = parse_mgrs(ref)
    here = grid_forward(lon, lat)
    assert (square.centre.zone, square.centre.north) == (here.zone, here.north)
    assert abs(here.easting - square.centre.easting) <= 0.5 + 1e-6
    assert abs(here.northing - square.centre.northing) <= 0.5 + 1e-6
    c_lon, c_lat = grid_inverse(square.centre)
    assert distance_m(lon, lat, c_lon, c_lat) <= square_half_diagonal_m(square) + 1e-6


@settings(max_examples=300, deadline=None)
@given(lat=lats, lon=lons)
def test_utm_text_reads_back_within_its_precision(lat: float, lon: float) -> None:
    reading = parse_text(format_utm(lon, lat))
    r_lon, r_lat = grid_inverse(reading.grid)  # type: ignore[union-attr]
    assert distance_m(lon, lat, r_lon, r_lat) <= reading.precision_m + 1e-6


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(lats, lons), min_size=1, max_size=60))
def test_batch_functions_equal_the_one_point_functions(points: list[tuple[float, float]]) -> None:
    la = np.array([p[0] for p in points])
    lo = np.array([p[1] for p in points])
    grid = grid_forward_many(lo, la)
    assert standard_zones(la, lo).tolist() == [standard_zone(a, b) for a, b in points]
    assert [grid.ref(i) for i in range(len(points))] == [grid_forward(b, a) for a, b in points]
    assert mgrs_many(grid, la) == [format_mgrs(b, a) for a, b in points]
    assert utm_text_many(grid) == [format_utm(b, a) for a, b in points]
    assert format_dms_many(lo, la) == [format_dms(b, a) for a, b in points]


def test_batch_mgrs_falls_back_on_the_edges() -> None:
    # exactly on the equator from the south (folded by the MGRS limits) and a point whose
    # easting is outside them (refused, as one at a time)
    grid = grid_forward_many(np.array([0.0]), np.array([-1e-300]))
    assert mgrs_many(grid, np.array([-1e-300])) == [format_mgrs(0.0, -1e-300)]
    with pytest.raises(InvalidInput, match="easting"):
        mgrs_many(
            type(grid)(np.array([42]), np.array([True]), np.array([50_000.0]), np.array([3e6])),
            np.array([27.0]),
        )
