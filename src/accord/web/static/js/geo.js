// Geometry for drawing only. The server computes every verdict with exact geodesics; the console
// needs shapes that look right on the map: discs as 96-gon polygons built with the WGS84 radii of
// curvature at their centre (better than 0.1 % for radii up to 100 km), the graticule, bounds.

const A = 6378137.0;
const F = 1 / 298.257223563;
const E2 = F * (2 - F);
const DEG = Math.PI / 180;

/** Metres per degree of latitude and of longitude at a latitude (WGS84 radii of curvature). */
export function metresPerDegree(lat) {
  const s = Math.sin(lat * DEG);
  const w = Math.sqrt(1 - E2 * s * s);
  const meridional = (A * (1 - E2)) / (w * w * w);
  const normal = A / w;
  return { lat: meridional * DEG, lon: normal * Math.cos(lat * DEG) * DEG };
}

/** Approximate distance in metres between two [lon, lat] points (local, for short distances). */
export function distanceM(a, b) {
  const m = metresPerDegree((a[1] + b[1]) / 2);
  const dx = (b[0] - a[0]) * m.lon;
  const dy = (b[1] - a[1]) * m.lat;
  return Math.hypot(dx, dy);
}

/** A closed polygon ring approximating the disc of `radiusM` metres around [lon, lat]. */
export function circleRing(center, radiusM, sides = 96) {
  const m = metresPerDegree(center[1]);
  const ring = [];
  for (let i = 0; i <= sides; i++) {
    const t = ((i % sides) / sides) * 2 * Math.PI;
    ring.push([center[0] + (radiusM * Math.sin(t)) / m.lon, center[1] + (radiusM * Math.cos(t)) / m.lat]);
  }
  return ring;
}

export function circlePolygon(center, radiusM, sides = 96) {
  return { type: "Polygon", coordinates: [circleRing(center, radiusM, sides)] };
}

/**
 * MapLibre line width (pixels) that renders `metres` on the ground at latitude `lat`, as a
 * zoom expression: web Mercator tiles are 512 px wide at zoom 0 in MapLibre.
 */
export function metresToPixelsExpression(metresExpr, lat) {
  const circumference = 40075016.686 * Math.cos(lat * DEG);
  const at0 = ["/", metresExpr, circumference / 512];
  return ["interpolate", ["exponential", 2], ["zoom"], 0, at0, 24, ["*", at0, 2 ** 24]];
}

const STEPS = [30, 10, 5, 2, 1, 0.5, 0.25, 0.1, 1 / 20, 1 / 60, 0.01, 1 / 240, 0.001];

/** Graticule lines covering `bounds` ([w, s, e, n]) with about 4 to 12 lines across. */
export function graticule(bounds) {
  const [w, s, e, n] = bounds;
  const span = Math.max(e - w, n - s);
  const step = STEPS.find((st) => span / st >= 4) || STEPS[STEPS.length - 1];
  const features = [];
  const west = Math.max(-540, Math.floor(w / step) * step);
  const east = Math.min(540, Math.ceil(e / step) * step);
  const south = Math.max(-85, Math.floor(s / step) * step);
  const north = Math.min(85, Math.ceil(n / step) * step);
  const count = (east - west) / step + (north - south) / step;
  if (count > 400) return { type: "FeatureCollection", features, step };
  for (let x = west; x <= east + 1e-9; x += step) {
    features.push({
      type: "Feature",
      properties: { kind: "meridian", value: x, major: isMajor(x, step) },
      geometry: { type: "LineString", coordinates: [[x, south], [x, north]] },
    });
  }
  for (let y = south; y <= north + 1e-9; y += step) {
    const coords = [];
    for (let x = west; x <= east + 1e-9; x += step) coords.push([x, y]);
    if (coords.length < 2) coords.push([east, y]);
    features.push({
      type: "Feature",
      properties: { kind: "parallel", value: y, major: isMajor(y, step) },
      geometry: { type: "LineString", coordinates: coords },
    });
  }
  return { type: "FeatureCollection", features, step };
}

function isMajor(v, step) {
  const major = step * 5;
  return Math.abs(v / major - Math.round(v / major)) < 1e-6;
}

/** [w, s, e, n] of all coordinates found in GeoJSON geometries/features, or null. */
export function boundsOf(objects) {
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  const visit = (c) => {
    if (typeof c[0] === "number") {
      w = Math.min(w, c[0]);
      e = Math.max(e, c[0]);
      s = Math.min(s, c[1]);
      n = Math.max(n, c[1]);
    } else {
      for (const x of c) visit(x);
    }
  };
  const walk = (o) => {
    if (!o) return;
    if (o.type === "FeatureCollection") o.features.forEach(walk);
    else if (o.type === "Feature") walk(o.geometry);
    else if (o.type === "GeometryCollection") o.geometries.forEach(walk);
    else if (o.coordinates) visit(o.coordinates);
  };
  objects.forEach(walk);
  return Number.isFinite(w) ? [w, s, e, n] : null;
}

/** A representative [lon, lat] of a geometry (first coordinate or ring centroid-ish). */
export function anchorOf(geometry) {
  if (!geometry) return null;
  if (geometry.type === "Point") return geometry.coordinates;
  const b = boundsOf([geometry]);
  return b ? [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] : null;
}
