// Position formatters for the console: decimal degrees, degrees-minutes-seconds, UTM/UPS and MGRS.
//
// Projection: transverse Mercator by Krüger's series in n (third order, as in Karney 2011,
// "Transverse Mercator with an accuracy of a few nanometers", eq. 35), accurate to well under a
// millimetre inside a UTM zone; polar stereographic (UPS) for latitudes beyond 84°N and 80°S.
// MGRS follows the lettering of NGA's standard (the "AA" scheme used by WGS84) and truncates, as
// the MGRS convention says, so a reference names the square that contains the point.

const A = 6378137.0; // WGS84 semi-major axis, metres
const F = 1 / 298.257223563; // WGS84 flattening
const E2 = F * (2 - F); // first eccentricity squared
const E = Math.sqrt(E2);
const N3 = F / (2 - F); // third flattening
const RECT = (A / (1 + N3)) * (1 + (N3 * N3) / 4 + (N3 ** 4) / 64); // rectifying radius
const ALPHA = [
  N3 / 2 - (2 * N3 ** 2) / 3 + (5 * N3 ** 3) / 16,
  (13 * N3 ** 2) / 48 - (3 * N3 ** 3) / 5,
  (61 * N3 ** 3) / 240,
];
const UTM_K0 = 0.9996;
const UPS_K0 = 0.994;
const DEG = Math.PI / 180;

const BANDS = "CDEFGHJKLMNPQRSTUVWX"; // 8° latitude bands from 80°S; X spans 72°N to 84°N
const UTM_COLUMNS = ["ABCDEFGH", "JKLMNPQR", "STUVWXYZ"];
const UTM_ROWS = "ABCDEFGHJKLMNPQRSTUV";
// UPS 100 km squares: [south-west, south-east, north-west, north-east] column letters, the rows of
// the south and of the north, and the first 100 km index each set starts at.
const UPS_COLUMNS = ["JKLPQRSTUXYZ", "ABCFGHJKLPQR", "RSTUXYZ", "ABCFGHJ"];
const UPS_ROWS = ["ABCDEFGHJKLMNPQRSTUVWXYZ", "ABCDEFGHJKLMNP"];
const UPS_FIRST = { south: 8, north: 13 };
const UPS_EAST = 20; // 2,000 km false easting, in 100 km units

function check(lat, lon) {
  if (!Number.isFinite(lat) || lat < -90 || lat > 90) {
    throw new RangeError(`latitude ${lat} is outside [-90, 90]`);
  }
  if (!Number.isFinite(lon)) throw new RangeError(`longitude ${lon} is not a number`);
}

/** Longitude folded into [-180, 180). */
export function wrapLon(lon) {
  const x = ((((lon + 180) % 360) + 360) % 360) - 180;
  return x;
}

/** "34.91830°N 71.09170°E"-style decimal degrees, latitude first, as people write it. */
export function formatDecimal(lat, lon, digits = 5) {
  check(lat, lon);
  const lo = wrapLon(lon);
  const ns = lat < 0 ? "S" : "N";
  const ew = lo < 0 ? "W" : "E";
  return `${Math.abs(lat).toFixed(digits)}°${ns} ${Math.abs(lo).toFixed(digits)}°${ew}`;
}

/** Signed "lat, lon" decimal degrees, the form the API's `text` location reads back. */
export function formatSigned(lat, lon, digits = 6) {
  check(lat, lon);
  return `${lat.toFixed(digits)}, ${wrapLon(lon).toFixed(digits)}`;
}

function dmsPart(value, hemis, width, secDigits) {
  const scale = 10 ** secDigits;
  // Round once, in units of the last shown second digit, so 59.99" never prints as 60".
  let units = Math.round(Math.abs(value) * 3600 * scale);
  const deg = Math.floor(units / (3600 * scale));
  units -= deg * 3600 * scale;
  const min = Math.floor(units / (60 * scale));
  units -= min * 60 * scale;
  const sec = (units / scale).toFixed(secDigits).padStart(secDigits ? 3 + secDigits : 2, "0");
  const hemi = value < 0 ? hemis[1] : hemis[0];
  return `${String(deg).padStart(width, "0")}°${String(min).padStart(2, "0")}'${sec}"${hemi}`;
}

/** Degrees, minutes, seconds with hemisphere letters: 34°55'05.88"N 071°05'30.12"E. */
export function formatDMS(lat, lon, secDigits = 2) {
  check(lat, lon);
  return `${dmsPart(lat, "NS", 2, secDigits)} ${dmsPart(wrapLon(lon), "EW", 3, secDigits)}`;
}

/** The UTM zone of a position, with the Norway and Svalbard exceptions; 0 in the UPS areas. */
export function utmZone(lat, lon) {
  check(lat, lon);
  if (lat >= 84 || lat < -80) return 0;
  const lo = wrapLon(lon);
  let zone = Math.floor((lo + 180) / 6) + 1;
  if (lat >= 56 && lat < 64 && lo >= 3 && lo < 12) zone = 32;
  if (lat >= 72) {
    if (lo >= 0 && lo < 9) zone = 31;
    else if (lo >= 9 && lo < 21) zone = 33;
    else if (lo >= 21 && lo < 33) zone = 35;
    else if (lo >= 33 && lo < 42) zone = 37;
  }
  return zone;
}

function conformalTan(phi) {
  // tan of the conformal latitude, computed as sinh(asinh(tan φ) − e·atanh(e·sin φ)).
  const s = Math.sin(phi);
  return Math.sinh(Math.asinh(Math.tan(phi)) - E * Math.atanh(E * s));
}

/** Transverse Mercator easting/northing (before false origin) about central meridian lon0. */
function transverseMercator(lat, lon, lon0) {
  const phi = lat * DEG;
  const lam = wrapLon(lon - lon0) * DEG;
  const t = Math.abs(lat) === 90 ? Math.sign(lat) * Infinity : conformalTan(phi);
  const xiP = Math.atan2(t, Math.cos(lam));
  const etaP = Math.atanh(Math.sin(lam) / Math.sqrt(1 + t * t || Infinity));
  let xi = xiP;
  let eta = etaP;
  for (let j = 1; j <= 3; j++) {
    xi += ALPHA[j - 1] * Math.sin(2 * j * xiP) * Math.cosh(2 * j * etaP);
    eta += ALPHA[j - 1] * Math.cos(2 * j * xiP) * Math.sinh(2 * j * etaP);
  }
  return { x: UTM_K0 * RECT * eta, y: UTM_K0 * RECT * xi };
}

/** UTM (or UPS where UTM does not reach): {zone, north, easting, northing}; zone 0 means UPS. */
export function toUTM(lat, lon) {
  const zone = utmZone(lat, lon);
  const north = lat >= 0;
  if (zone === 0) return { zone: 0, north, ...polarStereographic(lat, lon, north) };
  const lon0 = (zone - 1) * 6 - 180 + 3;
  const { x, y } = transverseMercator(lat, lon, lon0);
  return { zone, north, easting: 500000 + x, northing: north ? y : 10000000 + y };
}

function polarStereographic(lat, lon, north) {
  const phi = (north ? lat : -lat) * DEG;
  const lam = wrapLon(lon) * DEG;
  const s = Math.sin(phi);
  const t = Math.tan(Math.PI / 4 - phi / 2) / ((1 - E * s) / (1 + E * s)) ** (E / 2);
  const rho = (2 * A * UPS_K0 * t) / Math.sqrt((1 + E) ** (1 + E) * (1 - E) ** (1 - E));
  const easting = 2000000 + rho * Math.sin(lam);
  const northing = north ? 2000000 - rho * Math.cos(lam) : 2000000 + rho * Math.cos(lam);
  return { easting, northing };
}

/** "42S 508432 3864421" (UTM) or "N 2000000 2000000" style for UPS. */
export function formatUTM(lat, lon) {
  check(lat, lon);
  const u = toUTM(lat, lon);
  const e = Math.round(u.easting);
  const n = Math.round(u.northing);
  if (u.zone === 0) return `${u.north ? "N" : "S"} ${e} ${n}`;
  return `${String(u.zone).padStart(2, "0")}${bandLetter(lat)} ${e} ${n}`;
}

function bandLetter(lat) {
  return BANDS[Math.min(19, Math.max(0, Math.floor((lat + 80) / 8)))];
}

function digitsOf(metres, precision) {
  // Truncate to the precision: an MGRS reference names the square containing the point.
  const within = Math.floor(metres) % 100000;
  const value = Math.floor(within / 10 ** (5 - precision));
  return String(value).padStart(precision, "0");
}

/**
 * MGRS reference, "42SXD 91075 65979" at the default 1 m precision (5 digits each); precision
 * 0..5 digits. The zone has two digits ("01TBK ..."), as GeographicLib writes it. UPS areas
 * (beyond 84°N and 80°S) use the A/B/Y/Z zones.
 */
export function toMGRS(lat, lon, precision = 5) {
  check(lat, lon);
  if (!(Number.isInteger(precision) && precision >= 0 && precision <= 5)) {
    throw new RangeError("precision must be 0 to 5 digits");
  }
  const u = toUTM(lat, lon);
  const e = Math.floor(u.easting);
  const n = Math.floor(u.northing);
  const ix = Math.floor(e / 100000);
  const iy = Math.floor(n / 100000);
  let gzd;
  let square;
  if (u.zone === 0) {
    const east = ix >= UPS_EAST;
    const hemi = u.north ? "north" : "south";
    gzd = u.north ? (east ? "Z" : "Y") : east ? "B" : "A";
    const cols = UPS_COLUMNS[(u.north ? 2 : 0) + (east ? 1 : 0)];
    const col = cols[ix - (east ? UPS_EAST : UPS_FIRST[hemi])];
    const row = UPS_ROWS[u.north ? 1 : 0][iy - UPS_FIRST[hemi]];
    if (col === undefined || row === undefined) throw new RangeError("outside the UPS grid");
    square = col + row;
  } else {
    gzd = `${String(u.zone).padStart(2, "0")}${bandLetter(lat)}`;
    const col = UTM_COLUMNS[(u.zone - 1) % 3][ix - 1];
    const row = UTM_ROWS[(iy + ((u.zone - 1) % 2) * 5) % 20];
    if (col === undefined) throw new RangeError("outside the UTM grid");
    square = col + row;
  }
  if (precision === 0) return gzd + square;
  return `${gzd}${square} ${digitsOf(e, precision)} ${digitsOf(n, precision)}`;
}

/** All the forms the console shows for one position. */
export function formatAll(lat, lon) {
  return {
    decimal: formatDecimal(lat, lon),
    dms: formatDMS(lat, lon),
    mgrs: toMGRS(lat, lon),
    utm: formatUTM(lat, lon),
  };
}
