"""Parse and validate GeoJSON geometries (RFC 7946) into Accord's shapes.

``parse_geometry`` accepts a Point (with ``radius_m`` >= 0: a :class:`Disc`), a LineString (with
``width_m`` > 0, the corridor's total width: a :class:`Corridor`), or a Polygon / MultiPolygon (an
:class:`Area`). Every fault raises :class:`InvalidInput` naming the field by its dotted path (for
example ``area.coordinates[0][3]``) and what is wrong; shapes over the size limits raise
:class:`PayloadTooLarge`.

Conventions
-----------
- Coordinates are WGS84 ``[longitude, latitude]`` degrees; an optional third number (altitude) is
  checked and dropped. Longitudes in [-180, 180], latitudes in [-90, 90].
- Edges are geodesics on the WGS84 ellipsoid (the shortest path between their ends), as PostGIS
  ``geography`` draws them: an edge from longitude 179 to -179 crosses the antimeridian and is 2°
  long, and an edge between two points at the same latitude bulges towards the pole.
- A polygon is the region its rings bound that is smaller than a hemisphere; ring orientation on
  input does not matter. Output rings follow RFC 7946's right-hand rule (exterior counterclockwise,
  holes clockwise), and repeated consecutive positions are dropped.
- Polygons and corridors must not touch or enclose a pole, and must span less than 180° of
  longitude (they are refused with a message saying so). Discs may be anywhere.
- Validity (rings that cross themselves or each other, holes outside their shell, overlapping
  polygons; a corridor's line may cross itself) is decided on the shape drawn in an azimuthal
  equidistant projection centred on it, with edges cut into pieces of at most 5 km (longer if the
  rings are over 1,000,000 km long), so drawn edges lie within 0.1 m of the geodesics.

Limits (constants below): at most ``MAX_VERTICES`` positions in all; every vertex within
``MAX_EXTENT_M`` of the shape's centre; area at most ``MAX_AREA_M2``; polygons (and holes) at least
``MIN_AREA_M2``; disc radius at most ``MAX_RADIUS_M``; corridor width at most ``MAX_WIDTH_M``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import shapely

from accord.errors import InvalidInput, PayloadTooLarge
from accord.geo.distance import _GEOD, _aeqd, _aeqd_inverse, _centre, _densify
from accord.geo.shapes import Area, Corridor, Disc, LonLat, Ring, Shape

__all__ = [
    "MAX_AREA_M2",
    "MAX_EXTENT_M",
    "MAX_RADIUS_M",
    "MAX_VERTICES",
    "MAX_WIDTH_M",
    "MIN_AREA_M2",
    "parse_geometry",
    "shape_to_geojson",
]

#: Most positions in one geometry (all rings and polygons together).
MAX_VERTICES: Final = 10_000
#: Every vertex lies within this geodesic distance of the shape's centre (< 2,000 km across).
MAX_EXTENT_M: Final = 1_000_000.0
#: Largest area of an Area (1,000,000 km², e.g. a country-sized area of responsibility).
MAX_AREA_M2: Final = 1.0e12
#: A polygon or hole smaller than this is degenerate (zero area).
MIN_AREA_M2: Final = 1.0
#: Largest disc radius.
MAX_RADIUS_M: Final = 1_000_000.0
#: Largest corridor width (total, both sides).
MAX_WIDTH_M: Final = 200_000.0

_VALIDITY_STEP_M: Final = 5_000.0
_VALIDITY_PIECES: Final = 200_000
_GEOMETRY_TYPES: Final = ("Point", "LineString", "Polygon", "MultiPolygon")
_WGS84_CRS_NAMES: Final = (
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
)


def _kind(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, Mapping):
        return "an object"
    if isinstance(v, list | tuple):
        return "an array"
    if isinstance(v, int | float):
        return "a number"
    return type(v).__name__


def _sibling(field: str, name: str) -> str:
    """The path of a field next to ``field`` (``clearance.area`` -> ``clearance.radius_m``)."""
    head, dot, _ = field.rpartition(".")
    return f"{head}.{name}" if dot else name


def _number(v: object, field: str, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise InvalidInput(field, f"{what} must be a number, got {_kind(v)}")
    try:
        f = float(v)
    except OverflowError as exc:
        raise InvalidInput(field, f"{what} is out of range") from exc
    if not math.isfinite(f):
        raise InvalidInput(field, f"{what} must be a finite number, got {f}")
    return f


def _position(v: object, field: str) -> LonLat:
    if not isinstance(v, list | tuple):
        raise InvalidInput(
            field, f"a position must be an array [longitude, latitude], got {_kind(v)}"
        )
    if len(v) < 2:
        raise InvalidInput(field, f"a position needs 2 numbers [longitude, latitude], got {len(v)}")
    if len(v) > 3:
        raise InvalidInput(
            field, f"a position has 2 or 3 numbers [longitude, latitude, altitude], got {len(v)}"
        )
    lon = _number(v[0], field, "longitude")
    lat = _number(v[1], field, "latitude")
    if len(v) == 3:
        _number(v[2], field, "altitude")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(field, f"longitude {lon} is outside [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(field, f"latitude {lat} is outside [-90, 90]")
    return (lon, lat)


def _array(v: object, field: str, what: str) -> Sequence[object]:
    if not isinstance(v, list | tuple):
        raise InvalidInput(field, f"{what} must be an array, got {_kind(v)}")
    return v


def _same_point(a: LonLat, b: LonLat) -> bool:
    if a[1] != b[1]:
        return False
    return abs(a[1]) == 90.0 or a[0] == b[0] or abs(a[0] - b[0]) == 360.0


def _dedupe(pts: list[LonLat]) -> list[LonLat]:
    out: list[LonLat] = []
    for p in pts:
        if not out or not _same_point(out[-1], p):
            out.append(p)
    return out


def _lon_step(a: float, b: float) -> float:
    """The longitude change along the geodesic from longitude a to b (the short way round)."""
    return (b - a + 180.0) % 360.0 - 180.0


def _check_poles(pts: list[LonLat], field: str, what: str) -> list[float]:
    """Refuse vertices at a pole and edges over a pole; return the unwrapped longitudes."""
    for i, (_, lat) in enumerate(pts):
        if abs(lat) == 90.0:
            pole = "North" if lat > 0 else "South"
            raise InvalidInput(
                f"{field}[{i}]",
                f"{what} touches the {pole} Pole; polygons and corridors must stay clear of the "
                "poles (use a Point with radius_m there)",
            )
    unwrapped = [pts[0][0]]
    for i in range(1, len(pts)):
        step = _lon_step(pts[i - 1][0], pts[i][0])
        if abs(step) >= 180.0:
            pole = "North" if pts[i][1] + pts[i - 1][1] > 0 else "South"
            raise InvalidInput(
                f"{field}[{i}]",
                f"the edge from position {i - 1} to {i} spans 180° of longitude: it passes over "
                f"the {pole} Pole or is ambiguous; polygons and corridors must stay clear of the "
                "poles",
            )
        unwrapped.append(unwrapped[-1] + step)
    return unwrapped


def _check_span(unwrapped: list[float], field: str, what: str) -> None:
    span = max(unwrapped) - min(unwrapped)
    if span >= 180.0:
        raise InvalidInput(
            field,
            f"{what} spans {span:.1f}° of longitude; shapes must span less than 180° (this happens "
            "only near a pole, which polygons and corridors must stay clear of)",
        )


def _ring(v: object, field: str) -> tuple[list[LonLat], list[float]]:
    raw = _array(v, field, "a linear ring")
    if len(raw) < 4:
        raise InvalidInput(
            field,
            f"a linear ring needs at least 4 positions (3 distinct, the first repeated last), "
            f"got {len(raw)}",
        )
    pts = [_position(p, f"{field}[{i}]") for i, p in enumerate(raw)]
    if pts[0] != pts[-1]:
        raise InvalidInput(
            f"{field}[{len(raw) - 1}]",
            f"the ring is not closed: its last position {list(pts[-1])} must repeat the first "
            f"{list(pts[0])}",
        )
    pts = _dedupe(pts)
    if len(pts) < 4:
        raise InvalidInput(field, "the ring is degenerate: it has fewer than 3 distinct positions")
    unwrapped = _check_poles(pts, field, "the ring")
    total = unwrapped[-1] - unwrapped[0]
    if abs(total) > 180.0:
        pole = "North" if sum(p[1] for p in pts) > 0 else "South"
        raise InvalidInput(
            field,
            f"the ring encloses the {pole} Pole; polygons must not contain a pole (use a Point "
            "with radius_m there)",
        )
    _check_span(unwrapped, field, "the ring")
    return pts, unwrapped


def _limits_extent(lons: np.ndarray, lats: np.ndarray, field: str) -> tuple[float, float]:
    """Refuse shapes reaching more than MAX_EXTENT_M from their centre; return the centre."""
    clon, clat, norm = _centre(lons, lats)
    if norm < 0.5:
        raise PayloadTooLarge(field, "the shape is spread around the globe")
    rho = _aeqd(clon, clat, lons, lats)[2]
    far = float(rho.max())
    if far > MAX_EXTENT_M:
        raise PayloadTooLarge(
            field,
            f"the shape reaches {far / 1000:.0f} km from its centre; the limit is "
            f"{MAX_EXTENT_M / 1000:.0f} km",
        )
    return clon, clat


def _count(v: object, depth: int) -> int:
    """Number of positions in a nested coordinates array (without validating it)."""
    if not isinstance(v, list | tuple):
        return 0
    if depth == 0:
        return 1
    return sum(_count(x, depth - 1) for x in v)


def _check_count(coords: object, depth: int, field: str) -> None:
    n = _count(coords, depth)
    if n > MAX_VERTICES:
        raise PayloadTooLarge(field, f"the geometry has {n} positions; the limit is {MAX_VERTICES}")


def _signed_area(ring: list[LonLat]) -> float:
    """Geodesic area of a ring in m² (positive when counterclockwise)."""
    lons = [p[0] for p in ring[:-1]]
    lats = [p[1] for p in ring[:-1]]
    area, _ = _GEOD.polygon_area_perimeter(lons, lats)
    return float(area)


class _Frame:
    """The aeqd projection centred on a shape, for validity tests: edges are cut into pieces of
    ``step_m`` at most (5 km, more if the rings are longer than 1,000,000 km in all)."""

    def __init__(self, clon: float, clat: float, step_m: float) -> None:
        self.lon = clon
        self.lat = clat
        self.step_m = step_m

    def draw(self, ring: list[LonLat]) -> np.ndarray:
        lons = np.array([p[0] for p in ring], dtype=np.float64)
        lats = np.array([p[1] for p in ring], dtype=np.float64)
        dl, da, _ = _densify(lons, lats, self.step_m)
        x, y, _, _, _ = _aeqd(self.lon, self.lat, dl, da)
        return np.column_stack((x, y))

    def where(self, reason: str) -> str:
        """``near (lon, lat)`` for a shapely validity reason ending in ``[x y]``."""
        if "[" not in reason:
            return ""
        try:
            xs, ys = reason[reason.index("[") + 1 : reason.rindex("]")].split()
            lon, lat = _aeqd_inverse(self.lon, self.lat, float(xs), float(ys))
        except ValueError:
            return ""
        return f" near [{round(lon, 6) + 0.0:.6f}, {round(lat, 6) + 0.0:.6f}]"


def _explain(reason: str) -> str:
    kind = reason.split("[", 1)[0].strip()
    return {
        "Self-intersection": "rings cross or touch each other along a line",
        "Ring Self-intersection": "a ring touches itself",
        "Hole lies outside shell": "a hole lies outside the exterior ring",
        "Holes are nested": "a hole lies inside another hole",
        "Interior is disconnected": "the holes cut the polygon's interior in pieces",
        "Nested shells": "one polygon lies inside another",
        "Too few points": "a ring has too few distinct positions",
        "Duplicate Rings": "two rings are the same",
    }.get(kind, kind.lower() or "invalid geometry")


def _polygon(v: object, field: str) -> list[list[LonLat]]:
    rings_raw = _array(v, field, "a polygon")
    if not rings_raw:
        raise InvalidInput(field, "the polygon is empty: it needs an exterior ring")
    rings: list[list[LonLat]] = []
    for r, ring_raw in enumerate(rings_raw):
        pts, _ = _ring(ring_raw, f"{field}[{r}]")
        rings.append(pts)
    return rings


def _validate_area(polys: list[list[list[LonLat]]], field: str, multi: bool) -> Area:
    all_pts = [p for poly in polys for ring in poly for p in ring]
    lons = np.array([p[0] for p in all_pts], dtype=np.float64)
    lats = np.array([p[1] for p in all_pts], dtype=np.float64)
    clon, clat = _limits_extent(lons, lats, f"{field}.coordinates")
    rings = [ring for poly in polys for ring in poly]
    perimeter = sum(_GEOD.line_length([p[0] for p in r], [p[1] for p in r]) for r in rings)
    frame = _Frame(clon, clat, max(_VALIDITY_STEP_M, perimeter / _VALIDITY_PIECES))

    def path(pi: int, ri: int | None = None) -> str:
        base = f"{field}.coordinates"
        if multi:
            base += f"[{pi}]"
        return base if ri is None else f"{base}[{ri}]"

    total = 0.0
    out_polys: list[tuple[Ring, ...]] = []
    drawn_polys = []
    for pi, poly in enumerate(polys):
        out_rings: list[Ring] = []
        drawn = []
        for ri, given in enumerate(poly):
            ring = given
            xy = frame.draw(ring)
            lr = shapely.LinearRing(xy)
            if not shapely.is_simple(lr):
                reason = shapely.is_valid_reason(shapely.Polygon(lr))
                raise InvalidInput(
                    path(pi, ri), f"the ring crosses or touches itself{frame.where(reason)}"
                )
            area = _signed_area(ring)
            if abs(area) < MIN_AREA_M2:
                what = "polygon" if ri == 0 else "hole"
                raise InvalidInput(
                    path(pi, ri),
                    f"the {what} is degenerate: its area is {abs(area):.3g} m² (at least "
                    f"{MIN_AREA_M2:g} m² is needed)",
                )
            # RFC 7946: exterior counterclockwise, holes clockwise.
            ccw = area > 0.0
            if ccw != (ri == 0):
                ring = ring[::-1]
                xy = xy[::-1]
            if ri == 0:
                total += abs(area)
            else:
                total -= abs(area)
            out_rings.append(tuple(ring))
            drawn.append(xy)
        poly_geom = shapely.Polygon(drawn[0], drawn[1:])
        reason = shapely.is_valid_reason(poly_geom)
        if reason != "Valid Geometry":
            raise InvalidInput(
                path(pi), f"invalid polygon: {_explain(reason)}{frame.where(reason)}"
            )
        drawn_polys.append(poly_geom)
        out_polys.append(tuple(out_rings))
    if len(drawn_polys) > 1:
        reason = shapely.is_valid_reason(shapely.MultiPolygon(drawn_polys))
        if reason != "Valid Geometry":
            kind = reason.split("[", 1)[0].strip()
            text = "polygons overlap" if kind == "Self-intersection" else _explain(reason)
            raise InvalidInput(
                f"{field}.coordinates", f"invalid multipolygon: {text}{frame.where(reason)}"
            )
    if total > MAX_AREA_M2:
        raise PayloadTooLarge(
            f"{field}.coordinates",
            f"the area is {total / 1e6:,.0f} km²; the limit is {MAX_AREA_M2 / 1e6:,.0f} km²",
        )
    return Area(tuple(out_polys))


def _no_extra(value: object, name: str, field: str, geometry: str) -> None:
    if value is not None:
        raise InvalidInput(
            _sibling(field, name),
            f"{name} applies to a {geometry} only; remove it or change the area",
        )


def parse_geometry(
    obj: object, field: str = "area", *, radius_m: object = None, width_m: object = None
) -> Shape:
    """Validate a GeoJSON geometry and return the :class:`Shape` it denotes.

    ``Point`` (+ ``radius_m`` >= 0, default 0) -> :class:`Disc`; ``LineString`` (+ ``width_m``
    > 0, required, the total width) -> :class:`Corridor`; ``Polygon`` / ``MultiPolygon`` ->
    :class:`Area`.
    Raises :class:`InvalidInput` (:class:`PayloadTooLarge` for size limits) naming the field.
    """
    if not isinstance(obj, Mapping):
        raise InvalidInput(field, f"expected a GeoJSON geometry object, got {_kind(obj)}")
    typ = obj.get("type")
    if typ in ("Feature", "FeatureCollection"):
        raise InvalidInput(f"{field}.type", f"expected a geometry, got a {typ}; send its geometry")
    if typ not in _GEOMETRY_TYPES:
        got = f"'{typ}'" if isinstance(typ, str) else _kind(typ)
        raise InvalidInput(
            f"{field}.type",
            f"unsupported geometry type {got}; expected Point, LineString, Polygon or MultiPolygon",
        )
    crs = obj.get("crs")
    if crs is not None:
        props = crs.get("properties") if isinstance(crs, Mapping) else None
        name = props.get("name") if isinstance(props, Mapping) else None
        if name not in _WGS84_CRS_NAMES:
            raise InvalidInput(
                f"{field}.crs",
                "only WGS84 longitude/latitude is accepted (RFC 7946); convert the coordinates",
            )
    if "coordinates" not in obj:
        raise InvalidInput(f"{field}.coordinates", "coordinates are missing")
    coords = obj["coordinates"]
    cfield = f"{field}.coordinates"

    if typ == "Point":
        _no_extra(width_m, "width_m", field, "LineString")
        lon, lat = _position(coords, cfield)
        radius = 0.0
        if radius_m is not None:
            rfield = _sibling(field, "radius_m")
            radius = _number(radius_m, rfield, "radius_m")
            if radius < 0.0:
                raise InvalidInput(rfield, f"radius_m must be 0 or more, got {radius}")
            if radius > MAX_RADIUS_M:
                raise PayloadTooLarge(
                    rfield, f"radius_m is {radius:g}; the limit is {MAX_RADIUS_M:g} m"
                )
        return Disc(lon, lat, radius)

    if typ == "LineString":
        _no_extra(radius_m, "radius_m", field, "Point")
        wfield = _sibling(field, "width_m")
        if width_m is None:
            raise InvalidInput(
                wfield, "width_m (the corridor's total width) is required for a LineString"
            )
        width = _number(width_m, wfield, "width_m")
        if not width > 0.0:
            raise InvalidInput(wfield, f"width_m must be more than 0, got {width}")
        if width > MAX_WIDTH_M:
            raise PayloadTooLarge(wfield, f"width_m is {width:g}; the limit is {MAX_WIDTH_M:g} m")
        _check_count(coords, 1, cfield)
        raw = _array(coords, cfield, "a LineString's coordinates")
        if len(raw) < 2:
            raise InvalidInput(cfield, f"a LineString needs at least 2 positions, got {len(raw)}")
        pts = _dedupe([_position(p, f"{cfield}[{i}]") for i, p in enumerate(raw)])
        if len(pts) < 2:
            raise InvalidInput(
                cfield, "the LineString is degenerate: all its positions are the same"
            )
        unwrapped = _check_poles(pts, cfield, "the line")
        _check_span(unwrapped, cfield, "the line")
        lons = np.array([p[0] for p in pts], dtype=np.float64)
        lats = np.array([p[1] for p in pts], dtype=np.float64)
        _limits_extent(lons, lats, cfield)
        return Corridor(tuple(pts), width)

    _no_extra(radius_m, "radius_m", field, "Point")
    _no_extra(width_m, "width_m", field, "LineString")
    if typ == "Polygon":
        _check_count(coords, 2, cfield)
        return _validate_area([_polygon(coords, cfield)], field, multi=False)
    _check_count(coords, 3, cfield)
    polys_raw = _array(coords, cfield, "a MultiPolygon's coordinates")
    if not polys_raw:
        raise InvalidInput(cfield, "the MultiPolygon is empty")
    polys = [_polygon(p, f"{cfield}[{i}]") for i, p in enumerate(polys_raw)]
    return _validate_area(polys, field, multi=True)


def shape_to_geojson(shape: Shape) -> dict[str, object]:
    """The GeoJSON geometry of a shape: Disc -> Point, Corridor -> LineString, Area -> Polygon (one
    polygon) or MultiPolygon. A disc's radius and a corridor's width are not part of it."""
    if isinstance(shape, Disc):
        return {"type": "Point", "coordinates": [shape.lon, shape.lat]}
    if isinstance(shape, Corridor):
        return {"type": "LineString", "coordinates": [[lon, lat] for lon, lat in shape.coords]}
    polys = [[[[lon, lat] for lon, lat in ring] for ring in poly] for poly in shape.polygons]
    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": polys[0]}
    return {"type": "MultiPolygon", "coordinates": polys}
