"""Reading positions typed by people: decimal degrees, DMS, MGRS and UTM/UPS text.

Nothing here guesses. Text that can be read two ways, or that is malformed or out of range, is
refused with a message that says what is wrong. The rules:

Geographic text (latitude first, as people write it, unless hemisphere letters say otherwise)
    ``34.9183, 71.0917`` · ``34.9183 71.0917`` · ``34.9183N 71.0917E`` · ``71.0917E 34.9183N`` ·
    ``N34.9183 E71.0917`` · ``34°55'06"N 71°05'30"E`` · ``34 55 06 N 71 05 30 E`` ·
    ``34-55-06N 071-05-30E`` · ``34:55:06 71:05:30`` · ``34°55.1'N 71°05.5'E`` (degrees and
    decimal minutes) · the primes ′ ″, ’ ”, two single quotes for seconds, ``d`` or º for degrees.

    - Latitude and longitude are separated by one comma (or semicolon), or by the hemisphere
      letters, or (without letters) by a space between two numbers or two degree-marked groups.
      Anything else ("34 55 71 05") is refused: where the latitude ends cannot be told.
    - Hemisphere letters (N, S, E, W) are given on both coordinates or on neither; they all precede
      or all follow their numbers; a letter and a sign together ("-34N") are refused.
    - Degrees, minutes, seconds: only the last component may have a decimal fraction; minutes and
      seconds are below 60; latitude within ±90°, longitude within ±180°.
    - The reading precision is half a unit of the last digit given, on each axis: "34.9183" is
      taken to mean 34.91825 to 34.91835. It is returned, in metres, so that the caller adds it.

MGRS
    See :func:`accord.geo.mgrs.parse_mgrs`: with or without spaces, polar references included.

UTM / UPS text
    ``42S 508432 3864421`` · ``42 S 508432 3864421`` · ``508432 3864421 42S`` ·
    ``42north 508432 3864421`` (as ``accord convert --to utm`` and ``GeoConvert -u -l`` print it) ·
    ``north 2019280 1890660`` and ``Z 2019280 1890660`` (UPS).

    The letter after the zone number collides: MGRS latitude bands are letters C to X (S is 32°N to
    40°N, N is 0° to 8°N), while ``GeoConvert -u`` writes the hemisphere as ``n``/``s``. The rule:

    - ``north`` and ``south`` (spelled out) are hemispheres.
    - A single letter is the MGRS latitude band, and the point must lie in that band (within
      0.01°). ``42S`` is band S, in the northern hemisphere, never "south".
    - Except ``N``: read as band N it is northern; read as the hemisphere it is northern too, with
      the same projection, so a point outside band N is read as "north" (the reading is the same).
    - Lower-case ``s`` is refused: it is what ``GeoConvert -u`` prints for "south", and it is also
      band S; write ``42S`` for the band or ``42south`` for the hemisphere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from accord.errors import InvalidInput
from accord.geo.mgrs import GridRef, MgrsSquare, ground_bound_m, parse_mgrs, square_half_diagonal_m

__all__ = [
    "BAND_TOLERANCE_DEG",
    "GeographicReading",
    "GridReading",
    "Reading",
    "check_band",
    "parse_geographic",
    "parse_text",
    "parse_utm",
]

BAND_TOLERANCE_DEG = 0.01
"""How far outside its stated MGRS latitude band a UTM point may lie (rounding at band edges)."""

_M_PER_DEG = 111_700.0  # more than the longest degree of latitude (111.695 km, at the poles)
_LATBAND = "CDEFGHJKLMNPQRSTUVWX"
_MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class GeographicReading:
    """Latitude and longitude in degrees, in whatever datum the text was given in."""

    lat: float
    lon: float
    precision_m: float  # half-diagonal of the rounding box of the digits given, in metres
    form: Literal["decimal", "dms"]


@dataclass(frozen=True, slots=True)
class GridReading:
    """A UTM/UPS coordinate read from MGRS or UTM text.

    ``precision_m`` bounds the ground distance from ``grid`` to any point the text denotes: the
    half-diagonal of the MGRS square, or of half a unit of the last digit of a UTM easting and
    northing, divided by the projection's smallest scale factor. ``band`` is the MGRS latitude band
    the text named (checked with :func:`check_band` once the latitude is known), or None.
    """

    grid: GridRef
    precision_m: float
    form: Literal["mgrs", "utm"]
    band: str | None
    square: MgrsSquare | None = None


Reading = GeographicReading | GridReading

# ---------------------------------------------------------------------------------------------
# Geographic text

_DEG_MARKS = "°º˚dD"
_MIN_MARKS = "'′’‘´"
_SEC_MARKS = '"″”“'
_HEMI = "NSEWnsew"
_MINUS = "-−–"  # hyphen-minus, minus sign, en dash
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_ALLOWED = "0123456789.+:,; \t" + _DEG_MARKS + _MIN_MARKS + _SEC_MARKS + _HEMI + _MINUS
_DISALLOWED_RE = re.compile(f"[^{re.escape(_ALLOWED)}]")
_SEPS_RE = re.compile("[,;]")
_HEMI_RE = re.compile(f"[{_HEMI}]")
# the common shapes of one coordinate (after its letter and sign are taken off): D, and D M S with
# one separator or mark between parts; anything else goes through the general scanner
_DEG_ONLY_RE = re.compile(f"([0-9]+(?:\\.[0-9]+)?)(?: ?[{_DEG_MARKS}])?")
_DMS_RE = re.compile(
    f"([0-9]+)(?: ?[{_DEG_MARKS}] ?|[ :-])([0-9]+)(?: ?[{re.escape(_MIN_MARKS)}] ?|[ :-])"
    f"([0-9]+(?:\\.[0-9]+)?)(?: ?[{re.escape(_SEC_MARKS)}])?"
)


@dataclass(frozen=True, slots=True)
class _Coordinate:
    value: float  # degrees, signed
    letter: str | None  # N, S, E, W (upper case) or None
    unit_deg: float  # the unit of the last digit given, in degrees
    dms: bool


def _normalise(text: str) -> str:
    t = text.replace("''", '"').replace("′′", "″").replace("’’", "”")
    return " ".join(t.split())  # any Unicode whitespace becomes one space


def _split_pair(t: str, field: str) -> tuple[str, str]:
    seps = [m.start() for m in _SEPS_RE.finditer(t)]
    if len(seps) == 1:
        i = seps[0]
        return t[:i].strip(), t[i + 1 :].strip()
    if len(seps) > 1:
        raise InvalidInput(
            field,
            "more than one comma: separate latitude and longitude with one comma, and write "
            "decimals with a point",
        )
    letters = [m.start() for m in _HEMI_RE.finditer(t)]
    if len(letters) == 1:
        raise InvalidInput(
            field,
            f"only one hemisphere letter ({t[letters[0]].upper()}): give N/S on the latitude and "
            "E/W on the longitude, or neither",
        )
    if len(letters) > 2:
        raise InvalidInput(field, "more than two hemisphere letters (N, S, E, W)")
    if len(letters) == 2:
        i, j = letters
        prefix = i == 0
        suffix = j == len(t) - 1
        if prefix and not suffix:
            return t[:j].strip(), t[j:].strip()
        if suffix and not prefix:
            return t[: i + 1].strip(), t[i + 1 :].strip()
        raise InvalidInput(
            field,
            "hemisphere letters must all come before their numbers (N34 E71) or all after "
            "(34N 71E)",
        )
    chunks = t.split(" ")
    if len(chunks) == 2:
        return chunks[0], chunks[1]
    if len(chunks) < 2:
        raise InvalidInput(field, "expected a latitude and a longitude")
    starts = [k for k, c in enumerate(chunks) if any(m in c for m in _DEG_MARKS)]
    if len(starts) == 2 and starts[0] == 0:
        k = starts[1]
        return " ".join(chunks[:k]), " ".join(chunks[k:])
    raise InvalidInput(
        field,
        "cannot tell where the latitude ends and the longitude begins: separate them with a "
        "comma, or add hemisphere letters (N/S, E/W)",
    )


def _parse_coordinate(part: str, field: str) -> _Coordinate:
    s = part.strip()
    if not s:
        raise InvalidInput(field, "a coordinate is missing")
    letter: str | None = None
    if s[0] in _HEMI and s[-1] in _HEMI and len(s) > 1:
        raise InvalidInput(field, f"two hemisphere letters on one coordinate: {s!r}")
    if s[0] in _HEMI:
        letter, s = s[0].upper(), s[1:].strip()
    elif s[-1] in _HEMI:
        letter, s = s[-1].upper(), s[:-1].strip()
    if _HEMI_RE.search(s) is not None:
        raise InvalidInput(field, f"misplaced hemisphere letter in {part.strip()!r}")
    if not s:
        raise InvalidInput(field, f"no number in {part.strip()!r}")
    sign = 1.0
    if s[0] == "+" or s[0] in _MINUS:
        if letter is not None:
            raise InvalidInput(
                field, f"{part.strip()!r} has both a sign and a hemisphere letter: give one"
            )
        sign = -1.0 if s[0] in _MINUS else 1.0
        s = s[1:].lstrip()
    if not s:
        raise InvalidInput(field, f"no number in {part.strip()!r}")
    fast = _DEG_ONLY_RE.fullmatch(s)
    if fast is not None:
        number = fast.group(1)
        return _Coordinate(sign * float(number), letter, 10.0 ** -_decimals(number), False)
    fast = _DMS_RE.fullmatch(s)
    if fast is not None:
        d, m, sec = fast.groups()
        return _dms_coordinate(part, field, sign=sign, letter=letter, d=d, m=m, sec=sec)
    # components: a number, an optional mark (after at most one space), then a separator (space,
    # ':' or '-') unless a mark ended the component
    comps: list[tuple[str, str | None]] = []
    pos = 0
    n = len(s)
    while True:
        m = _NUMBER_RE.match(s, pos)
        if m is None:
            raise InvalidInput(field, f"malformed coordinate {part.strip()!r} at {s[pos:]!r}")
        number = m.group()
        pos = m.end()
        q = pos + 1 if pos < n and s[pos] == " " else pos
        mark: str | None = None
        if q < n:
            ch = s[q]
            if ch in _DEG_MARKS:
                mark = "d"
            elif ch in _MIN_MARKS:
                mark = "m"
            elif ch in _SEC_MARKS:
                mark = "s"
            if mark is not None:
                pos = q + 1
        comps.append((number, mark))
        if pos >= n:
            break
        ch = s[pos]
        if ch in ": " or (ch in _MINUS and mark is None):
            pos += 1
            if pos < n and s[pos] == " ":
                pos += 1
            if pos >= n:
                raise InvalidInput(field, f"malformed coordinate {part.strip()!r}: trailing {ch!r}")
        elif mark is None:
            raise InvalidInput(field, f"malformed coordinate {part.strip()!r} at {s[pos:]!r}")
    if len(comps) > 3:
        raise InvalidInput(
            field, f"{part.strip()!r} has more than three parts (degrees, minutes, seconds)"
        )
    expected = ("d", "m", "s")
    for k, (number, mark) in enumerate(comps):
        if mark is not None and mark != expected[k]:
            names = {"d": "degrees", "m": "minutes", "s": "seconds"}
            raise InvalidInput(
                field,
                f"in {part.strip()!r}, {number} is marked as {names[mark]} but stands where "
                f"{names[expected[k]]} belong",
            )
        if "." in number and k != len(comps) - 1:
            raise InvalidInput(
                field, f"in {part.strip()!r} only the last part may have a decimal fraction"
            )
    value = 0.0
    unit_deg = 1.0
    for k, (number, _) in enumerate(comps):
        v = float(number)
        if k > 0 and v >= 60:
            which = "minutes" if k == 1 else "seconds"
            raise InvalidInput(field, f"{which} must be less than 60 in {part.strip()!r}")
        scale = 60.0**k
        value += v / scale
        decimals = len(number) - number.index(".") - 1 if "." in number else 0
        unit_deg = 10.0**-decimals / scale
    return _Coordinate(sign * value, letter, unit_deg, len(comps) > 1)


def _dms_coordinate(
    part: str, field: str, *, sign: float, letter: str | None, d: str, m: str, sec: str
) -> _Coordinate:
    minutes, seconds = float(m), float(sec)
    if minutes >= 60:
        raise InvalidInput(field, f"minutes must be less than 60 in {part.strip()!r}")
    if seconds >= 60:
        raise InvalidInput(field, f"seconds must be less than 60 in {part.strip()!r}")
    value = float(d) + minutes / 60.0 + seconds / 3600.0
    return _Coordinate(sign * value, letter, 10.0 ** -_decimals(sec) / 3600.0, True)


def parse_geographic(text: str, field: str = "text") -> GeographicReading:
    """Read a latitude/longitude pair (see the module docstring for the accepted forms)."""
    t = _normalise(text)
    bad = _DISALLOWED_RE.search(t)
    if bad is not None:
        raise InvalidInput(
            field, f"unexpected character {bad.group()!r} in a latitude/longitude: {text.strip()!r}"
        )
    a_text, b_text = _split_pair(t, field)
    a = _parse_coordinate(a_text, field)
    b = _parse_coordinate(b_text, field)
    if (a.letter is None) != (b.letter is None):
        raise InvalidInput(
            field, "give hemisphere letters on both latitude and longitude, or on neither"
        )
    if a.letter is None or b.letter is None:
        lat_c, lon_c = a, b
    else:
        axes = {a.letter in "NS", b.letter in "NS"}
        if axes != {True, False}:
            raise InvalidInput(
                field,
                f"hemisphere letters {a.letter} and {b.letter}: one coordinate must be N or S "
                "(latitude) and the other E or W (longitude)",
            )
        lat_c, lon_c = (a, b) if a.letter in "NS" else (b, a)
    lat = lat_c.value * (-1.0 if lat_c.letter == "S" else 1.0)
    lon = lon_c.value * (-1.0 if lon_c.letter == "W" else 1.0)
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(field, f"latitude {lat:g} is outside -90 to 90 degrees")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(field, f"longitude {lon:g} is outside -180 to 180 degrees")
    d_lat = 0.5 * lat_c.unit_deg * _M_PER_DEG
    d_lon = 0.5 * lon_c.unit_deg * _M_PER_DEG * math.cos(math.radians(lat))
    return GeographicReading(
        lat + 0.0,
        lon + 0.0,
        math.hypot(d_lat, d_lon),
        "dms" if (lat_c.dms or lon_c.dms) else "decimal",
    )


# ---------------------------------------------------------------------------------------------
# UTM / UPS text

_UTM_NUM = r"[+-]?[0-9]+(?:\.[0-9]+)?"
_DESIG = r"(?P<zone>[0-9]{1,2})?\s*(?P<letters>[A-Za-z]+)"
_UTM_RE = re.compile(
    rf"(?:{_DESIG}\s*[\s,]\s*(?P<e>{_UTM_NUM})\s*[\s,]\s*(?P<n>{_UTM_NUM}))"
    rf"|(?:(?P<e2>{_UTM_NUM})\s*[\s,]\s*(?P<n2>{_UTM_NUM})\s*[\s,]\s*"
    rf"(?P<zone2>[0-9]{{1,2}})?\s*(?P<letters2>[A-Za-z]+))"
)
_WORDS = {"north": True, "south": False}

# Ranges accepted for UTM/UPS text: GeographicLib's, with its 100 km of slop.
_UTM_E = (0.0, 1_000_000.0)
_UTM_N = {True: (0.0, 9_600_000.0), False: (900_000.0, 10_000_000.0)}
_UPS_RANGE = {True: (1_200_000.0, 2_800_000.0), False: (700_000.0, 3_300_000.0)}


def _decimals(number: str) -> int:
    dot = number.find(".")
    return 0 if dot < 0 else len(number) - dot - 1


def _utm_candidate(t: str) -> re.Match[str] | None:
    m = _UTM_RE.fullmatch(t)
    if m is None:
        return None
    zone = m["zone"] if m["e"] is not None else m["zone2"]
    letters = m["letters"] if m["e"] is not None else m["letters2"]
    # without a zone number, only the UPS forms look like UTM text
    if (
        zone is None
        and letters.lower() not in _WORDS
        and letters.upper() not in ("A", "B", "Y", "Z")
    ):
        return None
    return m


def parse_utm(text: str, field: str = "text") -> GridReading:
    """Read UTM or UPS text (see the module docstring for the zone-letter rule)."""
    t = " ".join(text.split())
    m = _utm_candidate(t)
    if m is None:
        raise InvalidInput(
            field,
            f"{text.strip()!r} is not UTM text: write zone and band (or north/south), easting, "
            "northing, e.g. 42S 508432 3864421",
        )
    if m["e"] is not None:
        zone_s, letters, e_s, n_s = m["zone"], m["letters"], m["e"], m["n"]
    else:
        zone_s, letters, e_s, n_s = m["zone2"], m["letters2"], m["e2"], m["n2"]
    band: str | None = None
    word = letters.lower()
    if word in _WORDS:
        north = _WORDS[word]
    elif len(letters) == 1:
        if letters == "s":
            raise InvalidInput(
                field,
                f"'{zone_s or ''}s' is ambiguous: GeoConvert writes the southern hemisphere as "
                f"'s', and S is also the MGRS latitude band 32°N to 40°N; write "
                f"'{zone_s or ''}S' for band S or '{zone_s or ''}south' for the southern "
                "hemisphere",
            )
        band = letters.upper()
        if zone_s is None:
            north = band in "YZ"
        else:
            if band not in _LATBAND:
                raise InvalidInput(
                    field,
                    f"{band} is not a UTM latitude band (C to X, without I and O); write "
                    f"'{zone_s}north' or '{zone_s}south' for a hemisphere",
                )
            north = _LATBAND.index(band) >= 10
    else:
        raise InvalidInput(
            field,
            f"{letters!r} after the zone: expected a latitude band letter (C to X) or north/south",
        )
    easting, northing = float(e_s), float(n_s)
    if zone_s is None:
        zone = 0
        lo, hi = _UPS_RANGE[north]
        if not (lo <= easting <= hi and lo <= northing <= hi):
            raise InvalidInput(
                field,
                f"UPS {'north' if north else 'south'} easting and northing must be within "
                f"{lo:.0f} to {hi:.0f} m",
            )
        if band is not None and (band in "BZ") != (easting >= 2_000_000):
            side = "east" if band in "BZ" else "west"
            raise InvalidInput(
                field,
                f"UPS band {band} is the {side}ern half (easting "
                f"{'at least' if side == 'east' else 'below'} 2000000), not easting {e_s}",
            )
    else:
        zone = int(zone_s)
        if not 1 <= zone <= 60:
            raise InvalidInput(field, f"zone {zone_s} is not a UTM zone (1-60)")
        if not _UTM_E[0] <= easting <= _UTM_E[1]:
            raise InvalidInput(field, f"UTM easting {e_s} is outside 0 to 1000000 m")
        lo, hi = _UTM_N[north]
        if not lo <= northing <= hi:
            hemisphere = "northern" if north else "southern"
            raise InvalidInput(
                field,
                f"UTM northing {n_s} is outside {lo:.0f} to {hi:.0f} m, the {hemisphere} "
                "hemisphere's range",
            )
    half = 0.5 * math.hypot(10.0 ** -_decimals(e_s), 10.0 ** -_decimals(n_s))
    return GridReading(
        GridRef(zone, north, easting, northing), ground_bound_m(zone, half), "utm", band
    )


def _metres(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".")


def check_band(reading: GridReading, lat: float, field: str = "text") -> None:
    """Refuse a UTM reading whose latitude ``lat`` lies outside the band it was given with."""
    band = reading.band
    if reading.form != "utm" or band is None or reading.grid.zone == 0:
        return
    i = _LATBAND.index(band)
    south_edge = -80.0 + 8 * i
    north_edge = 84.0 if band == "X" else south_edge + 8
    if south_edge - BAND_TOLERANCE_DEG <= lat <= north_edge + BAND_TOLERANCE_DEG:
        return
    if band == "N":  # the northern hemisphere either way: same projection, same point
        return
    ref = reading.grid
    where = f"{abs(lat):.4f}°{'N' if lat >= 0 else 'S'}"

    def edge(v: float) -> str:
        return f"{abs(v):g}°{'N' if v >= 0 else 'S'}"

    en = f"{_metres(ref.easting)} {_metres(ref.northing)}"
    message = (
        f"'{ref.zone:02d}{band}' is read as MGRS latitude band {band} ({edge(south_edge)} to "
        f"{edge(north_edge)}), but {en} lies at {where}, outside it"
    )
    if band == "S":
        message += f"; for the southern hemisphere write '{ref.zone:02d}south {en}'"
    raise InvalidInput(field, message)


# ---------------------------------------------------------------------------------------------
# Any text


_SIMPLE_DECIMAL = re.compile(
    r"([+-]?[0-9]{1,3}(?:\.[0-9]+)?)(?:, ?| )([+-]?[0-9]{1,3}(?:\.[0-9]+)?)"
)
_MGRS_SHAPE = re.compile(r"[0-9]{0,2} ?[A-Za-z] ?[A-Za-z] ?[A-Za-z][0-9 ]*")
_GRID_ZONE = re.compile(r"[0-9]{1,2} ?[A-Za-z]|[ABYZabyz]")
_UTM_NO_LETTER = re.compile(r"[0-9]{1,2}[ ,]+[0-9]{5,}(?:\.[0-9]+)?[ ,]+[0-9]{5,}(?:\.[0-9]+)?")
_LETTER = re.compile(r"[A-Za-z]")


def _simple_decimal(lat_s: str, lon_s: str, field: str) -> GeographicReading:
    """The common case "34.9183, 71.0917": exactly what :func:`parse_geographic` makes of it."""
    lat, lon = float(lat_s), float(lon_s)
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(field, f"latitude {lat:g} is outside -90 to 90 degrees")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(field, f"longitude {lon:g} is outside -180 to 180 degrees")
    d_lat = 0.5 * 10.0 ** -_decimals(lat_s) * _M_PER_DEG
    d_lon = 0.5 * 10.0 ** -_decimals(lon_s) * _M_PER_DEG * math.cos(math.radians(lat))
    return GeographicReading(lat + 0.0, lon + 0.0, math.hypot(d_lat, d_lon), "decimal")


def parse_text(text: str, field: str = "text") -> Reading:
    """Read one position typed as text: MGRS, UTM/UPS, or latitude/longitude.

    MGRS is recognised by its shape (zone, three letters, digits), UTM by a zone designator and two
    numbers; everything else is read as latitude/longitude. Raises :class:`InvalidInput` only.
    """
    if not isinstance(text, str):
        raise InvalidInput(field, "expected a string")
    if len(text) > _MAX_TEXT:
        raise InvalidInput(field, f"longer than {_MAX_TEXT} characters")
    t = " ".join(text.split())
    if not t:
        raise InvalidInput(field, "empty")
    m = _SIMPLE_DECIMAL.fullmatch(t)
    if m is not None:
        return _simple_decimal(m.group(1), m.group(2), field)
    if _LETTER.search(t) is not None:
        if _MGRS_SHAPE.fullmatch(t):
            square = parse_mgrs(t, field)
            return GridReading(
                square.centre, square_half_diagonal_m(square), "mgrs", square.band, square
            )
        if _GRID_ZONE.fullmatch(t):
            raise InvalidInput(
                field, f"{t!r} is a grid zone, hundreds of kilometres wide, not a position"
            )
        if _utm_candidate(t) is not None:
            return parse_utm(t, field)
    elif _UTM_NO_LETTER.fullmatch(t):
        raise InvalidInput(
            field,
            f"{t!r}: UTM text needs a latitude band letter or north/south after the zone "
            "(42S 508432 3864421, 42north 508432 3864421)",
        )
    return parse_geographic(text, field)
