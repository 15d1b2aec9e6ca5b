"""From any EPSG geographic or projected CRS to WGS 84, with PROJ's best transformation there.

The operation is the one PROJ itself uses for that point when the area of interest is the point
(``Transformer.from_crs(..., area_of_interest=...)``, then ``get_last_used_operation``): so a legacy
datum is shifted with the transformation PROJ ranks best *there*, not with one that merely exists
somewhere, and the operation reported is the one applied. Its stated accuracy (EPSG's, through
PROJ) is reported and added to the position's uncertainty. Where no operation's area of use holds
the point, PROJ's choice for the 0.01° cell around it is taken (usually a ballpark).

Where PROJ knows only a *ballpark* transformation (no datum shift: the numbers are taken as they
are, an error of tens to hundreds of metres), or states no accuracy at all, the input is refused,
naming the datum, unless the caller allows it; then at least :data:`BALLPARK_UNCERTAINTY_M` is added
and a warning text is set.

Transformers are slow to create (1-150 ms), so PROJ's answer is kept for each CRS and each set of
operation areas that hold the point (a handful per datum): PROJ's choice depends on nothing else.
Cached transformers are thread-safe copies (``Transformer.from_pipeline``).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

from pyproj import CRS, Transformer
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import PolarStereographicAConversion, UTMConversion
from pyproj.enums import TransformDirection
from pyproj.exceptions import CRSError, ProjError
from pyproj.transformer import AreaOfInterest, TransformerGroup

from accord.errors import InvalidInput
from accord.geo.mgrs import GridRef, grid_inverse

__all__ = [
    "AREA_MARGIN_DEG",
    "BALLPARK_UNCERTAINTY_M",
    "CELL_DEG",
    "NO_TRANSFORMATION",
    "WGS84",
    "Converted",
    "Transformation",
    "grid_to_wgs84",
    "normalise_crs",
    "text_crs",
    "to_wgs84",
]

BALLPARK_UNCERTAINTY_M = 1000.0
"""Added to a position converted with a ballpark (or unknown-accuracy) transformation."""

CELL_DEG = 0.01
"""The size of the cells for which PROJ chooses (and we cache) the transformation."""

AREA_MARGIN_DEG = 3.0
"""How far outside its area of use a projected CRS's coordinates may lie (neighbouring zones)."""

WGS84 = "EPSG:4326"

_Box = tuple[float, float, float, float]  # west, south, east, north
_CRS_RE = re.compile(r"\s*EPSG\s*:\s*([0-9]{1,6})\s*", re.IGNORECASE)
_CELLS_PER_DEG = round(1 / CELL_DEG)


@dataclass(frozen=True, slots=True)
class Transformation:
    """The operation that took a position to WGS 84, as PROJ describes it."""

    description: str  # PROJ's description of the operation; "none" for WGS 84 input
    accuracy_m: float | None  # PROJ's stated accuracy; None when unknown
    ballpark: bool  # PROJ knew no datum shift and took the numbers as they are


NO_TRANSFORMATION = Transformation("none", 0.0, False)


@dataclass(frozen=True, slots=True)
class Converted:
    """A position converted to WGS 84, with how, and what the conversion adds to its uncertainty."""

    lon: float
    lat: float
    transformation: Transformation
    added_uncertainty_m: float  # the stated accuracy, or >= 1000 m for ballpark / unknown
    datum_warning: str | None


@dataclass(frozen=True)
class _Source:
    """A source CRS, hashed by ``key`` (its EPSG code, or a code plus a UTM/UPS grid)."""

    key: str
    label: str  # for messages: "Kalianpur 1937 (EPSG:4144)"
    degrees: bool  # geographic in degrees from Greenwich: x, y are lon, lat
    crs: CRS = field(compare=False, hash=False, repr=False)
    area: _Box | None = field(default=None, compare=False, hash=False)  # a projected CRS's


@dataclass(frozen=True, slots=True)
class _Plan:
    """The candidate operations for a place, in PROJ's order of preference, with their areas."""

    candidates: tuple[tuple[Transformer, Transformation, _Box | None], ...]

    def pick(self, lon: float, lat: float) -> tuple[Transformer, Transformation]:
        """The first candidate whose area of use holds the point (as PROJ picks), else the first."""
        for t, tr, area in self.candidates:
            if area is None or _in_area(lon, lat, area):
                return t, tr
        t, tr, _ = self.candidates[0]
        return t, tr


def normalise_crs(code: object, field: str = "crs") -> str:
    """``"EPSG:n"`` for an accepted CRS code (``EPSG:n``, any case); refuses anything else."""
    if not isinstance(code, str):
        raise InvalidInput(field, "expected a string such as 'EPSG:4326'")
    m = _CRS_RE.fullmatch(code)
    if m is None:
        raise InvalidInput(field, f"{code[:40]!r} is not an EPSG code such as 'EPSG:4326'")
    return f"EPSG:{int(m.group(1))}"


@lru_cache(maxsize=256)
def _source(code: str) -> _Source:
    """The source for an ``EPSG:n`` code; raises :class:`CRSError` or :class:`ValueError`."""
    crs = CRS.from_user_input(code)
    if crs.is_compound or crs.is_geocentric or not (crs.is_geographic or crs.is_projected):
        raise ValueError(f"{code} ({crs.name}) is a {crs.type_name}")
    degrees = False
    if crs.is_geographic:
        units = {a.unit_name for a in crs.axis_info[:2]}
        pm = crs.prime_meridian
        degrees = units == {"degree"} and pm is not None and pm.longitude == 0
    area = None
    if crs.is_projected and crs.area_of_use is not None:
        a = crs.area_of_use
        area = (a.west, a.south, a.east, a.north)
    return _Source(code, f"{crs.name} ({code})", degrees, crs, area)


def _resolve(code: object, field: str) -> _Source:
    key = normalise_crs(code, field)
    try:
        return _source(key)
    except CRSError as exc:
        raise InvalidInput(field, f"{key} is not a CRS that PROJ knows") from exc
    except ValueError as exc:
        raise InvalidInput(field, f"{exc}: expected a geographic or projected 2D CRS") from exc


def text_crs(code: object, field: str = "crs") -> str:
    """The normalised code of a CRS that text coordinates may be given in: geographic, degrees."""
    src = _resolve(code, field)
    if not src.crs.is_geographic:
        raise InvalidInput(
            field,
            f"{src.label} is projected; text positions take a geographic CRS (their datum). "
            "Send projected coordinates as {x, y, crs}",
        )
    if not src.degrees:
        raise InvalidInput(
            field,
            f"{src.label} does not measure longitude in degrees from Greenwich; text positions "
            "need a CRS that does",
        )
    return src.key


@lru_cache(maxsize=256)
def _grid_source(datum_key: str, zone: int, north: bool) -> _Source:
    base = _source(datum_key)
    geodetic = base.crs.geodetic_crs
    if geodetic is None:  # pragma: no cover - every geographic CRS has one
        raise ValueError(f"{datum_key} has no geodetic CRS")
    conversion: PolarStereographicAConversion | UTMConversion
    if zone == 0:
        conversion = PolarStereographicAConversion(
            latitude_natural_origin=90 if north else -90,
            longitude_natural_origin=0,
            false_easting=2_000_000,
            false_northing=2_000_000,
            scale_factor_natural_origin=0.994,
        )
        grid = f"UPS {'north' if north else 'south'}"
    else:
        conversion = UTMConversion(str(zone), "N" if north else "S")
        grid = f"UTM zone {zone}{'N' if north else 'S'}"
    crs = ProjectedCRS(conversion=conversion, geodetic_crs=geodetic)
    return _Source(f"{datum_key}/{grid}", f"{grid} on {base.label}", False, crs)


def _transformation(t: Transformer) -> Transformation:
    description = str(t.description)
    accuracy = float(t.accuracy)
    ballpark = "ballpark" in description.lower() or "ballpark" in str(t.name).lower()
    return Transformation(description, accuracy if accuracy >= 0 else None, ballpark)


def _group(src: _Source, aoi: AreaOfInterest | None) -> TransformerGroup:
    # pyproj warns when the best operation needs a grid that is not installed; the operations
    # offered are then the best available ones, and the accuracy reported is the one used
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Best transformation is not available")
        return TransformerGroup(src.crs, WGS84, always_xy=True, area_of_interest=aoi)


def _box(t: Transformer) -> _Box | None:
    a = t.area_of_use
    return None if a is None else (a.west, a.south, a.east, a.north)


def _safe(t: Transformer) -> Transformer:
    """A thread-safe copy of an operation (pyproj's TransformerGroup members and last-used
    operations are not: they cannot be re-created in another thread)."""
    return Transformer.from_pipeline(t.to_json())


def _plan(group: TransformerGroup, what: str) -> _Plan:
    if not group.transformers:
        missing = ", ".join(str(op.name) for op in group.unavailable_operations[:3])
        raise ValueError(f"PROJ has no usable transformation from {what} here ({missing})")
    return _Plan(tuple((_safe(t), _transformation(t), _box(t)) for t in group.transformers))


@lru_cache(maxsize=256)
def _crs_areas(src: _Source) -> tuple[_Box, ...]:
    """The areas of use of every (non-ballpark) operation PROJ knows from this CRS to WGS 84."""
    areas = []
    for t in _group(src, None).transformers:
        box = _box(t)
        if box is not None and not _transformation(t).ballpark:
            areas.append(box)
    return tuple(areas)


_choices: dict[tuple[str, tuple[int, ...]], tuple[Transformer, Transformation]] = {}
_MAX_CHOICES = 4096


def _proj_choice(
    src: _Source, x: float, y: float, lon: float, lat: float
) -> tuple[Transformer, Transformation] | None:
    """The operation PROJ itself uses for this point, or None where no operation's area holds it.

    PROJ ranks the operations whose area of use meets the area of interest, then, as it
    transforms, uses the best-ranked one whose area holds the point. Both steps depend only on
    which areas hold the point, so PROJ is asked once (area of interest: the point; the operation
    it used is read back) for each such set, and its answer is kept.
    """
    signature = tuple(i for i, box in enumerate(_crs_areas(src)) if _in_area(lon, lat, box))
    if not signature:
        return None
    key = (src.key, signature)
    known = _choices.get(key)
    if known is not None:
        return known
    d = 1e-6
    aoi = AreaOfInterest(
        max(-180.0, lon - d), max(-90.0, lat - d), min(180.0, lon + d), min(90.0, lat + d)
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Best transformation is not available")
        t = Transformer.from_crs(src.crs, WGS84, always_xy=True, area_of_interest=aoi)
    t.transform(x, y)
    try:
        used = t.get_last_used_operation()
    except ProjError:  # a single operation that does nothing (no shift): nothing was "used"
        used = t
    choice = (_safe(used), _transformation(used))
    if len(_choices) >= _MAX_CHOICES:
        _choices.clear()
    _choices[key] = choice
    return choice


@lru_cache(maxsize=1024)
def _cell_plan(src: _Source, i: int, j: int) -> _Plan:
    """The operations PROJ offers for the cell with south-west corner (i, j) * CELL_DEG."""
    inset = 1e-7
    west = max(-180.0, i * CELL_DEG + inset)
    east = min(180.0, (i + 1) * CELL_DEG - inset)
    south = max(-90.0, j * CELL_DEG + inset)
    north = min(90.0, (j + 1) * CELL_DEG - inset)
    return _plan(_group(src, AreaOfInterest(west, south, east, north)), src.label)


@lru_cache(maxsize=256)
def _approximate(src: _Source) -> Transformer:
    return Transformer.from_crs(src.crs, WGS84, always_xy=True)


def _in_area(lon: float, lat: float, area: _Box, margin: float = 0.0) -> bool:
    west, south, east, north = area
    if not south - margin <= lat <= north + margin:
        return False
    if west <= east and east - west + 2 * margin < 360:
        return west - margin <= lon <= east + margin
    if west > east:  # the area crosses the antimeridian
        return lon >= west - margin or lon <= east + margin
    return True


def _number(v: object, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidInput(name, "expected a number")
    try:
        f = float(v)
    except OverflowError as exc:
        raise InvalidInput(name, "number too large") from exc
    if not math.isfinite(f):
        raise InvalidInput(name, "expected a finite number")
    return f


def _convert(
    src: _Source, x: float, y: float, *, allow_ballpark: bool, field: str, crs_field: str
) -> Converted:
    if src.degrees:
        if not -180.0 <= x <= 180.0:
            raise InvalidInput(field, f"longitude {x:g} is outside -180 to 180 degrees")
        if not -90.0 <= y <= 90.0:
            raise InvalidInput(field, f"latitude {y:g} is outside -90 to 90 degrees")
        approx_lon, approx_lat = x, y
    else:
        try:
            approx_lon, approx_lat = _approximate(src).transform(x, y, errcheck=True)
        except ProjError as exc:
            raise InvalidInput(field, f"{x:g} {y:g} cannot be converted from {src.label}") from exc
        if not (math.isfinite(approx_lon) and math.isfinite(approx_lat)):
            raise InvalidInput(field, f"{x:g} {y:g} is outside the domain of {src.label}")
    chosen = _proj_choice(src, x, y, approx_lon, approx_lat)
    if chosen is not None:
        transformer, tr = chosen
    else:
        i = min(
            max(math.floor(approx_lon * _CELLS_PER_DEG), -180 * _CELLS_PER_DEG),
            180 * _CELLS_PER_DEG - 1,
        )
        j = min(
            max(math.floor(approx_lat * _CELLS_PER_DEG), -90 * _CELLS_PER_DEG),
            90 * _CELLS_PER_DEG - 1,
        )
        try:
            plan = _cell_plan(src, i, j)
        except ValueError as exc:
            raise InvalidInput(crs_field, str(exc)) from exc
        transformer, tr = plan.pick(approx_lon, approx_lat)
    try:
        lon, lat = transformer.transform(x, y, errcheck=True)
    except ProjError as exc:
        raise InvalidInput(field, f"{x:g} {y:g} cannot be converted from {src.label}") from exc
    lon, lat = float(lon), float(lat)
    if not (math.isfinite(lon) and math.isfinite(lat) and abs(lat) <= 90 and abs(lon) <= 180):
        raise InvalidInput(field, f"{x:g} {y:g} is outside the domain of {src.label}")
    if src.area is not None and not _in_area(lon, lat, src.area, AREA_MARGIN_DEG):
        w, so, e, n = src.area
        raise InvalidInput(
            field,
            f"{x:g} {y:g} lies at {lat:.4f}, {lon:.4f}, far outside the area where {src.label} "
            f"is used ({so:g} to {n:g} N, {w:g} to {e:g} E): check the coordinates and the crs",
        )
    if not src.degrees:
        # a projection far outside its domain can map to a point that does not map back
        bx, by = transformer.transform(lon, lat, direction=TransformDirection.INVERSE)
        if not (abs(bx - x) <= 1e-3 + 1e-9 * abs(x) and abs(by - y) <= 1e-3 + 1e-9 * abs(y)):
            raise InvalidInput(
                field, f"{x:g} {y:g} is outside the domain of {src.label} (no unique position)"
            )
    if tr.ballpark or tr.accuracy_m is None:
        why = (
            "only a ballpark transformation (no datum shift, accuracy unknown)"
            if tr.ballpark
            else f"a transformation of unknown accuracy ({tr.description})"
        )
        if not allow_ballpark:
            raise InvalidInput(
                crs_field,
                f"PROJ knows {why} from {src.label}, datum {_datum_name(src)}, to WGS 84 at "
                f"{lat:.4f}, {lon:.4f}: the position could be hundreds of metres off. Send it in "
                "WGS 84 or in a datum with a known transformation here, or set allow_ballpark "
                f"to accept it with {BALLPARK_UNCERTAINTY_M:.0f} m added to its uncertainty",
            )
        added = BALLPARK_UNCERTAINTY_M + (tr.accuracy_m or 0.0)
        warning = (
            f"{why[0].upper()}{why[1:]} from datum {_datum_name(src)} to WGS 84: "
            f"{added:.0f} m added to the uncertainty"
        )
        return Converted(lon + 0.0, lat + 0.0, tr, added, warning)
    return Converted(lon + 0.0, lat + 0.0, tr, tr.accuracy_m, None)


def _datum_name(src: _Source) -> str:
    datum = src.crs.datum
    return str(datum.name) if datum is not None else src.label


def to_wgs84(
    x: object,
    y: object,
    crs: object,
    *,
    allow_ballpark: bool = False,
    field: str = "location",
) -> Converted:
    """Convert ``(x, y)`` in ``crs`` (``"EPSG:n"``, geographic or projected) to WGS 84.

    ``x``/``y`` are easting/northing, or longitude/latitude for a geographic CRS (``always_xy``).
    Problems with the coordinates name ``field``; problems with the CRS or its datum shift name
    ``field.crs``.
    """
    crs_field = f"{field}.crs"
    xf = _number(x, f"{field}.x")
    yf = _number(y, f"{field}.y")
    src = _resolve(crs, crs_field)
    if src.key == WGS84:
        return _convert_wgs84(xf, yf, field)
    return _convert(src, xf, yf, allow_ballpark=allow_ballpark, field=field, crs_field=crs_field)


def _convert_wgs84(lon: float, lat: float, field: str) -> Converted:
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(field, f"longitude {lon:g} is outside -180 to 180 degrees")
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(field, f"latitude {lat:g} is outside -90 to 90 degrees")
    return Converted(lon + 0.0, lat + 0.0, NO_TRANSFORMATION, 0.0, None)


@lru_cache(maxsize=256)
def _wgs84_grid_transformation(zone: int, north: bool) -> Transformation:
    epsg = (32661 if north else 32761) if zone == 0 else (32600 if north else 32700) + zone
    t = Transformer.from_crs(f"EPSG:{epsg}", WGS84, always_xy=True)
    return _transformation(t)


def grid_to_wgs84(
    ref: GridRef,
    datum: str = WGS84,
    *,
    allow_ballpark: bool = False,
    field: str = "location",
) -> Converted:
    """Convert a UTM/UPS coordinate on the datum of geographic CRS ``datum`` to WGS 84."""
    crs_field = f"{field}.crs"
    key = WGS84 if datum == WGS84 else text_crs(datum, crs_field)
    if key == WGS84:
        lon, lat = grid_inverse(ref)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InvalidInput(field, "the UTM/UPS coordinate has no position")
        return Converted(
            lon + 0.0, lat + 0.0, _wgs84_grid_transformation(ref.zone, ref.north), 0.0, None
        )
    src = _grid_source(key, ref.zone, ref.north)
    return _convert(
        src,
        ref.easting,
        ref.northing,
        allow_ballpark=allow_ballpark,
        field=field,
        crs_field=crs_field,
    )
