"""Geodesic distances between shapes on the WGS84 ellipsoid, each with a stated error bound.

:func:`distance` returns the distance between the point *sets* two shapes denote (0 when they touch
or overlap) as a :class:`Distance` such that ``|true - metres| <= error_m``. :func:`within` answers
"may they be within ``d``?" and errs towards yes: it is True iff ``metres - error_m <= d``.

Method (docs/PERF-geo-distance.md has the figures and how the bounds were checked)
----------------------------------------------------------------------------------
A shape is a *core* (a point, a polyline, or polygons; edges are geodesics) grown by a buffer (a
disc's radius, half a corridor's width). Growing by ``r`` subtracts ``r`` from the distance,
exactly, on any surface where shortest paths exist, so everything below is about cores. Each
computation yields a certified interval ``[lo, hi]`` for the core distance, and then::

    metres  = (max(0, lo - r) + max(0, hi - r)) / 2
    error_m = (max(0, hi - r) - max(0, lo - r)) / 2 + EPS_M        (EPS_M = 1 µm)

- Point to point: one inverse geodesic (Karney's algorithm, as in GeographicLib, through pyproj;
  accurate to ~15 nm): ``lo = hi``, so ``error_m = 1 µm``.
- Point to polyline or polygon: the vertices are placed in the azimuthal equidistant (aeqd) frame
  centred on the point, from the distances and azimuths of inverse geodesics. Distances from the
  centre are exact in that frame; a geodesic edge of length ``L`` whose ends are at most ``rho``
  from the centre is drawn as an arc within ``S`` of its chord::

      k(rho)    = (rho / b) / sin(rho / b)       (aeqd scale bound: Gaussian curvature <= 1/b^2)
      S(rho, L) = (rho / b^2) * (k(rho) * L)^2 / 8                     (b = semi-minor axis)

  (on a sphere the drawn arc's curvature is at most ``2/3 rho / R^2``; the factor 1 leaves 50 %
  for the ellipsoid, and tests check ``S`` against sampled geodesics). Whether an edge's nearest
  point is interior is decided exactly from the azimuths at its ends; if not, the edge's distance
  is that of its nearer end. Otherwise, with ``c`` the chord's distance from the centre, the edge
  lies at ``[max(c - S, (d_a + d_b - L) / 2), min(c + S, d_a, d_b)]``. Any edge that may be nearest
  and whose interval is wider than ``2 * REFINE_ABOVE_M`` (2 mm) is solved exactly: bracketed
  search for the foot of the perpendicular along the geodesic (spherical step, bisection
  safeguard) down to a bracket ``w <= FOOT_TOLERANCE_M`` (0.1 mm); distance being 1-Lipschitz
  along the edge, it lies at ``[(d_lo + d_hi - w) / 2, min(d_lo, d_hi)]``. The point's interval
  is the least ``lo`` and least ``hi`` over the edges. Inside a polygon (winding number of the
  azimuths): ``[0, 0]``, unless the point is within ``S`` of some edge's chord, when the drawn and
  true rings may disagree: then ``[0, hi]``. Large shapes skip blocks of 16 edges whose bounding
  caps are further away than the nearest block can be.
- Polyline or polygon to polyline or polygon: both are drawn (edges cut into pieces of at most
  ``DENSIFY_M``) in an aeqd frame centred where they come nearest; ``S_a``, ``S_b`` are the largest
  chord deviations of their pieces. If the true shapes do not meet, their distance is attained at a
  vertex of one of them (the ellipsoid's curvature is positive), so it is the least exact
  vertex-to-boundary interval above; a vertex whose lower bound ``(planar - S_other) / k(rho + hi)``
  is not ``PRUNE_M`` (1 mm) below the best ``hi`` is not solved, and that bound enters ``lo``. If
  the drawn shapes are more than ``S_a + S_b`` apart, the true ones do not meet. If they meet
  deeply (a vertex inside the other further than ``S_a + S_b`` from its boundary): ``[0, 0]``. If
  they meet or come within ``S_a + S_b``: the true distance is 0 or the vertex distance; since a
  true gap would be at most ``gap + S_a + S_b``, a larger vertex ``lo`` proves they meet
  (``[0, 0]``); otherwise the answer is ``[0, hi]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from accord.errors import InvalidInput
from accord.geo.shapes import Area, Corridor, Disc, LonLat, Shape

__all__ = ["Chord", "Distance", "disc_metres", "distance", "point_distance", "within"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

_GEOD: Final = pyproj.Geod(ellps="WGS84")
_inv_point = _GEOD._inv_point
_fwd_point = _GEOD._fwd_point

#: Added to every bound: GeographicLib's inverse is accurate to ~15 nm; this leaves a wide margin.
EPS_M: Final = 1e-6
#: Semi-minor axis of WGS84; the Gaussian curvature of the ellipsoid never exceeds 1 / B_M^2.
B_M: Final = float(_GEOD.b)
#: A geodesic drawn in aeqd has curvature <= CURVATURE_FACTOR * rho / B_M^2 (sphere: 2/3).
CURVATURE_FACTOR: Final = 1.0
#: Chord bounds are used only within this distance of a frame's centre (validated up to it).
RHO_LIMIT_M: Final = 4_000_000.0
#: An edge whose chord interval is wider than twice this is solved exactly.
REFINE_ABOVE_M: Final = 1e-3
#: Width of the final bracket on the foot of the perpendicular (distance error <= half of it).
FOOT_TOLERANCE_M: Final = 1e-4
#: Shapes with more edges than this are split into blocks, whose caps let most edges be skipped.
SMALL_EDGES: Final = 48
#: Edges per block in the cap test that skips most of a large shape's edges.
BLOCK_EDGES: Final = 16
#: Vertices that cannot come this much nearer than the best one found are not solved exactly.
PRUNE_M: Final = 1e-3
#: Longest edge piece in the planar frame used to decide whether two shapes meet.
DENSIFY_M: Final = 2_000.0
#: ... but a shape is cut into at most this many pieces in all (longer pieces for longer shapes).
DENSE_PIECES: Final = 100_000
#: Two shapes are redrawn centred where they come nearest when that is further than this from
#: the first frame's centre (the scale error there, k - 1, stays under 2e-6).
RECENTRE_M: Final = 20_000.0
#: Shapes reaching further than this from their centre are refused (parse limits them to 1,000 km).
MAX_CAP_M: Final = 2_000_000.0

_R_MEAN: Final = 6_371_008.8
_DEG: Final = math.pi / 180.0


@dataclass(init=False, unsafe_hash=True, slots=True)
class Distance:
    """A geodesic distance with its stated bound: ``|true - metres| <= error_m`` (its own compiled
    __init__, read-only: see accord.compiled)."""

    metres: Final[float]
    error_m: Final[float]

    def __init__(self, metres: float, error_m: float) -> None:
        self.metres = metres
        self.error_m = error_m


# --------------------------------------------------------------------------------------------
# geodesic helpers (also used by accord.geo.parse)


def _aeqd(
    lon: float, lat: float, lons: FloatArray, lats: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """The azimuthal equidistant frame centred on (lon, lat), computed with exact geodesics.

    Returns ``x, y, rho, az, back``: plane coordinates (x east, y north, metres), geodesic distance
    from the centre, azimuth at the centre, and azimuth at each point pointing back to the centre.
    """
    n = lons.shape[0]
    az = np.full(n, lon, dtype=np.float64)
    back = np.full(n, lat, dtype=np.float64)
    rho = np.array(lons, dtype=np.float64)
    lat2 = np.array(lats, dtype=np.float64)
    _GEOD._inv(az, back, rho, lat2, False, True)
    azr = az * _DEG
    return rho * np.sin(azr), rho * np.cos(azr), rho, az, back


def _aeqd_inverse(lon: float, lat: float, x: float, y: float) -> LonLat:
    """The point at plane coordinates (x, y) of the aeqd frame centred on (lon, lat)."""
    rho = math.hypot(x, y)
    if rho == 0.0:
        return (lon, lat)
    lon2, lat2, _ = _fwd_point(lon, lat, math.degrees(math.atan2(x, y)), rho, False, True)
    return (lon2, lat2)


def _centre(lons: FloatArray, lats: FloatArray) -> tuple[float, float, float]:
    """A central point of some vertices (the normalised mean of their unit vectors) and the norm of
    that mean (near 0 when they are spread around the globe)."""
    la = lats * _DEG
    lo = lons * _DEG
    c = np.cos(la)
    vx = float(np.mean(c * np.cos(lo)))
    vy = float(np.mean(c * np.sin(lo)))
    vz = float(np.mean(np.sin(la)))
    norm = math.sqrt(vx * vx + vy * vy + vz * vz)
    if norm < 1e-12:
        return (0.0, 0.0, 0.0)
    lon = math.degrees(math.atan2(vy, vx))
    lat = math.degrees(math.atan2(vz, math.hypot(vx, vy)))
    return (lon, lat, norm)


def _densify(
    lons: FloatArray, lats: FloatArray, step_m: float
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """A polyline with points inserted along its geodesic edges, at most ``step_m`` apart.

    Returns ``lons, lats, original`` where ``original`` flags the input vertices.
    """
    n = lons.shape[0]
    if n < 2:
        return lons, lats, np.ones(n, dtype=bool)
    az1, _, length = _GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    length = np.asarray(length, dtype=np.float64)
    pieces = np.maximum(1, np.ceil(length / step_m)).astype(np.intp)
    if int(pieces.max()) == 1:
        return lons, lats, np.ones(n, dtype=bool)
    edge = np.repeat(np.arange(n - 1), pieces)
    first = np.concatenate(([0], np.cumsum(pieces)[:-1]))
    j = np.arange(edge.shape[0]) - np.repeat(first, pieces)
    olon = np.array(lons[edge], dtype=np.float64)
    olat = np.array(lats[edge], dtype=np.float64)
    mid = j > 0
    dist = length[edge[mid]] * (j[mid] / pieces[edge[mid]])
    lo2, la2, _ = _GEOD.fwd(olon[mid], olat[mid], np.asarray(az1)[edge[mid]], dist)
    olon[mid] = lo2
    olat[mid] = la2
    return np.append(olon, lons[-1]), np.append(olat, lats[-1]), np.append(~mid, True)


def _sagitta(rho_max: FloatArray, length: FloatArray) -> FloatArray:
    """Bound on how far a geodesic edge drawn in an aeqd frame strays from its chord."""
    x = rho_max / B_M
    tiny = x < 1e-9
    safe = np.where(tiny, 1.0, x)
    k = np.where(tiny, 1.0, safe / np.sin(safe))
    ell = k * length
    s = (CURVATURE_FACTOR / (B_M * B_M)) * rho_max * ell * ell / 8.0
    return np.where(rho_max <= RHO_LIMIT_M, s, np.inf)


def _scale(rho: float) -> float:
    """Upper bound of the aeqd scale factor within ``rho`` of the centre."""
    x = rho / B_M
    if x < 1e-9:
        return 1.0
    if x >= 3.0:
        return math.inf
    return x / math.sin(x)


# --------------------------------------------------------------------------------------------
# prepared shapes


class _Dense:
    """A prepared shape with edges cut into pieces of at most ``step_m``, for planar tests."""

    __slots__ = ("e0", "is_vertex", "lats", "length", "lons", "ring_ranges")

    def __init__(
        self,
        lons: FloatArray,
        lats: FloatArray,
        ranges: list[tuple[int, int]],
        *,
        area: bool,
        step_m: float,
    ) -> None:
        out_lon: list[FloatArray] = []
        out_lat: list[FloatArray] = []
        orig: list[BoolArray] = []
        self.ring_ranges: list[tuple[int, int]] = []
        n = 0
        for start, stop in ranges:
            lo, la, og = _densify(lons[start:stop], lats[start:stop], step_m)
            if area:
                og = og.copy()
                og[-1] = False  # the closing vertex repeats the first
            out_lon.append(lo)
            out_lat.append(la)
            orig.append(og)
            self.ring_ranges.append((n, n + lo.shape[0]))
            n += lo.shape[0]
        self.lons = np.concatenate(out_lon)
        self.lats = np.concatenate(out_lat)
        self.is_vertex = np.concatenate(orig)
        self.e0 = np.concatenate([np.arange(a, b - 1, dtype=np.intp) for a, b in self.ring_ranges])
        e1 = self.e0 + 1
        _, _, length = _GEOD.inv(
            self.lons[self.e0], self.lats[self.e0], self.lons[e1], self.lats[e1]
        )
        self.length = np.asarray(length, dtype=np.float64)


class _Prepared:
    """Per-shape precomputation: vertex arrays, edges (geodesic lengths and azimuths at both ends),
    rings, a bounding cap, and (lazily) a densified copy for planar tests."""

    __slots__ = (
        "area",
        "az1",
        "az2",
        "blocks",
        "buffer",
        "cap_lat",
        "cap_lon",
        "cap_r",
        "dense_",
        "dense_step",
        "e0",
        "edge_ring",
        "edge_ring_l",
        "edges_l",
        "lats",
        "lats_l",
        "length",
        "lons",
        "lons_l",
        "polygons",
        "ring_edges",
        "ring_ranges",
        "small",
        "weight",
    )

    def __init__(self, shape: Corridor | Area) -> None:
        rings: list[tuple[LonLat, ...]]
        self.polygons: list[tuple[int, list[int]]] = []
        if isinstance(shape, Corridor):
            self.area = False
            self.buffer = shape.width_m / 2.0
            rings = [tuple(shape.coords)]
        else:
            self.area = True
            self.buffer = 0.0
            rings = []
            for poly in shape.polygons:
                first = len(rings)
                rings.extend(poly)
                self.polygons.append((first, list(range(first + 1, len(rings)))))
        lons: list[float] = []
        lats: list[float] = []
        self.ring_ranges: list[tuple[int, int]] = []
        self.ring_edges: list[tuple[int, int]] = []
        e0: list[int] = []
        for ring in rings:
            start = len(lons)
            first_edge = len(e0)
            for lo, la in ring:
                lons.append(float(lo))
                lats.append(float(la))
            e0.extend(range(start, len(lons) - 1))
            self.ring_ranges.append((start, len(lons)))
            self.ring_edges.append((first_edge, len(e0)))
        if not e0:
            raise InvalidInput("shape", "a line or a polygon needs at least one edge")
        self.lons = np.array(lons, dtype=np.float64)
        self.lats = np.array(lats, dtype=np.float64)
        if not (np.isfinite(self.lons).all() and (np.abs(self.lats) <= 90.0).all()):
            raise InvalidInput("shape", "coordinates must be finite, latitudes within [-90, 90]")
        if isinstance(shape, Corridor) and not (
            math.isfinite(shape.width_m) and shape.width_m >= 0.0
        ):
            raise InvalidInput("shape", f"width_m must be finite and not negative: {shape.width_m}")
        self.e0 = np.array(e0, dtype=np.intp)
        e1 = self.e0 + 1
        a1, a2, length = _GEOD.inv(
            self.lons[self.e0], self.lats[self.e0], self.lons[e1], self.lats[e1]
        )
        self.az1 = np.asarray(a1, dtype=np.float64)
        self.az2 = np.asarray(a2, dtype=np.float64) + 180.0  # forward azimuth at the edge's end
        self.length = np.asarray(length, dtype=np.float64)
        # Plain lists for the edge-by-edge scan (numpy costs ~1 µs per operation on small arrays).
        self.small = len(e0) <= SMALL_EDGES
        self.edges_l = list(
            zip(
                e0,
                self.az1.tolist(),
                self.az2.tolist(),
                self.length.tolist(),
                (self.length * self.length * (CURVATURE_FACTOR / (8.0 * B_M * B_M))).tolist(),
                strict=True,
            )
        )
        self.lons_l = self.lons.tolist()
        self.lats_l = self.lats.tolist()
        clon, clat, norm = _centre(self.lons, self.lats)
        if norm < 0.5:
            raise InvalidInput("shape", "the shape is spread over the whole globe")
        rho = _aeqd(clon, clat, self.lons, self.lats)[2]
        self.cap_lon = clon
        self.cap_lat = clat
        # Balls this small are geodesically convex: edges and interiors stay inside the cap.
        self.cap_r = float(rho.max()) * (1.0 + 1e-9) + 1e-6
        if self.cap_r > MAX_CAP_M:
            raise InvalidInput(
                "shape",
                f"the shape reaches {self.cap_r / 1000:.0f} km from its centre; distances are "
                f"computed for shapes up to {MAX_CAP_M / 1000:.0f} km across",
            )
        self.edge_ring = np.repeat(
            np.arange(len(rings), dtype=np.intp),
            [stop - start for start, stop in self.ring_edges],
        )
        self.edge_ring_l = self.edge_ring.tolist()
        self.blocks = None if self.small else _Blocks(self)
        # vertices held, counting those the densified copy will add if it is made
        self.dense_step = max(DENSIFY_M, float(self.length.sum()) / DENSE_PIECES)
        self.weight = int(self.lons.shape[0] + np.ceil(self.length / self.dense_step).sum())
        self.dense_: _Dense | None = None

    def dense(self) -> _Dense:
        if self.dense_ is None:
            self.dense_ = _Dense(
                self.lons, self.lats, self.ring_ranges, area=self.area, step_m=self.dense_step
            )
        return self.dense_


class _Blocks:
    """Runs of up to BLOCK_EDGES consecutive edges of one ring, each with a bounding cap."""

    __slots__ = ("k0", "k1", "lat", "lon", "longest", "r", "ring", "v0", "v1")

    def __init__(self, p: _Prepared) -> None:
        k0: list[int] = []
        k1: list[int] = []
        ring: list[int] = []
        for r, (a, b) in enumerate(p.ring_edges):
            for k in range(a, b, BLOCK_EDGES):
                k0.append(k)
                k1.append(min(k + BLOCK_EDGES, b))
                ring.append(r)
        self.k0 = np.array(k0, dtype=np.intp)
        self.k1 = np.array(k1, dtype=np.intp)
        self.ring = np.array(ring, dtype=np.intp)
        self.v0 = p.e0[self.k0]
        self.v1 = p.e0[self.k1 - 1] + 1
        count = self.v1 - self.v0 + 1
        owner = np.repeat(np.arange(len(k0)), count)
        verts = _ranges(self.v0, self.v1 + 1)
        lons = p.lons[verts]
        lats = p.lats[verts]
        cut = np.cumsum(count)[:-1]
        centres = [
            _centre(a, b) for a, b in zip(np.split(lons, cut), np.split(lats, cut), strict=True)
        ]
        self.lon = np.array([c[0] for c in centres])
        self.lat = np.array([c[1] for c in centres])
        _, _, dist = _GEOD.inv(self.lon[owner], self.lat[owner], lons, lats)
        radius = np.zeros(len(k0))
        np.maximum.at(radius, owner, np.asarray(dist))
        self.r: FloatArray = radius * (1.0 + 1e-9) + 1e-6  # small caps are convex: hold the edges
        self.longest = np.maximum.reduceat(p.length, self.k0)


_CACHE: dict[int, tuple[Corridor | Area, _Prepared]] = {}
#: The cache of prepared shapes holds at most this many shapes and this many vertices in all.
CACHE_SHAPES: Final = 4096
CACHE_VERTICES: Final = 2_000_000
_cached_vertices = 0


def _prepare(shape: Corridor | Area) -> _Prepared:
    """The precomputation for a shape, from a least-recently-used cache keyed on the object itself
    (O(1); the cache holds the shape, so its id cannot be reused while cached)."""
    global _cached_vertices  # noqa: PLW0603 - a module-level cache
    key = id(shape)
    hit = _CACHE.pop(key, None)
    if hit is not None and hit[0] is shape:
        _CACHE[key] = hit  # most recently used last
        return hit[1]
    if hit is not None:
        _cached_vertices -= hit[1].weight
    prepared = _Prepared(shape)
    _CACHE[key] = (shape, prepared)
    _cached_vertices += prepared.weight
    while len(_CACHE) > 1 and (len(_CACHE) > CACHE_SHAPES or _cached_vertices > CACHE_VERTICES):
        try:
            oldest = next(iter(_CACHE))
            _cached_vertices -= _CACHE.pop(oldest)[1].weight
        except (RuntimeError, StopIteration, KeyError):  # pragma: no cover - another thread
            break
    return prepared


# --------------------------------------------------------------------------------------------
# point to a core


def _foot(
    lon: float, lat: float, p: _Prepared, k: int, *, d_a: float, d_b: float, t: float
) -> tuple[float, float]:
    """``(lo, hi)`` for the distance from (lon, lat) to edge ``k``, whose nearest point is interior.

    Bracketed search for the foot of the perpendicular along the geodesic edge.
    """
    a = int(p.e0[k])
    alon = float(p.lons[a])
    alat = float(p.lats[a])
    az1 = float(p.az1[k])
    s_lo, s_hi = 0.0, float(p.length[k])
    d_lo, d_hi = d_a, d_b
    s = min(max(t, 0.02), 0.98) * s_hi
    for _ in range(100):
        xlon, xlat, xback = _fwd_point(alon, alat, az1, s, False, True)
        azxp, _, d = _inv_point(xlon, xlat, lon, lat, False, True)
        if d == 0.0:
            return (0.0, 0.0)
        cos_t = math.cos((azxp - xback - 180.0) * _DEG)  # the point ahead (>0) or behind (<0)
        if cos_t > 0.0:
            s_lo, d_lo = s, d
        else:
            s_hi, d_hi = s, d
        if s_hi - s_lo <= FOOT_TOLERANCE_M:
            break
        q = d / _R_MEAN
        step = _R_MEAN * math.atan2(math.sin(q) * cos_t, math.cos(q))
        nxt = s + step + math.copysign(FOOT_TOLERANCE_M / 4.0, step)
        if not s_lo < nxt < s_hi:
            nxt = 0.5 * (s_lo + s_hi)
        s = nxt
    w = s_hi - s_lo
    return (max(0.0, 0.5 * (d_lo + d_hi - w)), min(d_lo, d_hi))


def _point_interval(
    lon: float, lat: float, p: _Prepared, boundary_only: bool, stop_above: float
) -> tuple[float, float]:
    """Certified ``(lo, hi)`` for the distance from a point to a core (to its boundary if asked).

    Returns ``(lo, inf)`` as soon as ``lo > stop_above`` is known. For large shapes, whether the
    point is inside is settled first from the blocks of edges (only those whose caps hold the point
    are scanned), then the distance from the blocks that may hold the nearest point. Few edges are
    scanned one at a time (numpy costs ~1 µs per operation, more than a few edges' arithmetic).
    """
    _, _, dq = _inv_point(lon, lat, p.cap_lon, p.cap_lat, False, True)
    cap_lb = dq - p.cap_r
    if cap_lb > stop_above:
        return (cap_lb, math.inf)
    winding = p.area and not boundary_only and dq <= p.cap_r
    bl = p.blocks
    if bl is None:
        turns = [0.0] * len(p.ring_ranges)
        scan = _scan(lon, lat, p, range(len(p.edges_l)), turns)
        if scan is None:
            return (0.0, 0.0)
        lo, hi, ambiguous = scan
        if winding:
            # The winding numbers of the drawn rings are those of the true rings unless the point
            # is within the chord deviation of an edge.
            if ambiguous:
                return (0.0, hi)
            if _inside(p, turns):
                return (0.0, 0.0)
        return (max(lo, cap_lb, 0.0), hi)
    dc = _aeqd(lon, lat, bl.lon, bl.lat)[2]
    near = dc - bl.r
    unsure = False
    if winding:
        # Blocks whose caps do not hold the point sweep less than 180° seen from it: they turn by
        # their ends. Only the blocks around the point are scanned edge by edge.
        around = near <= 0.0
        away = np.nonzero(~around)[0]
        turns = [0.0] * len(p.ring_ranges)
        if away.size:
            ends = np.unique(np.concatenate((bl.v0[away], bl.v1[away])))  # blocks share ends
            az = _aeqd(lon, lat, p.lons[ends], p.lats[ends])[3]
            az0 = az[np.searchsorted(ends, bl.v0[away])]
            az1 = az[np.searchsorted(ends, bl.v1[away])]
            daz = (az1 - az0 + 180.0) % 360.0 - 180.0
            turns = np.bincount(bl.ring[away], daz, len(turns)).tolist()
            lens = _sagitta(dc[away] + bl.r[away], bl.longest[away])
            unsure = bool(np.any(near[away] <= lens))
        if around.any():
            edges = _ranges(bl.k0[around], bl.k1[around]).tolist()
            scan = (_scan_np if len(edges) > SMALL_EDGES else _scan)(lon, lat, p, edges, turns)
            if scan is None:
                return (0.0, 0.0)
            unsure = unsure or scan[2]
        if not unsure and _inside(p, turns):
            return (0.0, 0.0)
    # The distance to the boundary, from the blocks that may hold its nearest point.
    active = near <= float((dc + bl.r).min())
    edges = _ranges(bl.k0[active], bl.k1[active]).tolist()
    scratch = [0.0] * len(p.ring_ranges)
    scan = (_scan_np if len(edges) > SMALL_EDGES else _scan)(lon, lat, p, edges, scratch)
    if scan is None:
        return (0.0, 0.0)
    lo, hi, _ = scan
    if unsure:
        return (0.0, hi)
    return (max(lo, cap_lb, 0.0), hi)


def _inside(p: _Prepared, turns: list[float]) -> bool:
    """Inside some polygon: its exterior ring winds around the point and none of its holes."""
    winds = [abs(t) > 180.0 for t in turns]
    return any(winds[ext] and not any(winds[h] for h in holes) for ext, holes in p.polygons)


def _ranges(start: IntArray, stop: IntArray) -> IntArray:
    """``concatenate([arange(a, b) for a, b in zip(start, stop)])``, vectorised."""
    lens = stop - start
    total = int(lens.sum())
    offsets = np.repeat(start - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return (offsets + np.arange(total)).astype(np.intp)


def _scan(
    lon: float, lat: float, p: _Prepared, edges: Iterable[int], turns: list[float]
) -> tuple[float, float, bool] | None:
    """``(lo, hi, ambiguous)`` over the given edges (ascending, whole rings' runs), adding each
    edge's turn of azimuth to ``turns[ring]``; None if the point is a vertex."""
    inv = _inv_point
    cos = math.cos
    sin = math.sin
    deg = _DEG
    lons = p.lons_l
    lats = p.lats_l
    edge_ring = p.edge_ring_l
    seen: dict[int, tuple[float, float, float, float, float]] = {}
    lo_l: list[float] = []
    hi = math.inf
    ambiguous = False
    wide: list[tuple[float, int, int, float, float, float]] = []
    for k in edges:
        i, az1, az2, length, sagk = p.edges_l[k]
        va = seen.get(i)
        if va is None:
            a12, a21, r = inv(lon, lat, lons[i], lats[i], False, True)
            if r == 0.0:
                return None
            va = seen[i] = (a12, a21, r, r * sin(a12 * deg), r * cos(a12 * deg))
        a12, a21, r = inv(lon, lat, lons[i + 1], lats[i + 1], False, True)
        if r == 0.0:
            return None
        vb = seen[i + 1] = (a12, a21, r, r * sin(a12 * deg), r * cos(a12 * deg))
        turns[edge_ring[k]] += (vb[0] - va[0] + 180.0) % 360.0 - 180.0
        ra = va[2]
        rb = vb[2]
        rmax, rmin = (ra, rb) if ra > rb else (rb, ra)
        xr = rmax / B_M
        kk = xr / sin(xr) if xr > 1e-9 else 1.0
        sag = sagk * rmax * kk * kk if rmax <= RHO_LIMIT_M else math.inf
        # Exact: the nearest point of an edge is interior iff the point is ahead of the edge's
        # start and behind its end (the azimuths at the ends towards the point against the edge's).
        if cos((va[1] - az1) * deg) > 0.0 and cos((vb[1] - az2) * deg) < 0.0:
            ax = va[3]
            ay = va[4]
            dx = vb[3] - ax
            dy = vb[4] - ay
            l2 = dx * dx + dy * dy
            t = -(ax * dx + ay * dy) / l2 if l2 > 0.0 else 0.0
            t = 0.0 if t < 0.0 else (1.0 if t > 1.0 else t)
            chord = math.hypot(ax + t * dx, ay + t * dy)
            lo_e = max(chord - sag, 0.5 * (ra + rb - length), 0.0)
            hi_e = min(chord + sag, rmin)
            ambiguous = ambiguous or chord <= sag
            if hi_e - lo_e > 2.0 * REFINE_ABOVE_M:
                wide.append((lo_e, len(lo_l), k, ra, rb, t))
        else:
            lo_e = hi_e = rmin
            ambiguous = ambiguous or rmin <= sag
        lo_l.append(lo_e)
        hi = min(hi, hi_e)
    for lo_e, j, k, ra, rb, t in sorted(wide):
        if lo_e >= hi:
            break
        lo_k, hi_k = _foot(lon, lat, p, k, d_a=ra, d_b=rb, t=t)
        lo_l[j] = lo_k
        hi = min(hi, hi_k)
    return (min(lo_l), hi, ambiguous)


def _scan_np(
    lon: float, lat: float, p: _Prepared, edges: Iterable[int], turns: list[float]
) -> tuple[float, float, bool] | None:
    """:func:`_scan` vectorised, for many edges."""
    ks = np.fromiter(edges, dtype=np.intp)
    e0 = p.e0[ks]
    e1 = e0 + 1
    need = np.unique(np.concatenate((e0, e1)))
    xs, ys, rhos, azs, backs = _aeqd(lon, lat, p.lons[need], p.lats[need])
    if float(rhos.min()) == 0.0:
        return None
    a = np.searchsorted(need, e0)
    b = a + 1
    ax = xs[a]
    ay = ys[a]
    dx = xs[b] - ax
    dy = ys[b] - ay
    l2 = dx * dx + dy * dy
    t = np.clip(-(ax * dx + ay * dy) / np.where(l2 > 0.0, l2, 1.0), 0.0, 1.0)
    chord = np.hypot(ax + t * dx, ay + t * dy)
    ra = rhos[a]
    rb = rhos[b]
    rmin = np.minimum(ra, rb)
    length = p.length[ks]
    sag = _sagitta(np.maximum(ra, rb), length)
    interior = (np.cos((backs[a] - p.az1[ks]) * _DEG) > 0.0) & (
        np.cos((backs[b] - p.az2[ks]) * _DEG) < 0.0
    )
    lo_e = np.maximum(
        np.where(interior, np.maximum(chord - sag, 0.5 * (ra + rb - length)), rmin), 0.0
    )
    hi_e = np.where(interior, np.minimum(chord + sag, rmin), rmin)
    ambiguous = bool(np.any(np.where(interior, chord, rmin) <= sag))
    daz = (azs[b] - azs[a] + 180.0) % 360.0 - 180.0
    for r, turn in enumerate(np.bincount(p.edge_ring[ks], daz, len(turns)).tolist()):
        turns[r] += turn
    hi = float(hi_e.min())
    wide = np.nonzero(interior & (hi_e - lo_e > 2.0 * REFINE_ABOVE_M) & (lo_e < hi))[0]
    for j in wide[np.argsort(lo_e[wide])].tolist():
        if lo_e[j] >= hi:
            break
        d_a, d_b, tj = float(ra[j]), float(rb[j]), float(t[j])
        lo_k, hi_k = _foot(lon, lat, p, int(ks[j]), d_a=d_a, d_b=d_b, t=tj)
        lo_e[j] = lo_k
        hi = min(hi, hi_k)
    return (float(lo_e.min()), hi, ambiguous)


# --------------------------------------------------------------------------------------------
# line or polygon to line or polygon


class _Drawn:
    """A prepared shape drawn in one aeqd frame (densified edges as chords)."""

    __slots__ = ("boundary", "geom", "lats", "lons", "rho", "sag", "x", "y")

    def __init__(self, c_lon: float, c_lat: float, p: _Prepared) -> None:
        d = p.dense()
        x, y, rho, _, _ = _aeqd(c_lon, c_lat, d.lons, d.lats)
        self.sag = float(_sagitta(np.maximum(rho[d.e0], rho[d.e0 + 1]), d.length).max())
        rings = [np.column_stack((x[a:b], y[a:b])) for a, b in d.ring_ranges]
        if p.area:
            polys = [shapely.Polygon(rings[e], [rings[h] for h in hs]) for e, hs in p.polygons]
            self.geom = shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0]
            self.boundary = shapely.boundary(self.geom)
        else:
            self.geom = shapely.LineString(rings[0])
            self.boundary = self.geom
        v = d.is_vertex
        self.x = x[v]
        self.y = y[v]
        self.rho = rho[v]
        self.lons = d.lons[v]
        self.lats = d.lats[v]


def _fold_vertices(
    a: _Drawn, other: _Drawn, p_other: _Prepared, *, lo: float, hi: float, enough: float
) -> tuple[float, float]:
    """Fold into ``(lo, hi)`` the exact distances to the other's boundary from the vertices of
    ``a`` that may come nearest. A vertex whose lower bound ``(planar - S_other) / k(rho + hi)``
    is not at least PRUNE_M below ``hi`` is skipped, its lower bound folded into ``lo``. Stops
    once ``hi <= enough``."""
    planar = np.asarray(
        shapely.distance(shapely.points(a.x, a.y), other.boundary), dtype=np.float64
    )
    rho_max = float(a.rho.max())
    for i in np.argsort(planar):
        if hi <= enough or hi <= 0.0:
            break
        slack = float(planar[i]) - other.sag
        if math.isfinite(hi):
            bound_all = slack / _scale(rho_max + hi)  # bounds this vertex and all further ones
            if bound_all > hi - PRUNE_M:
                lo = min(lo, bound_all, hi)
                break
            bound = slack / _scale(float(a.rho[i]) + hi)
            if bound > hi - PRUNE_M:
                lo = min(lo, bound, hi)
                continue
        lo_v, hi_v = _point_interval(float(a.lons[i]), float(a.lats[i]), p_other, True, math.inf)
        lo = min(lo, lo_v)
        hi = min(hi, hi_v)
    return lo, hi


def _deep_inside(a: _Drawn, b: _Drawn, margin: float) -> bool:
    """A vertex of ``a`` lies inside polygon ``b`` further than ``margin`` from its boundary."""
    inside = shapely.contains_xy(b.geom, a.x, a.y)
    if not bool(inside.any()):
        return False
    gap = np.asarray(shapely.distance(shapely.points(a.x[inside], a.y[inside]), b.boundary))
    return bool(np.any(gap > margin))


def _shapes_interval(pa: _Prepared, pb: _Prepared, stop_above: float) -> tuple[float, float]:
    """Certified ``(lo, hi)`` for the distance between two line/polygon cores."""
    if (pa.cap_lat, pa.cap_lon, pa.cap_r) > (pb.cap_lat, pb.cap_lon, pb.cap_r):
        pa, pb = pb, pa  # the same frame whichever way round: distance(a, b) == distance(b, a)
    az, _, dqq = _inv_point(pa.cap_lon, pa.cap_lat, pb.cap_lon, pb.cap_lat, False, True)
    cap_lb = dqq - pa.cap_r - pb.cap_r
    if cap_lb > stop_above:
        return (cap_lb, math.inf)
    # A first frame centre between the caps' rims on the line joining their centres (where a
    # small shape meets a large one), then recentred where the drawn shapes come nearest.
    rim_a = min(pa.cap_r, dqq)
    rim_b = max(rim_a, dqq - pb.cap_r)
    c_lon, c_lat, _ = _fwd_point(pa.cap_lon, pa.cap_lat, az, (rim_a + rim_b) / 2.0, False, True)
    da = _Drawn(c_lon, c_lat, pa)
    db = _Drawn(c_lon, c_lat, pb)
    try:
        near = shapely.get_coordinates(shapely.shortest_line(da.geom, db.geom))
        mx, my = (near[0] + near[1]) / 2.0
        if math.hypot(mx, my) > RECENTRE_M:
            c_lon, c_lat = _aeqd_inverse(c_lon, c_lat, float(mx), float(my))
            da = _Drawn(c_lon, c_lat, pa)
            db = _Drawn(c_lon, c_lat, pb)
    except shapely.errors.GEOSException:  # pragma: no cover - drawn shapes are near-valid
        pass
    margin = da.sag + db.sag
    meets: bool | None
    try:
        meets = bool(shapely.intersects(da.geom, db.geom))
        gap = 0.0 if meets else float(shapely.distance(da.geom, db.geom))
        if meets and (
            (pb.area and _deep_inside(da, db, margin)) or (pa.area and _deep_inside(db, da, margin))
        ):
            return (0.0, 0.0)
    except shapely.errors.GEOSException:  # pragma: no cover - drawn shapes are near-valid
        meets, gap = None, 0.0
    # Disjoint: the distance is the least vertex distance. Otherwise only whether it exceeds
    # gap + margin matters; once a vertex is nearer than that, the answer is [0, hi].
    enough = -math.inf if cap_lb > 0.0 or (meets is False and gap > margin) else gap + margin
    lo, hi = _fold_vertices(da, db, pb, lo=math.inf, hi=math.inf, enough=enough)
    lo, hi = _fold_vertices(db, da, pa, lo=lo, hi=hi, enough=enough)
    if cap_lb > 0.0 or (meets is False and gap > margin):
        return (max(lo, cap_lb, 0.0), hi)  # they do not meet: the vertex distance is the distance
    if meets is not None and lo > gap + margin:
        return (0.0, 0.0)  # disjoint shapes would be nearer than that: they meet
    return (0.0, hi)  # they meet, or are at the vertex distance


# --------------------------------------------------------------------------------------------
# public API


def _interval(a: Shape, b: Shape, stop_above: float) -> tuple[float, float]:
    """Certified ``(lo, hi)`` for the distance between two shapes (buffers subtracted)."""
    if isinstance(a, Disc):
        if isinstance(b, Disc):
            s = _inv_point(a.lon, a.lat, b.lon, b.lat, False, True)[2]
            m = max(0.0, s - a.radius_m - b.radius_m)
            return (m, m)
        pb = _prepare(b)
        r = a.radius_m + pb.buffer
        lo, hi = _point_interval(a.lon, a.lat, pb, False, stop_above + r)
    elif isinstance(b, Disc):
        pa = _prepare(a)
        r = b.radius_m + pa.buffer
        lo, hi = _point_interval(b.lon, b.lat, pa, False, stop_above + r)
    else:
        pa = _prepare(a)
        pb = _prepare(b)
        r = pa.buffer + pb.buffer
        lo, hi = _shapes_interval(pa, pb, stop_above + r)
    return (max(0.0, lo - r), max(0.0, hi - r))


def _check_shape(s: object, field: str) -> None:
    if isinstance(s, Disc):
        if not (
            math.isfinite(s.lon)
            and -90.0 <= s.lat <= 90.0
            and math.isfinite(s.radius_m)
            and s.radius_m >= 0.0
        ):
            raise InvalidInput(field, f"not a valid disc: {s!r}")
    elif not isinstance(s, Corridor | Area):
        raise InvalidInput(field, f"expected a Disc, Corridor or Area, got {type(s).__name__}")


#: WGS84's semi-major axis and first eccentricity squared, for points on the ellipsoid in 3D.
_A_M: Final = float(_GEOD.a)
_E2: Final = float(_GEOD.es)
#: Bound on the rounding error of :meth:`Chord.lower_m` (each coordinate of a point is within
#: ~4 nm of its true value, so the length of the chord is within ~15 nm of it).
CHORD_ERROR_M: Final = 1e-6


def _on_ellipsoid(lon: float, lat: float) -> tuple[float, float, float]:
    """The Earth-centred Cartesian coordinates (metres) of a point of the ellipsoid."""
    phi = lat * _DEG
    lam = lon * _DEG
    sin_phi = math.sin(phi)
    cos_phi = math.cos(phi)
    n = _A_M / math.sqrt(1.0 - _E2 * sin_phi * sin_phi)
    return n * cos_phi * math.cos(lam), n * cos_phi * math.sin(lam), n * (1.0 - _E2) * sin_phi


class Chord:
    """Lower bounds of the geodesic distance from one point of the ellipsoid, without a geodesic:
    the straight line through the Earth between two points of its surface is no longer than any
    path along the surface. Over the few kilometres of a hazard area the chord falls short of the
    geodesic by about s^3 / 24 R^2 (16 µm at 2.5 km). The verdict asks it before it measures a
    site: a site the chord already puts beyond the hazard area costs no geodesic (the chord costs
    a tenth of one, ~130 ns)."""

    x: float
    y: float
    z: float

    def __init__(self, lon: float, lat: float) -> None:
        self.x, self.y, self.z = _on_ellipsoid(lon, lat)

    def lower_m(self, lon: float, lat: float) -> float:
        """A lower bound of the geodesic distance to ``(lon, lat)`` (NaN for a NaN point)."""
        x, y, z = _on_ellipsoid(lon, lat)
        dx = x - self.x
        dy = y - self.y
        dz = z - self.z
        return math.sqrt(dx * dx + dy * dy + dz * dz) - CHORD_ERROR_M


def disc_metres(lon: float, lat: float, radius_m: float, b: Disc) -> float:
    """The distance between the disc ``(lon, lat, radius_m)`` and disc ``b`` (0 if they meet), by
    one inverse geodesic, to within EPS_M: :func:`distance`'s ``metres`` without the
    :class:`Distance`. NaN when the answer is NaN or a radius is negative (the caller then asks
    :func:`distance`, which validates and raises)."""
    m = _inv_point(lon, lat, b.lon, b.lat, False, True)[2] - radius_m - b.radius_m
    if m == m and radius_m >= 0.0 and b.radius_m >= 0.0:  # noqa: PLR0124 (not NaN)
        return m if m > 0.0 else 0.0
    return math.nan


def distance(a: Shape, b: Shape) -> Distance:
    """The geodesic distance between two shapes (0 if they meet), with its stated error bound."""
    if type(a) is Disc and type(b) is Disc:  # the hot path
        m = disc_metres(a.lon, a.lat, a.radius_m, b)
        if m == m:  # noqa: PLR0124 (not NaN)
            return Distance(m, EPS_M)
    _check_shape(a, "a")
    _check_shape(b, "b")
    lo, hi = _interval(a, b, math.inf)
    return Distance((lo + hi) / 2.0, (hi - lo) / 2.0 + EPS_M)


def point_distance(lon: float, lat: float, b: Shape) -> Distance:
    """``distance(Disc(lon, lat), b)``, the same value, without building the disc (a verdict
    measures every presence's point against the request's area this way)."""
    if type(b) is Disc:
        m = disc_metres(lon, lat, 0.0, b)
        if m == m:  # noqa: PLR0124 (not NaN)
            return Distance(m, EPS_M)
    return distance(Disc(lon, lat, 0.0), b)


def within(a: Shape, b: Shape, d: float) -> bool:
    """True iff the true distance may be ``<= d``: ``distance(a, b).metres - error_m <= d``.

    Errs towards True: two discs whose distance comes out NaN are "within"; otherwise an invalid
    shape (NaN coordinates, negative radius) or a NaN ``d`` raises InvalidInput (and a ``d`` that
    is not a number TypeError, as the compiled signature checks it).
    """
    if type(a) is Disc and type(b) is Disc:  # the hot path: one inverse geodesic
        s = _inv_point(a.lon, a.lat, b.lon, b.lat, False, True)[2]
        m = s - a.radius_m - b.radius_m
        if (m if m > 0.0 else 0.0) - EPS_M <= d:  # NaN m counts as 0: within
            return True
        if d == d and a.radius_m >= 0.0 and b.radius_m >= 0.0:  # noqa: PLR0124 (d not NaN)
            return False
    if math.isnan(d):
        raise InvalidInput("d", f"the distance must be a number, got {d!r}")
    _check_shape(a, "a")
    _check_shape(b, "b")
    lo, hi = _interval(a, b, d + 1.0)
    if math.isinf(hi) and lo > d + 1.0:
        return False  # known to be further than d (by more than a metre) without the details
    return (lo + hi) / 2.0 - ((hi - lo) / 2.0 + EPS_M) <= d
