"""Boundary discrepancy zones: where parties' boundary layers disagree by more than a tolerance.

Each party may load its own boundary layer (lines, or polygons whose boundaries are used). For every
pair of layers, the parts of one layer's lines lying more than ``tolerance_m`` from the other
layer's lines are *divergent*; the area enclosed between a divergent stretch and the other layer's
line (the stretch of it between the feet of the divergent stretch's two ends) is a discrepancy
zone. Zones of different pairs that overlap are merged, with the union of their layers.

Method, per pair of layers (shapely/GEOS for the geometry):

1. Both layers go into an azimuthal equidistant projection (pyproj, ``always_xy=True``) centred on
   the pair's centre (mean of the vertices' unit vectors, so the antimeridian and the poles need no
   special case). Layer edges are straight in lon/lat, as RFC 7946 and GIS software draw them; they
   are densified to at most 1 km before projecting. Distances from the centre are exact in this
   projection and distances across are stretched by ``k = (ρ/R) / sin(ρ/R) >= 1`` (ρ the distance
   from the centre: k <= 1.001 at 500 km, 1.004 at 1,000 km, 1.035 at 2,000 km). Separations
   measured in the plane are therefore never smaller than on the ellipsoid (to about 0.1 %): a
   stretch is never called "within tolerance" when it is not, the error is towards a zone. Layers
   reaching more than 5,000 km from the centre are refused.
2. Divergent parts: A minus the ``tolerance_m`` buffer of B (the buffer's circles are polygons with
   64 sides, inside the true circle by < 0.13 % of the tolerance, again towards a zone), and only
   where A runs alongside B (inside B's flat-ended buffer of ``search_m``): where one layer goes on
   beyond the other's end, or is more than ``search_m`` from it, there is nothing to compare.
3. Each divergent stretch is closed by the other layer's line between the feet (nearest points) of
   its two ends; the enclosed area (self-crossings resolved by polygonizing) plus a 1 m ribbon
   along the divergent stretch (so that a stretch enclosing no area still makes a zone) is the zone.
4. ``max_separation_m``: the largest distance from the zone's divergent stretches to the other
   layer, sampled every ``min(25 m, tolerance / 4)`` along them, each sample's nearest point found
   in the plane and the distance then measured on the ellipsoid (pyproj Geod). Being a distance to
   one point of the other line it is never below the true distance for that sample; sampling may
   miss at most half a step of the true maximum.

Zones come back as :class:`~accord.geo.shapes.Area` in lon/lat (vertices at most ~1 km apart).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely import ops
from shapely.geometry import (
    GeometryCollection,
    LinearRing,
    LineString,
    MultiLineString,
    MultiPolygon,
    Point,
    Polygon,
)
from shapely.geometry.base import BaseGeometry

from accord.errors import InvalidInput, PayloadTooLarge
from accord.geo.index import Box, SpatialIndex, bounds
from accord.geo.shapes import Area, Corridor, LonLat, Ring

__all__ = [
    "MAX_FEATURES",
    "MAX_POSITIONS",
    "BoundaryLayer",
    "DiscrepancyZone",
    "discrepancy_zones",
    "parse_boundary_features",
]

MAX_POSITIONS = 1_000_000
"""Most positions a boundary layer may hold."""

MAX_FEATURES = 100_000
"""Most features a boundary feature collection may hold."""

_DENSIFY_M = 1_000.0  # longest layer edge kept as one straight segment in the projection
_MAX_RADIUS_M = 5_000_000.0  # layers further than this from the pair's centre are refused
_RIBBON_M = 1.0  # half-width of the ribbon along divergent stretches
_QUAD_SEGS = 16  # buffer circles: 64-gons
_MAX_SAMPLES = 200_000  # per zone, for max_separation_m
_MIN_AREA_M2 = 1e-6


@cache
def _geod() -> Geod:
    return Geod(ellps="WGS84")


@dataclass(frozen=True, slots=True)
class BoundaryLayer:
    """A party's boundary layer: ``geometry`` is a shapely geometry in lon/lat holding lines
    (LineString, MultiLineString, LinearRing) or polygons (whose boundaries are used)."""

    id: str
    geometry: BaseGeometry


@dataclass(frozen=True, slots=True)
class DiscrepancyZone:
    """An area where ``layers`` disagree by up to ``max_separation_m`` (> the tolerance)."""

    area: Area
    layers: tuple[str, ...]
    max_separation_m: float


# --------------------------------------------------------------------------------------------------
# parsing


class _Counter:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


def _position(obj: object, field: str, count: _Counter) -> tuple[float, float]:
    if not isinstance(obj, (list, tuple)) or len(obj) not in (2, 3):
        raise InvalidInput(field, "a position must be [lon, lat] or [lon, lat, altitude]")
    for x in obj:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise InvalidInput(field, "a position must hold numbers only")
    lon = float(obj[0])
    lat = float(obj[1])
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(field, "longitude must be a finite number in [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(field, "latitude must be a finite number in [-90, 90]")
    if len(obj) == 3 and not math.isfinite(float(obj[2])):
        raise InvalidInput(field, "altitude must be finite")
    return lon, lat


def _positions(obj: object, field: str, count: _Counter) -> list[tuple[float, float]]:
    if not isinstance(obj, (list, tuple)):
        raise InvalidInput(field, "must be an array of positions")
    count.n += len(obj)
    if count.n > MAX_POSITIONS:
        raise PayloadTooLarge(field, f"a boundary layer may hold at most {MAX_POSITIONS} positions")
    return [_position(p, f"{field}.{i}", count) for i, p in enumerate(obj)]


def _line(obj: object, field: str, count: _Counter) -> LineString:
    pts = _positions(obj, field, count)
    if len(set(pts)) < 2:
        raise InvalidInput(field, "a line needs at least two distinct positions")
    return LineString(pts)


def _ring(obj: object, field: str, count: _Counter) -> list[tuple[float, float]]:
    pts = _positions(obj, field, count)
    if len(pts) < 4:
        raise InvalidInput(field, "a polygon ring needs at least four positions")
    if pts[0] != pts[-1]:
        raise InvalidInput(field, "a polygon ring must end where it starts (closed)")
    if len(set(pts)) < 3:
        raise InvalidInput(field, "a polygon ring needs at least three distinct positions")
    return pts


def _polygon(obj: object, field: str, count: _Counter) -> Polygon:
    if not isinstance(obj, (list, tuple)) or not obj:
        raise InvalidInput(field, "a polygon must be a non-empty array of rings")
    rings = [_ring(r, f"{field}.{i}", count) for i, r in enumerate(obj)]
    return Polygon(rings[0], rings[1:])


def _list(obj: object, field: str, what: str) -> list[object] | tuple[object, ...]:
    if not isinstance(obj, (list, tuple)) or not obj:
        raise InvalidInput(field, f"must be a non-empty array of {what}")
    return obj


def _geometry(obj: object, field: str, count: _Counter) -> list[BaseGeometry]:
    if not isinstance(obj, dict):
        raise InvalidInput(field, "must be a GeoJSON geometry object")
    kind = obj.get("type")
    if "coordinates" not in obj:
        raise InvalidInput(f"{field}.coordinates", "is missing")
    coords = obj["coordinates"]
    cfield = f"{field}.coordinates"
    if kind == "LineString":
        return [_line(coords, cfield, count)]
    if kind == "MultiLineString":
        items = _list(coords, cfield, "lines")
        return [_line(c, f"{cfield}.{i}", count) for i, c in enumerate(items)]
    if kind == "Polygon":
        return [_polygon(coords, cfield, count)]
    if kind == "MultiPolygon":
        items = _list(coords, cfield, "polygons")
        return [_polygon(c, f"{cfield}.{i}", count) for i, c in enumerate(items)]
    raise InvalidInput(
        f"{field}.type", "must be LineString, MultiLineString, Polygon or MultiPolygon"
    )


def _feature(obj: object, field: str, count: _Counter) -> list[BaseGeometry]:
    if not isinstance(obj, dict) or obj.get("type") != "Feature":
        raise InvalidInput(field, "must be a GeoJSON Feature")
    if obj.get("geometry") is None:
        raise InvalidInput(f"{field}.geometry", "is missing (a boundary feature needs one)")
    return _geometry(obj["geometry"], f"{field}.geometry", count)


def parse_boundary_features(fc: object, field: str = "features") -> BaseGeometry:
    """A boundary layer from GeoJSON: a FeatureCollection, a Feature or a bare geometry, of
    LineString / MultiLineString / Polygon / MultiPolygon. Returns a MultiLineString (all lines), a
    MultiPolygon (all polygons) or a GeometryCollection (both), in lon/lat."""
    count = _Counter()
    if not isinstance(fc, dict):
        raise InvalidInput(field, "must be a GeoJSON FeatureCollection, Feature or geometry")
    kind = fc.get("type")
    parts: list[BaseGeometry]
    if kind == "FeatureCollection":
        features = fc.get("features")
        ffield = f"{field}.features"
        if not isinstance(features, list) or not features:
            raise InvalidInput(ffield, "must be a non-empty array of features")
        if len(features) > MAX_FEATURES:
            raise PayloadTooLarge(ffield, f"at most {MAX_FEATURES} features")
        parts = []
        for i, f in enumerate(features):
            parts.extend(_feature(f, f"{ffield}.{i}", count))
    elif kind == "Feature":
        parts = _feature(fc, field, count)
    elif kind in ("LineString", "MultiLineString", "Polygon", "MultiPolygon"):
        parts = _geometry(fc, field, count)
    else:
        raise InvalidInput(
            f"{field}.type",
            "must be FeatureCollection, Feature, LineString, MultiLineString, Polygon or "
            "MultiPolygon",
        )
    if all(isinstance(p, LineString) for p in parts):
        return MultiLineString(parts)
    if all(isinstance(p, Polygon) for p in parts):
        return MultiPolygon(parts)
    return GeometryCollection(parts)


# --------------------------------------------------------------------------------------------------
# layers as lon/lat vertex chains


def _chains(geom: object, field: str) -> list[np.ndarray]:
    """The layer's lines (polygon boundaries included) as (n, 2) lon/lat arrays."""
    if not isinstance(geom, BaseGeometry):
        raise InvalidInput(field, "must be a shapely geometry")
    out: list[np.ndarray] = []

    def walk(g: BaseGeometry) -> None:
        if g.is_empty:
            return
        if isinstance(g, (LineString, LinearRing)):
            out.append(np.asarray(g.coords, dtype=np.float64)[:, :2])
        elif isinstance(g, Polygon):
            walk(g.exterior)
            for hole in g.interiors:
                walk(hole)
        elif isinstance(g, (MultiLineString, MultiPolygon, GeometryCollection)):
            for part in g.geoms:
                walk(part)
        else:
            raise InvalidInput(field, f"must hold lines or polygons, not {g.geom_type}")

    walk(geom)
    if not out:
        raise InvalidInput(field, "holds no line")
    for c in out:
        if not np.all(np.isfinite(c)):
            raise InvalidInput(field, "coordinates must be finite")
        if not (np.all(np.abs(c[:, 0]) <= 180.0) and np.all(np.abs(c[:, 1]) <= 90.0)):
            raise InvalidInput(field, "coordinates must be lon in [-180, 180], lat in [-90, 90]")
    return out


def _densify(chain: np.ndarray) -> np.ndarray:
    """Insert vertices (straight in lon/lat, the short way across the antimeridian) so that no
    edge is longer than _DENSIFY_M."""
    if chain.shape[0] < 2:
        return chain
    lon = chain[:, 0]
    lat = chain[:, 1]
    dl = np.mod(lon[1:] - lon[:-1] + 180.0, 360.0) - 180.0
    _, _, dist = _geod().inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    n = np.maximum(1, np.ceil(np.asarray(dist) / _DENSIFY_M)).astype(np.int64)
    if int(n.max()) == 1:
        return chain
    pieces: list[np.ndarray] = []
    for i in range(chain.shape[0] - 1):
        t = np.arange(n[i], dtype=np.float64) / n[i]
        x = lon[i] + dl[i] * t
        x = np.mod(x + 180.0, 360.0) - 180.0
        pieces.append(np.column_stack((x, lat[i] + (lat[i + 1] - lat[i]) * t)))
    pieces.append(chain[-1:])
    return np.vstack(pieces)


def _centre(chains: Sequence[np.ndarray]) -> tuple[float, float]:
    pts = np.vstack(chains)
    lam = np.radians(pts[:, 0])
    phi = np.radians(pts[:, 1])
    v = np.array(
        [
            np.sum(np.cos(phi) * np.cos(lam)),
            np.sum(np.cos(phi) * np.sin(lam)),
            np.sum(np.sin(phi)),
        ]
    )
    norm = float(np.linalg.norm(v))
    if norm < 1e-9 * pts.shape[0]:
        raise InvalidInput("layers", "boundary layers spread round the whole globe")
    v /= norm
    return math.degrees(math.atan2(v[1], v[0])), math.degrees(math.asin(max(-1.0, min(1.0, v[2]))))


class _Plane:
    """The pair's local azimuthal equidistant projection."""

    def __init__(self, lon0: float, lat0: float) -> None:
        crs = CRS.from_dict(
            {"proj": "aeqd", "lon_0": lon0, "lat_0": lat0, "datum": "WGS84", "units": "m"}
        )
        self.fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self.inv = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def project(self, chain: np.ndarray) -> np.ndarray:
        x, y = self.fwd.transform(chain[:, 0], chain[:, 1])
        xy = np.column_stack((np.asarray(x), np.asarray(y)))
        if not np.all(np.isfinite(xy)) or float(np.max(np.hypot(xy[:, 0], xy[:, 1]))) > (
            _MAX_RADIUS_M
        ):
            raise InvalidInput(
                "layers",
                f"boundary layers compared must lie within {_MAX_RADIUS_M / 1000:.0f} km of "
                "their common centre",
            )
        return xy

    def unproject(self, xy: np.ndarray) -> np.ndarray:
        lon, lat = self.inv.transform(xy[:, 0], xy[:, 1])
        return np.column_stack((np.asarray(lon), np.asarray(lat)))


# --------------------------------------------------------------------------------------------------
# zones of one pair


def _lines_of(g: BaseGeometry) -> list[LineString]:
    """The non-degenerate LineStrings in g (after a line_merge)."""
    if g.is_empty:
        return []
    merged = shapely.line_merge(g) if not isinstance(g, LineString) else g
    out: list[LineString] = []
    stack: list[BaseGeometry] = [merged]
    while stack:
        h = stack.pop()
        if isinstance(h, LineString):
            if h.length > 0.0:
                out.append(h)
        elif hasattr(h, "geoms"):
            stack.extend(h.geoms)
    return out


def _divergent(a: BaseGeometry, b: BaseGeometry, tol: float, search: float) -> list[LineString]:
    """Stretches of ``a`` further than ``tol`` from ``b`` and alongside it (within ``search``)."""
    far = a.difference(b.buffer(tol, quad_segs=_QUAD_SEGS))
    if far.is_empty:
        return []
    alongside = b.buffer(search, quad_segs=_QUAD_SEGS, cap_style="flat")
    return _lines_of(far.intersection(alongside))


class _Chain:
    """One projected line of a layer, with its arc lengths (for cutting stretches out of it)."""

    __slots__ = ("cum", "is_ring", "line", "seg", "xy")

    def __init__(self, xy: np.ndarray) -> None:
        self.xy = xy
        self.seg = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
        self.cum = np.concatenate(([0.0], np.cumsum(self.seg)))
        self.line = LineString(xy)
        self.is_ring = xy.shape[0] > 3 and bool(np.all(xy[0] == xy[-1]))

    @property
    def length(self) -> float:
        return float(self.cum[-1])

    def locate(self, p: Point) -> float:
        return float(shapely.line_locate_point(self.line, p))

    def _at(self, s: float) -> np.ndarray:
        i = int(np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, self.seg.shape[0] - 1))
        t = 0.0 if self.seg[i] == 0.0 else (s - self.cum[i]) / self.seg[i]
        return np.asarray(self.xy[i] + (self.xy[i + 1] - self.xy[i]) * min(max(t, 0.0), 1.0))

    def _straight(self, s0: float, s1: float) -> np.ndarray:
        lo, hi = (s0, s1) if s0 <= s1 else (s1, s0)
        inner = self.xy[(self.cum > lo) & (self.cum < hi)]
        pts = np.vstack((self._at(lo), inner, self._at(hi)))
        return pts if s0 <= s1 else pts[::-1]

    def between(self, s_from: float, s_to: float) -> np.ndarray:
        """Coordinates from arc length ``s_from`` to ``s_to`` (the shorter way round a ring)."""
        length = self.length
        if self.is_ring and abs(s_to - s_from) > length / 2.0:
            if s_from > s_to:  # forward through the ring's start
                return np.vstack((self._straight(s_from, length), self._straight(0.0, s_to)))
            return np.vstack((self._straight(s_from, 0.0), self._straight(length, s_to)))
        return self._straight(s_from, s_to)


class _Layer:
    """A layer in the pair's plane: its chains, their union, and a tree of their segments."""

    def __init__(self, chains: list[np.ndarray]) -> None:
        self.chains = [_Chain(c) for c in chains if c.shape[0] >= 2]
        self.geometry = shapely.union_all([c.line for c in self.chains])
        self.chain_tree = shapely.STRtree([c.line for c in self.chains])
        starts = np.vstack([c.xy[:-1] for c in self.chains])
        ends = np.vstack([c.xy[1:] for c in self.chains])
        n = starts.shape[0]
        coords = np.empty((2 * n, 2))
        coords[0::2] = starts
        coords[1::2] = ends
        self.segments = shapely.linestrings(coords, indices=np.repeat(np.arange(n), 2))
        self.segment_tree = shapely.STRtree(self.segments)

    def feet(self, points: np.ndarray) -> np.ndarray:
        """For each point (n, 2), the nearest point of the layer (n, 2)."""
        geoms = shapely.points(points)
        i_pt, i_seg = self.segment_tree.query_nearest(geoms, all_matches=False)
        order = np.argsort(i_pt)
        lines = shapely.shortest_line(geoms[i_pt[order]], self.segments[i_seg[order]])
        return np.asarray(shapely.get_coordinates(lines)[1::2])


def _coords_of(g: BaseGeometry) -> np.ndarray:
    return np.asarray(g.coords, dtype=np.float64)[:, :2]


def _enclosed(ring: np.ndarray) -> BaseGeometry:
    """The area enclosed by a closed (possibly self-crossing) chain of points."""
    if ring.shape[0] < 3:
        return Polygon()
    line = LineString(np.vstack((ring, ring[:1])))
    faces = list(ops.polygonize(ops.unary_union(line)))
    if not faces:
        return Polygon()
    return ops.unary_union(faces)


def _zone_of_stretch(piece: LineString, other: _Layer) -> BaseGeometry:
    """The area between a divergent stretch and the other layer's line."""
    if piece.is_ring:
        region = Polygon(piece.coords)
        return region if region.is_valid else region.buffer(0)
    start = Point(piece.coords[0])
    end = Point(piece.coords[-1])
    i_start = int(other.chain_tree.query_nearest(start)[0])
    i_end = int(other.chain_tree.query_nearest(end)[0])
    if i_start == i_end:
        chain = other.chains[i_start]
        back = chain.between(chain.locate(end), chain.locate(start))
        return _enclosed(np.vstack((_coords_of(piece), back)))
    # The two ends are nearest to different lines of the other layer: take the hull of the
    # stretch and the two feet (an over-estimate, on the safe side).
    feet = other.feet(np.array([[start.x, start.y], [end.x, end.y]]))
    return shapely.convex_hull(shapely.union_all([piece, shapely.multipoints(feet)]))


def _max_separation(stretches: list[tuple[LineString, _Layer]], tol: float, plane: _Plane) -> float:
    """Largest geodesic distance from the stretches to their other layer (see module docstring)."""
    step = min(25.0, tol / 4.0)
    best = 0.0
    for piece, other in stretches:
        n = max(2, min(_MAX_SAMPLES, math.ceil(piece.length / step) + 1))
        samples = shapely.get_coordinates(
            shapely.line_interpolate_point(piece, np.linspace(0.0, piece.length, n))
        )
        ll_a = plane.unproject(samples)
        ll_b = plane.unproject(other.feet(samples))
        _, _, dist = _geod().inv(ll_a[:, 0], ll_a[:, 1], ll_b[:, 0], ll_b[:, 1])
        best = max(best, float(np.max(dist)))
    return best


def _pair_zones(
    chains_a: list[np.ndarray], chains_b: list[np.ndarray], tol: float, search: float
) -> list[tuple[BaseGeometry, float, _Plane]]:
    """Zones (in the pair's plane) with their max separation, for one pair of layers."""
    dense_a = [_densify(c) for c in chains_a]
    dense_b = [_densify(c) for c in chains_b]
    plane = _Plane(*_centre(dense_a + dense_b))
    a = _Layer([plane.project(c) for c in dense_a])
    b = _Layer([plane.project(c) for c in dense_b])
    stretches: list[tuple[LineString, _Layer]] = []
    regions: list[BaseGeometry] = []
    for mine, other in ((a, b), (b, a)):
        for piece in _divergent(mine.geometry, other.geometry, tol, search):
            stretches.append((piece, other))
            regions.append(_zone_of_stretch(piece, other))
    if not stretches:
        return []
    ribbon = shapely.union_all([p.buffer(_RIBBON_M, quad_segs=4) for p, _ in stretches])
    union = shapely.union_all([*regions, ribbon])
    out: list[tuple[BaseGeometry, float, _Plane]] = []
    for poly in _polygons_of(union):
        near = poly.buffer(_RIBBON_M)
        zone_stretches = [(p, o) for p, o in stretches if p.intersects(near)]
        out.append((poly, _max_separation(zone_stretches, tol, plane), plane))
    return out


def _polygons_of(g: BaseGeometry) -> list[Polygon]:
    if g.is_empty:
        return []
    if isinstance(g, Polygon):
        return [g] if g.area > _MIN_AREA_M2 else []
    out: list[Polygon] = []
    for part in getattr(g, "geoms", []):
        out.extend(_polygons_of(part))
    return out


def _to_area(poly: Polygon, plane: _Plane) -> tuple[Ring, ...]:
    """A projected polygon as the rings of an Area polygon in lon/lat (exterior counter-clockwise,
    holes clockwise, closed)."""
    poly = shapely.geometry.polygon.orient(poly, 1.0)
    rings: list[Ring] = []
    for ring in [poly.exterior, *poly.interiors]:
        ll = plane.unproject(np.asarray(ring.coords)[:, :2])
        pts: list[LonLat] = [(float(x), float(y)) for x, y in ll]
        pts[-1] = pts[0]
        rings.append(tuple(pts))
    return tuple(rings)


# --------------------------------------------------------------------------------------------------
# all pairs


def discrepancy_zones(
    layers: Sequence[BoundaryLayer], tolerance_m: float, *, search_m: float = 50_000.0
) -> list[DiscrepancyZone]:
    """Zones where two or more boundary layers lie more than ``tolerance_m`` apart.

    Parts of a layer further than ``search_m`` from another layer, or beyond its ends, are not
    compared with it (they are not the same boundary). Overlapping zones of different pairs are
    merged into one zone naming all their layers. See the module docstring for the method and its
    error bounds.
    """
    if isinstance(tolerance_m, bool) or not isinstance(tolerance_m, (int, float)):
        raise InvalidInput("tolerance_m", "must be a number of metres")
    tol = float(tolerance_m)
    if not 0.0 < tol < math.inf:
        raise InvalidInput("tolerance_m", "must be a finite number of metres > 0")
    if isinstance(search_m, bool) or not isinstance(search_m, (int, float)):
        raise InvalidInput("search_m", "must be a number of metres")
    search = float(search_m)
    if not tol < search <= 1_000_000.0:
        raise InvalidInput("search_m", "must be more than tolerance_m and at most 1,000 km")
    seen: set[str] = set()
    chains: list[list[np.ndarray]] = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, BoundaryLayer):
            raise InvalidInput(f"layers.{i}", "must be a BoundaryLayer")
        if layer.id in seen:
            raise InvalidInput(f"layers.{i}.id", f"duplicate layer id {layer.id!r}")
        seen.add(layer.id)
        chains.append(_chains(layer.geometry, f"layers.{i}.geometry"))

    # zones of every pair, in lon/lat, with their layers and max separation
    boxes = [_layer_boxes(c, search / 2.0) for c in chains]
    found: list[tuple[tuple[Ring, ...], set[int], float]] = []
    for i in range(len(layers)):
        for j in range(i + 1, len(layers)):
            if not _boxes_meet(boxes[i], boxes[j]):
                continue  # further apart than search_m everywhere
            for poly, sep, plane in _pair_zones(chains[i], chains[j], tol, search):
                found.append((_to_area(poly, plane), {i, j}, sep))
    if not found:
        return []
    return _merge(found, layers)


def _layer_boxes(chains: list[np.ndarray], grow: float) -> list[Box]:
    """Lon/lat boxes holding every point within ``grow`` of the layer (its edges taken as
    geodesics and widened by the largest gap between a geodesic and the straight lon/lat edge,
    which the densified edges bound)."""
    out: list[Box] = []
    for c in chains:
        coords = tuple((float(x), float(y)) for x, y in _densify(c))
        out.extend(bounds(Corridor(coords, 0.0), grow + _DENSIFY_M))
    return out


def _boxes_meet(a: list[Box], b: list[Box]) -> bool:
    return any(
        aw <= be and bw <= ae and as_ <= bn and bs <= an
        for (aw, as_, ae, an) in a
        for (bw, bs, be, bn) in b
    )


def _projected(rings: tuple[Ring, ...], plane: _Plane) -> BaseGeometry:
    exterior = plane.project(np.asarray(rings[0], dtype=np.float64))
    holes = [plane.project(np.asarray(h, dtype=np.float64)) for h in rings[1:]]
    poly = Polygon(exterior, holes)
    return poly if poly.is_valid else poly.buffer(0)


def _merge(
    found: list[tuple[tuple[Ring, ...], set[int], float]], layers: Sequence[BoundaryLayer]
) -> list[DiscrepancyZone]:
    """Merge zones of different pairs that overlap (each pair of candidates compared in a plane
    centred on the two; candidates found with the spatial index)."""
    index: SpatialIndex = SpatialIndex()
    for k, (rings, _, _) in enumerate(found):
        index.insert(str(k), Area(polygons=(rings,)))
    parent = list(range(len(found)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for x, (rings, _, _) in enumerate(found):
        for key in index.query(Area(polygons=(rings,)), 0.0):
            y = int(key)
            if y <= x or root(x) == root(y):
                continue
            plane = _Plane(*_centre([np.asarray(r) for r in (*rings, *found[y][0])]))
            overlap = _projected(rings, plane).intersection(_projected(found[y][0], plane))
            if overlap.area > _MIN_AREA_M2:
                parent[root(x)] = root(y)
    groups: dict[int, list[int]] = {}
    for k in range(len(found)):
        groups.setdefault(root(k), []).append(k)
    zones: list[DiscrepancyZone] = []
    for members in groups.values():
        ids: set[int] = set()
        sep = 0.0
        for k in members:
            ids |= found[k][1]
            sep = max(sep, found[k][2])
        if len(members) == 1:
            polygons = [found[members[0]][0]]
        else:
            plane = _Plane(*_centre([np.asarray(r) for k in members for r in found[k][0]]))
            union = shapely.union_all([_projected(found[k][0], plane) for k in members])
            polygons = [_to_area(p, plane) for p in _polygons_of(union)]
        zones.append(
            DiscrepancyZone(
                area=Area(polygons=tuple(polygons)),
                layers=tuple(layers[k].id for k in sorted(ids)),
                max_separation_m=sep,
            )
        )
    zones.sort(key=lambda z: (z.layers, z.area.polygons[0][0][0]))
    return zones
