// The timeline: events of a window (GET /v1/timeline), replayed onto the map with a slider, and
// exported as JSON (the events as the server gave them) or GeoJSON (one feature per event, with
// the event's geometry where it has one, null otherwise).

import { circlePolygon } from "./geo.js";
import { statusLabel } from "./mapview.js";
import { eventText, fmtTime, statusInfo, KINDS } from "./words.js";

const GEOMETRY_FIELDS = ["wgs84", "geometry", "cell", "area", "location", "point"];
const GEOMETRY_TYPES = new Set([
  "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
]);

function isGeometry(v) {
  return v && typeof v === "object" && GEOMETRY_TYPES.has(v.type) && Array.isArray(v.coordinates);
}

/** The first GeoJSON geometry an event carries (in the usual fields), or null. */
export function eventGeometry(ev) {
  for (const k of GEOMETRY_FIELDS) {
    if (isGeometry(ev[k])) return ev[k];
  }
  for (const v of Object.values(ev)) {
    if (isGeometry(v)) return v;
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const k of GEOMETRY_FIELDS) if (isGeometry(v[k])) return v[k];
    }
  }
  return null;
}

/** GeoJSON export of events: geometry fields lifted into the feature, the rest as properties. */
export function eventsToGeoJSON(events) {
  return {
    type: "FeatureCollection",
    features: events.map((ev) => {
      const geometry = eventGeometry(ev);
      const properties = {};
      for (const [k, v] of Object.entries(ev)) {
        if (v !== geometry) properties[k] = v;
      }
      return { type: "Feature", id: ev.log_index, geometry, properties };
    }),
  };
}

/**
 * The picture after the first `upto` events (inclusive index): presences, clearances, alerts,
 * layers and areas of responsibility, as map features with labels.
 */
export function replayState(events, upto, { styleOf, names }) {
  const things = new Map();
  for (let i = 0; i <= upto && i < events.length; i++) {
    const ev = events[i];
    const by = ev.party || "";
    const color = styleOf(by).color;
    switch (ev.type) {
      case "presence_upserted": {
        const id = ev.id;
        const g = eventGeometry(ev);
        const unc = g && g.type === "Point" ? Number(ev.uncertainty_m || 0) + Number((ev.position && ev.position.added_uncertainty_m) || 0) : 0;
        if (g) things.set(`p:${by}:${id}`, { kind: ev.kind || "site", geometry: g, color, label: ev.label ? `${ev.label} · ${names(by)}` : `${names(by)}: ${ev.visible_as === "coarse" ? "something in this cell" : id}`, unc });
        else things.delete(`p:${by}:${id}`);
        break;
      }
      case "positions_updated": {
        for (const raw of ev.updates || ev.positions || []) {
          // the owner sees [id, lon, lat, uncertainty, added, time]; others a shaped object
          const u = Array.isArray(raw)
            ? { id: raw[0], location: { type: "Point", coordinates: [raw[1], raw[2]] }, uncertainty_m: Number(raw[3]) + Number(raw[4] || 0) }
            : raw;
          const key = `p:${by}:${u.id}`;
          const g = eventGeometry(u);
          const old = things.get(key);
          if (g) things.set(key, { ...(old || { kind: "unit", color, label: `${u.id} · ${names(by)}` }), geometry: g, unc: g.type === "Point" ? u.uncertainty_m : 0 });
        }
        break;
      }
      case "presence_removed":
        things.delete(`p:${by}:${ev.id}`);
        break;
      case "layer_added": {
        const fc = ev.features;
        const lines = [];
        for (const f of (fc && fc.features) || []) if (f.geometry) lines.push(f.geometry);
        lines.forEach((g, j) => things.set(`l:${ev.id}:${j}`, { geometry: g, color, label: "" }));
        break;
      }
      case "aor_set":
        if (isGeometry(ev.area)) things.set(`a:${by}`, { geometry: ev.area, color, opacity: 0.06, label: `Area of responsibility: ${names(by)}` });
        break;
      case "clearance_requested": {
        const id = ev.id;
        const g = requestGeometry(ev);
        if (g) things.set(`c:${id}`, { geometry: g, color: "#b86e00", status: ev.status || "unresolved", id, label: "" });
        break;
      }
      case "verdict_changed":
      case "clearance_revoked":
      case "clearance_closed": {
        const id = ev.clearance || ev.id;
        const t = things.get(`c:${id}`);
        const status = ev.type === "clearance_closed" ? "closed" : ev.type === "clearance_revoked" ? "revoked" : ev.status;
        if (t) things.set(`c:${id}`, { ...t, status });
        break;
      }
      case "alert_raised": {
        const g = eventGeometry(ev);
        if (g && g.type === "Point") {
          things.set(`x:${ev.id}`, { geometry: circlePolygon(g.coordinates, ev.radius_m || 500, 48), color: "#b00010", label: `⚠ ${KINDS[ev.kind] || ev.kind}` });
        }
        break;
      }
      default:
        break;
    }
  }
  const features = [];
  for (const [key, t] of things) {
    let label = t.label;
    let labelClass = "";
    let color = t.color;
    if (key.startsWith("c:")) {
      label = statusLabel(t.status, t.id);
      labelClass = `status ${statusInfo(t.status).cls}`;
      color = { clear: "#146c2e", conflict: "#b3121b", revoked: "#7d0a4a", closed: "#5c6166" }[t.status] || "#b86e00";
    }
    const opacity = t.opacity ?? (key.startsWith("c:") ? 0.35 : 0.2);
    features.push({ type: "Feature", properties: { key, color, opacity, kind: t.kind || "other", label, labelClass }, geometry: t.geometry });
    if (t.unc && t.geometry.type === "Point") {
      features.push({ type: "Feature", properties: { key: `${key}:u`, color, opacity: 0.12 }, geometry: circlePolygon(t.geometry.coordinates, t.unc, 48) });
    }
  }
  return { type: "FeatureCollection", features };
}

function requestGeometry(ev) {
  const area = isGeometry(ev.area) ? ev.area : isGeometry(ev.area_json) ? ev.area_json : null;
  if (!area) return null;
  if (area.type === "Point") return circlePolygon(area.coordinates, Number(ev.radius_m || 0) + Number(ev.hazard_m || 0) || 100, 64);
  return area;
}

/** Render the event list; `current` is the replay position (-1 for none). */
export function renderList(ol, events, current, names) {
  ol.replaceChildren();
  events.forEach((ev, i) => {
    const li = document.createElement("li");
    li.dataset.index = String(i);
    if (current >= 0) li.classList.add(i < current ? "past" : i === current ? "current" : "future");
    if (i === current) li.setAttribute("aria-current", "step");
    const idx = document.createElement("span");
    idx.className = "idx";
    idx.textContent = `#${ev.log_index}`;
    const body = document.createElement("span");
    const time = document.createElement("span");
    time.className = "card-meta";
    time.textContent = `${fmtTime(ev.time)} · `;
    body.append(time, document.createTextNode(eventText(ev, names)));
    li.append(idx, body);
    ol.append(li);
  });
}
