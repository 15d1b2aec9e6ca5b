"""UTM, UPS and MGRS, both ways, printed exactly as GeographicLib's ``GeoConvert`` prints them.

- Zones follow the standard rules (``GeoConvert`` without ``-z``): UTM between 80°S and 84°N with
  the Norway (32V) and Svalbard (31X, 33X, 35X, 37X) exceptions, UPS at the poles.
- The projection arithmetic is PROJ's (EPSG:326zz / 327zz, UPS EPSG:32661 / 32761); it agrees with
  GeographicLib to a few nanometres. The MGRS lettering is written here, after the rules of
  NGA.SIG.0012 as GeographicLib implements them.
- MGRS references are *truncated* (a reference names the square the point lies in), UTM/UPS
  coordinates are *rounded*: ``GeoConvert -m -p 0`` and ``GeoConvert -u -l -p 0``.
- Reading an MGRS reference gives its square: the centre and the side, so that the caller can add
  the half-diagonal to the position's uncertainty (:func:`square_half_diagonal_m`).

Latitude 0 is taken as north (a ``-0.0`` latitude is not the southern hemisphere here).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

from accord.errors import InvalidInput

__all__ = [
    "TILE_M",
    "GridArrays",
    "GridRef",
    "MgrsSquare",
    "format_decimal",
    "format_dms",
    "format_dms_many",
    "format_mgrs",
    "format_utm",
    "grid_epsg",
    "grid_forward",
    "grid_forward_many",
    "grid_inverse",
    "ground_bound_m",
    "latitude_band",
    "mgrs_from_grid",
    "mgrs_many",
    "parse_mgrs",
    "square_half_diagonal_m",
    "standard_zone",
    "standard_zones",
    "utm_text",
    "utm_text_many",
]

TILE_M = 100_000
"""The side of an MGRS 100 km square, in metres."""

_LATBAND = "CDEFGHJKLMNPQRSTUVWX"  # 8° bands from 80°S; X is 12° tall (72°N to 84°N)
_UTMCOLS = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")  # column letters, by (zone - 1) % 3
_UTMROW = "ABCDEFGHJKLMNPQRSTUV"  # row letters, period 20 (2000 km)
_UPSBAND = "ABYZ"  # south-west, south-east, north-west, north-east
_UPSCOLS = ("JKLPQRSTUXYZ", "ABCFGHJKLPQR", "RSTUXYZ", "ABCFGHJ")
_UPSROWS = ("ABCDEFGHJKLMNPQRSTUVWXYZ", "ABCDEFGHJKLMNP")  # south, north

_UTM_ROW_PERIOD = 20
_UTM_EVEN_ROW_SHIFT = 5
_MIN_UTM_COL, _MAX_UTM_COL = 1, 9
_MIN_UTM_N_ROW, _MAX_UTM_N_ROW = 0, 95
_MIN_UTM_S_ROW, _MAX_UTM_S_ROW = 10, 100
_MIN_UPS_S, _MAX_UPS_S = 8, 32
_MIN_UPS_N, _MAX_UPS_N = 13, 27
_UPS_EASTING = 20
_UTM_N_SHIFT = 10_000_000
_MAX_DIGITS = 5  # MGRS stops at 1 m
_MAX_TEXT = 200
_MICRO = 1_000_000  # MGRS truncation works in whole micrometres (as GeographicLib does)
_EPS_NORTHING = 2.0**-28  # the step GeographicLib moves a coordinate off an excluded upper edge
_SNAP_M = 1e-8  # see _snap
_ANGEPS = 2.0**-46  # latitudes closer to 0 than this take their band from the hemisphere

# Limits of MGRS eastings and northings, in 100 km tiles, closed below and open above:
# indexed by (utm, north) -> (min easting, max easting, min northing, max northing)
_MGRS_LIMITS = {
    (False, False): (_MIN_UPS_S, _MAX_UPS_S, _MIN_UPS_S, _MAX_UPS_S),
    (False, True): (_MIN_UPS_N, _MAX_UPS_N, _MIN_UPS_N, _MAX_UPS_N),
    (True, False): (_MIN_UTM_COL, _MAX_UTM_COL, _MIN_UTM_S_ROW, _MAX_UTM_N_ROW + _MAX_UTM_S_ROW),
    (True, True): (
        _MIN_UTM_COL,
        _MAX_UTM_COL,
        _MIN_UTM_S_ROW - _MAX_UTM_S_ROW,
        _MAX_UTM_N_ROW,
    ),
}

# The smallest grid scale factor of each projection: ground distance <= grid distance / k_min.
_K_MIN_UTM = 0.9996
_K_MIN_UPS = 0.994


@dataclass(frozen=True, slots=True)
class GridRef:
    """A UTM (``zone`` 1..60) or UPS (``zone`` 0) coordinate, in metres, with false origins."""

    zone: int
    north: bool
    easting: float
    northing: float


@dataclass(frozen=True, slots=True)
class MgrsSquare:
    """What an MGRS reference denotes: a square of side ``side_m`` centred on ``centre``."""

    centre: GridRef
    digits: int  # digit pairs, 0 (a 100 km square) to 5 (a 1 m square)
    side_m: float
    band: str  # the latitude band letter (C-X) or the UPS band (A, B, Y, Z)


def grid_epsg(zone: int, north: bool) -> int:
    """The EPSG code of WGS 84 / UTM zone ``zone`` (or UPS when ``zone`` is 0)."""
    if zone == 0:
        return 32661 if north else 32761
    return (32600 if north else 32700) + zone


@cache
def _forward_transformer(zone: int, north: bool) -> Transformer:
    return Transformer.from_crs("EPSG:4326", f"EPSG:{grid_epsg(zone, north)}", always_xy=True)


@cache
def _inverse_transformer(zone: int, north: bool) -> Transformer:
    return Transformer.from_crs(f"EPSG:{grid_epsg(zone, north)}", "EPSG:4326", always_xy=True)


def latitude_band(lat: float) -> int:
    """The MGRS latitude band index: -10 (C, 80°S-72°S) .. 9 (X, 72°N-84°N), clamped outside."""
    ilat = math.floor(lat)
    return max(-10, min(9, (ilat + 80) // 8 - 10))


def standard_zone(lat: float, lon: float) -> int:
    """The standard UTM zone of a point (1..60), or 0 for UPS (north of 84°N, south of 80°S)."""
    if not (-80 <= lat < 84):
        return 0
    ilon = math.floor(lon)
    if ilon >= 180:
        ilon -= 360
    zone = (ilon + 186) // 6
    band = latitude_band(lat)
    if band == 7 and zone == 31 and ilon >= 3:  # Norway: 32V reaches west to 3°E
        zone = 32
    elif band == 9 and 0 <= ilon < 42:  # Svalbard: 31X, 33X, 35X, 37X only
        zone = 2 * ((ilon + 183) // 12) + 1
    return zone


def grid_forward(lon: float, lat: float) -> GridRef:
    """A WGS 84 point in its standard UTM zone or UPS (``GeoConvert -u`` without ``-z``)."""
    lon += 0.0
    lat += 0.0
    zone = standard_zone(lat, lon)
    north = lat >= 0
    x, y = _forward_transformer(zone, north).transform(lon, lat)
    return GridRef(zone, north, float(x), float(y))


def grid_inverse(ref: GridRef) -> tuple[float, float]:
    """The WGS 84 ``(lon, lat)`` of a UTM/UPS coordinate."""
    lon, lat = _inverse_transformer(ref.zone, ref.north).transform(ref.easting, ref.northing)
    return float(lon), float(lat)


def ground_bound_m(zone: int, grid_m: float) -> float:
    """A bound on the ground length of a grid length ``grid_m`` anywhere in UTM (or UPS: zone 0)."""
    return grid_m / (_K_MIN_UPS if zone == 0 else _K_MIN_UTM)


def square_half_diagonal_m(square: MgrsSquare) -> float:
    """A bound on the ground distance from the square's centre to any point of the square.

    The half-diagonal ``side * sqrt(2) / 2`` is measured on the grid; the ground distance is at most
    the grid distance divided by the projection's smallest scale factor (0.9996 for UTM, 0.994 for
    UPS), so that is divided out too.
    """
    return ground_bound_m(square.centre.zone, square.side_m * math.sqrt(2.0) / 2.0)


def _utm_row(iband: int, icol: int, irow: int) -> int | None:
    """The true row index (from the equator) of a periodic row letter in a band, or None.

    ``iband`` is in [-10, 10), ``icol`` in [0, 8) (easting origin 100 km), ``irow`` in [0, 20).
    Rows are accepted within safe bounds of the band, and the four special cases where the 71st and
    80th 100 km rows cross band edges near the zone edges.
    """
    c = 100 * (8 * iband + 4) / 90.0
    northp = 1 if iband >= 0 else 0
    minrow = math.floor(c - 4.3 - 0.1 * northp) if iband > -10 else -90
    maxrow = math.floor(c + 4.4 - 0.1 * northp) if iband < 9 else 94
    baserow = (minrow + maxrow) // 2 - _UTM_ROW_PERIOD // 2
    irow = (irow - baserow + _MAX_UTM_S_ROW) % _UTM_ROW_PERIOD + baserow
    if minrow <= irow <= maxrow:
        return irow
    sband = iband if iband >= 0 else -iband - 1
    srow = irow if irow >= 0 else -irow - 1
    scol = icol if icol < 4 else -icol + 7
    if (
        (srow == 70 and sband == 8 and scol >= 2)
        or (srow == 71 and sband == 7 and scol <= 2)
        or (srow == 79 and sband == 9 and scol >= 1)
        or (srow == 80 and sband == 8 and scol <= 1)
    ):
        return irow
    return None


def _mgrs_limits(
    zone: int, north: bool, x: float, y: float, field: str
) -> tuple[bool, float, float]:
    """Check a coordinate against the MGRS limits; fold hemispheres as GeographicLib does."""
    utm = zone != 0
    min_e, max_e, min_n, max_n = _MGRS_LIMITS[(utm, north)]
    ix = math.floor(x / TILE_M)
    iy = math.floor(y / TILE_M)
    if not (min_e <= ix < max_e):
        if ix == max_e and x == max_e * TILE_M:
            x -= _EPS_NORTHING
        else:
            raise InvalidInput(field, f"easting {x:.0f} m is outside the MGRS range")
    if not (min_n <= iy < max_n):
        if iy == max_n and y == max_n * TILE_M:
            y -= _EPS_NORTHING
        else:
            raise InvalidInput(field, f"northing {y:.0f} m is outside the MGRS range")
    if utm:
        if north and iy < _MIN_UTM_N_ROW:
            north = False
            y += _UTM_N_SHIFT
        elif not north and iy >= _MAX_UTM_S_ROW:
            if y == _MAX_UTM_S_ROW * TILE_M:
                y -= _EPS_NORTHING
            else:
                north = True
                y -= _UTM_N_SHIFT
    return north, x, y


def _snap(v: float) -> float:
    """``v``, or the whole metre within 10 nm of it.

    PROJ computes a point on a central meridian (or on a UPS axis) a few ulps off the whole metre
    it lies on, where GeographicLib's exact-degree trigonometry lands on it; truncation would then
    name the neighbouring square. Both agree to about 6 nm elsewhere.
    """
    r = round(v)
    return float(r) if abs(v - r) <= _SNAP_M else v


def mgrs_from_grid(ref: GridRef, lat: float, digits: int = 5, field: str = "location") -> str:
    """The MGRS reference (``digits`` pairs, truncated) of a UTM/UPS point at latitude ``lat``."""
    if not 0 <= digits <= _MAX_DIGITS:
        raise InvalidInput(field, f"MGRS precision must be 0 to {_MAX_DIGITS} digit pairs")
    north, x, y = _mgrs_limits(ref.zone, ref.north, _snap(ref.easting), _snap(ref.northing), field)
    ix = math.floor(x * _MICRO)
    iy = math.floor(y * _MICRO)
    m = _MICRO * TILE_M
    xh, yh = ix // m, iy // m
    if ref.zone != 0:
        zone = ref.zone
        iband = latitude_band(lat) if abs(lat) > _ANGEPS else (0 if north else -1)
        icol = xh - _MIN_UTM_COL
        row = _utm_row(iband, icol, yh % _UTM_ROW_PERIOD)
        if row != yh - (_MIN_UTM_N_ROW if north else _MAX_UTM_S_ROW):
            raise InvalidInput(field, f"latitude {lat} is inconsistent with the UTM coordinates")
        shift = _UTM_EVEN_ROW_SHIFT if (zone - 1) & 1 else 0
        letters = (
            f"{zone:02d}"
            + _LATBAND[10 + iband]
            + _UTMCOLS[(zone - 1) % 3][icol]
            + _UTMROW[(yh + shift) % _UTM_ROW_PERIOD]
        )
    else:
        eastp = xh >= _UPS_EASTING
        iband = (2 if north else 0) + (1 if eastp else 0)
        first = _MIN_UPS_N if north else _MIN_UPS_S
        letters = (
            _UPSBAND[iband]
            + _UPSCOLS[iband][xh - (_UPS_EASTING if eastp else first)]
            + _UPSROWS[1 if north else 0][yh - first]
        )
    if digits == 0:
        return letters
    d = 10 ** (11 - digits)
    ex = (ix - m * xh) // d
    ny = (iy - m * yh) // d
    return f"{letters}{ex:0{digits}d}{ny:0{digits}d}"


def format_mgrs(lon: float, lat: float, digits: int = 5) -> str:
    """The MGRS reference of a WGS 84 point, truncated to ``digits`` pairs (5: the 1 m square)."""
    lon += 0.0
    lat += 0.0
    return mgrs_from_grid(grid_forward(lon, lat), lat, digits)


def format_utm(lon: float, lat: float) -> str:
    """UTM/UPS to the metre, as ``GeoConvert -u -l -p 0``: ``42north 691075 3865980``.

    The hemisphere is spelled out (``north``/``south``) so that it cannot be mistaken for an MGRS
    latitude band letter; UPS has no zone number: ``north 2019280 1890660``.
    """
    return utm_text(grid_forward(lon, lat))


def utm_text(ref: GridRef) -> str:
    """A UTM/UPS coordinate to the metre (rounded), as :func:`format_utm` prints it."""
    hemisphere = "north" if ref.north else "south"
    zone = f"{ref.zone:02d}" if ref.zone else ""
    return f"{zone}{hemisphere} {ref.easting:.0f} {ref.northing:.0f}"


def _dms_part(value: float, width: int, pos: str, neg: str, decimals: int) -> str:
    hemisphere = neg if math.copysign(1.0, value) < 0 else pos
    a = abs(value)
    degrees = int(a)
    # round the seconds as printf does (correctly, on the exact binary value), then count them in
    # units of 10**-decimals and carry into minutes and degrees
    scale = 10**decimals
    units = round(round((a - degrees) * 3600, decimals) * scale)
    minutes, units = divmod(units, 60 * scale)
    if minutes == 60:
        degrees += 1
        minutes = 0
    whole, frac = divmod(units, scale)
    sec = f"{whole:02d}.{frac:0{decimals}d}" if decimals else f"{whole:02d}"
    return f"{degrees:0{width}d}°{minutes:02d}'{sec}\"{hemisphere}"


def format_dms(lon: float, lat: float, decimals: int = 2) -> str:
    """Degrees, minutes, seconds, latitude first: ``34°55'05.88"N 071°05'30.12"E``.

    The layout of ``GeoConvert -d -p 1`` with ``°`` for its ``d``; seconds are rounded to
    ``decimals`` places (2 places: 0.3 m).
    """
    lon += 0.0
    lat += 0.0
    return f"{_dms_part(lat, 2, 'N', 'S', decimals)} {_dms_part(lon, 3, 'E', 'W', decimals)}"


def format_decimal(lon: float, lat: float) -> str:
    """Decimal degrees, latitude first, 6 places (0.1 m), as ``GeoConvert -p 1``."""
    lon += 0.0
    lat += 0.0
    return f"{lat:.6f} {lon:.6f}"


_MGRS_RE = re.compile(
    r"(?P<zone>[0-9]{1,2})?\s*(?P<band>[A-Za-z])\s*(?P<col>[A-Za-z])\s*(?P<row>[A-Za-z])"
    r"\s*(?:(?P<e>[0-9]+)(?:\s+(?P<n>[0-9]+))?)?"
)


def parse_mgrs(text: str, field: str = "mgrs", *, min_digits: int = 1) -> MgrsSquare:
    """Read an MGRS reference, with or without spaces: ``42SXD1234567890``, ``42S XD 12345 67890``.

    ``min_digits`` to 5 digit pairs; polar (UPS) references have no zone number
    (``ZAF1234590660``). The reference denotes a square; its centre is returned with its side.

    A grid zone alone (``42S``) is not a position and is refused, as are zones 32X, 34X and 36X,
    which do not exist. By default a bare 100 km square (``42SXD``, 0 digit pairs) is refused too:
    it is 140 km across, and three letters typed by mistake ("bad") would read as one.
    """
    s = text.strip()
    if len(s) > _MAX_TEXT:
        raise InvalidInput(field, f"longer than {_MAX_TEXT} characters")
    m = _MGRS_RE.fullmatch(s)
    if m is None:
        raise InvalidInput(
            field,
            f"{text!r} is not an MGRS reference (zone 1-60 and band letter, then two square "
            "letters, then 0 to 5 digits of easting and the same number of northing)",
        )
    band = m["band"].upper()
    col = m["col"].upper()
    row = m["row"].upper()
    e, n = m["e"] or "", m["n"]
    if n is not None:
        if len(e) != len(n):
            raise InvalidInput(
                field,
                f"easting {e} and northing {n} have different numbers of digits "
                f"({len(e)} and {len(n)})",
            )
        digits = e + n
    else:
        digits = e
        if len(digits) % 2:
            raise InvalidInput(
                field,
                f"odd number of digits ({len(digits)}) after the square letters: easting and "
                "northing take the same number",
            )
    pairs = len(digits) // 2
    if pairs < min_digits:
        raise InvalidInput(
            field,
            f"{s!r} reads as an MGRS 100 km square with {pairs} digit pairs, which is not a "
            f"position: give at least {min_digits} pair(s) of easting and northing digits",
        )
    if pairs > _MAX_DIGITS:
        raise InvalidInput(
            field, f"{pairs} digit pairs: MGRS has at most {_MAX_DIGITS} (a 1 m square)"
        )
    if m["zone"] is not None:
        zone = int(m["zone"])
        if not 1 <= zone <= 60:
            raise InvalidInput(field, f"zone {m['zone']} is not a UTM zone (1-60)")
        prefix = m["zone"].zfill(2) + band
        if band in "ABYZ":
            raise InvalidInput(
                field, f"{band} is a polar (UPS) band, which takes no zone number: {prefix}"
            )
        iband = _LATBAND.find(band)
        if iband < 0:
            raise InvalidInput(
                field, f"band letter {band} is not a latitude band (C to X, without I and O)"
            )
        if band == "X" and zone in (32, 34, 36):
            raise InvalidInput(
                field, f"zone {prefix} does not exist (Svalbard has 31X, 33X, 35X and 37X)"
            )
        north = iband >= 10
        cols = _UTMCOLS[(zone - 1) % 3]
        icol = cols.find(col)
        if icol < 0:
            raise InvalidInput(
                field, f"column letter {col} is not used in zone {zone} (letters {cols})"
            )
        irow = _UTMROW.find(row)
        if irow < 0:
            raise InvalidInput(field, f"row letter {row} is not an MGRS row letter ({_UTMROW})")
        if (zone - 1) & 1:
            irow = (irow + _UTM_ROW_PERIOD - _UTM_EVEN_ROW_SHIFT) % _UTM_ROW_PERIOD
        true_row = _utm_row(iband - 10, icol, irow)
        if true_row is None:
            raise InvalidInput(field, f"square {col}{row} is not in zone {prefix}")
        xt = icol + _MIN_UTM_COL
        yt = true_row if north else true_row + _MAX_UTM_S_ROW
    else:
        zone = 0
        iband = _UPSBAND.find(band)
        if iband < 0:
            raise InvalidInput(
                field,
                f"no zone number, and {band} is not a polar (UPS) band (A, B, Y, Z); "
                "UTM references start with their zone, e.g. 42S",
            )
        north = iband >= 2
        cols = _UPSCOLS[iband]
        rows = _UPSROWS[1 if north else 0]
        icol = cols.find(col)
        if icol < 0:
            raise InvalidInput(
                field, f"column letter {col} is not used in polar band {band} (letters {cols})"
            )
        irow = rows.find(row)
        if irow < 0:
            raise InvalidInput(
                field, f"row letter {row} is not used in polar band {band} (letters {rows})"
            )
        first = _MIN_UPS_N if north else _MIN_UPS_S
        xt = icol + (_UPS_EASTING if iband & 1 else first)
        yt = irow + first
    unit = 10**pairs  # the square's side is TILE_M / unit
    xi = xt * unit + (int(digits[:pairs]) if pairs else 0)
    yi = yt * unit + (int(digits[pairs:]) if pairs else 0)
    centre = GridRef(
        zone,
        north,
        TILE_M * (2 * xi + 1) / (2 * unit),
        TILE_M * (2 * yi + 1) / (2 * unit),
    )
    return MgrsSquare(centre, pairs, TILE_M / unit, band)


# ---------------------------------------------------------------------------------------------
# Many points at once (the CLI's batch mode). Each gives exactly what the functions above give
# for each point (the tests run both on the golden files); rows the vector code does not handle
# (MGRS edge folding, rounding ties) are done by the functions above.

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_LATBAND_A = np.array(list(_LATBAND))
_UTMCOLS_A = np.array([list(c) for c in _UTMCOLS])
_UTMROW_A = np.array(list(_UTMROW))
_UPSBAND_A = np.array(list(_UPSBAND))
_UPSCOLS_A = np.array([list(c.ljust(12, "?")) for c in _UPSCOLS])
_UPSROWS_A = np.array([list(r.ljust(24, "?")) for r in _UPSROWS])


@dataclass(frozen=True, slots=True)
class GridArrays:
    """UTM/UPS coordinates of many points (zone 0: UPS)."""

    zone: I64
    north: Bools
    easting: F64
    northing: F64

    def __len__(self) -> int:
        return len(self.zone)

    def ref(self, i: int) -> GridRef:
        return GridRef(
            int(self.zone[i]), bool(self.north[i]), float(self.easting[i]), float(self.northing[i])
        )


def _bands(lats: F64) -> I64:
    ilat = np.floor(lats).astype(np.int64)
    return np.clip((ilat + 80) // 8 - 10, -10, 9)


def standard_zones(lats: F64, lons: F64) -> I64:
    """:func:`standard_zone` of many points."""
    ilon = np.floor(lons).astype(np.int64)
    ilon = np.where(ilon >= 180, ilon - 360, ilon)
    zone = (ilon + 186) // 6
    band = _bands(lats)
    zone = np.where((band == 7) & (zone == 31) & (ilon >= 3), 32, zone)
    zone = np.where((band == 9) & (ilon >= 0) & (ilon < 42), 2 * ((ilon + 183) // 12) + 1, zone)
    return np.where((lats >= -80) & (lats < 84), zone, 0).astype(np.int64)


def grid_forward_many(lons: F64, lats: F64) -> GridArrays:
    """:func:`grid_forward` of many WGS 84 points: one PROJ call per zone."""
    lons = np.asarray(lons, dtype=np.float64) + 0.0
    lats = np.asarray(lats, dtype=np.float64) + 0.0
    zone = standard_zones(lats, lons)
    north = lats >= 0
    x = np.empty_like(lons)
    y = np.empty_like(lats)
    key = zone * 2 + north
    for k in np.unique(key).tolist():
        mask = key == k
        xs, ys = _forward_transformer(k // 2, bool(k % 2)).transform(lons[mask], lats[mask])
        x[mask] = xs
        y[mask] = ys
    return GridArrays(zone, north, x, y)


def _snap_many(v: F64) -> F64:
    r = np.rint(v)
    return np.where(np.abs(v - r) <= _SNAP_M, r, v)


def _utm_rows_many(iband: I64, icol: I64, irow: I64) -> I64:
    """:func:`_utm_row` of many squares; -1000 where there is none."""
    c = 100 * (8 * iband + 4) / 90.0
    northp = (iband >= 0).astype(np.int64)
    minrow = np.where(iband > -10, np.floor(c - 4.3 - 0.1 * northp), -90).astype(np.int64)
    maxrow = np.where(iband < 9, np.floor(c + 4.4 - 0.1 * northp), 94).astype(np.int64)
    baserow = (minrow + maxrow) // 2 - _UTM_ROW_PERIOD // 2
    irow = (irow - baserow + _MAX_UTM_S_ROW) % _UTM_ROW_PERIOD + baserow
    sband = np.where(iband >= 0, iband, -iband - 1)
    srow = np.where(irow >= 0, irow, -irow - 1)
    scol = np.where(icol < 4, icol, -icol + 7)
    ok = (
        ((minrow <= irow) & (irow <= maxrow))
        | ((srow == 70) & (sband == 8) & (scol >= 2))
        | ((srow == 71) & (sband == 7) & (scol <= 2))
        | ((srow == 79) & (sband == 9) & (scol >= 1))
        | ((srow == 80) & (sband == 8) & (scol <= 1))
    )
    return np.where(ok, irow, -1000)


def mgrs_many(grid: GridArrays, lats: F64, digits: int = 5) -> list[str]:
    """:func:`mgrs_from_grid` of many points (``lats`` their latitudes)."""
    if not 0 <= digits <= _MAX_DIGITS:
        raise InvalidInput("location", f"MGRS precision must be 0 to {_MAX_DIGITS} digit pairs")
    n = len(grid)
    lats = np.asarray(lats, dtype=np.float64)
    zone, north = grid.zone, grid.north
    x = _snap_many(grid.easting)
    y = _snap_many(grid.northing)
    utm = zone != 0
    xt = np.floor(x / TILE_M)
    yt = np.floor(y / TILE_M)
    # rows well inside the MGRS limits (the others are folded or refused by mgrs_from_grid)
    inside = np.where(
        utm,
        (xt >= _MIN_UTM_COL)
        & (xt < _MAX_UTM_COL)
        & np.where(
            north,
            (yt >= _MIN_UTM_N_ROW) & (yt < _MAX_UTM_N_ROW),
            (yt >= _MIN_UTM_S_ROW) & (yt < _MAX_UTM_S_ROW),
        ),
        np.where(
            north,
            (xt >= _MIN_UPS_N) & (xt < _MAX_UPS_N) & (yt >= _MIN_UPS_N) & (yt < _MAX_UPS_N),
            (xt >= _MIN_UPS_S) & (xt < _MAX_UPS_S) & (yt >= _MIN_UPS_S) & (yt < _MAX_UPS_S),
        ),
    )
    ix = np.floor(np.where(inside, x, 0.0) * _MICRO).astype(np.int64)
    iy = np.floor(np.where(inside, y, 0.0) * _MICRO).astype(np.int64)
    m = _MICRO * TILE_M
    xh = ix // m
    yh = iy // m
    # UTM letters, and the check that the latitude's band holds the row
    iband = np.where(np.abs(lats) > _ANGEPS, _bands(lats), np.where(north, 0, -1))
    icol = np.clip(xh - _MIN_UTM_COL, 0, 7)
    row = _utm_rows_many(iband, icol, yh % _UTM_ROW_PERIOD)
    consistent = row == yh - np.where(north, _MIN_UTM_N_ROW, _MAX_UTM_S_ROW)
    shift = np.where((zone - 1) & 1, _UTM_EVEN_ROW_SHIFT, 0)
    utm_letters = (
        _LATBAND_A[np.clip(10 + iband, 0, 19)]
        + _UTMCOLS_A[(zone - 1) % 3, icol]
        + _UTMROW_A[(yh + shift) % _UTM_ROW_PERIOD]
    )
    # UPS letters
    eastp = xh >= _UPS_EASTING
    ups_band = 2 * north.astype(np.int64) + eastp.astype(np.int64)
    first = np.where(north, _MIN_UPS_N, _MIN_UPS_S)
    ups_col = np.clip(xh - np.where(eastp, _UPS_EASTING, first), 0, 11)
    ups_row = np.clip(yh - first, 0, 23)
    ups_letters = (
        _UPSBAND_A[ups_band]
        + _UPSCOLS_A[ups_band, ups_col]
        + _UPSROWS_A[north.astype(np.int64), ups_row]
    )
    letters = np.where(utm, utm_letters, ups_letters).tolist()
    good = (inside & (consistent | ~utm)).tolist()
    zones = zone.tolist()
    if digits:
        d = 10 ** (11 - digits)
        ex = ((ix - m * xh) // d).tolist()
        ny = ((iy - m * yh) // d).tolist()
    out: list[str] = []
    for i in range(n):
        if not good[i]:
            out.append(mgrs_from_grid(grid.ref(i), float(lats[i]), digits))
            continue
        z = zones[i]
        head = f"{z:02d}{letters[i]}" if z else letters[i]
        out.append(f"{head}{ex[i]:0{digits}d}{ny[i]:0{digits}d}" if digits else head)
    return out


def utm_text_many(grid: GridArrays) -> list[str]:
    """:func:`utm_text` of many points."""
    return [
        f"{z:02d}{'north' if n else 'south'} {e:.0f} {y:.0f}"
        if z
        else f"{'north' if n else 'south'} {e:.0f} {y:.0f}"
        for z, n, e, y in zip(
            grid.zone.tolist(),
            grid.north.tolist(),
            grid.easting.tolist(),
            grid.northing.tolist(),
            strict=True,
        )
    ]


def _dms_many(values: F64, width: int, pos: str, neg: str) -> list[str]:
    hemisphere = np.where(np.signbit(values), neg, pos).tolist()
    a = np.abs(values)
    degrees = np.floor(a)
    seconds = (a - degrees) * 3600
    hundredths = seconds * 100
    units = np.rint(hundredths)
    # a product within a hair of a rounding tie is rounded as printf rounds it, one by one
    frac = hundredths - np.floor(hundredths)
    for i in np.flatnonzero(np.abs(frac - 0.5) < 1e-6).tolist():
        units[i] = round(round(float(seconds[i]), 2) * 100)
    u = units.astype(np.int64)
    minutes, u = np.divmod(u, 6000)
    deg = degrees.astype(np.int64)
    carry = minutes == 60
    deg = np.where(carry, deg + 1, deg)
    minutes = np.where(carry, 0, minutes)
    whole, hund = np.divmod(u, 100)
    parts = zip(
        deg.tolist(), minutes.tolist(), whole.tolist(), hund.tolist(), hemisphere, strict=True
    )
    if width == 2:
        return [f"{d:02d}°{mi:02d}'{w:02d}.{h:02d}\"{hs}" for d, mi, w, h, hs in parts]
    return [f"{d:03d}°{mi:02d}'{w:02d}.{h:02d}\"{hs}" for d, mi, w, h, hs in parts]


def format_dms_many(lons: F64, lats: F64) -> list[str]:
    """:func:`format_dms` (2 decimals of seconds) of many points."""
    lons = np.asarray(lons, dtype=np.float64) + 0.0
    lats = np.asarray(lats, dtype=np.float64) + 0.0
    la = _dms_many(lats, 2, "N", "S")
    lo = _dms_many(lons, 3, "E", "W")
    return [f"{a} {b}" for a, b in zip(la, lo, strict=True)]
