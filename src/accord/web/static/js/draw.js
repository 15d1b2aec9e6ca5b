// Drawing a clearance area on the map, with the mouse or the keyboard.
//   disc:     first point = centre, second point = a point on the edge (sets the radius)
//   corridor: points along the centre line; finish with a double click, F or the Finish button
//   polygon:  vertices; finish the same way (at least three)
// Keyboard: the map pans with the arrow keys; Enter adds the point under the cross-hair (the map
// centre), Backspace removes the last point, F finishes, Esc cancels.

import { distanceM } from "./geo.js";
import { formatDecimal } from "./coords.js";

export class DrawTool {
  constructor(map, { onChange, onFinish, onHint }) {
    this.map = map; // MapView
    this.onChange = onChange;
    this.onFinish = onFinish;
    this.onHint = onHint;
    this.kind = null;
    this.points = [];
    this.active = false;
    this.radius = null;
    this.lastClick = 0;
  }

  start(kind) {
    this.kind = kind;
    this.points = [];
    this.radius = null;
    this.active = true;
    this.map.map.doubleClickZoom.disable();
    this.map.map.getCanvas().style.cursor = "crosshair";
    this.hint();
    this.onChange(this);
  }

  cancel() {
    if (!this.active) return;
    this.active = false;
    this.points = [];
    this.radius = null;
    this.stopInteraction();
    this.onHint(null);
    this.onChange(this);
  }

  stopInteraction() {
    this.map.map.getCanvas().style.cursor = "";
    // re-enable double-click zoom after this click's dblclick has been handled
    setTimeout(() => this.map.map.doubleClickZoom.enable(), 400);
  }

  hint() {
    const k = this.kind;
    const n = this.points.length;
    let text;
    if (k === "disc") {
      text = n === 0
        ? "Disc: click the centre (or pan and press Enter to use the cross-hair)."
        : "Disc: click a point on the edge to set the radius, or press F to keep the radius typed in the form.";
    } else if (k === "corridor") {
      text = n < 2
        ? `Corridor: click points along its centre line (${n} so far). Enter adds the cross-hair point.`
        : `Corridor: ${n} points. Click more, or double-click / press F to finish. Backspace removes the last.`;
    } else {
      text = n < 3
        ? `Polygon: click its corners (${n} so far). Enter adds the cross-hair point.`
        : `Polygon: ${n} corners. Click more, or double-click / press F to finish. Backspace removes the last.`;
    }
    this.onHint(`${text} Esc cancels.`);
  }

  /** A map click while drawing; returns true if it was used. */
  click(lngLat, point) {
    if (!this.active) return false;
    const now = performance.now();
    const near = this.lastPoint && point && Math.hypot(point.x - this.lastPoint.x, point.y - this.lastPoint.y) < 6;
    const dbl = near && now - this.lastClick < 400;
    this.lastClick = now;
    this.lastPoint = point;
    if (dbl && this.kind !== "disc") {
      // the second click of a double click finishes (its first click already added the point)
      this.finish();
      return true;
    }
    this.add([lngLat.lng, lngLat.lat]);
    return true;
  }

  add(point) {
    if (!this.active) return;
    if (this.kind === "disc") {
      if (this.points.length === 0) {
        this.points = [point];
      } else {
        this.radius = Math.max(1, Math.round(distanceM(this.points[0], point)));
        this.finish();
        return;
      }
    } else {
      this.points.push(point);
    }
    this.hint();
    this.onChange(this);
  }

  addCentre() {
    const c = this.map.map.getCenter();
    this.add([c.lng, c.lat]);
  }

  undo() {
    if (!this.active || this.points.length === 0) return;
    this.points.pop();
    this.hint();
    this.onChange(this);
  }

  ready() {
    const n = this.points.length;
    if (this.kind === "disc") return n >= 1;
    if (this.kind === "corridor") return n >= 2;
    return n >= 3;
  }

  finish() {
    if (!this.active) return;
    if (!this.ready()) {
      this.hint();
      return;
    }
    this.active = false;
    this.stopInteraction();
    this.onHint(null);
    this.onFinish(this.result());
    this.onChange(this);
  }

  result() {
    const pts = this.points.map((p) => [round7(p[0]), round7(p[1])]);
    if (this.kind === "disc") return { kind: "disc", points: pts, area: { type: "Point", coordinates: pts[0] }, radius: this.radius };
    if (this.kind === "corridor") return { kind: "corridor", points: pts, area: { type: "LineString", coordinates: pts } };
    return { kind: "polygon", points: pts, area: { type: "Polygon", coordinates: [[...pts, pts[0]]] } };
  }
}

function round7(x) {
  return Math.round(x * 1e7) / 1e7;
}

/** Plain-words summary of a drawn area. */
export function describeShape(shape, radius, width) {
  if (!shape) return "No area drawn yet.";
  const [lon, lat] = shape.points[0];
  if (shape.kind === "disc") return `Disc centred at ${formatDecimal(lat, lon)}, radius ${radius} m.`;
  if (shape.kind === "corridor") {
    let len = 0;
    for (let i = 1; i < shape.points.length; i++) len += distanceM(shape.points[i - 1], shape.points[i]);
    return `Corridor of ${shape.points.length} points, ${Math.round(len)} m long, ${width} m wide, from ${formatDecimal(lat, lon)}.`;
  }
  return `Polygon of ${shape.points.length} corners, first at ${formatDecimal(lat, lon)}.`;
}
