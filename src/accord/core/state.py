"""The whole in-memory state of the core, and its snapshots.

:class:`State` is mutable on purpose: with 10^6 presences and tens of thousands of position updates
a second, :func:`accord.core.decide.evolve` updates it IN PLACE (and returns it) instead of copying.
The rule that keeps this safe: only ``evolve`` (through the ``apply_*`` helpers here) changes a
State; ``decide``, ``tick``, ``verdict`` and every view only read it. Tests check that ``decide``
leaves the state's :func:`fingerprint` unchanged and that replaying the events into
``State.empty()`` gives an equal fingerprint.

Besides the facts carried by events, a State holds derived structures rebuilt from those facts:
spatial indexes of sites, units and open clearances, the units whose reach has outgrown the unit
index's query (:class:`accord.core.stale.StaleBands`), the AOR -> clearances map, the presence ->
clearances map (presences named in reasons), the fastest unit speed, and a heap of clearances to
re-check. They are not part of the fingerprint. One of them changes on read: a verdict moves the
stale bands on to its time (a cache; the module explains why no answer depends on it, and why
that is safe under the service's lock).

Presences live in per-party namespaces: the key of a presence is ``"<owner>:<id>"`` (``:`` is not
allowed in ids), so one party's ids never collide with, nor reveal, another's.
"""

from __future__ import annotations

import heapq
import json
import math
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import rfc8785

from accord.core.model import (
    DISCREPANCY_TOLERANCE_M,
    TRACK_MAX_AGE_S,
    TRACK_MAX_UNCERTAINTY_M,
    UNIT_HORIZON_M,
    Disclosure,
    PointGeometry,
    ProbePolicy,
    Reason,
    shape_from_json,
    shape_to_json,
)
from accord.core.stale import StaleBands
from accord.errors import InvalidInput
from accord.geo.discrepancy import BoundaryLayer, discrepancy_zones, parse_boundary_features
from accord.geo.distance import within
from accord.geo.index import SpatialIndex
from accord.geo.shapes import Area, Disc, Shape

__all__ = [
    "AlertRec",
    "ClearanceRec",
    "LayerRec",
    "NotifiedRec",
    "PartyRec",
    "PresenceRec",
    "State",
    "compact_input",
    "compute_zones",
    "fingerprint",
    "from_snapshot",
    "presence_key",
    "share_disclosure",
    "share_transformation",
    "to_snapshot",
]

#: The open-clearance index knows, from one lookup, that a unit is further than this from every
#: open clearance (its halo): enough for a unit's reach, UNIT_HORIZON_M + its uncertainty, when
#: that uncertainty is under 500 m (any other query takes the index's ordinary path).
OPEN_CLEARANCE_HALO_M = UNIT_HORIZON_M + 500.0
SNAPSHOT_FORMAT = 3


def presence_key(owner: str, pid: str) -> str:
    return f"{owner}:{pid}"


@dataclass(slots=True)
class PartyRec:
    id: str
    name: str
    registered: float
    aor: Area | None = None
    aor_json: Any = None
    max_staleness_s: float | None = None
    last_heartbeat: float | None = None


@dataclass(init=False, slots=True)
class PresenceRec:
    """One presence. With 10^6 of them, memory counts: the makers of records (events, snapshots)
    share equal disclosures and transformations between records (:func:`share_disclosure`,
    :func:`share_transformation`), intern owner and kind strings, and do not keep a location sent
    as the GeoJSON Point of the record's own lon/lat twice (:func:`compact_input`; ``input``
    rebuilds it). It has its own compiled ``__init__`` (see :mod:`accord.compiled`)."""

    key: str
    owner: str
    id: str
    kind: str
    label: str
    lon: float  # NaN for an area presence
    lat: float
    area: Area | None
    area_json: Any
    uncertainty_m: float  # stated
    added_m: float  # from the position's datum transformation / reading precision
    fix: float  # time of the position (units: last fix; sites: the upsert)
    valid_from: float | None
    valid_until: float | None
    max_speed_mps: float | None
    disclosure: Disclosure
    sent: Any  # the location as sent, or _LONLAT (see ``input``); set with lon and lat
    transformation: Any  # {"description","accuracy_m","ballpark"} or None
    datum_warning: str | None
    version: int
    log_index: int | None

    def __init__(  # noqa: PLR0917 (positional for the snapshot's map over columns)
        self,
        key: str,
        owner: str,
        id: str,
        kind: str,
        label: str,
        lon: float,
        lat: float,
        area: Area | None,
        area_json: Any,
        uncertainty_m: float,
        added_m: float,
        fix: float,
        valid_from: float | None,
        valid_until: float | None,
        max_speed_mps: float | None,
        disclosure: Disclosure,
        sent: Any,
        transformation: Any,
        datum_warning: str | None,
        version: int,
        log_index: int | None,
    ) -> None:
        self.key = key
        self.owner = owner
        self.id = id
        self.kind = kind
        self.label = label
        self.lon = lon
        self.lat = lat
        self.area = area
        self.area_json = area_json
        self.uncertainty_m = uncertainty_m
        self.added_m = added_m
        self.fix = fix
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.max_speed_mps = max_speed_mps
        self.disclosure = disclosure
        self.sent = sent
        self.transformation = transformation
        self.datum_warning = datum_warning
        self.version = version
        self.log_index = log_index

    @property
    def input(self) -> Any:
        """The location exactly as sent (None for an area)."""
        sent = self.sent
        if sent is _LONLAT:
            return {"type": "Point", "coordinates": [self.lon, self.lat]}
        return sent

    @input.setter
    def input(self, value: Any) -> None:
        """Set after lon and lat (a move changes all three)."""
        self.sent = compact_input(value, self.lon, self.lat)

    @property
    def unc(self) -> float:
        """Total uncertainty of the last position, metres."""
        return self.uncertainty_m + self.added_m

    @property
    def is_unit(self) -> bool:
        return self.kind == "unit"

    @property
    def speed(self) -> float:
        return self.max_speed_mps or 0.0

    def shape(self) -> Shape:
        return self.area if self.area is not None else Disc(self.lon, self.lat, 0.0)

    def stale_time(self) -> float:
        """The first instant at which this unit's track is stale (R6)."""
        unc = self.unc
        if unc >= TRACK_MAX_UNCERTAINTY_M:
            return self.fix
        s = self.speed
        limit = TRACK_MAX_AGE_S
        if s > 0.0:
            limit = min(limit, (TRACK_MAX_UNCERTAINTY_M - unc) / s)
        return self.fix + limit

    def index_reach(self) -> float:
        """An upper bound of the presence's reach while its track is fresh (units), its
        uncertainty otherwise."""
        unc = self.unc
        if self.is_unit and self.speed > 0.0 and unc < TRACK_MAX_UNCERTAINTY_M:
            return TRACK_MAX_UNCERTAINTY_M
        return unc

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "owner": self.owner,
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "lon": None if math.isnan(self.lon) else self.lon,
            "lat": None if math.isnan(self.lat) else self.lat,
            "area": None if self.area is None else shape_to_json(self.area),
            "area_json": self.area_json,
            "uncertainty_m": self.uncertainty_m,
            "added_m": self.added_m,
            "fix": self.fix,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "max_speed_mps": self.max_speed_mps,
            "disclosure": self.disclosure.to_json(),
            "input": self.input,
            "transformation": self.transformation,
            "datum_warning": self.datum_warning,
            "version": self.version,
            "log_index": self.log_index,
        }


@dataclass(slots=True)
class LayerRec:
    id: str
    owner: str
    name: str
    role: str
    features: Any
    geometry: Any  # shapely


@dataclass(slots=True)
class ClearanceRec:
    id: str
    requester: str
    area: Shape
    area_json: Any
    radius_m: float | None
    width_m: float | None
    hazard_m: float
    window_start: float
    window_end: float
    purpose: str
    confirm: tuple[str, ...]
    requested: float
    answers: dict[str, tuple[str, str | None, float]] = field(default_factory=dict)
    status: str = "unresolved"  # clear | conflict | unresolved | revoked | closed
    basis: str = "unresolved"  # the computed status (clear | conflict | unresolved)
    reasons: tuple[Reason, ...] = ()
    valid_until: float | None = None
    version: int = 0
    log_index: int | None = None
    acked_version: int = 0
    # a revocation awaiting acknowledgement: (version, deadline, attempt)
    revoke_pending: tuple[int, float, int] | None = None
    probe: bool = False
    # derived
    aor_parties: set[str] = field(default_factory=set)

    @property
    def is_open(self) -> bool:
        return self.status != "closed"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "requester": self.requester,
            "area": shape_to_json(self.area),
            "area_json": self.area_json,
            "radius_m": self.radius_m,
            "width_m": self.width_m,
            "hazard_m": self.hazard_m,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "purpose": self.purpose,
            "confirm": list(self.confirm),
            "requested": self.requested,
            "answers": {k: list(v) for k, v in sorted(self.answers.items())},
            "status": self.status,
            "basis": self.basis,
            "reasons": [r.to_json() for r in self.reasons],
            "valid_until": self.valid_until,
            "version": self.version,
            "log_index": self.log_index,
            "acked_version": self.acked_version,
            "revoke_pending": None if self.revoke_pending is None else list(self.revoke_pending),
            "probe": self.probe,
        }

    @staticmethod
    def from_json(o: dict[str, Any]) -> ClearanceRec:
        rp = o["revoke_pending"]
        return ClearanceRec(
            id=o["id"],
            requester=o["requester"],
            area=shape_from_json(o["area"]),
            area_json=o["area_json"],
            radius_m=_opt_float(o["radius_m"]),
            width_m=_opt_float(o["width_m"]),
            hazard_m=float(o["hazard_m"]),
            window_start=float(o["window_start"]),
            window_end=float(o["window_end"]),
            purpose=o["purpose"],
            confirm=tuple(o["confirm"]),
            requested=float(o["requested"]),
            answers={k: (v[0], v[1], float(v[2])) for k, v in o["answers"].items()},
            status=o["status"],
            basis=o["basis"],
            reasons=tuple(Reason.from_json(r) for r in o["reasons"]),
            valid_until=_opt_float(o["valid_until"]),
            version=int(o["version"]),
            log_index=o["log_index"],
            acked_version=int(o["acked_version"]),
            revoke_pending=None if rp is None else (int(rp[0]), float(rp[1]), int(rp[2])),
            probe=bool(o["probe"]),
        )


@dataclass(slots=True)
class NotifiedRec:
    attempt: int
    deadline: float
    delivered_at: float | None = None
    acknowledged_at: float | None = None


@dataclass(slots=True)
class AlertRec:
    id: str
    party: str
    kind: str
    lon: float
    lat: float
    radius_m: float
    position: Any  # the position JSON (input, wgs84, transformation, ...)
    raised: float
    expires: float
    notified: dict[tuple[str, str], NotifiedRec] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "party": self.party,
            "kind": self.kind,
            "lon": self.lon,
            "lat": self.lat,
            "radius_m": self.radius_m,
            "position": self.position,
            "raised": self.raised,
            "expires": self.expires,
            "notified": [
                [p, c, n.attempt, n.deadline, n.delivered_at, n.acknowledged_at]
                for (p, c), n in sorted(self.notified.items())
            ],
        }

    @staticmethod
    def from_json(o: dict[str, Any]) -> AlertRec:
        return AlertRec(
            id=o["id"],
            party=o["party"],
            kind=o["kind"],
            lon=float(o["lon"]),
            lat=float(o["lat"]),
            radius_m=float(o["radius_m"]),
            position=o["position"],
            raised=float(o["raised"]),
            expires=float(o["expires"]),
            notified={
                (n[0], n[1]): NotifiedRec(
                    int(n[2]), float(n[3]), _opt_float(n[4]), _opt_float(n[5])
                )
                for n in o["notified"]
            },
        )


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


def _as_area(shape: Shape) -> Area:
    assert isinstance(shape, Area)
    return shape


# -- sharing equal values between presence records -------------------------------------------------
# Equal disclosures and transformations are shared (both are treated as immutable values; a change
# replaces the object). The tables are bounded: past _SHARED_MAX distinct values, new ones are kept
# as they are.

_SHARED_MAX = 4096
_V = TypeVar("_V")
_LONLAT: Any = object()  # PresenceRec.sent: the location was sent as the Point of (lon, lat)
_disclosures: dict[tuple[str, tuple[tuple[str, str], ...]], Disclosure] = {}
_transformations: dict[tuple[Any, ...], dict[str, Any]] = {}
_TRANSFORMATION_KEYS = ("description", "accuracy_m", "ballpark")


def share_disclosure(d: Disclosure) -> Disclosure:
    """An equal disclosure, the same object for equal ones."""
    key = (d.default, tuple(sorted(d.parties.items())) if d.parties else ())
    return _shared(_disclosures, key, d)


def share_transformation(tr: Any) -> Any:
    """An equal transformation JSON (``{"description","accuracy_m","ballpark"}``), the same object
    for equal ones (keys in the same order, values of the same types); anything else as it is."""
    if type(tr) is not dict or len(tr) != 3:
        return tr
    try:
        description = tr["description"]
        accuracy = tr["accuracy_m"]
        ballpark = tr["ballpark"]
    except KeyError:
        return tr
    scalars = (str, int, float, bool, type(None))
    if not (
        type(description) in scalars and type(accuracy) in scalars and type(ballpark) in scalars
    ):
        return tr
    key = (
        tuple(tr),
        description,
        type(description),
        accuracy,
        type(accuracy),
        math.copysign(1.0, accuracy) if type(accuracy) is float else 0.0,
        ballpark,
        type(ballpark),
    )
    return _shared(_transformations, key, tr)


def _shared(table: dict[Any, _V], key: Any, value: _V) -> _V:
    """The value kept under ``key``, or ``value`` (kept while the table is under _SHARED_MAX)."""
    got = table.get(key)
    if got is not None:
        return got
    if len(table) < _SHARED_MAX:
        table[key] = value
    return value


def _same_float(a: object, b: float) -> bool:
    # equal non-zero floats have one sign; only zeros need their signs compared
    return (
        type(a) is float and a == b and (a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b))
    )


def compact_input(sent: Any, lon: float, lat: float) -> Any:
    """``_LONLAT`` for the GeoJSON Point ``{"type": "Point", "coordinates": [lon, lat]}`` of the
    record's own coordinates (keys in that order, two floats equal to lon/lat, signs included);
    anything else as it is. PresenceRec.input undoes it."""
    if type(sent) is dict and len(sent) == 2 and sent.get("type") == "Point":
        coords = sent.get("coordinates")  # so the two keys are "type" and "coordinates"
        if (
            type(coords) is list
            and len(coords) == 2
            and next(iter(sent)) == "type"
            and _same_float(coords[0], lon)
            and _same_float(coords[1], lat)
        ):
            return _LONLAT
    return sent


DEFAULT_POLICY = ProbePolicy()


class State:
    """Everything the core knows. Build with :meth:`empty`; change only through ``evolve``."""

    def __init__(self) -> None:
        self.parties: dict[str, PartyRec] = {}
        self.presences: dict[str, PresenceRec] = {}
        self.tombstones: dict[str, tuple[str, Disclosure]] = {}
        self.layers: dict[str, LayerRec] = {}
        self.zones: list[Any] = []  # accord.geo.discrepancy.DiscrepancyZone
        self.clearances: dict[str, ClearanceRec] = {}
        self.alerts: dict[str, AlertRec] = {}
        self.probes: dict[str, list[float]] = {}  # party -> times of its probes (R14)
        self.requests: dict[str, list[float]] = {}  # party -> times of its requests (R14)
        self.policy = DEFAULT_POLICY  # the probing budgets, set by the shell (R14)
        self.seq: dict[str, int] = {"clearance": 0, "alert": 0, "layer": 0}
        self.last_index: int | None = None
        # derived
        self.sites: SpatialIndex = SpatialIndex()
        self.units: SpatialIndex = SpatialIndex()
        self.open_clearances: SpatialIndex = SpatialIndex(halo_m=OPEN_CLEARANCE_HALO_M)
        self.stale_bands = StaleBands()
        self.speed_counts: dict[float, int] = {}
        self.aor_clearances: dict[str, set[str]] = {}
        self.presence_clearances: dict[str, set[str]] = {}
        self.recheck: list[tuple[float, str, int]] = []
        self.future_clearances: dict[str, float] = {}  # open, window not yet started: id -> start
        self.future_starts: list[tuple[float, str]] = []  # a heap of those (start, id), for pruning
        self.future_latest = -math.inf  # at least the latest of those starts (an upper bound)
        self.pending: set[tuple[str, ...]] = set()

    @staticmethod
    def empty() -> State:
        return State()

    # -- derived-structure maintenance (called by evolve only) -------------------------------------

    def max_speed(self) -> float:
        return max(self.speed_counts) if self.speed_counts else 0.0

    def index_presence(self, p: PresenceRec, old_fix: float | None = None) -> None:
        """Put ``p`` into the derived structures, replacing what they held for its key.
        ``old_fix``: the fix unit ``p`` had before a move (StaleBands.moved)."""
        if p.kind == "unit":  # p.is_unit
            # units sit in their index with their last uncertainty only (a move then stays in
            # one grid cell); queries add the growth bound TRACK_MAX_UNCERTAINTY_M instead
            reach = p.uncertainty_m + p.added_m  # p.unc
            if p.area is None:
                self.units.move_disc(p.key, p.lon, p.lat, 0.0, reach)
            else:
                self.units.insert(p.key, p.area, reach)
            if old_fix is None:
                self.stale_bands.track(p)
            else:
                self.stale_bands.moved(p, old_fix)
        elif p.area is None:
            self.sites.insert(p.key, Disc(p.lon, p.lat, 0.0), p.unc)
        else:
            self.sites.insert(p.key, p.area, p.unc)

    def index_presences(self, recs: list[PresenceRec]) -> None:
        """``index_presence`` and ``add_speed`` of each of ``recs``, for a state being built (a
        restore): point presences go into their index in bulk (SpatialIndex.insert_points)."""
        sites: list[PresenceRec] = []
        units: list[PresenceRec] = []
        for p in recs:
            if p.area is not None:
                self.index_presence(p)
            elif p.kind == "unit":
                units.append(p)
            else:
                sites.append(p)
        for points, index in ((sites, self.sites), (units, self.units)):
            if points:
                index.insert_points(
                    [p.key for p in points],
                    np.array([p.lon for p in points], dtype=np.float64),
                    np.array([p.lat for p in points], dtype=np.float64),
                    np.array([p.uncertainty_m for p in points], dtype=np.float64)
                    + np.array([p.added_m for p in points], dtype=np.float64),  # p.unc
                )
        self.stale_bands.track_all(units)
        for p in recs:
            if p.kind == "unit":
                self.add_speed(p)

    def add_speed(self, p: PresenceRec) -> None:
        if p.is_unit:
            s = p.speed
            self.speed_counts[s] = self.speed_counts.get(s, 0) + 1

    def drop_speed(self, p: PresenceRec) -> None:
        if p.is_unit:
            s = p.speed
            n = self.speed_counts.get(s, 0) - 1
            if n <= 0:
                self.speed_counts.pop(s, None)
            else:
                self.speed_counts[s] = n

    def unindex_presence(self, p: PresenceRec) -> None:
        self.sites.remove(p.key)
        self.units.remove(p.key)
        self.stale_bands.untrack(p.key)

    def add_future(self, cid: str, window_start: float) -> None:
        self.future_clearances[cid] = window_start
        heapq.heappush(self.future_starts, (window_start, cid))
        self.future_latest = max(self.future_latest, window_start)

    def drop_future(self, cid: str) -> None:
        """Forget clearance ``cid`` as a future one (it was closed)."""
        if self.future_clearances.pop(cid, None) is not None and not self.future_clearances:
            self.future_latest = -math.inf

    def prune_future(self, t: float) -> None:
        """Forget future clearances whose window has started by ``t`` (a derived cache), in the
        order of their starts (entries of clearances closed meanwhile are dropped on the way)."""
        heap = self.future_starts
        while heap and heap[0][0] <= t:
            ws, cid = heapq.heappop(heap)
            if self.future_clearances.get(cid) == ws:
                del self.future_clearances[cid]
        if not self.future_clearances:
            self.future_latest = -math.inf

    def set_reason_links(self, c: ClearanceRec, old: tuple[Reason, ...]) -> None:
        for r in old:
            if r.presence is not None and r.party is not None:
                s = self.presence_clearances.get(presence_key(r.party, r.presence))
                if s is not None:
                    s.discard(c.id)
                    if not s:
                        del self.presence_clearances[presence_key(r.party, r.presence)]
        if c.status == "closed":
            return
        for r in c.reasons:
            if r.presence is not None and r.party is not None:
                self.presence_clearances.setdefault(presence_key(r.party, r.presence), set()).add(
                    c.id
                )

    def link_aor(self, c: ClearanceRec) -> None:
        """Compute which parties' AORs touch the clearance's area + hazard (R5)."""
        for pid in c.aor_parties:
            self.aor_clearances.get(pid, set()).discard(c.id)
        c.aor_parties = set()
        for pid, party in self.parties.items():
            if party.aor is not None and within(party.aor, c.area, c.hazard_m):
                c.aor_parties.add(pid)
                self.aor_clearances.setdefault(pid, set()).add(c.id)

    def relink_party_aor(self, party: PartyRec) -> None:
        for cid in self.aor_clearances.pop(party.id, set()):
            c = self.clearances.get(cid)
            if c is not None:
                c.aor_parties.discard(party.id)
        if party.aor is None:
            return
        linked: set[str] = set()
        for cid in self.open_clearances.query(party.aor, 0.0):
            c = self.clearances[cid]
            if within(party.aor, c.area, c.hazard_m):
                c.aor_parties.add(party.id)
                linked.add(cid)
        if linked:
            self.aor_clearances[party.id] = linked

    def schedule(self, c: ClearanceRec) -> None:
        at = recheck_time(self, c)
        if at is not None:
            heapq.heappush(self.recheck, (at, c.id, c.version))

    def due_recheck(self) -> tuple[float, str] | None:
        """The earliest valid re-check entry (stale heap entries are dropped)."""
        heap = self.recheck
        while heap:
            at, cid, version = heap[0]
            c = self.clearances.get(cid)
            if c is not None and c.version == version and recheck_time(self, c) == at:
                return at, cid
            heapq.heappop(heap)
        return None


def recheck_time(state: State, c: ClearanceRec) -> float | None:
    """When time alone may change this clearance's verdict (R10): a clear verdict's valid_until
    when it falls before the window's end; an alert reason's expiry."""
    if c.status == "closed":
        return None
    if c.basis == "clear":
        if c.valid_until is not None and c.valid_until < c.window_end:
            return c.valid_until
        return None
    at: float | None = None
    for r in c.reasons:
        if r.code == "alert" and r.alert is not None:
            a = state.alerts.get(r.alert)
            if a is not None and a.expires < c.window_end and (at is None or a.expires < at):
                at = a.expires
    return at


def compute_zones(state: State, extra: Iterable[LayerRec] = ()) -> list[Any]:
    """Discrepancy zones of every loaded boundary layer (R7), in a deterministic order."""
    layers = {ly.id: ly for ly in state.layers.values()}
    for ly in extra:
        layers[ly.id] = ly
    bl = [BoundaryLayer(id=lid, geometry=layers[lid].geometry) for lid in sorted(layers)]
    if len(bl) < 2:
        return []
    return list(discrepancy_zones(bl, DISCREPANCY_TOLERANCE_M))


# -- snapshots -------------------------------------------------------------------------------------
#
# A snapshot is a cache of the log: any snapshot may be dropped, and replaying the log gives an
# equal state. Format 3 (format 1 was one JSON document, format 2 kept every reason as JSON; both
# are refused):
#
#     b"accord snapshot\n" | format (u32, big-endian) | header length (u64) | header | arrays
#
# The header is JSON: {"facts": everything but the presences, as in the fingerprint, "presences":
# the presences' text and sparse columns, "arrays": [[name, dtype, count], ...]}; the arrays follow
# one after the other, raw (numpy, little-endian): the presences' numeric columns and their
# indexes into small tables (owners, kinds, disclosures, transformations). Presences are in the
# state's order; the key is ``presence_key(owner, id)``; a location sent as the GeoJSON Point of the
# presence's own lon/lat (``_LONLAT``) is the default of a point presence, None of an area.
# A clearance's reasons about a presence at a point (most of them) are columns too, in the order
# of the clearances and of their reasons; the clearance's JSON keeps ``{"n": how many reasons,
# "rest": [[position, reason], ...]}`` for the others.

_SNAPSHOT_MAGIC = b"accord snapshot\n"
_SNAPSHOT_HEAD = struct.Struct(">IQ")
_FLOAT_COLUMNS = ("lon", "lat", "uncertainty_m", "added_m", "fix")
_INDEX_COLUMNS = ("owner", "kind", "disclosure", "transformation")
_REASON_FLOATS = ("r_distance", "r_lon", "r_lat")


def _facts(state: State, *, presences: bool = True) -> dict[str, Any]:
    facts = {
        "format": SNAPSHOT_FORMAT,
        "parties": [
            [
                p.id,
                p.name,
                p.registered,
                None if p.aor is None else shape_to_json(p.aor),
                p.aor_json,
                p.max_staleness_s,
                p.last_heartbeat,
            ]
            for p in sorted(state.parties.values(), key=lambda p: p.id)
        ],
        "presences": [state.presences[k].to_json() for k in sorted(state.presences)]
        if presences
        else None,
        "tombstones": [[k, o, d.to_json()] for k, (o, d) in sorted(state.tombstones.items())],
        "layers": [
            [ly.id, ly.owner, ly.name, ly.role, ly.features]
            for ly in sorted(state.layers.values(), key=lambda ly: ly.id)
        ],
        "clearances": [state.clearances[k].to_json() for k in sorted(state.clearances)],
        "alerts": [state.alerts[k].to_json() for k in sorted(state.alerts)],
        "probes": {k: v for k, v in sorted(state.probes.items())},
        "requests": {k: v for k, v in sorted(state.requests.items())},
        "seq": dict(sorted(state.seq.items())),
        "last_index": state.last_index,
    }
    if not presences:
        del facts["presences"]
    return facts


def _table_index(table: dict[int, int], values: list[Any], obj: Any) -> int:
    """The index of ``obj`` (by identity: shared objects are written once) in ``values``."""
    i = table.get(id(obj))
    if i is None:
        i = table[id(obj)] = len(values)
        values.append(obj)
    return i


def _presence_columns(recs: list[PresenceRec]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    owners: dict[str, int] = {}
    kinds: dict[str, int] = {}
    disclosures: list[Disclosure] = []
    transformations: list[Any] = []
    d_index: dict[int, int] = {}
    t_index: dict[int, int] = {}
    sparse: dict[str, list[Any]] = {
        "area": [],
        "valid_from": [],
        "valid_until": [],
        "max_speed_mps": [],
        "datum_warning": [],
        "input": [],
        "log_index_none": [],
    }
    index_cols: dict[str, list[int]] = {name: [] for name in _INDEX_COLUMNS}
    log_index: list[int] = []
    for i, p in enumerate(recs):
        index_cols["owner"].append(owners.setdefault(p.owner, len(owners)))
        index_cols["kind"].append(kinds.setdefault(p.kind, len(kinds)))
        index_cols["disclosure"].append(_table_index(d_index, disclosures, p.disclosure))
        index_cols["transformation"].append(
            _table_index(t_index, transformations, p.transformation)
        )
        if p.area is not None or p.area_json is not None:
            shape = None if p.area is None else shape_to_json(p.area)
            sparse["area"].append([i, shape, p.area_json])
        for name, value in (
            ("valid_from", p.valid_from),
            ("valid_until", p.valid_until),
            ("max_speed_mps", p.max_speed_mps),
            ("datum_warning", p.datum_warning),
        ):
            if value is not None:
                sparse[name].append([i, value])
        if p.sent is not (_LONLAT if p.area is None else None):
            sparse["input"].append([i, p.input])
        if p.log_index is None:
            sparse["log_index_none"].append(i)
            log_index.append(0)
        else:
            log_index.append(p.log_index)
    text = {
        "n": len(recs),
        "owners": list(owners),
        "kinds": list(kinds),
        "disclosures": [d.to_json() for d in disclosures],
        "transformations": transformations,
        "id": [p.id for p in recs],
        "label": [p.label for p in recs],
        "sparse": sparse,
    }
    arrays: dict[str, np.ndarray] = {
        name: np.array([getattr(p, name) for p in recs], dtype="<f8") for name in _FLOAT_COLUMNS
    }
    for name, col in index_cols.items():
        arrays[name] = np.array(col, dtype="<u4")
    arrays["version"] = np.array([p.version for p in recs], dtype="<i8")
    arrays["log_index"] = np.array(log_index, dtype="<i8")
    return text, arrays


def _point_row(r: Reason) -> tuple[str, str, str, float, float, float] | None:
    """A reason about a presence at a point (one that the reason columns hold) as a row."""
    g = r.geometry
    if (
        type(g) is PointGeometry
        and r.party is not None
        and r.presence is not None
        and r.distance_m is not None
        and not r.layers
        and r.alert is None
        and r.clearance is None
        and r.detail is None
    ):
        return (r.code, r.party, r.presence, r.distance_m, g.lon, g.lat)
    return None


def _reason_columns(facts: dict[str, Any], state: State) -> tuple[dict[str, Any], dict[str, Any]]:
    """The clearances' point reasons as columns (their JSON in ``facts`` is rewritten)."""
    codes: dict[str, int] = {}
    parties: dict[str, int] = {}
    presence: list[str] = []
    index: dict[str, list[int]] = {"r_code": [], "r_party": []}
    floats: dict[str, list[float]] = {name: [] for name in _REASON_FLOATS}
    for cj in facts["clearances"]:
        reasons = state.clearances[cj["id"]].reasons
        rest = []
        for j, r in enumerate(reasons):
            row = _point_row(r)
            if row is None:
                rest.append([j, r.to_json()])
                continue
            code, party, pid, d, lon, lat = row
            index["r_code"].append(codes.setdefault(code, len(codes)))
            index["r_party"].append(parties.setdefault(party, len(parties)))
            presence.append(pid)
            floats["r_distance"].append(d)
            floats["r_lon"].append(lon)
            floats["r_lat"].append(lat)
        cj["reasons"] = {"n": len(reasons), "rest": rest}
    text = {"codes": list(codes), "parties": list(parties), "presence": presence}
    arrays = {name: np.array(col, dtype="<u4") for name, col in index.items()}
    arrays.update({name: np.array(col, dtype="<f8") for name, col in floats.items()})
    return text, arrays


def to_snapshot(state: State) -> bytes:
    """A compact snapshot of the facts (derived structures are rebuilt on load); see above."""
    text, arrays = _presence_columns(list(state.presences.values()))
    facts = _facts(state, presences=False)
    reason_text, reason_arrays = _reason_columns(facts, state)
    arrays.update(reason_arrays)
    header = {
        "facts": facts,
        "reasons": reason_text,
        "presences": text,
        "arrays": [[name, a.dtype.str, len(a)] for name, a in arrays.items()],
    }
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    parts = [_SNAPSHOT_MAGIC, _SNAPSHOT_HEAD.pack(SNAPSHOT_FORMAT, len(head)), head]
    parts.extend(a.tobytes() for a in arrays.values())
    return b"".join(parts)


def fingerprint(state: State) -> bytes:
    """Equal for two states holding the same facts (used to test replay and decide's purity):
    the RFC 8785 JSON of the facts, so 0 and 0.0 read alike, as they do in the log."""
    return bytes(rfc8785.dumps(_facts(state)))


def _refuse(why: str) -> InvalidInput:
    return InvalidInput("snapshot", why)


def _read_snapshot(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the arrays of a snapshot; raises InvalidInput for another format."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _refuse("a snapshot is bytes")
    view = memoryview(data)
    magic = len(_SNAPSHOT_MAGIC)
    if bytes(view[:magic]) != _SNAPSHOT_MAGIC:
        if bytes(view[:1]) == b"{":
            raise _refuse("snapshot format 1 (JSON) is no longer read; the log is replayed instead")
        raise _refuse("not an Accord snapshot")
    if len(view) < magic + _SNAPSHOT_HEAD.size:
        raise _refuse("damaged snapshot: truncated")
    fmt, head_len = _SNAPSHOT_HEAD.unpack_from(view, magic)
    if fmt != SNAPSHOT_FORMAT:
        raise _refuse(f"unsupported snapshot format {fmt} (this version reads {SNAPSHOT_FORMAT})")
    start = magic + _SNAPSHOT_HEAD.size
    header = json.loads(bytes(view[start : start + head_len]))
    offset = start + head_len
    arrays: dict[str, np.ndarray] = {}
    for name, dtype, count in header["arrays"]:
        a = np.frombuffer(view, dtype=np.dtype(dtype), count=count, offset=offset)
        offset += a.nbytes
        arrays[name] = a
    if offset != len(view):
        raise _refuse("damaged snapshot: its length does not match its header")
    return header, arrays


def from_snapshot(data: bytes) -> State:
    """The state a snapshot holds. Raises InvalidInput (field ``snapshot``) for a snapshot of
    another format, or a damaged one."""
    try:
        header, arrays = _read_snapshot(data)
        return _restore(header["facts"], header["presences"], header["reasons"], arrays)
    except InvalidInput:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AssertionError, struct.error) as exc:
        raise _refuse(f"damaged snapshot: {type(exc).__name__}: {exc}") from exc


def _restore_presences(text: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[PresenceRec]:
    n = int(text["n"])
    owners = [sys.intern(str(o)) for o in text["owners"]]
    kinds = [sys.intern(str(k)) for k in text["kinds"]]
    disclosures = [share_disclosure(Disclosure.from_json(d)) for d in text["disclosures"]]
    transformations = [share_transformation(t) for t in text["transformations"]]
    owner = [owners[i] for i in arrays["owner"].tolist()]
    ids: list[str] = text["id"]
    if len(ids) != n:
        raise _refuse("damaged snapshot: the presences' columns differ in length")
    keys = list(map(presence_key, owner, ids))
    lon = arrays["lon"].tolist()
    lat = arrays["lat"].tolist()
    sparse = text["sparse"]
    area: list[Area | None] = [None] * n
    area_json: list[Any] = [None] * n
    for i, shape, aj in sparse["area"]:
        area[i] = None if shape is None else _as_area(shape_from_json(shape))
        area_json[i] = aj
    optional: dict[str, list[Any]] = {}
    for name in ("valid_from", "valid_until", "max_speed_mps"):
        col: list[Any] = [None] * n
        for i, v in sparse[name]:
            col[i] = float(v)
        optional[name] = col
    warning: list[Any] = [None] * n
    for i, v in sparse["datum_warning"]:
        warning[i] = v
    sent: list[Any] = [_LONLAT if a is None else None for a in area]
    for i, v in sparse["input"]:
        sent[i] = compact_input(v, lon[i], lat[i])
    log_index: list[int | None] = arrays["log_index"].tolist()
    for i in sparse["log_index_none"]:
        log_index[i] = None
    added = [
        0.0 if a == 0.0 and math.copysign(1.0, a) > 0.0 else a for a in arrays["added_m"].tolist()
    ]
    columns = (
        keys,
        owner,
        ids,
        [kinds[i] for i in arrays["kind"].tolist()],
        text["label"],
        lon,
        lat,
        area,
        area_json,
        arrays["uncertainty_m"].tolist(),
        added,
        _shared_floats(arrays["fix"]),
        optional["valid_from"],
        optional["valid_until"],
        optional["max_speed_mps"],
        [disclosures[i] for i in arrays["disclosure"].tolist()],
        sent,
        [transformations[i] for i in arrays["transformation"].tolist()],
        warning,
        arrays["version"].tolist(),
        log_index,
    )
    if any(len(col) != n for col in columns):
        raise _refuse("damaged snapshot: the presences' columns differ in length")
    return list(map(PresenceRec, *columns))


def _shared_floats(a: np.ndarray) -> list[float]:
    """``a.tolist()``, with one float object per distinct value (bit for bit) when values repeat
    (the presences loaded by one command share their time)."""
    bits, inverse = np.unique(a.view(np.int64), return_inverse=True)
    if len(bits) * 2 > len(a):
        return list(a.tolist())
    values = bits.view(np.float64).tolist()
    return [values[i] for i in inverse.tolist()]


def _restore_reasons(
    clearances: list[dict[str, Any]], text: dict[str, Any], arrays: dict[str, np.ndarray]
) -> list[tuple[Reason, ...]]:
    """Each clearance's reasons, from the reason columns and its ``{"n", "rest"}``."""
    codes = [sys.intern(str(c)) for c in text["codes"]]
    parties = [sys.intern(str(p)) for p in text["parties"]]
    rows = zip(
        [codes[i] for i in arrays["r_code"].tolist()],
        [parties[i] for i in arrays["r_party"].tolist()],
        text["presence"],
        arrays["r_distance"].tolist(),
        arrays["r_lon"].tolist(),
        arrays["r_lat"].tolist(),
        strict=True,
    )
    out: list[tuple[Reason, ...]] = []
    for cj in clearances:
        spec = cj["reasons"]
        rest = {int(j): Reason.from_json(r) for j, r in spec["rest"]}
        reasons: list[Reason] = []
        for j in range(int(spec["n"])):
            r = rest.get(j)
            if r is None:
                code, party, pid, d, lon, lat = next(rows)
                r = Reason(
                    code, party=party, presence=pid, distance_m=d, geometry=PointGeometry(lon, lat)
                )
            reasons.append(r)
        out.append(tuple(reasons))
    if next(rows, None) is not None:
        raise _refuse("damaged snapshot: more reason rows than the clearances list")
    return out


def _restore(
    o: dict[str, Any],
    presence_text: dict[str, Any],
    reason_text: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> State:
    s = State()
    for pid, name, reg, aor, aor_json, stal, hb in o["parties"]:
        s.parties[pid] = PartyRec(
            pid,
            name,
            float(reg),
            None if aor is None else _as_area(shape_from_json(aor)),
            aor_json,
            _opt_float(stal),
            _opt_float(hb),
        )
    recs = _restore_presences(presence_text, arrays)
    s.presences = dict(zip([p.key for p in recs], recs, strict=True))
    if len(s.presences) != len(recs):
        raise _refuse("damaged snapshot: a presence appears twice")
    s.index_presences(recs)
    for k, owner, d in o["tombstones"]:
        s.tombstones[k] = (owner, Disclosure.from_json(d))
    for lid, owner, name, role, features in o["layers"]:
        s.layers[lid] = LayerRec(
            lid, owner, name, role, features, parse_boundary_features(features, "features")
        )
    if s.layers:
        s.zones = compute_zones(s)
    reasons = _restore_reasons(o["clearances"], reason_text, arrays)
    for cj, rs in zip(o["clearances"], reasons, strict=True):
        c = ClearanceRec.from_json({**cj, "reasons": ()})
        c.reasons = rs
        s.clearances[c.id] = c
        if c.is_open:
            s.open_clearances.insert(c.id, c.area, c.hazard_m)
            s.add_future(c.id, c.window_start)
            s.link_aor(c)
            s.set_reason_links(c, ())
        if c.revoke_pending is not None:
            s.pending.add(("c", c.id))
    for aj in o["alerts"]:
        a = AlertRec.from_json(aj)
        s.alerts[a.id] = a
        for (party, cid), n in a.notified.items():
            if n.acknowledged_at is None:
                s.pending.add(("a", a.id, party, cid))
    for c in s.clearances.values():
        s.schedule(c)
    s.probes = {k: [float(x) for x in v] for k, v in o["probes"].items()}
    s.requests = {k: [float(x) for x in v] for k, v in o["requests"].items()}
    s.seq = {k: int(v) for k, v in o["seq"].items()}
    s.last_index = o["last_index"]
    return s
