"""What each party may see (R12): derived views of events, presences, clearances, alerts.

Disclosure changes what a viewer SEES, never what a check USES (invariant 2): every function here
only reads the state. Levels, per presence and per viewing party:

- owner: everything;
- ``exact``: the geometry, ``distance_m`` and the presence id;
- ``coarse``: only the :mod:`accord.geo.cells` coarse cell (never a finer box, never a distance);
- ``conflict-only``: only "party X has something within the hazard area" (no id, no distance, no
  geometry, no cell; several such presences of one party read as one).

A bounding-box filter works on what the viewer may see: exact presences by their position, coarse
ones by their CELL, conflict-only ones never match. Raw logged events (``may_see_raw``) go only to
parties that may see every field of them; everyone else gets a derived view (or nothing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from accord.core.model import (
    Disclosure,
    Level,
    Reason,
    fmt_time,
    parse_time,
    reasons_of,
    shape_from_json,
)
from accord.core.state import ClearanceRec, PresenceRec, State, presence_key
from accord.errors import InvalidInput
from accord.geo.cells import CoarseCell, coarse_cell
from accord.geo.index import bounds
from accord.geo.shapes import Area

__all__ = [
    "Bbox",
    "alert_view",
    "clearance_view",
    "event_view",
    "may_see_raw",
    "parties_view",
    "presence_features",
    "presence_view",
    "shape_reasons",
    "timeline",
]

Bbox = tuple[float, float, float, float]
Event = Mapping[str, Any]

_PUBLIC = frozenset({"party_registered", "heartbeat", "layer_added"})
_CLEARANCE = frozenset(
    {
        "clearance_requested",
        "clearance_answered",
        "verdict_changed",
        "clearance_revoked",
        "clearance_closed",
        "clearance_acknowledged",
    }
)
_ALERT = frozenset({"check_fire", "check_fire_delivered", "alert_acknowledged"})
_RAW_OR_NOTHING = _ALERT | {"alert_raised", "alert_unacknowledged", "probe_warning"}


# -- levels ----------------------------------------------------------------------------------------


def _level_of(state: State, owner: str, pid: str, viewer: str) -> str:
    """``owner`` / exact / coarse / conflict-only, for a presence that may since have gone."""
    if owner == viewer:
        return "owner"
    key = presence_key(owner, pid)
    p = state.presences.get(key)
    if p is not None:
        return p.disclosure.level(viewer)
    t = state.tombstones.get(key)
    return t[1].level(viewer) if t is not None else "conflict-only"


def _cell_json(cell: CoarseCell) -> dict[str, Any]:
    return {"id": cell.id, "bbox": list(cell.bbox), "geometry": cell.geojson()}


def _rep_point(geometry: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """A point of a geometry: a Point's position, a polygon's first exterior vertex."""
    if not geometry:
        return None
    coords: Any = geometry.get("coordinates")
    kind = geometry.get("type")
    try:
        if kind == "Point":
            return float(coords[0]), float(coords[1])
        if kind == "Polygon":
            return float(coords[0][0][0]), float(coords[0][0][1])
        if kind == "MultiPolygon":
            return float(coords[0][0][0][0]), float(coords[0][0][0][1])
    except (TypeError, IndexError, ValueError):
        return None
    return None


def _presence_point(p: PresenceRec) -> tuple[float, float]:
    if p.area is not None:
        lon, lat = p.area.polygons[0][0][0]
        return lon, lat
    return p.lon, p.lat


# -- reasons ---------------------------------------------------------------------------------------


def shape_reasons(state: State, reasons: Iterable[Reason], viewer: str) -> list[dict[str, Any]]:
    """Reasons as ``viewer`` may see them, each shown once (so conflict-only ones read as one per
    party: what is left of them is equal)."""
    out: list[dict[str, Any]] = []
    # the shown reasons by code, party and presence: only reasons alike in those can be equal
    seen: dict[tuple[object, object, object], list[dict[str, Any]]] = {}
    for r in reasons:
        if r.presence is not None and r.party is not None:
            lvl = _level_of(state, r.party, r.presence, viewer)
            if lvl in ("owner", "exact"):
                shaped = r.to_json()
            elif lvl == "coarse":
                shaped = {"code": r.code, "party": r.party}
                pt = _rep_point(r.geometry)
                if pt is not None:
                    shaped["cell"] = _cell_json(coarse_cell(*pt))
            else:
                shaped = {"code": r.code, "party": r.party}
        else:
            shaped = r.to_json()
        tag = (shaped["code"], shaped.get("party"), shaped.get("presence"))
        alike = seen.get(tag)
        if alike is None:
            seen[tag] = [shaped]
        elif shaped in alike:
            continue
        else:
            alike.append(shaped)
        out.append(shaped)
    return out


def _all_reasons_visible(state: State, reasons: Sequence[Reason], viewer: str) -> bool:
    return all(
        r.presence is None
        or r.party is None
        or _level_of(state, r.party, r.presence, viewer) in ("owner", "exact")
        for r in reasons
    )


# -- presences -------------------------------------------------------------------------------------


def _owner_presence(p: PresenceRec) -> dict[str, Any]:
    out = _exact_presence(p)
    out["label"] = p.label
    out["disclosure"] = p.disclosure.to_json()
    out["version"] = p.version
    out["log_index"] = p.log_index
    out["uncertainty_m"] = p.uncertainty_m
    out["added_uncertainty_m"] = p.added_m
    out["visible_as"] = "owner"
    return out


def _exact_presence(p: PresenceRec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "party": p.owner,
        "kind": p.kind,
        "label": p.label,
        "location": None
        if p.area is not None
        else {"type": "Point", "coordinates": [p.lon, p.lat]},
        "area": p.area_json,
        "uncertainty_m": p.unc,
        "time": fmt_time(p.fix),
        "valid_from": None if p.valid_from is None else fmt_time(p.valid_from),
        "valid_until": None if p.valid_until is None else fmt_time(p.valid_until),
        "max_speed_mps": p.max_speed_mps,
        "visible_as": "exact",
    }
    if p.area is None:
        # SPEC "Locations": every stored position keeps what was sent, the WGS84 point, and the
        # transformation used; a viewer who may see the position exactly may see these too.
        out["input"] = p.input
        out["wgs84"] = out["location"]
        out["transformation"] = p.transformation
        out["datum_warning"] = p.datum_warning
    return out


def _coarse_presence(p: PresenceRec) -> dict[str, Any]:
    return {
        "id": p.id,
        "party": p.owner,
        "kind": p.kind,
        "cell": _cell_json(coarse_cell(*_presence_point(p))),
        "valid_from": None if p.valid_from is None else fmt_time(p.valid_from),
        "valid_until": None if p.valid_until is None else fmt_time(p.valid_until),
        "visible_as": "coarse",
    }


def _view_presence(p: PresenceRec, viewer: str) -> dict[str, Any] | None:
    if p.owner == viewer:
        return _owner_presence(p)
    lvl = p.disclosure.level(viewer)
    if lvl == "exact":
        return _exact_presence(p)
    if lvl == "coarse":
        return _coarse_presence(p)
    return None


def presence_view(state: State, presence_id: str, viewer: str) -> dict[str, Any] | None:
    """GET /v1/presences/{id}: the viewer's own presence of that id, else the first (by party id)
    other party's presence of that id the viewer may see; None (404) otherwise, whether or not a
    hidden one exists."""
    own = state.presences.get(presence_key(viewer, presence_id))
    if own is not None:
        return _owner_presence(own)
    for pid in sorted(state.parties):
        p = state.presences.get(presence_key(pid, presence_id))
        if p is not None:
            v = _view_presence(p, viewer)
            if v is not None:
                return v
    return None


def _bbox_hit(b: Bbox, w: float, s: float, e: float, n: float) -> bool:
    """Whether the box (w, s, e, n) meets ``b`` (whose west may exceed its east: antimeridian)."""
    bw, bs, be, bn = b
    if n < bs or s > bn:
        return False
    if bw <= be:
        return not (e < bw or w > be)
    return not (e < bw and w > be)


def _point_in(b: Bbox, lon: float, lat: float) -> bool:
    return _bbox_hit(b, lon, lat, lon, lat)


def _area_box(area: Area) -> tuple[float, float, float, float]:
    bs = bounds(area)
    return (
        min(x[0] for x in bs),
        min(x[1] for x in bs),
        max(x[2] for x in bs),
        max(x[3] for x in bs),
    )


def _check_bbox(bbox: Sequence[float]) -> Bbox:
    if len(bbox) != 4 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in bbox):
        raise InvalidInput("bbox", "must be four finite numbers: minlon,minlat,maxlon,maxlat")
    w, s, e, n = (float(v) for v in bbox)
    if not (-180.0 <= w <= 180.0 and -180.0 <= e <= 180.0):
        raise InvalidInput("bbox", "longitudes must lie in [-180, 180]")
    if not (-90.0 <= s <= n <= 90.0):
        raise InvalidInput("bbox", "latitudes must lie in [-90, 90] with minlat <= maxlat")
    return (w, s, e, n)


def _ring(w: float, s: float, e: float, n: float) -> tuple[tuple[float, float], ...]:
    steps = max(1, math.ceil(e - w))
    south = [(w + (e - w) * i / steps, s) for i in range(steps)]
    north = [(e - (e - w) * i / steps, n) for i in range(steps)]
    return (*south, (e, s), *north, (w, n), (w, s))


def _candidates(state: State, b: Bbox) -> Iterable[str]:
    """Keys of presences whose position or cell may meet ``b`` (through the indexes)."""
    w, s, e, n = b
    # grow to whole coarse cells: a coarse presence matches by its cell, not its position
    s2 = coarse_cell(0.0, s).bbox[1]
    n2 = coarse_cell(0.0, n).bbox[3]
    lat = s2
    widest = 0.0
    while lat < n2 and widest < 360.0:
        c = coarse_cell(0.0, min(lat + 1e-9, 90.0))
        widest = max(widest, c.bbox[2] - c.bbox[0])
        lat = c.bbox[3]
    boxes = [(w, e)] if w <= e else [(w, 180.0), (-180.0, e)]
    if widest >= 360.0 or e - w + 2 * widest >= 360.0 or s2 <= -89.0 or n2 >= 89.0:
        return list(state.presences)
    out: set[str] = set()
    for bw, be in boxes:
        gw = max(-180.0, bw - widest)
        ge = min(180.0, be + widest)
        area = Area(((_ring(gw, s2, ge, n2),),))
        out |= state.sites.query(area, 0.0)
        out |= state.units.query(area, 0.0)
    return out


def presence_features(state: State, viewer: str, bbox: Sequence[float] | None) -> dict[str, Any]:
    """GET /v1/presences?bbox=...: a GeoJSON FeatureCollection of what ``viewer`` may see."""
    b = None if bbox is None else _check_bbox(bbox)
    keys: Iterable[str] = state.presences if b is None else _candidates(state, b)
    features: list[dict[str, Any]] = []
    for key in sorted(keys):
        p = state.presences.get(key)
        if p is None:
            continue
        view = _view_presence(p, viewer)
        if view is None:
            continue
        if view["visible_as"] == "coarse":
            cell = view["cell"]
            if b is not None and not _bbox_hit(b, *cell["bbox"]):
                continue
            geometry = cell["geometry"]
        else:
            if b is not None:
                if p.area is None:
                    if not _point_in(b, p.lon, p.lat):
                        continue
                elif not _bbox_hit(b, *_area_box(p.area)):
                    continue
            geometry = view["location"] if p.area is None else p.area_json
        features.append(
            {"type": "Feature", "id": f"{p.owner}:{p.id}", "geometry": geometry, "properties": view}
        )
    return {"type": "FeatureCollection", "features": features}


# -- clearances and alerts -------------------------------------------------------------------------


def _may_see_clearance(c: ClearanceRec, viewer: str) -> bool:
    return viewer == c.requester or viewer in c.confirm


def clearance_view(state: State, clearance_id: str, viewer: str) -> dict[str, Any] | None:
    """GET /v1/clearances/{id} for the requester and the asked parties; None (404) for others."""
    c = state.clearances.get(clearance_id)
    if c is None or not _may_see_clearance(c, viewer):
        return None
    return {
        "id": c.id,
        "requester": c.requester,
        "status": c.status,
        "basis": c.basis,
        "reasons": shape_reasons(state, c.reasons, viewer),
        "valid_until": None if c.valid_until is None else fmt_time(c.valid_until),
        "version": c.version,
        "log_index": c.log_index,
        "area": c.area_json,
        "radius_m": c.radius_m,
        "width_m": c.width_m,
        "hazard_m": c.hazard_m,
        "window": {"start": fmt_time(c.window_start), "end": fmt_time(c.window_end)},
        "purpose": c.purpose,
        "confirm": list(c.confirm),
        "answers": {
            p: {"answer": a, "note": note, "time": fmt_time(t)}
            for p, (a, note, t) in sorted(c.answers.items())
        },
        "acknowledged_version": c.acked_version,
        "awaiting_ack": None if c.revoke_pending is None else c.revoke_pending[0],
    }


def alert_view(state: State, alert_id: str, viewer: str) -> dict[str, Any] | None:
    """GET /v1/alerts/{id}: the alerting party sees everything; a notified party sees the kind and
    its own notifications, never the position; None (404) for anyone else."""
    a = state.alerts.get(alert_id)
    if a is None:
        return None
    entries = [
        {
            "party": p,
            "clearance": cid,
            "delivered_at": None if n.delivered_at is None else fmt_time(n.delivered_at),
            "acknowledged_at": None if n.acknowledged_at is None else fmt_time(n.acknowledged_at),
            "attempt": n.attempt,
        }
        for (p, cid), n in sorted(a.notified.items())
        if viewer in (a.party, p)
    ]
    if viewer != a.party and not entries:
        return None
    out: dict[str, Any] = {
        "id": a.id,
        "kind": a.kind,
        "by": a.party,
        "time": fmt_time(a.raised),
        "expires": fmt_time(a.expires),
        "notified": entries,
    }
    if viewer == a.party:
        out["location"] = a.position
        out["radius_m"] = a.radius_m
    return out


def parties_view(state: State, now: datetime) -> list[dict[str, Any]]:
    """GET /v1/parties."""
    t = now.timestamp()
    out = []
    for pid in sorted(state.parties):
        p = state.parties[pid]
        stale = p.aor is not None and (
            p.last_heartbeat is None
            or p.max_staleness_s is None
            or t >= p.last_heartbeat + p.max_staleness_s
        )
        out.append(
            {
                "id": p.id,
                "name": p.name,
                "aor": p.aor is not None,
                "last_heartbeat": None if p.last_heartbeat is None else fmt_time(p.last_heartbeat),
                "stale": stale,
            }
        )
    return out


# -- events ----------------------------------------------------------------------------------------


def _event_disclosure(e: Event) -> Disclosure:
    return Disclosure.from_json(e.get("disclosure") or {})


def _presence_event_view(e: Event, viewer: str) -> dict[str, Any] | None:
    lvl: Level = _event_disclosure(e).level(viewer)
    base = {k: e[k] for k in ("type", "time", "party") if k in e}
    if "log_index" in e:
        base["log_index"] = e["log_index"]
    pos = e.get("position")
    point: tuple[float, float] | None = None
    if pos is not None:
        c = pos["wgs84"]["coordinates"]
        point = (float(c[0]), float(c[1]))
    else:
        point = _rep_point(e.get("area"))
    if lvl == "exact":
        base.update(
            id=e["id"],
            kind=e["kind"],
            label=e.get("label", ""),
            location=None if pos is None else pos["wgs84"],
            area=e.get("area"),
            uncertainty_m=float(e["uncertainty_m"])
            + (0.0 if pos is None else float(pos["added_uncertainty_m"])),
            valid_from=e.get("valid_from"),
            valid_until=e.get("valid_until"),
            max_speed_mps=e.get("max_speed_mps"),
            version=e.get("version"),
            visible_as="exact",
        )
        return base
    if lvl == "coarse" and point is not None:
        base.update(
            id=e["id"], kind=e["kind"], cell=_cell_json(coarse_cell(*point)), visible_as="coarse"
        )
        return base
    return None


def _positions_view(state: State, e: Event, viewer: str) -> dict[str, Any] | None:
    owner = e["party"]
    items: list[dict[str, Any]] = []
    for it in e["updates"]:
        lvl = _level_of(state, owner, it[0], viewer)
        if lvl == "exact":
            items.append(
                {
                    "id": it[0],
                    "location": {"type": "Point", "coordinates": [it[1], it[2]]},
                    "uncertainty_m": float(it[3]) + float(it[4]),
                    "time": it[5],
                }
            )
        elif lvl == "coarse":
            cell = _cell_json(coarse_cell(it[1], it[2]))
            items.append({"id": it[0], "cell": cell, "time": it[5]})
    if not items:
        return None
    out: dict[str, Any] = {"type": e["type"], "time": e["time"], "party": owner, "updates": items}
    if "log_index" in e:
        out["log_index"] = e["log_index"]
    return out


def may_see_raw(state: State, event: Event, viewer: str) -> bool:
    """Whether ``viewer`` may read the raw logged event (and its salt): only if it may see every
    field of it. See docs/RULES.md R12 for the table."""
    kind = event.get("type")
    party = event.get("party")
    if kind in _PUBLIC:
        return True
    if kind == "aor_set":
        return party == viewer
    if kind == "presence_upserted":
        return party == viewer or _event_disclosure(event).level(viewer) == "exact"
    if kind == "presence_removed":
        return party == viewer or _level_of(state, str(party), event["id"], viewer) != (
            "conflict-only"
        )
    if kind == "positions_updated":
        return party == viewer or all(
            _level_of(state, str(party), it[0], viewer) == "exact" for it in event["updates"]
        )
    if kind in _CLEARANCE:
        c = state.clearances.get(event.get("clearance") or event.get("id") or "")
        if c is None or not _may_see_clearance(c, viewer):
            return False
        return _all_reasons_visible(state, reasons_of(event.get("reasons", ())), viewer)
    if kind == "alert_raised":
        return party == viewer
    if kind in _ALERT:
        a = state.alerts.get(event["alert"])
        return party == viewer or (a is not None and a.party == viewer)
    if kind in ("alert_unacknowledged", "probe_warning"):
        return party == viewer
    return False


def event_view(state: State, event: Event, viewer: str) -> dict[str, Any] | None:
    """The event as ``viewer`` may see it on /v1/events and the timeline (a derived copy), or
    None if it may see nothing of it."""
    kind = event.get("type")
    party = event.get("party")
    if kind in _PUBLIC:
        return dict(event)
    if kind == "aor_set":
        if party == viewer:
            return dict(event)
        out = {k: event[k] for k in ("type", "time", "party", "log_index") if k in event}
        out["aor"] = True
        return out
    if kind == "presence_upserted":
        if party == viewer:
            return dict(event)
        return _presence_event_view(event, viewer)
    if kind == "presence_removed":
        return dict(event) if may_see_raw(state, event, viewer) else None
    if kind == "positions_updated":
        if party == viewer:
            return dict(event)
        return _positions_view(state, event, viewer)
    if kind in _CLEARANCE:
        c = state.clearances.get(event.get("clearance") or event.get("id") or "")
        if c is None or not _may_see_clearance(c, viewer):
            return None
        out = dict(event)
        if "reasons" in event:
            out["reasons"] = shape_reasons(state, reasons_of(event["reasons"]), viewer)
        return out
    if kind in _RAW_OR_NOTHING:
        return dict(event) if may_see_raw(state, event, viewer) else None
    return None


def _view_boxes(state: State, view: Mapping[str, Any]) -> list[tuple[float, float, float, float]]:
    """The boxes a view shows (what a bbox filter may look at)."""
    out: list[tuple[float, float, float, float]] = []
    for key in ("location", "geometry"):
        g = view.get(key)
        if isinstance(g, Mapping) and g.get("type") == "Point":
            lon, lat = g["coordinates"][:2]
            out.append((float(lon), float(lat), float(lon), float(lat)))
    pos = view.get("position")
    if isinstance(pos, Mapping) and isinstance(pos.get("wgs84"), Mapping):
        lon, lat = pos["wgs84"]["coordinates"][:2]
        out.append((float(lon), float(lat), float(lon), float(lat)))
    cell = view.get("cell")
    if isinstance(cell, Mapping):
        w, s, e, n = cell["bbox"]
        out.append((w, s, e, n))
    shape = view.get("shape")
    if isinstance(shape, Mapping) and view.get("type") in ("clearance_requested", "aor_set"):
        out.extend(bounds(shape_from_json(shape)))
    area = view.get("area")
    if isinstance(area, Mapping) and not out and view.get("type") == "presence_upserted":
        pt = _rep_point(area)
        if pt is not None:
            out.append((pt[0], pt[1], pt[0], pt[1]))
    if view.get("type") in _CLEARANCE and view.get("type") != "clearance_requested":
        c = state.clearances.get(view.get("clearance", ""))
        if c is not None:
            out.extend(bounds(c.area))
    return out


def timeline(  # noqa: PLR0917 (the contract's signature)
    state: State,
    events: Iterable[Event],
    viewer: str,
    start: datetime | None,
    end: datetime | None,
    bbox: Sequence[float] | None,
) -> list[dict[str, Any]]:
    """GET /v1/timeline: the events in ``[start, end]`` that ``viewer`` may see, shaped; with a
    bbox, only those whose VISIBLE geometry meets it (events without one are left out)."""
    t0 = None if start is None else start.timestamp()
    t1 = None if end is None else end.timestamp()
    b = None if bbox is None else _check_bbox(bbox)
    out: list[dict[str, Any]] = []
    for e in events:
        t = parse_time(e["time"])
        if (t0 is not None and t < t0) or (t1 is not None and t > t1):
            continue
        view = event_view(state, e, viewer)
        if view is None:
            continue
        if b is not None:
            if view.get("type") == "positions_updated":
                view = _filter_positions(view, b, viewer)
                if view is None:
                    continue
            elif not any(_bbox_hit(b, *box) for box in _view_boxes(state, view)):
                continue
        out.append(view)
    return out


def _filter_positions(view: dict[str, Any], b: Bbox, viewer: str) -> dict[str, Any] | None:
    kept = []
    raw = view["party"] == viewer
    for it in view["updates"]:
        if raw:
            if _point_in(b, float(it[1]), float(it[2])):
                kept.append(it)
        elif "cell" in it:
            if _bbox_hit(b, *it["cell"]["bbox"]):
                kept.append(it)
        else:
            lon, lat = it["location"]["coordinates"]
            if _point_in(b, lon, lat):
                kept.append(it)
    if not kept:
        return None
    out = dict(view)
    out["updates"] = kept
    return out
