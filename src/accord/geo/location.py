"""A single position, in any of the forms of SPEC.md "Locations", converted once to WGS 84.

::

    {"type": "Point", "coordinates": [71.0917, 34.9183]}          GeoJSON: WGS 84, lon/lat
    {"mgrs": "42SXD 12345 67890"}                                  MGRS (WGS 84)
    {"text": "34°55'06\\"N 71°05'30\\"E", "crs": "EPSG:4240"}      text, in the datum of crs
    {"x": 508432.1, "y": 3864421.7, "crs": "EPSG:32642"}          any geographic/projected CRS

Each may add ``"allow_ballpark": true`` (see :mod:`accord.geo.datums`). ``text`` takes decimal
degrees, DMS, MGRS or UTM/UPS (:mod:`accord.geo.coords`); its ``crs`` (default ``EPSG:4326``) must
be geographic: it names the datum, and UTM text is then the UTM grid on that datum's ellipsoid. MGRS
is accepted on WGS 84 only: older datums used other lettering schemes, and a reference read with
the wrong one is 1000 km off.

The :class:`Position` keeps ``input`` exactly as sent, and an honest ``added_uncertainty_m``: the
transformation's stated accuracy, plus the reading's precision (the MGRS square's half-diagonal,
half a unit of the last digit typed), plus at least 1000 m for a ballpark datum shift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from accord.errors import InvalidInput
from accord.geo.coords import GeographicReading, GridReading, Reading, check_band, parse_text
from accord.geo.datums import (
    NO_TRANSFORMATION,
    WGS84,
    Converted,
    Transformation,
    grid_to_wgs84,
    text_crs,
    to_wgs84,
)
from accord.geo.mgrs import parse_mgrs, square_half_diagonal_m

__all__ = [
    "Position",
    "Transformation",
    "parse_location",
    "position_from_reading",
    "position_from_text",
]

_FORMS = "a GeoJSON Point, {mgrs}, {text, crs} or {x, y, crs}"
_ALLOWED_KEYS = {
    "point": {"type", "coordinates"},
    "mgrs": {"mgrs", "crs", "allow_ballpark"},
    "text": {"text", "crs", "allow_ballpark"},
    "xy": {"x", "y", "crs", "allow_ballpark"},
}
_MAX_DEPTH = 8


@dataclass(init=False, eq=True, slots=True)
class Position:
    """A position in WGS 84 with what it was read from and how. Read-only, with its own compiled
    ``__init__`` (see :mod:`accord.compiled`); not hashable, as ``input`` is a dict."""

    lon: Final[float]
    lat: Final[float]
    added_uncertainty_m: Final[float]
    input: Final[Mapping[str, object]]
    transformation: Final[Transformation]
    datum_warning: Final[str | None]

    def __init__(  # noqa: PLR0917 (the order of the fields, as the dataclass had it)
        self,
        lon: float,
        lat: float,
        added_uncertainty_m: float,
        input: Mapping[str, object],
        transformation: Transformation,
        datum_warning: str | None,
    ) -> None:
        self.lon = lon
        self.lat = lat
        self.added_uncertainty_m = added_uncertainty_m
        self.input = input
        self.transformation = transformation
        self.datum_warning = datum_warning

    def wgs84(self) -> dict[str, object]:
        """The GeoJSON Point."""
        return {"type": "Point", "coordinates": [self.lon, self.lat]}


def _json_copy(value: object, path: str, depth: int = 0) -> object:
    """A deep copy of a JSON value; refuses what JSON cannot carry."""
    if depth > _MAX_DEPTH:
        raise InvalidInput(path, "nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_copy(v, f"{path}[{k}]", depth + 1) for k, v in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidInput(path, "object keys must be strings")
            out[k] = _json_copy(v, f"{path}.{k}", depth + 1)
        return out
    raise InvalidInput(path, f"{type(value).__name__} is not a JSON value")


_SCALARS = frozenset({int, float, str, bool, type(None)})


def _point_copy(obj: Mapping[str, object]) -> dict[str, object] | None:
    """What :func:`_json_copy` makes of ``obj`` when it is a plain dict of just ``type`` and
    ``coordinates``, a plain list of scalars (the common GeoJSON point, sent by the thousand in
    position updates), built without walking it; None for anything else."""
    if type(obj) is not dict or len(obj) != 2 or "type" not in obj:
        return None
    coords = obj.get("coordinates")
    if type(coords) is not list or type(obj["type"]) not in _SCALARS:
        return None
    for v in coords:
        if type(v) not in _SCALARS:
            return None
    out = dict(obj)
    out["coordinates"] = coords.copy()
    return out


def _number(v: object, path: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidInput(path, "expected a number")
    try:
        f = float(v)
    except OverflowError as exc:
        raise InvalidInput(path, "number too large") from exc
    if not math.isfinite(f):
        raise InvalidInput(path, "expected a finite number")
    return f


def _form(obj: Mapping[str, object], field: str) -> str:
    present = [
        name for name, key in (("point", "type"), ("mgrs", "mgrs"), ("text", "text")) if key in obj
    ]
    if "x" in obj or "y" in obj:
        present.append("xy")
    if not present:
        raise InvalidInput(field, f"expected {_FORMS}")
    if len(present) > 1:
        raise InvalidInput(field, f"give one form of location, not several ({', '.join(present)})")
    form = present[0]
    extra = sorted(set(obj) - _ALLOWED_KEYS[form])
    if extra:
        raise InvalidInput(f"{field}.{extra[0]}", f"unknown member of a {form} location")
    return form


def _allow_ballpark(obj: Mapping[str, object], field: str) -> bool:
    v = obj.get("allow_ballpark", False)
    if not isinstance(v, bool):
        raise InvalidInput(f"{field}.allow_ballpark", "expected true or false")
    return v


def _position(converted: Converted, reading_m: float, sent: Mapping[str, object]) -> Position:
    return Position(
        converted.lon,
        converted.lat,
        converted.added_uncertainty_m + reading_m,
        sent,
        converted.transformation,
        converted.datum_warning,
    )


def _from_reading(
    reading: Reading,
    crs: str,
    sent: Mapping[str, object],
    *,
    allow_ballpark: bool,
    field: str,
    text_field: str,
) -> Position:
    if isinstance(reading, GeographicReading):
        if crs == WGS84:
            return Position(
                reading.lon, reading.lat, reading.precision_m, sent, NO_TRANSFORMATION, None
            )
        converted = to_wgs84(
            reading.lon, reading.lat, crs, allow_ballpark=allow_ballpark, field=field
        )
        return _position(converted, reading.precision_m, sent)
    if reading.form == "mgrs" and crs != WGS84:
        raise InvalidInput(
            f"{field}.crs",
            "MGRS is read on WGS 84 only: older datums used other lettering schemes; convert it "
            "to WGS 84 MGRS, or send UTM text with the crs",
        )
    converted = grid_to_wgs84(reading.grid, crs, allow_ballpark=allow_ballpark, field=field)
    check_band(reading, converted.lat, text_field)
    return _position(converted, reading.precision_m, sent)


def parse_location(obj: object, field: str = "location") -> Position:
    """Read a location in any form of SPEC.md "Locations"; raises :class:`InvalidInput` only."""
    if not isinstance(obj, Mapping):
        raise InvalidInput(field, f"expected an object: {_FORMS}")
    sent = _point_copy(obj)
    if sent is not None:
        form = "point"  # what _form says of its two members
    else:
        copied = _json_copy(obj, field)
        assert isinstance(copied, dict)
        sent = copied
        form = _form(sent, field)
    if form == "point":
        if sent["type"] != "Point":
            raise InvalidInput(f"{field}.type", "expected 'Point'")
        coords = sent.get("coordinates")
        if not isinstance(coords, list) or len(coords) not in (2, 3):
            raise InvalidInput(
                f"{field}.coordinates", "expected [longitude, latitude] (optionally an altitude)"
            )
        lon = _number(coords[0], f"{field}.coordinates[0]")
        lat = _number(coords[1], f"{field}.coordinates[1]")
        if len(coords) == 3:
            _number(coords[2], f"{field}.coordinates[2]")
        if not -180.0 <= lon <= 180.0:
            raise InvalidInput(
                f"{field}.coordinates[0]", f"longitude {lon:g} is outside -180 to 180"
            )
        if not -90.0 <= lat <= 90.0:
            raise InvalidInput(f"{field}.coordinates[1]", f"latitude {lat:g} is outside -90 to 90")
        return Position(lon + 0.0, lat + 0.0, 0.0, sent, NO_TRANSFORMATION, None)
    allow = _allow_ballpark(sent, field)
    if form == "xy":
        if "x" not in sent or "y" not in sent:
            raise InvalidInput(field, "expected both x and y")
        if "crs" not in sent:
            raise InvalidInput(
                f"{field}.crs", "x and y need a crs (EPSG:4326 x/y are longitude/latitude)"
            )
        converted = to_wgs84(sent["x"], sent["y"], sent["crs"], allow_ballpark=allow, field=field)
        return _position(converted, 0.0, sent)
    crs = text_crs(sent.get("crs", WGS84), f"{field}.crs")
    if form == "mgrs":
        value = sent["mgrs"]
        if not isinstance(value, str):
            raise InvalidInput(f"{field}.mgrs", "expected a string")
        square = parse_mgrs(value, f"{field}.mgrs")
        reading = GridReading(
            square.centre, square_half_diagonal_m(square), "mgrs", square.band, square
        )
        return _from_reading(
            reading, crs, sent, allow_ballpark=allow, field=field, text_field=f"{field}.mgrs"
        )
    value = sent["text"]
    if not isinstance(value, str):
        raise InvalidInput(f"{field}.text", "expected a string")
    reading_t = parse_text(value, f"{field}.text")
    return _from_reading(
        reading_t, crs, sent, allow_ballpark=allow, field=field, text_field=f"{field}.text"
    )


def position_from_text(
    text: str,
    crs: str = WGS84,
    *,
    allow_ballpark: bool = False,
    field: str = "text",
) -> Position:
    """Read one position typed as text in geographic CRS ``crs`` (the CLI's ``convert``).

    ``input`` is ``{"text": text}`` plus the crs when it is not WGS 84; errors name ``field``.
    """
    return position_from_reading(
        text, parse_text(text, field), crs, allow_ballpark=allow_ballpark, field=field
    )


def position_from_reading(
    text: str,
    reading: Reading,
    crs: str = WGS84,
    *,
    allow_ballpark: bool = False,
    field: str = "text",
) -> Position:
    """:func:`position_from_text` for text already read by :func:`accord.geo.coords.parse_text`."""
    sent: dict[str, object] = {"text": text}
    code = WGS84 if crs == WGS84 else text_crs(crs, "crs")
    if code != WGS84:
        sent["crs"] = code
    if allow_ballpark:
        sent["allow_ballpark"] = True
    return _from_reading(
        reading, code, sent, allow_ballpark=allow_ballpark, field=field, text_field=field
    )
