// The map: MapLibre GL JS with a style built here (no tile server, no glyphs, no sprites: text
// goes in HTML markers), an optional offline basemap style from the server, a graticule, and one
// GeoJSON source per kind of thing the console shows.

import * as maplibregl from "/static/vendor/maplibre-gl.mjs";
import { circlePolygon, graticule, metresToPixelsExpression } from "./geo.js";
import { statusInfo, KINDS } from "./words.js";

export const PALETTE = [
  { color: "#174ea6", dash: [1, 0], pattern: "solid" },
  { color: "#b3401a", dash: [4, 2], pattern: "long dashes" },
  { color: "#1e7a34", dash: [1, 1.5], pattern: "dots" },
  { color: "#7a3fb0", dash: [6, 2, 1, 2], pattern: "dash-dot" },
  { color: "#946200", dash: [2.5, 2.5], pattern: "short dashes" },
  { color: "#0b7285", dash: [8, 3], pattern: "very long dashes" },
];

export const STATUS_COLORS = {
  clear: "#146c2e",
  conflict: "#b3121b",
  unresolved: "#b86e00",
  revoked: "#7d0a4a",
  closed: "#5c6166",
};

const EMPTY = { type: "FeatureCollection", features: [] };
const SOURCES = [
  "graticule", "aor", "boundaries", "discrepancies", "presence-areas", "presence-points",
  "clr-fill", "clr-line", "alerts", "draft-fill", "draft-line", "draft-points",
  "replay-fill", "replay-line", "replay-points",
];
export const INTERACTIVE = [
  "presence-area-fill", "presence-point-icons", "clr-area-fill", "clr-area-line",
  "discrepancy-fill", "aor-fill", "alert-fill", "replay-fill", "replay-point-icons", "replay-line",
];

const LABEL_LIMIT = 300;

/** w0: the line width in pixels at zoom 0 that covers `metres` on the ground at `lat`. */
function w0(metres, lat) {
  return metres / ((40075016.686 * Math.cos((lat * Math.PI) / 180)) / 512);
}

const WIDTH_EXPR = [
  "interpolate", ["exponential", 2], ["zoom"],
  0, ["get", "w0"],
  24, ["*", ["get", "w0"], 2 ** 24],
];

function statusColorExpr() {
  return [
    "match", ["get", "status"],
    "clear", STATUS_COLORS.clear,
    "conflict", STATUS_COLORS.conflict,
    "revoked", STATUS_COLORS.revoked,
    "closed", STATUS_COLORS.closed,
    STATUS_COLORS.unresolved,
  ];
}

function hatchImage(color, size = 16, width = 2.5, cross = false) {
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  const g = canvas.getContext("2d");
  g.strokeStyle = color;
  g.lineWidth = width;
  g.beginPath();
  for (let k = -size; k <= size * 2; k += size / 2) {
    g.moveTo(k, 0);
    g.lineTo(k + size, size);
    if (cross) {
      g.moveTo(k + size, 0);
      g.lineTo(k, size);
    }
  }
  g.stroke();
  return g.getImageData(0, 0, size, size);
}

function shapeIcon(kind, size = 32) {
  // White-filled SDF-free icons with a black outline; party colour comes from a ring layer.
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  const g = canvas.getContext("2d");
  g.lineWidth = 3;
  g.strokeStyle = "#000";
  g.fillStyle = "#fff";
  g.beginPath();
  const c = size / 2;
  const r = size / 2 - 4;
  if (kind === "site") {
    g.rect(c - r * 0.8, c - r * 0.8, r * 1.6, r * 1.6);
  } else if (kind === "unit") {
    g.moveTo(c, c - r);
    g.lineTo(c + r, c + r * 0.8);
    g.lineTo(c - r, c + r * 0.8);
    g.closePath();
  } else {
    g.arc(c, c, r * 0.8, 0, Math.PI * 2);
  }
  g.fill();
  g.stroke();
  return g.getImageData(0, 0, size, size);
}

export class MapView {
  constructor(container, { onClick, onMove, basemap, token } = {}) {
    this.labels = new Map(); // key -> maplibregl.Marker
    this.last = new Map(); // source id -> the JSON text last given to it
    this.partyStyle = () => PALETTE[0];
    this.onClick = onClick;
    this.onMove = onMove;
    this.replaying = false;
    this.map = new maplibregl.Map({
      container,
      style: this.baseStyle(basemap),
      center: [0, 20],
      zoom: 1.3,
      attributionControl: false,
      keyboard: true,
      doubleClickZoom: true,
      maxPitch: 0,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      renderWorldCopies: false,
      fadeDuration: 0,
      // basemap tiles served by Accord itself get the party's token; nothing else is fetched
      transformRequest: (url) => {
        const own = url.startsWith(`${window.location.origin}/v1/`) || url.startsWith("/v1/");
        return own && token ? { url, headers: { Authorization: `Bearer ${token}` } } : { url };
      },
    });
    this.map.touchZoomRotate.disableRotation();
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
    if (basemap && basemap.attribution) {
      this.map.addControl(new maplibregl.AttributionControl({ customAttribution: basemap.attribution }));
    }
    this.ready = new Promise((resolve) => {
      this.map.on("load", () => {
        this.addLayers();
        this.refreshGraticule();
        resolve();
      });
    });
    this.map.on("moveend", () => this.refreshGraticule());
    this.map.on("mousemove", (e) => this.onMove && this.onMove(e.lngLat));
    this.map.on("move", () => this.onMove && this.onMove(null));
    this.map.on("click", (e) => this.onClick && this.onClick(e));
  }

  baseStyle(basemap) {
    const style = {
      version: 8,
      name: "accord",
      sources: {},
      layers: [{ id: "background", type: "background", paint: { "background-color": "#e9ece4" } }],
    };
    if (basemap && basemap.style) {
      // The server's offline basemap: keep its sources and non-text layers (no glyphs here).
      Object.assign(style.sources, basemap.style.sources || {});
      for (const layer of basemap.style.layers || []) {
        if (layer.type === "symbol" && layer.layout && layer.layout["text-field"]) continue;
        style.layers.push(layer);
      }
    }
    return style;
  }

  addLayers() {
    const m = this.map;
    for (const id of SOURCES) m.addSource(id, { type: "geojson", data: EMPTY });
    m.addImage("hatch-discrepancy", hatchImage("#c2185b", 16, 2.2));
    m.addImage("hatch-coarse", hatchImage("#333333", 12, 1.2, true));
    m.addImage("hatch-notclear", hatchImage("#b3121b", 14, 1.4));
    for (const kind of ["site", "unit", "other"]) m.addImage(`icon-${kind}`, shapeIcon(kind));

    const partyColor = ["coalesce", ["get", "color"], "#333"];
    m.addLayer({
      id: "graticule", type: "line", source: "graticule",
      paint: {
        "line-color": "#7c8577",
        "line-width": ["case", ["get", "major"], 1.1, 0.5],
        "line-opacity": 0.7,
      },
    });
    // areas of responsibility
    m.addLayer({ id: "aor-fill", type: "fill", source: "aor", paint: { "fill-color": partyColor, "fill-opacity": 0.06 } });
    m.addLayer({
      id: "aor-line", type: "line", source: "aor",
      paint: { "line-color": partyColor, "line-width": 2, "line-dasharray": [3, 1, 1, 1], "line-opacity": 0.8 },
    });
    // discrepancy zones: hatched
    m.addLayer({ id: "discrepancy-fill", type: "fill", source: "discrepancies", paint: { "fill-pattern": "hatch-discrepancy", "fill-opacity": 0.85 } });
    m.addLayer({ id: "discrepancy-line", type: "line", source: "discrepancies", paint: { "line-color": "#c2185b", "line-width": 1.5 } });
    // boundary layers: one line layer per palette style, so each party has its dash pattern
    m.addLayer({
      id: "boundary-casing", type: "line", source: "boundaries",
      layout: { "line-join": "round" },
      paint: { "line-color": "#ffffff", "line-width": 6, "line-opacity": 0.8 },
    });
    PALETTE.forEach((p, i) => {
      m.addLayer({
        id: `boundary-${i}`, type: "line", source: "boundaries",
        filter: ["==", ["get", "style"], i],
        layout: { "line-cap": "butt", "line-join": "round" },
        paint: { "line-color": p.color, "line-width": 3.5, "line-dasharray": p.dash },
      });
    });
    // presences
    m.addLayer({
      id: "presence-area-fill", type: "fill", source: "presence-areas",
      paint: {
        "fill-color": partyColor,
        "fill-opacity": ["case", ["==", ["get", "shape"], "uncertainty"], 0.12, 0.22],
      },
    });
    m.addLayer({
      id: "presence-coarse-hatch", type: "fill", source: "presence-areas",
      filter: ["==", ["get", "shape"], "cell"],
      paint: { "fill-pattern": "hatch-coarse", "fill-opacity": 0.5 },
    });
    m.addLayer({
      id: "presence-area-line", type: "line", source: "presence-areas",
      paint: {
        "line-color": partyColor,
        "line-width": ["case", ["==", ["get", "shape"], "cell"], 2.5, 1.5],
        "line-dasharray": [2, 1],
      },
    });
    m.addLayer({
      id: "presence-point-ring", type: "circle", source: "presence-points",
      paint: { "circle-radius": 13, "circle-color": partyColor, "circle-stroke-color": "#000", "circle-stroke-width": 1 },
    });
    m.addLayer({
      id: "presence-point-icons", type: "symbol", source: "presence-points",
      layout: {
        "icon-image": ["concat", "icon-", ["coalesce", ["get", "kind"], "other"]],
        "icon-size": 0.55, "icon-allow-overlap": true, "icon-ignore-placement": true,
      },
    });
    // clearances: hazard band and area, coloured by status; not-clear areas hatched as well
    m.addLayer({
      id: "clr-hazard-fill", type: "fill", source: "clr-fill",
      filter: ["==", ["get", "role"], "hazard"],
      paint: { "fill-color": statusColorExpr(), "fill-opacity": 0.12 },
    });
    m.addLayer({
      id: "clr-hazard-band", type: "line", source: "clr-line",
      filter: ["==", ["get", "role"], "hazard"],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": statusColorExpr(), "line-width": WIDTH_EXPR, "line-opacity": 0.12 },
    });
    m.addLayer({
      id: "clr-hazard-edge", type: "line", source: "clr-fill",
      filter: ["==", ["get", "role"], "hazard"],
      paint: { "line-color": statusColorExpr(), "line-width": 1.2, "line-dasharray": [4, 3] },
    });
    m.addLayer({
      id: "clr-area-fill", type: "fill", source: "clr-fill",
      filter: ["==", ["get", "role"], "area"],
      paint: { "fill-color": statusColorExpr(), "fill-opacity": 0.35 },
    });
    m.addLayer({
      id: "clr-area-notclear", type: "fill", source: "clr-fill",
      filter: ["all", ["==", ["get", "role"], "area"], ["!=", ["get", "status"], "clear"]],
      paint: { "fill-pattern": "hatch-notclear", "fill-opacity": 0.6 },
    });
    m.addLayer({
      id: "clr-area-outline", type: "line", source: "clr-fill",
      filter: ["==", ["get", "role"], "area"],
      paint: { "line-color": statusColorExpr(), "line-width": ["case", ["get", "selected"], 4, 2.5] },
    });
    m.addLayer({
      id: "clr-area-line", type: "line", source: "clr-line",
      filter: ["==", ["get", "role"], "area"],
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": statusColorExpr(), "line-width": WIDTH_EXPR, "line-opacity": 0.45 },
    });
    // alerts raised by this party
    m.addLayer({ id: "alert-fill", type: "fill", source: "alerts", paint: { "fill-color": "#b00010", "fill-opacity": 0.1 } });
    m.addLayer({ id: "alert-line", type: "line", source: "alerts", paint: { "line-color": "#b00010", "line-width": 2.5, "line-dasharray": [1, 1] } });
    // the shape being drawn
    m.addLayer({ id: "draft-hazard", type: "fill", source: "draft-fill", filter: ["==", ["get", "role"], "hazard"], paint: { "fill-color": "#174ea6", "fill-opacity": 0.1 } });
    m.addLayer({ id: "draft-fill", type: "fill", source: "draft-fill", filter: ["==", ["get", "role"], "area"], paint: { "fill-color": "#174ea6", "fill-opacity": 0.3 } });
    m.addLayer({ id: "draft-outline", type: "line", source: "draft-fill", paint: { "line-color": "#174ea6", "line-width": 2, "line-dasharray": [2, 1] } });
    m.addLayer({
      id: "draft-band", type: "line", source: "draft-line",
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": "#174ea6", "line-width": WIDTH_EXPR, "line-opacity": ["case", ["==", ["get", "role"], "hazard"], 0.1, 0.3] },
    });
    m.addLayer({ id: "draft-path", type: "line", source: "draft-line", filter: ["==", ["get", "role"], "path"], paint: { "line-color": "#174ea6", "line-width": 2 } });
    m.addLayer({ id: "draft-points", type: "circle", source: "draft-points", paint: { "circle-radius": 5, "circle-color": "#fff", "circle-stroke-color": "#174ea6", "circle-stroke-width": 2.5 } });
    // replay of a timeline window
    m.addLayer({ id: "replay-fill", type: "fill", source: "replay-fill", paint: { "fill-color": ["coalesce", ["get", "color"], "#555"], "fill-opacity": ["coalesce", ["get", "opacity"], 0.2] } });
    m.addLayer({ id: "replay-outline", type: "line", source: "replay-fill", paint: { "line-color": ["coalesce", ["get", "color"], "#555"], "line-width": 2 } });
    m.addLayer({
      id: "replay-line", type: "line", source: "replay-line",
      paint: { "line-color": ["coalesce", ["get", "color"], "#555"], "line-width": 3, "line-dasharray": [2, 1] },
    });
    m.addLayer({ id: "replay-point-ring", type: "circle", source: "replay-points", paint: { "circle-radius": 11, "circle-color": ["coalesce", ["get", "color"], "#555"], "circle-stroke-color": "#000", "circle-stroke-width": 1 } });
    m.addLayer({
      id: "replay-point-icons", type: "symbol", source: "replay-points",
      layout: { "icon-image": ["concat", "icon-", ["coalesce", ["get", "kind"], "other"]], "icon-size": 0.5, "icon-allow-overlap": true },
    });
    this.setReplay(null);
  }

  set(source, data) {
    // Only changed data goes to the map's workers: every setData re-tiles the source.
    const src = this.map.getSource(source);
    if (!src) return;
    const text = JSON.stringify(data || EMPTY);
    if (this.last.get(source) === text) return;
    this.last.set(source, text);
    src.setData(data || EMPTY);
  }

  refreshGraticule() {
    if (!this.map.getSource("graticule")) return;
    const b = this.map.getBounds();
    this.set("graticule", graticule([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]));
  }

  /** Show or hide a group of layers by the prefix of their ids. */
  toggle(prefixes, visible) {
    for (const layer of this.map.getStyle().layers) {
      if (prefixes.some((p) => layer.id.startsWith(p))) {
        this.map.setLayoutProperty(layer.id, "visibility", visible ? "visible" : "none");
      }
    }
  }

  // -- labels (HTML markers: the map has no glyphs) ------------------------------------------

  label(key, lngLat, text, cls = "") {
    let marker = this.labels.get(key);
    if (!marker) {
      const el = document.createElement("div");
      el.className = "map-label-anchor";
      el.append(document.createElement("span"));
      marker = new maplibregl.Marker({ element: el, anchor: "top", offset: [0, 14] });
      marker.setLngLat(lngLat).addTo(this.map);
      this.labels.set(key, marker);
    }
    const span = marker.getElement().firstElementChild;
    span.className = `map-label ${cls}`;
    span.textContent = text;
    span.dataset.key = key;
    marker.setLngLat(lngLat);
    marker.used = true;
  }

  /** Remove labels whose key starts with `prefix` and that were not refreshed since `mark`. */
  sweepLabels(prefix) {
    for (const [key, marker] of this.labels) {
      if (!key.startsWith(prefix)) continue;
      if (marker.used) {
        marker.used = false;
      } else {
        marker.remove();
        this.labels.delete(key);
      }
    }
  }

  hideLabels(prefix, hidden) {
    for (const [key, marker] of this.labels) {
      if (key.startsWith(prefix)) marker.getElement().style.display = hidden ? "none" : "";
    }
  }

  // -- data ----------------------------------------------------------------------------------

  setPresences(features, me, names) {
    const areas = [];
    const points = [];
    let n = 0;
    for (const f of features) {
      const p = f.properties || {};
      const party = p.party || p.owner || "";
      const style = this.partyStyle(party);
      const level = p.visible_as || "exact";
      const props = { ...flat(p), id: p.id ?? f.id, party, color: style.color, level, kind: p.kind || "other" };
      const g = f.geometry;
      if (!g) continue;
      if (g.type === "Point") {
        points.push({ type: "Feature", id: n, properties: props, geometry: g });
        // the owner's view states uncertainty and what the datum added apart; others see the sum
        const u = Number(p.uncertainty_m || 0) + (level === "owner" ? Number(p.added_uncertainty_m || 0) : 0);
        if (u > 0) {
          areas.push({ type: "Feature", properties: { ...props, shape: "uncertainty" }, geometry: circlePolygon(g.coordinates, u, 64) });
        }
        if (n < LABEL_LIMIT) {
          const text = party === me ? p.label || props.id : `${p.label || props.id || ""} · ${names(party)}`;
          this.label(`presence:${props.id}:${party}`, g.coordinates, text);
        }
      } else {
        const coarse = level === "coarse";
        areas.push({ type: "Feature", properties: { ...props, shape: coarse ? "cell" : "area" }, geometry: g });
        if (n < LABEL_LIMIT) {
          const text = coarse
            ? `${names(party)}: something in this cell (coarse)`
            : party === me ? p.label || props.id : `${p.label || props.id || ""} · ${names(party)}`;
          this.label(`presence:${props.id}:${party}`, anchorTop(g), text);
        }
      }
      n += 1;
    }
    this.set("presence-areas", { type: "FeatureCollection", features: areas });
    this.set("presence-points", { type: "FeatureCollection", features: points });
    this.sweepLabels("presence:");
  }

  setBoundaries(layers) {
    const features = [];
    for (const layer of layers) {
      const style = this.partyStyle(layer.party);
      const idx = PALETTE.indexOf(style);
      for (const f of (layer.features && layer.features.features) || []) {
        if (!f.geometry) continue;
        features.push({
          type: "Feature",
          properties: { layer: layer.id, name: layer.name, party: layer.party, style: idx < 0 ? 0 : idx },
          geometry: f.geometry,
        });
      }
    }
    this.set("boundaries", { type: "FeatureCollection", features });
  }

  setDiscrepancies(fc) {
    const features = ((fc && fc.features) || []).map((f) => ({
      type: "Feature",
      properties: { kind: "discrepancy", ...flat(f.properties || {}) },
      geometry: f.geometry,
    }));
    this.set("discrepancies", { type: "FeatureCollection", features });
  }

  setAors(aors, names) {
    const features = [];
    for (const a of aors) {
      if (!a.area) continue;
      const style = this.partyStyle(a.party);
      features.push({ type: "Feature", properties: { kind: "aor", party: a.party, color: style.color }, geometry: a.area });
      this.label(`aor:${a.party}`, anchorTop(a.area), `Area of responsibility: ${names(a.party)}`);
    }
    this.set("aor", { type: "FeatureCollection", features });
    this.sweepLabels("aor:");
  }

  setClearances(list, selectedId) {
    const fill = [];
    const line = [];
    for (const c of list) {
      const built = clearanceFeatures(c, c.id === selectedId);
      fill.push(...built.fill);
      line.push(...built.line);
      if (built.anchor) {
        this.label(`clr:${c.id}`, built.anchor, statusLabel(c.status, c.id), `status ${statusInfo(c.status).cls}`);
      }
    }
    this.set("clr-fill", { type: "FeatureCollection", features: fill });
    this.set("clr-line", { type: "FeatureCollection", features: line });
    this.sweepLabels("clr:");
  }

  setAlerts(alerts) {
    const features = [];
    for (const a of alerts) {
      if (!a.point) continue;
      features.push({ type: "Feature", properties: { kind: "alert", id: a.id, alert_kind: a.kind }, geometry: circlePolygon(a.point, a.radius_m || 0, 64) });
      this.label(`alert:${a.id}`, a.point, `⚠ ${KINDS[a.kind] || a.kind} (your alert)`, "alert");
    }
    this.set("alerts", { type: "FeatureCollection", features });
    this.sweepLabels("alert:");
  }

  setDraft(draft) {
    const fill = [];
    const line = [];
    const pts = (draft && draft.points) || [];
    if (draft && draft.geometry) {
      const built = clearanceFeatures({ ...draft.request, status: "draft" }, false);
      for (const f of built.fill) fill.push(f);
      for (const f of built.line) line.push(f);
    }
    if (draft && pts.length > 1 && draft.kind !== "disc") {
      const coords = draft.kind === "polygon" && draft.closed ? [...pts, pts[0]] : pts;
      line.push({ type: "Feature", properties: { role: "path", w0: 0 }, geometry: { type: "LineString", coordinates: coords } });
    }
    this.set("draft-fill", { type: "FeatureCollection", features: fill });
    this.set("draft-line", { type: "FeatureCollection", features: line });
    this.set("draft-points", {
      type: "FeatureCollection",
      features: pts.map((c) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: c } })),
    });
  }

  /** Replay mode: `fc` holds the replayed features; null leaves replay and shows live layers. */
  setReplay(fc) {
    this.replaying = Boolean(fc);
    const live = ["aor", "discrepancy", "boundary", "presence", "clr-", "alert-"];
    this.toggle(live, !this.replaying);
    this.toggle(["replay-"], this.replaying);
    for (const prefix of ["presence:", "clr:", "alert:", "aor:"]) this.hideLabels(prefix, this.replaying);
    const fill = [];
    const line = [];
    const points = [];
    for (const f of (fc && fc.features) || []) {
      const t = f.geometry && f.geometry.type;
      if (t === "Point") points.push(f);
      else if (t === "LineString" || t === "MultiLineString") line.push(f);
      else if (t) fill.push(f);
    }
    this.set("replay-fill", { type: "FeatureCollection", features: fill });
    this.set("replay-line", { type: "FeatureCollection", features: line });
    this.set("replay-points", { type: "FeatureCollection", features: points });
    for (const f of fc ? fc.features : []) {
      if (f.properties && f.properties.label) {
        this.label(`replay:${f.properties.key}`, anchorTop(f.geometry) || [0, 0], f.properties.label, f.properties.labelClass || "");
      }
    }
    this.sweepLabels("replay:");
  }

  fit(bounds) {
    if (!bounds) return;
    const [w, s, e, n] = bounds;
    if (w === e && s === n) {
      this.map.jumpTo({ center: [w, s], zoom: 12 });
      return;
    }
    this.map.fitBounds([[w, s], [e, n]], { padding: 60, maxZoom: 14, duration: 0 });
  }

  featuresAt(point) {
    const layers = INTERACTIVE.filter((id) => this.map.getLayer(id));
    const pad = 4;
    const box = [[point.x - pad, point.y - pad], [point.x + pad, point.y + pad]];
    return this.map.queryRenderedFeatures(box, { layers });
  }
}

/** A clearance's map label: icon and status word, and NOT CLEAR for anything but clear. */
export function statusLabel(status, id) {
  const s = statusInfo(status);
  const not = status === "clear" || status === "closed" ? "" : " — NOT CLEAR";
  return `${s.icon} ${s.word}${not} · ${id}`;
}

/** Flatten nested values into strings so MapLibre keeps them as feature properties. */
function flat(props) {
  const out = {};
  for (const [k, v] of Object.entries(props)) {
    out[k] = v !== null && typeof v === "object" ? JSON.stringify(v) : v;
  }
  return out;
}

function anchorTop(geometry) {
  // Label polygons at their northernmost vertex so labels do not hide what is inside.
  if (!geometry) return null;
  if (geometry.type === "Point") return geometry.coordinates;
  let best = null;
  const visit = (c) => {
    if (typeof c[0] === "number") {
      if (!best || c[1] > best[1]) best = c;
    } else c.forEach(visit);
  };
  visit(geometry.coordinates);
  return best;
}

/** Map features for a clearance (or a draft): its area and its hazard zone. */
export function clearanceFeatures(c, selected) {
  const area = c.area;
  const fill = [];
  const line = [];
  if (!area) return { fill, line, anchor: null };
  const hazard = Number(c.hazard_m || 0);
  const props = { kind: "clearance", id: c.id || "draft", status: c.status || "unresolved", selected: Boolean(selected) };
  let anchor = null;
  if (area.type === "Point") {
    const r = Number(c.radius_m || 0);
    fill.push({ type: "Feature", properties: { ...props, role: "area" }, geometry: circlePolygon(area.coordinates, Math.max(r, 1)) });
    if (hazard > 0) fill.push({ type: "Feature", properties: { ...props, role: "hazard" }, geometry: circlePolygon(area.coordinates, r + hazard) });
    anchor = anchorTop(circlePolygon(area.coordinates, r + hazard, 32));
  } else if (area.type === "LineString") {
    const lat = area.coordinates[0][1];
    const width = Number(c.width_m || 0);
    line.push({ type: "Feature", properties: { ...props, role: "area", w0: w0(width, lat) }, geometry: area });
    if (hazard > 0) line.push({ type: "Feature", properties: { ...props, role: "hazard", w0: w0(width + 2 * hazard, lat) }, geometry: area });
    anchor = anchorTop(area);
  } else if (area.type === "Polygon" || area.type === "MultiPolygon") {
    fill.push({ type: "Feature", properties: { ...props, role: "area" }, geometry: area });
    const rings = area.type === "Polygon" ? area.coordinates : area.coordinates.flat();
    const lat = rings[0][0][1];
    if (hazard > 0) {
      line.push({
        type: "Feature",
        properties: { ...props, role: "hazard", w0: w0(2 * hazard, lat) },
        geometry: { type: "MultiLineString", coordinates: rings },
      });
    }
    anchor = anchorTop(area);
  }
  return { fill, line, anchor };
}

export { metresToPixelsExpression };
