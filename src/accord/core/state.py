"""The whole in-memory state of the core, and its snapshots.

:class:`State` is mutable on purpose: with 10^6 presences and tens of thousands of position updates
a second, :func:`accord.core.decide.evolve` updates it IN PLACE (and returns it) instead of copying.
The rule that keeps this safe: only ``evolve`` (through the ``apply_*`` helpers here) changes a
State; ``decide``, ``tick``, ``verdict`` and every view only read it. Tests check that ``decide``
leaves the state's :func:`fingerprint` unchanged and that replaying the events into
``State.empty()`` gives an equal fingerprint.

Besides the facts carried by events, a State holds derived structures rebuilt from those facts:
spatial indexes of sites, units and open clearances, buckets of units by the time their track goes
stale, the AOR -> clearances map, the presence -> clearances map (presences named in reasons), the
fastest unit speed, and a heap of clearances to re-check. They are not part of the fingerprint.

Presences live in per-party namespaces: the key of a presence is ``"<owner>:<id>"`` (``:`` is not
allowed in ids), so one party's ids never collide with, nor reveal, another's.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import rfc8785

from accord.core.model import (
    DISCREPANCY_TOLERANCE_M,
    TRACK_MAX_AGE_S,
    TRACK_MAX_UNCERTAINTY_M,
    UNIT_HORIZON_M,
    Disclosure,
    ProbePolicy,
    Reason,
    shape_from_json,
    shape_to_json,
)
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
    "compute_zones",
    "fingerprint",
    "from_snapshot",
    "presence_key",
    "to_snapshot",
]

STALE_BUCKET_S = 60.0
#: The open-clearance index knows, from one lookup, that a unit is further than this from every
#: open clearance (its halo): enough for a unit's reach, UNIT_HORIZON_M + its uncertainty, when
#: that uncertainty is under 500 m (any other query takes the index's ordinary path).
OPEN_CLEARANCE_HALO_M = UNIT_HORIZON_M + 500.0
SNAPSHOT_FORMAT = 1


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


@dataclass(slots=True)
class PresenceRec:
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
    input: Any  # the location exactly as sent (None for an area)
    transformation: Any  # {"description","accuracy_m","ballpark"} or None
    datum_warning: str | None
    version: int
    log_index: int | None

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

    @staticmethod
    def from_json(o: dict[str, Any]) -> PresenceRec:
        area = o["area"]
        return PresenceRec(
            key=o["key"],
            owner=o["owner"],
            id=o["id"],
            kind=o["kind"],
            label=o["label"],
            lon=math.nan if o["lon"] is None else float(o["lon"]),
            lat=math.nan if o["lat"] is None else float(o["lat"]),
            area=None if area is None else _as_area(shape_from_json(area)),
            area_json=o["area_json"],
            uncertainty_m=float(o["uncertainty_m"]),
            added_m=float(o["added_m"]),
            fix=float(o["fix"]),
            valid_from=_opt_float(o["valid_from"]),
            valid_until=_opt_float(o["valid_until"]),
            max_speed_mps=_opt_float(o["max_speed_mps"]),
            disclosure=Disclosure.from_json(o["disclosure"]),
            input=o["input"],
            transformation=o["transformation"],
            datum_warning=o["datum_warning"],
            version=int(o["version"]),
            log_index=o["log_index"],
        )


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
        self.sites: SpatialIndex[str] = SpatialIndex()
        self.units: SpatialIndex[str] = SpatialIndex()
        self.open_clearances: SpatialIndex[str] = SpatialIndex(halo_m=OPEN_CLEARANCE_HALO_M)
        self.stale_buckets: dict[int, set[str]] = {}
        self.unit_bucket: dict[str, int] = {}
        self.speed_counts: dict[float, int] = {}
        self.aor_clearances: dict[str, set[str]] = {}
        self.presence_clearances: dict[str, set[str]] = {}
        self.recheck: list[tuple[float, str, int]] = []
        self.future_clearances: dict[str, float] = {}  # open, window not yet started: id -> start
        self.pending: set[tuple[str, ...]] = set()

    @staticmethod
    def empty() -> State:
        return State()

    # -- derived-structure maintenance (called by evolve only) -------------------------------------

    def max_speed(self) -> float:
        return max(self.speed_counts) if self.speed_counts else 0.0

    def index_presence(self, p: PresenceRec) -> None:
        if p.is_unit:
            # units sit in their index with their last uncertainty only (a move then stays in
            # one grid cell); queries add the growth bound TRACK_MAX_UNCERTAINTY_M instead
            reach = p.unc
            if p.area is None:
                self.units.move(p.key, Disc(p.lon, p.lat, 0.0), reach)
            else:
                self.units.insert(p.key, p.area, reach)
            bucket = int(p.stale_time() // STALE_BUCKET_S)
            old = self.unit_bucket.get(p.key)
            if old != bucket:
                if old is not None:
                    members = self.stale_buckets[old]
                    members.discard(p.key)
                    if not members:
                        del self.stale_buckets[old]
                self.stale_buckets.setdefault(bucket, set()).add(p.key)
                self.unit_bucket[p.key] = bucket
        elif p.area is None:
            self.sites.insert(p.key, Disc(p.lon, p.lat, 0.0), p.unc)
        else:
            self.sites.insert(p.key, p.area, p.unc)

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
        old = self.unit_bucket.pop(p.key, None)
        if old is not None:
            members = self.stale_buckets[old]
            members.discard(p.key)
            if not members:
                del self.stale_buckets[old]

    def prune_future(self, t: float) -> None:
        """Forget future clearances whose window has started by ``t`` (a derived cache)."""
        if self.future_clearances:
            gone = [cid for cid, ws in self.future_clearances.items() if ws <= t]
            for cid in gone:
                del self.future_clearances[cid]

    def stale_units(self, t: float) -> list[str]:
        """Keys of units whose track is stale at ``t`` (a superset is filtered by the caller)."""
        limit = int(t // STALE_BUCKET_S)
        out: list[str] = []
        for b, members in self.stale_buckets.items():
            if b <= limit:
                out.extend(members)
        return out

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


def _facts(state: State) -> dict[str, Any]:
    return {
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
        "presences": [state.presences[k].to_json() for k in sorted(state.presences)],
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


def to_snapshot(state: State) -> bytes:
    """A compact JSON snapshot of the facts (derived structures are rebuilt on load)."""
    return json.dumps(_facts(state), separators=(",", ":"), allow_nan=False).encode()


def fingerprint(state: State) -> bytes:
    """Equal for two states holding the same facts (used to test replay and decide's purity):
    the RFC 8785 JSON of the facts, so 0 and 0.0 read alike, as they do in the log."""
    return bytes(rfc8785.dumps(_facts(state)))


def from_snapshot(data: bytes) -> State:
    o = json.loads(data)
    if o.get("format") != SNAPSHOT_FORMAT:
        raise InvalidInput("snapshot.format", f"unsupported snapshot format {o.get('format')!r}")
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
    for pj in o["presences"]:
        p = PresenceRec.from_json(pj)
        s.presences[p.key] = p
        s.index_presence(p)
        s.add_speed(p)
    for k, owner, d in o["tombstones"]:
        s.tombstones[k] = (owner, Disclosure.from_json(d))
    for lid, owner, name, role, features in o["layers"]:
        s.layers[lid] = LayerRec(
            lid, owner, name, role, features, parse_boundary_features(features, "features")
        )
    if s.layers:
        s.zones = compute_zones(s)
    for cj in o["clearances"]:
        c = ClearanceRec.from_json(cj)
        s.clearances[c.id] = c
        if c.is_open:
            s.open_clearances.insert(c.id, c.area, c.hazard_m)
            s.future_clearances[c.id] = c.window_start
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
