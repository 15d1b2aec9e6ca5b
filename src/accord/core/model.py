"""Domain values of the core: disclosure levels, verdict reasons, verdicts, time and shape codecs.

Times inside the core are float seconds since the Unix epoch (UTC); on the wire and in events they
are RFC 3339 strings with microseconds and a ``Z``. Shapes travel in events in a compact, exact JSON
form (:func:`shape_to_json` / :func:`shape_from_json`) so replay needs no geometry parsing.

The constants below are the documented parameters of the rules in docs/RULES.md.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, cast

from mypy_extensions import mypyc_attr

from accord.errors import InvalidInput
from accord.geo.shapes import Area, Corridor, Disc, PointGeometry, Shape
from accord.ledger.commitment import PlainList, plain_number

__all__ = [
    "ACK_TIMEOUT_S",
    "ALERT_ACTIVE_S",
    "CONFLICT_CODES",
    "DISCREPANCY_TOLERANCE_M",
    "LEVELS",
    "MAX_CLOCK_SKEW_S",
    "PROBE_BUDGET_PER_HOUR",
    "PROBE_WINDOW_S",
    "REQUEST_BUDGET_PER_HOUR",
    "STATUSES",
    "TRACK_MAX_AGE_S",
    "TRACK_MAX_UNCERTAINTY_M",
    "UNIT_HORIZON_M",
    "Disclosure",
    "Level",
    "PointGeometry",
    "ProbePolicy",
    "Reason",
    "ReasonList",
    "Verdict",
    "fmt_time",
    "freeze_json",
    "parse_time",
    "reasons_of",
    "shape_from_json",
    "shape_to_json",
    "to_epoch",
]

Level = Literal["exact", "coarse", "conflict-only"]
LEVELS: tuple[str, ...] = ("exact", "coarse", "conflict-only")
STATUSES: tuple[str, ...] = ("clear", "conflict", "unresolved", "revoked", "closed")
CONFLICT_CODES = frozenset({"conflict", "confirmed_present", "alert"})
"""Reason codes that make a verdict ``conflict`` (R9); every other code makes it ``unresolved``."""

ACK_TIMEOUT_S = 10.0
"""A check_fire or a revocation not acknowledged within this time is sent again (R13)."""
ALERT_ACTIVE_S = 3600.0
"""An under-fire / troops-in-contact alert counts for this long after it is raised (R8)."""
DISCREPANCY_TOLERANCE_M = 100.0
"""Boundary lines further apart than this form a discrepancy zone (R7)."""
TRACK_MAX_AGE_S = 3600.0
"""A unit's track is stale once its last fix is this old (R6)."""
TRACK_MAX_UNCERTAINTY_M = 5000.0
"""A unit's track is stale once its grown uncertainty reaches this (R6)."""
UNIT_HORIZON_M = 5000.0
"""Moving units further than this beyond any fresh unit's reach bound cannot reach a clear
clearance's hazard area before ``UNIT_HORIZON_M / fastest speed`` seconds (R10)."""
MAX_CLOCK_SKEW_S = 5.0
"""A position fix may be stamped at most this far in the future of the server's clock."""
PROBE_BUDGET_PER_HOUR = 6
"""Clearance requests per party per sliding hour whose verdict names another party's presence
that the requester may not see exactly (R14)."""
REQUEST_BUDGET_PER_HOUR = 120
"""Clearance requests per party per sliding hour, revealing or not (R14): a "no" answers too."""
PROBE_WINDOW_S = 3600.0


@dataclass(frozen=True, slots=True)
class ProbePolicy:
    """The probing budgets of R14 for one deployment; 0 means no limit. The shell sets it
    (``accord serve --probe-budget/--request-budget``); budgets are checked when deciding, so a
    replay under another policy rebuilds the same state."""

    probes_per_hour: int = PROBE_BUDGET_PER_HOUR
    requests_per_hour: int = REQUEST_BUDGET_PER_HOUR


# -- time ------------------------------------------------------------------------------------------


def to_epoch(t: datetime, field: str = "time") -> float:
    if t.tzinfo is None or t.utcoffset() is None:
        raise InvalidInput(field, "must carry a time zone (RFC 3339, e.g. ...Z)")
    return t.timestamp()


@functools.lru_cache(maxsize=64)
def _second_prefix(sec: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.`` of a whole second since the epoch (a command formats a few
    seconds again and again: now, its window's ends, a valid_until)."""
    t = time.gmtime(sec)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}."
    )


def fmt_time(ts: float) -> str:
    """RFC 3339 UTC with microseconds, rounded down (a valid_until never moves later)."""
    sec, us = divmod(math.floor(ts * 1_000_000 + 1e-3), 1_000_000)
    return f"{_second_prefix(sec)}{us:06d}Z"


@functools.lru_cache(maxsize=1)
def parse_time(s: str) -> float:
    """Seconds since the epoch of an RFC 3339 time. The last result is reused for the same text
    (the events of one command share their time: their records then share one float)."""
    return datetime.fromisoformat(s).timestamp()


# -- shapes ----------------------------------------------------------------------------------------


def shape_to_json(shape: Shape) -> dict[str, Any]:
    """Exact, compact JSON of a parsed shape (not GeoJSON: discs and corridors keep their size)."""
    if isinstance(shape, Disc):
        return {"type": "Disc", "lon": shape.lon, "lat": shape.lat, "radius_m": shape.radius_m}
    if isinstance(shape, Corridor):
        coords = [list(c) for c in shape.coords]
        return {"type": "Corridor", "coords": coords, "width_m": shape.width_m}
    return {
        "type": "Area",
        "polygons": [[[list(c) for c in ring] for ring in poly] for poly in shape.polygons],
    }


def shape_from_json(obj: Mapping[str, Any]) -> Shape:
    kind = obj["type"]
    if kind == "Disc":
        return Disc(float(obj["lon"]), float(obj["lat"]), float(obj["radius_m"]))
    if kind == "Corridor":
        coords = tuple((float(c[0]), float(c[1])) for c in obj["coords"])
        return Corridor(coords, float(obj["width_m"]))
    if kind == "Area":
        return Area(
            tuple(
                tuple(tuple((float(c[0]), float(c[1])) for c in ring) for ring in poly)
                for poly in obj["polygons"]
            )
        )
    raise InvalidInput("shape.type", f"unknown shape type {kind!r}")


# -- values ----------------------------------------------------------------------------------------


# The records below define their own __init__, which mypyc compiles, in place of the interpreted
# one dataclasses would write; Final keeps their fields read-only (see accord.compiled).


@dataclass(init=False, unsafe_hash=True, slots=True)
class Disclosure:
    """What other parties see of a presence: ``parties`` overrides ``default`` per party id."""

    default: Final[Level]
    parties: Final[Mapping[str, Level]]

    def __init__(
        self, default: Level = "conflict-only", parties: Mapping[str, Level] | None = None
    ) -> None:
        self.default = default
        self.parties = {} if parties is None else parties

    def level(self, viewer: str) -> Level:
        return self.parties.get(viewer, self.default)

    def to_json(self) -> dict[str, Any]:
        return {"default": self.default, "parties": dict(sorted(self.parties.items()))}

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Disclosure:
        default = obj.get("default", "conflict-only")
        parties = obj.get("parties", {})
        if default not in LEVELS:
            raise InvalidInput("disclosure.default", f"must be one of {', '.join(LEVELS)}")
        for k, v in parties.items():
            if v not in LEVELS:
                raise InvalidInput(f"disclosure.parties.{k}", f"must be one of {', '.join(LEVELS)}")
        levels = {str(k): cast(Level, v) for k, v in parties.items()}
        return Disclosure(cast(Level, default), levels)


@dataclass(init=False, unsafe_hash=True, slots=True)
class Reason:
    """Why a verdict is not clear. ``presence`` is the owner's presence id (with ``party``)."""

    code: Final[str]
    party: Final[str | None]
    presence: Final[str | None]
    distance_m: Final[float | None]
    geometry: Final[Mapping[str, Any] | None]
    layers: Final[tuple[str, ...]]
    alert: Final[str | None]
    clearance: Final[str | None]
    detail: Final[str | None]

    def __init__(
        self,
        code: str,
        *,
        party: str | None = None,
        presence: str | None = None,
        distance_m: float | None = None,
        geometry: Mapping[str, Any] | None = None,
        layers: tuple[str, ...] = (),
        alert: str | None = None,
        clearance: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.code = code
        self.party = party
        self.presence = presence
        self.distance_m = distance_m
        self.geometry = geometry
        self.layers = layers
        self.alert = alert
        self.clearance = clearance
        self.detail = detail

    def to_json(self, plain: bool = False) -> dict[str, Any]:
        """The reason's JSON; ``plain``: with each number as ``plain_number`` returns it, the form
        ``canonical_json`` takes as it is (ValueError for a number it does not promise, or a
        geometry other than a point)."""
        out: dict[str, Any] = {"code": self.code}
        if self.party is not None:
            out["party"] = self.party
        if self.presence is not None:
            out["presence"] = self.presence
        if self.distance_m is not None:
            out["distance_m"] = plain_number(self.distance_m) if plain else self.distance_m
        g = self.geometry
        if g is not None:
            if type(g) is PointGeometry:  # written here: no call into its interpreted class
                xy = [plain_number(g.lon), plain_number(g.lat)] if plain else [g.lon, g.lat]
                out["geometry"] = {"type": "Point", "coordinates": xy}
            elif plain:
                raise ValueError("only a point's geometry is made plain here")
            else:
                out["geometry"] = dict(g)
        if self.layers:
            out["layers"] = list(self.layers)
        if self.alert is not None:
            out["alert"] = self.alert
        if self.clearance is not None:
            out["clearance"] = self.clearance
        if self.detail is not None:
            out["detail"] = self.detail
        return out

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Reason:
        d = obj.get("distance_m")
        g = obj.get("geometry")
        return Reason(
            code=str(obj["code"]),
            party=obj.get("party"),
            presence=obj.get("presence"),
            distance_m=None if d is None else float(d),
            geometry=None if g is None else freeze_json(g),
            layers=tuple(obj.get("layers", ())),
            alert=obj.get("alert"),
            clearance=obj.get("clearance"),
            detail=obj.get("detail"),
        )

    def key(self) -> tuple[object, ...]:
        """What makes two reasons the same for change detection (distances and geometry of a
        still-conflicting presence may move without a new verdict version)."""
        return (self.code, self.party, self.presence, self.layers, self.alert, self.clearance)


@mypyc_attr(native_class=False)  # a list's subclass stays a Python class
class ReasonList(PlainList):
    """A verdict's reasons as an event carries them, their JSON, with the reasons themselves:
    applying the event takes those (:func:`reasons_of`) instead of reading the JSON back. They
    are what reading it back gives (``Reason.from_json(r.to_json()) == r``, a point's geometry a
    :class:`PointGeometry` of floats, any other with every number a float). The JSON is plain
    where it can be (``Reason.to_json(plain=True)``), so that committing to the event does not
    walk it again."""

    __slots__ = ("reasons",)

    def __init__(self, reasons: tuple[Reason, ...]) -> None:
        try:
            super().__init__([r.to_json(plain=True) for r in reasons], plain=True)
        except ValueError:  # a number JCS writes with an exponent, an area's geometry
            super().__init__([r.to_json() for r in reasons])
        self.reasons = reasons


def reasons_of(obj: Sequence[Mapping[str, Any]]) -> tuple[Reason, ...]:
    """The reasons of an event's ``reasons``: a :class:`ReasonList`'s own, or read from JSON."""
    if type(obj) is ReasonList:
        return obj.reasons
    return tuple(Reason.from_json(r) for r in obj)


def freeze_json(obj: Any) -> Any:
    """A copy of JSON ``obj`` with every number a float (a reason's geometry, as replayed)."""
    if type(obj) is dict and obj.get("type") == "Point" and len(obj) == 2:
        # the common geometry, a GeoJSON Point of two numbers: the loop below, unrolled
        xy = obj.get("coordinates")
        if type(xy) is list and len(xy) == 2:
            x, y = xy
            if type(x) in (int, float) and type(y) in (int, float):
                return PointGeometry(float(x), float(y))
    if isinstance(obj, Mapping):
        return {str(k): freeze_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [freeze_json(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (int, float)):
        return float(obj)
    return obj


@dataclass(init=False, unsafe_hash=True, slots=True)
class Verdict:
    """A computed verdict: ``clear``, ``conflict`` or ``unresolved`` (``revoked`` and ``closed`` are
    states of a stored clearance, see :mod:`accord.core.decide`)."""

    status: Final[str]
    reasons: Final[tuple[Reason, ...]]
    valid_until: Final[datetime | None]

    def __init__(
        self, status: str, reasons: tuple[Reason, ...], valid_until: datetime | None
    ) -> None:
        self.status = status
        self.reasons = reasons
        self.valid_until = valid_until

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": [r.to_json() for r in self.reasons],
            "valid_until": None
            if self.valid_until is None
            else fmt_time(self.valid_until.timestamp()),
        }
