// The Accord coordination console: sign in with a party token, see the shared picture on a map,
// request clearances and answer requests, raise and acknowledge alerts, replay the timeline.
// Everything it shows comes from the HTTP API as this party may see it; nothing is computed here
// that decides safety (verdicts are the server's).

import { Api, ApiError, EventStream, download } from "./api.js";
import { formatAll, formatSigned } from "./coords.js";
import { boundsOf } from "./geo.js";
import { MapView, PALETTE } from "./mapview.js";
import { DrawTool, describeShape } from "./draw.js";
import { eventsToGeoJSON, renderList, replayState } from "./timeline.js";
import * as sound from "./sound.js";
import {
  answerInfo, eventText, fmtMetres, fmtTime, KINDS, reasonText, statusInfo,
} from "./words.js";

const TOKEN_KEY = "accord.token";
const PARTY_KEY = "accord.party";
const ALARM_REPEAT_MS = 5000;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// -- state ---------------------------------------------------------------------------------------

const S = {
  api: null,
  me: null,
  parties: new Map(),
  layers: new Map(),
  aors: new Map(),
  clearances: new Map(),
  acked: new Map(), // clearance id -> verdict version acknowledged to the server
  answering: new Set(),
  alerts: new Map(), // alerts this party raised: id -> {id, kind, point, radius_m, view}
  fires: new Map(), // check-fires to this party not yet acknowledged: key -> info
  presences: { type: "FeatureCollection", features: [] },
  discrepancies: { type: "FeatureCollection", features: [] },
  selected: null,
  shape: null,
  stream: null,
  map: null,
  draw: null,
  timeline: { events: [], pos: -1, replay: false, timer: null, live: true },
  alarmTimer: null,
  revocations: new Map(), // our revoked clearances not yet acknowledged by a person
  refreshTimers: new Map(),
};

function name(party) {
  if (!party) return "";
  if (party === S.me) return `${S.parties.get(party)?.name || party} (you)`;
  return S.parties.get(party)?.name || party;
}

function styleOf(party) {
  if (party === S.me) return PALETTE[0];
  const others = [...S.parties.keys()].filter((p) => p !== S.me).sort();
  const i = others.indexOf(party);
  return PALETTE[1 + ((i < 0 ? others.length : i) % (PALETTE.length - 1))];
}

// -- sign in -------------------------------------------------------------------------------------

async function signIn(token, chosenParty) {
  const api = new Api(token);
  const parties = await api.get("/v1/parties");
  let me = chosenParty || null;
  if (!me) {
    const who = await api.get("/v1/me", { allow404: true }).catch(() => null);
    me = who && (who.party || who.id);
  }
  if (!me) {
    const flagged = parties.find((p) => p.you === true || p.self === true || p.me === true);
    me = flagged && flagged.id;
  }
  if (!me) {
    // The API offers no "who am I": ask once, remember for this tab.
    const remembered = sessionStorage.getItem(PARTY_KEY);
    if (remembered && parties.some((p) => p.id === remembered)) me = remembered;
  }
  if (!me) return { api, parties, me: null };
  return { api, parties, me };
}

function showSignIn(message = "") {
  $("signin").hidden = false;
  $("app").hidden = true;
  $("signin-error").textContent = message;
  $("token").focus();
}

async function onSignInSubmit(e) {
  e.preventDefault();
  sound.unlock();
  const token = $("token").value.trim();
  if (!token) {
    $("signin-error").textContent = "Enter your party's token.";
    return;
  }
  const picked = $("party-pick").hidden ? null : $("party-select").value;
  $("signin-button").disabled = true;
  $("signin-error").textContent = "";
  try {
    const r = await signIn(token, picked);
    if (!r.me) {
      const sel = $("party-select");
      sel.replaceChildren(...r.parties.map((p) => el("option", { value: p.id, text: `${p.name} (${p.id})` })));
      $("party-pick").hidden = false;
      $("signin-error").textContent = "Choose your party, then sign in again.";
      sel.focus();
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(PARTY_KEY, r.me);
    await start(r);
  } catch (err) {
    $("signin-error").textContent =
      err instanceof ApiError && err.status === 401
        ? "This token is not valid. Check it and try again."
        : err instanceof ApiError && err.status === 403
          ? "This is the admin token: sign in with a party's token."
          : `Cannot sign in: ${err.message}`;
  } finally {
    $("signin-button").disabled = false;
  }
}

function signOut(message = "") {
  if (S.stream) S.stream.stop();
  S.stream = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(PARTY_KEY);
  clearInterval(S.alarmTimer);
  // A full reload forgets every position this tab held.
  if (message) sessionStorage.setItem("accord.signout", message);
  window.location.reload();
}

// -- start ---------------------------------------------------------------------------------------

async function start({ api, parties, me }) {
  S.api = api;
  S.me = me;
  api.onUnauthorized = () => signOut("Your token is no longer accepted. Sign in again.");
  for (const p of parties) S.parties.set(p.id, p);
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = `${S.parties.get(me)?.name || me} (${me})`;
  document.body.dataset.party = me;
  $("brand").focus(); // the sign-in form is gone: keyboard users continue from the top bar

  const basemap = await loadBasemap();
  S.map = new MapView($("map"), { onClick: onMapClick, onMove: onCursor, basemap, token: api.token });
  S.map.partyStyle = styleOf;
  S.map.map.getCanvas().setAttribute("aria-label", $("map").dataset.label);
  window.accordConsole = { S, map: S.map.map }; // for people debugging in the browser's devtools
  S.draw = new DrawTool(S.map, {
    onChange: () => renderDraft(),
    onFinish: (shape) => {
      S.shape = shape;
      if (shape.kind === "disc" && shape.radius) $("radius").value = String(shape.radius);
      renderDraft();
      $("request-submit").focus();
    },
    onHint: (text) => {
      $("draw-hint").hidden = !text;
      $("draw-hint").textContent = text || "";
      $("crosshair").hidden = !text;
    },
  });
  $("basemap-note").textContent = basemap
    ? "Basemap: the offline map file this server was started with."
    : "No basemap file on this server: the graticule and the parties' boundary layers are the map.";

  initDefaults();
  await S.map.ready;
  await loadAll();
  fitAll();
  onCursor(S.map.map.getCenter());
  S.stream = new EventStream(api, {
    lastId: S.streamFrom,
    onEvent: onEvent,
    onStatus: (st) => {
      const c = $("conn");
      c.className = `conn ${st === "live" ? "live" : "down"}`;
      c.textContent = st === "live" ? "live" : st === "reconnecting" ? "reconnecting…" : "disconnected";
    },
  }).start();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") for (const c of S.clearances.values()) ackVerdict(c);
  });
}

async function loadBasemap() {
  try {
    const res = await fetch("/v1/basemap/style.json", {
      headers: { Authorization: `Bearer ${S.api.token}` },
      cache: "no-store",
    });
    if (!res.ok) return null;
    const style = await res.json();
    if (!style || style.version !== 8) return null;
    return { style, attribution: style.metadata && style.metadata.attribution };
  } catch {
    return null;
  }
}

async function loadAll() {
  const api = S.api;
  const head = await api.get("/v1/log/head");
  S.streamFrom = head.tree_size - 1;
  const [events, presences, discrepancies] = await Promise.all([
    api.get("/v1/timeline"),
    api.get("/v1/presences"),
    api.get("/v1/discrepancies").catch(() => ({ type: "FeatureCollection", features: [] })),
  ]);
  S.presences = presences;
  S.discrepancies = discrepancies;
  S.timeline.all = events;
  const clearanceIds = new Set();
  const fireChecks = [];
  for (const ev of events) {
    absorb(ev);
    if (ev.type === "clearance_requested") clearanceIds.add(ev.clearance || ev.id);
    if (ev.type === "check_fire" && fireTarget(ev) === S.me) fireChecks.push(ev);
  }
  await Promise.all([...clearanceIds].map((id) => refreshClearance(id, { quiet: true })));
  for (const ev of fireChecks) {
    const view = await api.get(`/v1/alerts/${encodeURIComponent(ev.alert)}`, { allow404: true }).catch(() => null);
    const mine = view && (view.notified || []).find((n) => n.party === S.me && n.clearance === ev.clearance);
    if (!mine || !mine.acknowledged_at) addFire(ev, { quiet: true });
  }
  await Promise.all([...S.alerts.keys()].map((id) => refreshAlert(id)));
  renderAll();
  if (pendingAttention()) startAlarm();
}

/** Fold one event into the local picture (layers, AORs, my alerts); used for history and live. */
function absorb(ev) {
  switch (ev.type) {
    case "layer_added": {
      const id = ev.layer || ev.id;
      if (ev.features) S.layers.set(id, { id, party: ev.party, name: ev.name || id, features: ev.features });
      break;
    }
    case "aor_set":
      if (ev.area) S.aors.set(ev.party, { party: ev.party, area: ev.area });
      break;
    case "alert_raised":
      if (ev.party === S.me) {
        const id = ev.alert || ev.id;
        const prev = S.alerts.get(id) || {};
        const loc = (ev.position && ev.position.wgs84) || (ev.location && ev.location.type === "Point" ? ev.location : ev.wgs84);
        S.alerts.set(id, {
          ...prev,
          id,
          kind: ev.kind,
          time: ev.time,
          radius_m: ev.radius_m ?? prev.radius_m,
          point: (loc && loc.coordinates) || prev.point,
        });
      }
      break;
    default:
      break;
  }
}

function renderAll() {
  renderParties();
  renderMapData();
  renderClearances();
  renderAlerts();
  renderBanner();
}

function renderMapData() {
  const m = S.map;
  m.setAors([...S.aors.values()], name);
  m.setBoundaries([...S.layers.values()]);
  m.setDiscrepancies(S.discrepancies);
  m.setPresences(S.presences.features || [], S.me, name);
  m.setClearances([...S.clearances.values()].filter((c) => c.area), S.selected);
  m.setAlerts([...S.alerts.values()]);
  renderLegend();
}

function fitAll() {
  const objs = [
    S.presences,
    S.discrepancies,
    ...[...S.aors.values()].map((a) => a.area),
    ...[...S.layers.values()].map((l) => l.features),
    ...[...S.clearances.values()].map((c) => c.area),
  ];
  const b = boundsOf(objs.filter(Boolean));
  if (b) S.map.fit(b);
}

// -- live events ---------------------------------------------------------------------------------

function later(key, fn, ms = 120) {
  clearTimeout(S.refreshTimers.get(key));
  S.refreshTimers.set(key, setTimeout(fn, ms));
}

function onEvent(ev) {
  absorb(ev);
  if (S.timeline.live && S.timeline.loaded) {
    S.timeline.events.push(ev);
    if (!S.timeline.replay) renderTimeline();
  }
  const cid = ev.clearance || (ev.type === "clearance_requested" ? ev.id : null);
  switch (ev.type) {
    case "party_registered":
    case "heartbeat":
      later("parties", refreshParties, 300);
      break;
    case "aor_set":
      later("parties", refreshParties, 300);
      later("map", renderMapData);
      break;
    case "presence_upserted":
    case "presence_removed":
    case "positions_updated":
      later("presences", refreshPresences, 200);
      break;
    case "layer_added":
      later("discrepancies", refreshDiscrepancies, 200);
      later("map", renderMapData);
      break;
    case "clearance_requested":
      if (cid) refreshClearance(cid, { fresh: true });
      break;
    case "clearance_answered":
    case "verdict_changed":
    case "clearance_revoked":
    case "clearance_closed":
    case "clearance_acknowledged":
      if (cid) later(`c:${cid}`, () => refreshClearance(cid), 50);
      break;
    case "alert_raised":
      if (ev.party === S.me) refreshAlert(ev.alert || ev.id);
      break;
    case "check_fire":
      if (fireTarget(ev) === S.me) {
        addFire(ev);
        if (cid) later(`c:${cid}`, () => refreshClearance(cid), 50);
      }
      if (S.alerts.has(ev.alert)) later(`a:${ev.alert}`, () => refreshAlert(ev.alert), 100);
      break;
    case "alert_unacknowledged":
      if (ev.alert && S.alerts.has(ev.alert)) {
        later(`a:${ev.alert}`, () => refreshAlert(ev.alert), 100);
        sound.chime();
      } else if (ev.clearance) {
        // our own revoked verdict was not acknowledged in time: fetch it (and so acknowledge it)
        S.acked.delete(ev.clearance);
        later(`c:${ev.clearance}`, () => refreshClearance(ev.clearance), 50);
      }
      break;
    default:
      if (ev.alert && S.alerts.has(ev.alert)) later(`a:${ev.alert}`, () => refreshAlert(ev.alert), 100);
      break;
  }
}

/** The party a check_fire is addressed to (the event's party is the notified party). */
function fireTarget(ev) {
  return ev.to || ev.party;
}

async function refreshParties() {
  const list = await S.api.get("/v1/parties").catch(() => null);
  if (!list) return;
  S.parties.clear();
  for (const p of list) S.parties.set(p.id, p);
  renderParties();
  renderMapData();
}

async function refreshPresences() {
  const fc = await S.api.get("/v1/presences").catch(() => null);
  if (!fc) return;
  S.presences = fc;
  renderMapData();
}

async function refreshDiscrepancies() {
  const fc = await S.api.get("/v1/discrepancies").catch(() => null);
  if (!fc) return;
  S.discrepancies = fc;
  renderMapData();
}

async function refreshClearance(id, { quiet = false, fresh = false } = {}) {
  const c = await S.api.get(`/v1/clearances/${encodeURIComponent(id)}`, { allow404: true }).catch(() => null);
  if (!c) return;
  S.clearances.set(id, c);
  if (c.requester === S.me && !S.acked.has(id) && Number.isInteger(c.acknowledged_version)) {
    S.acked.set(id, c.acknowledged_version);
  }
  if (!quiet) {
    renderClearances();
    renderMapData();
    if (fresh && askedOf(c).includes(S.me) && c.requester !== S.me) {
      sound.chime();
      $("prompts").firstElementChild?.scrollIntoView({ block: "nearest" });
    }
  }
  noteRevocation(c, quiet);
  ackVerdict(c);
}

/** A revoked verdict of ours waits in the banner until a person acknowledges it. */
function noteRevocation(c, quiet) {
  const unacked = (S.acked.get(c.id) ?? -1) < c.version;
  if (c.requester === S.me && c.status === "revoked" && unacked) {
    const had = S.revocations.get(c.id);
    S.revocations.set(c.id, { id: c.id, version: c.version, purpose: c.purpose, reasons: c.reasons || [] });
    renderBanner();
    if (!quiet && (!had || had.version !== c.version)) startAlarm();
  } else if (S.revocations.delete(c.id)) {
    renderBanner();
  }
}

async function ackVerdict(c, { person = false } = {}) {
  // The requester's own system (this console) tells the server it received verdict version n.
  // A revocation is acknowledged only by a person, from the banner.
  if (c.requester !== S.me || c.version === undefined) return;
  if (c.status === "revoked" && !person) return;
  if (document.visibilityState !== "visible") return;
  if ((S.acked.get(c.id) ?? -1) >= c.version) return;
  S.acked.set(c.id, c.version);
  try {
    await S.api.post(`/v1/clearances/${encodeURIComponent(c.id)}/ack`, { version: c.version });
  } catch {
    S.acked.delete(c.id);
  }
  renderClearances();
}

async function refreshAlert(id) {
  if (!id) return;
  const view = await S.api.get(`/v1/alerts/${encodeURIComponent(id)}`, { allow404: true }).catch(() => null);
  const prev = S.alerts.get(id) || { id };
  const loc = view && pointOf(view.location || view.wgs84);
  S.alerts.set(id, {
    ...prev,
    kind: prev.kind || (view && view.kind),
    radius_m: prev.radius_m ?? (view && view.radius_m),
    point: prev.point || (loc && loc.coordinates),
    view: view || prev.view,
  });
  renderAlerts();
  renderMapData();
}

// -- clearances ----------------------------------------------------------------------------------

function askedOf(c) {
  if (Array.isArray(c.confirm)) return c.confirm;
  if (c.answers && !Array.isArray(c.answers)) return Object.keys(c.answers);
  if (Array.isArray(c.answers)) return c.answers.map((a) => a.party);
  return [];
}

function answerOf(c, party) {
  const a = c.answers;
  if (!a) {
    const r = (c.reasons || []).find((x) => x.party === party && (x.code === "checking" || x.code === "confirmed_present"));
    if (r) return r.code === "checking" ? "checking" : "present";
    return null;
  }
  const entry = Array.isArray(a) ? a.find((x) => x.party === party) : a[party];
  if (!entry) return null;
  return typeof entry === "string" ? entry : entry.answer || null;
}

function sortedClearances() {
  const order = { conflict: 0, revoked: 1, unresolved: 2, clear: 3, closed: 4 };
  return [...S.clearances.values()].sort(
    (a, b) => (order[a.status] ?? 2) - (order[b.status] ?? 2) || String(b.log_index).localeCompare(String(a.log_index), undefined, { numeric: true }),
  );
}

function renderClearances() {
  const list = $("clearance-list");
  const items = sortedClearances();
  $("no-clearances").hidden = items.length > 0;
  list.replaceChildren(...items.map(clearanceCard));
  renderPrompts();
}

function clearanceCard(c) {
  const s = statusInfo(c.status);
  const mine = c.requester === S.me;
  const asked = askedOf(c);
  const li = el("li", {
    class: `${s.cls}${S.selected === c.id ? " selected" : ""}`,
    dataset: { clearance: c.id, status: c.status },
    "aria-label": `Clearance ${c.id}: ${s.headline}`,
  });
  li.append(
    el("div", { class: "card-head" },
      el("span", { class: `badge ${s.cls}` }, el("span", { "aria-hidden": "true" }, s.icon), s.word),
      el("span", { class: "title" }, c.id),
      c.purpose ? el("span", {}, `— ${c.purpose}`) : null),
    el("div", { class: "card-meta" },
      mine ? "requested by you" : `requested by ${name(c.requester)}`,
      c.window ? ` · ${fmtTime(c.window.start)} → ${fmtTime(c.window.end)}` : "",
      c.hazard_m !== undefined ? ` · hazard ${fmtMetres(c.hazard_m)}` : ""),
    el("p", { class: `verdict-line ${s.cls}` }, s.headline),
  );
  const reasons = c.reasons || [];
  if (reasons.length) {
    li.append(el("ul", { class: "reasons" }, reasons.map((r) => el("li", { dataset: { code: r.code } }, reasonText(r, name)))));
  } else if (c.status === "clear") {
    li.append(el("p", {}, "Nothing known is inside the hazard area, and nothing the verdict depends on is unknown, unanswered, stale or disputed."));
  }
  if (c.status === "clear" && c.valid_until) li.append(el("p", { class: "card-meta" }, `Clear until ${fmtTime(c.valid_until)} unless revoked.`));
  if (asked.length) {
    li.append(el("ul", { class: "answers", "aria-label": "Answers of the asked parties" },
      asked.map((p) => {
        const a = answerInfo(answerOf(c, p));
        return el("li", { dataset: { party: p } }, `${name(p)}: `, el("span", { class: `ans ${a.cls}` }, `${a.icon} ${a.word}`));
      })));
  }
  const row = el("div", { class: "row" });
  row.append(el("button", { type: "button", onclick: () => selectClearance(c.id, true) }, "Show on map"));
  if (mine && c.status !== "closed") {
    row.append(el("button", { type: "button", onclick: () => closeClearance(c.id) }, "Close"));
  }
  li.append(row);
  if (mine && c.version !== undefined) {
    const got = (S.acked.get(c.id) ?? -1) >= c.version;
    li.append(el("p", { class: "received" }, `verdict version ${c.version}${got ? " — receipt sent to the server ✓" : ""}`));
  }
  return li;
}

function renderPrompts() {
  const box = $("prompts");
  const asking = sortedClearances().filter(
    (c) => c.requester !== S.me && askedOf(c).includes(S.me) && c.status !== "closed",
  );
  const open = asking.filter((c) => {
    const a = answerOf(c, S.me);
    return a === null || a === "checking";
  });
  const count = $("prompt-count");
  count.hidden = open.length === 0;
  count.textContent = String(open.length);
  count.setAttribute("aria-label", `${open.length} requests waiting for your answer`);
  box.replaceChildren(...asking.map(promptCard));
}

function promptCard(c) {
  const current = answerOf(c, S.me);
  const a = answerInfo(current);
  const note = el("input", { type: "text", maxlength: "2000", placeholder: "note (optional)", "aria-label": "Note with your answer" });
  const answer = async (value) => {
    if (S.answering.has(c.id)) return;
    S.answering.add(c.id);
    try {
      const body = { answer: value };
      if (note.value.trim()) body.note = note.value.trim();
      const updated = await S.api.post(`/v1/clearances/${encodeURIComponent(c.id)}/answers`, body);
      S.clearances.set(c.id, updated);
      renderClearances();
      renderMapData();
      $("prompts").querySelector(`[data-clearance="${CSS.escape(c.id)}"] .yours`)?.focus();
    } catch (err) {
      showError(`Your answer was not recorded: ${err.message}`);
    } finally {
      S.answering.delete(c.id);
    }
  };
  return el("section", { class: "prompt", dataset: { clearance: c.id }, "aria-label": `Request ${c.id} from ${name(c.requester)}` },
    el("h3", {}, `${name(c.requester)} asks: do you have people in this area?`),
    el("p", { class: "card-meta" },
      `Clearance ${c.id}${c.purpose ? ` — ${c.purpose}` : ""}`,
      c.window ? ` · ${fmtTime(c.window.start)} → ${fmtTime(c.window.end)}` : ""),
    el("p", { class: "yours", tabindex: "-1" },
      current ? "Your answer: " : "You have not answered: ",
      el("span", { class: `ans ${a.cls}` }, `${a.icon} ${current ? a.word : "NOT CLEAR until you answer"}`)),
    el("div", { class: "answers-buttons" },
      el("button", { type: "button", dataset: { answer: "absent" }, onclick: () => answer("absent"), "aria-pressed": String(current === "absent") }, "○ Absent — none of ours are there"),
      el("button", { type: "button", dataset: { answer: "present" }, onclick: () => answer("present"), "aria-pressed": String(current === "present") }, "● Present — we have people there"),
      el("button", { type: "button", dataset: { answer: "checking" }, onclick: () => answer("checking"), "aria-pressed": String(current === "checking") }, "… Checking — not yet known (NOT CLEAR)")),
    note,
    el("div", { class: "row" }, el("button", { type: "button", onclick: () => selectClearance(c.id, true) }, "Show the area on the map")),
  );
}

async function closeClearance(id) {
  try {
    const c = await S.api.post(`/v1/clearances/${encodeURIComponent(id)}/close`);
    S.clearances.set(id, c);
    renderClearances();
    renderMapData();
  } catch (err) {
    showError(`Could not close ${id}: ${err.message}`);
  }
}

function selectClearance(id, fly = false) {
  S.selected = id;
  const c = S.clearances.get(id);
  renderClearances();
  renderMapData();
  if (c && c.area && fly) {
    const b = boundsOf([c.area]);
    const pad = (Number(c.radius_m || 0) + Number(c.hazard_m || 0) + Number(c.width_m || 0)) / 111000;
    if (b) S.map.fit([b[0] - pad * 1.6, b[1] - pad, b[2] + pad * 1.6, b[3] + pad]);
  }
  if (c) showClearanceDetails(c);
}

// -- request form --------------------------------------------------------------------------------

function toLocalInput(d) {
  return d.toISOString().slice(0, 16);
}

function initDefaults() {
  const now = new Date();
  $("win-start").value = toLocalInput(new Date(now.getTime() + 5 * 60000));
  $("win-end").value = toLocalInput(new Date(now.getTime() + 2 * 3600000));
  $("tl-start").value = "";
  $("tl-end").value = "";
}

function shapeKind() {
  return document.querySelector('input[name="shape"]:checked').value;
}

function onShapeKindChange() {
  const k = shapeKind();
  $("radius-label").hidden = k !== "disc";
  $("width-label").hidden = k !== "corridor";
  if (S.shape && S.shape.kind !== k) S.shape = null;
  renderDraft();
}

function draftRequest() {
  const shape = S.draw && S.draw.active ? S.draw.result() : S.shape;
  if (!shape || !shape.points.length) return null;
  if (S.draw.active && !S.draw.ready() && shape.kind !== "disc") return null;
  const req = { area: shape.area, hazard_m: Number($("hazard").value) || 0 };
  if (shape.kind === "disc") req.radius_m = Number($("radius").value) || 0;
  if (shape.kind === "corridor") req.width_m = Number($("width").value) || 0;
  return req;
}

function renderDraft() {
  if (!S.map) return;
  const drawing = S.draw.active;
  const pts = drawing ? S.draw.points : S.shape ? S.shape.points : [];
  const req = draftRequest();
  S.map.setDraft({ kind: drawing ? S.draw.kind : S.shape?.kind, points: pts, geometry: Boolean(req), request: req || {}, closed: !drawing });
  $("shape-summary").textContent = S.shape && !drawing
    ? describeShape(S.shape, $("radius").value, $("width").value)
    : drawing ? `Drawing a ${S.draw.kind}: ${pts.length} point(s).` : "No area drawn yet.";
  $("draw-button").textContent = drawing ? "Finish drawing (F)" : S.shape ? "Draw again" : "Draw on the map";
}

function startDrawing(kind) {
  showTab("request");
  if (kind) {
    document.querySelector(`input[name="shape"][value="${kind}"]`).checked = true;
    onShapeKindChange();
  }
  S.shape = null;
  S.draw.start(shapeKind());
  focusMap();
}

async function onRequestSubmit(e) {
  e.preventDefault();
  const err = $("request-error");
  err.textContent = "";
  if (S.draw.active) S.draw.finish();
  const req = draftRequest();
  if (!req || !S.shape) {
    err.textContent = "Draw the area on the map first (Draw on the map, or press D, C or P).";
    return;
  }
  const start = $("win-start").value;
  const end = $("win-end").value;
  if (!start || !end) {
    err.textContent = "Give the window's start and end (UTC).";
    return;
  }
  const body = {
    ...req,
    window: { start: isoFromInput(start), end: isoFromInput(end) },
    purpose: $("purpose").value.trim(),
    confirm: [...document.querySelectorAll('#confirm-list input:checked')].map((x) => x.value),
  };
  $("request-submit").disabled = true;
  try {
    const c = await S.api.post("/v1/clearances", body);
    S.clearances.set(c.id, c);
    S.shape = null;
    renderDraft();
    showTab("clearances");
    selectClearance(c.id);
    ackVerdict(c);
    document.querySelector(`#clearance-list [data-clearance="${CSS.escape(c.id)}"]`)?.focus?.();
  } catch (ex) {
    const lines = ex instanceof ApiError ? ex.fieldMessages() : [];
    err.textContent = `The request was refused: ${ex.message}${lines.length > 1 ? `\n${lines.join("\n")}` : ""}`;
  } finally {
    $("request-submit").disabled = false;
  }
}

function isoFromInput(v) {
  // datetime-local gives "YYYY-MM-DDTHH:MM" or with seconds; the form's times are UTC.
  return v.length === 16 ? `${v}:00Z` : `${v}Z`;
}

function renderParties() {
  const box = $("confirm-list");
  const others = [...S.parties.values()].filter((p) => p.id !== S.me);
  const checked = new Set([...box.querySelectorAll("input:checked")].map((x) => x.value));
  if (!others.length) {
    box.replaceChildren(el("p", { class: "hint" }, "No other parties."));
    return;
  }
  box.replaceChildren(...others.map((p) =>
    el("label", {},
      el("input", { type: "checkbox", name: "confirm", value: p.id, checked: checked.has(p.id) }),
      `${p.name} (${p.id})`,
      p.stale ? el("span", { class: "card-meta" }, " — its picture is STALE") : null)));
}

// -- alerts: raising -----------------------------------------------------------------------------

let pickingFireLocation = false;

function openFireDialog() {
  const d = $("fire-dialog");
  $("fire-error").textContent = "";
  if (!d.open) d.showModal();
  $("fire-location").focus();
}

async function onFireSubmit(e) {
  e.preventDefault();
  const text = $("fire-location").value.trim();
  const radius = Number($("fire-radius").value);
  if (!text) {
    $("fire-error").textContent = "Give your position.";
    return;
  }
  $("fire-send").disabled = true;
  try {
    const body = { kind: $("fire-kind").value, location: { text }, radius_m: radius };
    const r = await S.api.post("/v1/alerts", body);
    const point = parseSigned(text);
    S.alerts.set(r.id, { id: r.id, kind: body.kind, radius_m: radius, point, notified: r.notified, time: new Date().toISOString() });
    $("fire-dialog").close();
    showTab("alerts");
    await refreshAlert(r.id);
  } catch (err) {
    const lines = err instanceof ApiError ? err.fieldMessages() : [];
    $("fire-error").textContent = `Not sent: ${err.message}${lines.length > 1 ? `\n${lines.join("\n")}` : ""}`;
  } finally {
    $("fire-send").disabled = false;
  }
}

function pointOf(v) {
  if (!v) return null;
  if (v.type === "Point") return v;
  if (v.wgs84 && v.wgs84.type === "Point") return v.wgs84;
  if (Number.isFinite(v.lon) && Number.isFinite(v.lat)) return { type: "Point", coordinates: [v.lon, v.lat] };
  return null;
}

function parseSigned(text) {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
  return m ? [Number(m[2]), Number(m[1])] : null;
}

function renderAlerts() {
  const list = $("alert-list");
  const items = [...S.alerts.values()].sort((a, b) => String(b.time).localeCompare(String(a.time)));
  list.replaceChildren(...items.map((a) => {
    const notified = (a.view && a.view.notified) || a.notified || [];
    return el("li", { class: "st-conflict", dataset: { alert: a.id } },
      el("div", { class: "card-head" },
        el("span", { class: "badge st-conflict" }, "⚠", KINDS[a.kind] || a.kind || "ALERT"),
        el("span", { class: "title" }, a.id)),
      el("p", { class: "card-meta" }, `raised by you ${a.time ? fmtTime(a.time) : ""} · radius ${fmtMetres(a.radius_m)}`),
      notified.length
        ? el("ul", { class: "answers" }, notified.map((n) =>
          el("li", { dataset: { party: n.party } },
            `CHECK FIRE to ${name(n.party)} for clearance ${n.clearance}: `,
            el("span", { class: `ans ${n.acknowledged_at ? "ans-absent" : "ans-checking"}` },
              n.acknowledged_at ? `✔ acknowledged ${fmtTime(n.acknowledged_at)}`
                : n.delivered_at ? `delivered ${fmtTime(n.delivered_at)}, NOT acknowledged yet`
                  : "NOT delivered yet"))))
        : el("p", {}, "No active clearance was near: nobody needed a check-fire."));
  }));
}

// -- alerts: receiving (the banner) --------------------------------------------------------------

function addFire(ev, { quiet = false } = {}) {
  const key = `${ev.alert}:${ev.clearance}`;
  if (S.fires.has(key) && S.fires.get(key).acked) return;
  S.fires.set(key, { key, alert: ev.alert, clearance: ev.clearance, kind: ev.kind, from: ev.by, time: ev.time, acked: false });
  renderBanner();
  if (!quiet) startAlarm();
}

function pendingAttention() {
  return [...S.fires.values()].some((f) => !f.acked) || S.revocations.size > 0;
}

function renderBanner() {
  const banner = $("alert-banner");
  const open = [...S.fires.values()].filter((f) => !f.acked);
  const revoked = [...S.revocations.values()];
  banner.hidden = open.length === 0 && revoked.length === 0;
  document.body.classList.toggle("firing", open.length > 0);
  const revItems = revoked.map((r, i) =>
    el("div", { class: "fire-item revoked-item", dataset: { clearance: r.id } },
      el("span", { class: "fire-title" }, "⚠ REVOKED"),
      el("span", { class: "fire-text" },
        `Your clearance ${r.id}${r.purpose ? ` (${r.purpose})` : ""} is NO LONGER CLEAR: `,
        r.reasons.length ? reasonText(r.reasons[0], name) : "something changed.",
        " Do not proceed."),
      el("button", { type: "button", class: "ack", onclick: () => ackRevocation(r.id), "aria-keyshortcuts": open.length === 0 && i === 0 ? "k" : undefined },
        "Acknowledge — not proceeding", open.length === 0 && i === 0 ? el("kbd", {}, "K") : null)));
  banner.replaceChildren(...open.map((f, i) => {
    const c = S.clearances.get(f.clearance);
    const what = KINDS[f.kind] || "UNDER FIRE";
    const who = f.from ? name(f.from) : "A party";
    return el("div", { class: "fire-item", dataset: { alert: f.alert, clearance: f.clearance } },
      el("span", { class: "fire-title" }, "⚠ CHECK FIRE"),
      el("span", { class: "fire-text" },
        `${who} reports ${what} near your clearance ${f.clearance}${c && c.purpose ? ` (${c.purpose})` : ""}. Stop the activity now.`),
      el("button", { type: "button", class: "ack", onclick: () => ackFire(f.key), "aria-keyshortcuts": i === 0 ? "k" : undefined },
        "Acknowledge — fire checked", i === 0 ? el("kbd", {}, "K") : null));
  }), ...revItems);
}

function afterBannerAck() {
  const next = $("alert-banner").querySelector("button");
  if (next) next.focus();
  else focusMap();
}

async function ackRevocation(id) {
  const c = S.clearances.get(id);
  const r = S.revocations.get(id);
  if (!c || !r) return;
  try {
    await S.api.post(`/v1/clearances/${encodeURIComponent(id)}/ack`, { version: r.version });
    S.acked.set(id, r.version);
    S.revocations.delete(id);
    renderBanner();
    afterBannerAck();
    renderClearances();
    announce(`Revocation of clearance ${id} acknowledged.`);
  } catch (err) {
    showError(`The acknowledgement did not reach the server: ${err.message}. Try again.`);
  }
}

function startAlarm() {
  sound.alarm();
  const banner = $("alert-banner");
  banner.classList.remove("pulse");
  void banner.offsetWidth;
  banner.classList.add("pulse");
  clearInterval(S.alarmTimer);
  S.alarmTimer = setInterval(() => {
    if (!pendingAttention()) {
      clearInterval(S.alarmTimer);
      return;
    }
    sound.alarm();
    banner.classList.remove("pulse");
    void banner.offsetWidth;
    banner.classList.add("pulse");
  }, ALARM_REPEAT_MS);
}

async function ackFire(key) {
  const f = S.fires.get(key);
  if (!f) return;
  try {
    await S.api.post(`/v1/alerts/${encodeURIComponent(f.alert)}/ack`);
    // every check-fire of this alert to this party is acknowledged with it
    for (const g of S.fires.values()) if (g.alert === f.alert) g.acked = true;
    renderBanner();
    afterBannerAck();
    announce(`Check-fire for clearance ${f.clearance} acknowledged.`);
  } catch (err) {
    showError(`The acknowledgement did not reach the server: ${err.message}. Try again.`);
  }
}

// -- map interaction -----------------------------------------------------------------------------

function onCursor(lngLat) {
  const ll = lngLat || (S.draw && S.draw.active ? S.map.map.getCenter() : null);
  if (!ll) return;
  try {
    const f = formatAll(ll.lat, ll.lng);
    $("ro-dd").textContent = f.decimal;
    $("ro-dms").textContent = f.dms;
    $("ro-mgrs").textContent = f.mgrs;
  } catch {
    $("ro-mgrs").textContent = "—";
  }
}

function onMapClick(e) {
  if (pickingFireLocation) {
    pickingFireLocation = false;
    $("draw-hint").hidden = true;
    $("crosshair").hidden = true;
    $("fire-location").value = formatSigned(e.lngLat.lat, e.lngLat.lng);
    openFireDialog();
    return;
  }
  if (S.draw.click(e.lngLat, e.point)) return;
  inspectAt(e.point, e.lngLat);
}

function inspectAt(point, lngLat) {
  const hits = S.map.featuresAt(point);
  const box = $("selection");
  if (!hits.length) {
    box.replaceChildren(positionBlock(lngLat.lat, lngLat.lng, "Position"));
    return;
  }
  const seen = new Set();
  const blocks = [];
  for (const f of hits) {
    const p = f.properties || {};
    const group = f.layer.id.split("-")[0];
    const key = `${group}:${p.party || ""}:${p.id || p.layer || p.key || ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (f.layer.id.startsWith("presence")) blocks.push(presenceBlock(p));
    else if (f.layer.id.startsWith("clr")) {
      const c = S.clearances.get(p.id);
      if (c) {
        S.selected = c.id;
        blocks.push(clearanceBlock(c));
        renderClearances();
      }
    } else if (f.layer.id.startsWith("discrepancy")) blocks.push(discrepancyBlock(p));
    else if (f.layer.id.startsWith("aor")) blocks.push(el("div", {}, el("h3", {}, `Area of responsibility of ${name(p.party)}`), el("p", {}, "Inside it, this party keeps its presences complete and current; if its heartbeat is late, requests here are NOT CLEAR (stale).")));
    else if (f.layer.id.startsWith("alert")) blocks.push(el("div", {}, el("h3", {}, `Your alert ${p.id}`), el("p", {}, KINDS[p.alert_kind] || p.alert_kind)));
    else if (f.layer.id.startsWith("replay")) blocks.push(el("div", {}, el("h3", {}, "Replayed item"), el("p", {}, p.label || p.key)));
  }
  blocks.push(positionBlock(lngLat.lat, lngLat.lng, "Clicked position"));
  box.replaceChildren(...blocks);
  showTab("clearances", false);
  box.previousElementSibling.scrollIntoView({ block: "start" });
  S.map.map.triggerRepaint();
}

function parseMaybe(v) {
  if (typeof v !== "string") return v;
  if (!/^[[{]/.test(v)) return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function describeInput(input) {
  if (!input) return "—";
  const i = parseMaybe(input);
  if (typeof i !== "object") return String(i);
  if (i.type === "Point") return `GeoJSON point [${i.coordinates.join(", ")}] (WGS84, lon/lat)`;
  if (i.mgrs) return `MGRS ${i.mgrs}`;
  if (i.text !== undefined) return `"${i.text}"${i.crs ? ` in ${i.crs}` : " (WGS84)"}`;
  if (i.x !== undefined) return `x ${i.x}, y ${i.y} in ${i.crs || "?"}`;
  return JSON.stringify(i);
}

function presenceBlock(p) {
  const pos = parseMaybe(p.position) || {};
  const input = parseMaybe(p.input ?? pos.input);
  const t = parseMaybe(p.transformation ?? pos.transformation);
  const w = parseMaybe(p.wgs84 ?? pos.wgs84 ?? p.location);
  const added = Number(p.added_uncertainty_m ?? pos.added_uncertainty_m ?? 0);
  const level = p.visible_as || p.level;
  const dl = el("dl");
  const add = (k, v) => v !== undefined && v !== null && v !== "" && dl.append(el("dt", {}, k), el("dd", {}, v));
  add("Party", name(p.party));
  add("Kind", p.kind === "unit" ? "unit (moves)" : p.kind === "site" ? "site (static)" : p.kind);
  add("You see", level === "owner" ? "everything (it is yours)" : level === "coarse" ? "only its coarse cell (the owner's choice)" : "its exact position (the owner shares it with you)");
  if (input && typeof input === "object") {
    add("Original input", describeInput(input));
    add("Datum / CRS", input.crs || "WGS84 (EPSG:4326)");
  } else if (level !== "owner") {
    add("Original input", "not shared with you");
  }
  if (t && typeof t === "object") {
    const acc = t.accuracy_m !== undefined && t.accuracy_m !== null ? `, stated accuracy ${t.accuracy_m} m` : "";
    add("Transformation", `${t.description || "?"}${acc}${t.ballpark ? " — BALLPARK (no datum shift)" : ""}`);
  }
  if (p.uncertainty_m !== undefined) {
    const u = Number(p.uncertainty_m);
    add("Uncertainty", added > 0 ? `${fmtMetres(u)} stated + ${fmtMetres(added)} from datum/reading = ${fmtMetres(u + added)}` : fmtMetres(u));
  }
  add("Datum warning", p.datum_warning ?? pos.datum_warning);
  if (p.time) add("Position time", fmtTime(p.time));
  const disc = parseMaybe(p.disclosure);
  if (disc && typeof disc === "object") {
    const per = Object.entries(disc.parties || {}).map(([k, v]) => `${name(k)}: ${v}`).join(", ");
    add("Disclosure", `others: ${disc.default}${per ? `; ${per}` : ""}`);
  }
  const block = el("div", { dataset: { presence: String(p.id) } }, el("h3", {}, `${p.label || p.id || "Presence"}`), dl);
  if (w && w.type === "Point") block.append(positionBlock(w.coordinates[1], w.coordinates[0], "Stored position (WGS84)"));
  return block;
}

function clearanceBlock(c) {
  const s = statusInfo(c.status);
  return el("div", {}, el("h3", {}, `Clearance ${c.id}: `, el("span", { class: `badge ${s.cls}` }, s.icon, s.word)),
    el("p", { class: `verdict-line ${s.cls}` }, s.headline),
    el("ul", { class: "reasons" }, (c.reasons || []).map((r) => el("li", {}, reasonText(r, name)))));
}

function showClearanceDetails(c) {
  $("selection").replaceChildren(clearanceBlock(c));
}

function discrepancyBlock(p) {
  const layers = parseMaybe(p.layers);
  return el("div", {},
    el("h3", {}, "Boundary discrepancy zone"),
    el("p", {}, `The boundary layers ${Array.isArray(layers) ? layers.map((l) => layerName(l)).join(" and ") : layers} disagree here by up to ${fmtMetres(Number(p.max_separation_m))}. A request touching this zone is NOT CLEAR until the parties concerned confirm.`));
}

function layerName(id) {
  const l = S.layers.get(id);
  return l ? `"${l.name}" (${name(l.party)})` : id;
}

function positionBlock(lat, lon, title) {
  const f = formatAll(lat, lon);
  return el("div", {}, el("h3", {}, title), el("dl", {},
    el("dt", {}, "DD"), el("dd", { class: "mono" }, f.decimal),
    el("dt", {}, "DMS"), el("dd", { class: "mono" }, f.dms),
    el("dt", {}, "MGRS"), el("dd", { class: "mono" }, f.mgrs),
    el("dt", {}, "UTM"), el("dd", { class: "mono" }, f.utm)));
}

function focusMap() {
  S.map.map.getCanvas().focus();
}

// -- map key -------------------------------------------------------------------------------------

function renderLegend() {
  const items = [];
  const swatch = (style) => el("span", { class: "swatch", style, "aria-hidden": "true" });
  for (const p of [...S.parties.values()].sort((a, b) => (a.id === S.me ? -1 : b.id === S.me ? 1 : a.id.localeCompare(b.id)))) {
    const st = styleOf(p.id);
    const dash = st.dash.length > 1 && st.dash[1] > 0 ? "dashed" : "solid";
    items.push(el("li", {}, swatch(`border: 0; border-top: 4px ${dash} ${st.color}; height: 0;`),
      `${name(p.id)}: boundary line ${st.pattern}${p.stale ? " — picture STALE" : ""}`));
  }
  items.push(el("li", {}, swatch("background: repeating-linear-gradient(45deg, #c2185b 0 2px, transparent 2px 8px);"), "Boundary discrepancy zone (hatched): maps disagree"));
  items.push(el("li", {}, swatch("background: repeating-linear-gradient(45deg, #333 0 1px, transparent 1px 6px), repeating-linear-gradient(-45deg, #333 0 1px, transparent 1px 6px);"), "Coarse cell: another party has something somewhere in it"));
  items.push(el("li", {}, swatch("border: 2px dashed #555;"), "Area of responsibility (dash-dot outline)"));
  items.push(el("li", {}, "■ site · ▲ unit, ringed in the party's colour; the faint disc is its uncertainty"));
  for (const st of ["clear", "conflict", "unresolved", "revoked", "closed"]) {
    const s = statusInfo(st);
    items.push(el("li", {}, el("span", { class: `badge ${s.cls}` }, s.icon, s.word), st === "clear" ? "clearance: clear" : `clearance: ${s.headline}`));
  }
  items.push(el("li", {}, "Not-clear areas are also hatched; the dashed ring is the hazard distance."));
  $("legend").replaceChildren(...items);
  if (!$("layer-toggles").childElementCount) {
    const groups = [
      ["Graticule", ["graticule"]],
      ["Areas of responsibility", ["aor"], "aor:"],
      ["Boundary layers", ["boundary"]],
      ["Discrepancy zones", ["discrepancy"]],
      ["Presences", ["presence"], "presence:"],
      ["Clearances", ["clr-"], "clr:"],
    ];
    $("layer-toggles").replaceChildren(...groups.map(([label, prefixes, labels]) =>
      el("label", {}, el("input", {
        type: "checkbox", checked: true,
        onchange: (e) => {
          S.map.toggle(prefixes, e.target.checked);
          if (labels) S.map.hideLabels(labels, !e.target.checked);
        },
      }), label)));
  }
}

// -- timeline ------------------------------------------------------------------------------------

async function loadTimeline(e) {
  e?.preventDefault();
  const params = new URLSearchParams();
  const start = $("tl-start").value;
  const end = $("tl-end").value;
  if (start) params.set("start", isoFromInput(start));
  if (end) params.set("end", isoFromInput(end));
  try {
    const events = await S.api.get(`/v1/timeline${params.toString() ? `?${params}` : ""}`);
    S.timeline.events = events;
    S.timeline.loaded = true;
    S.timeline.live = !end;
    S.timeline.pos = events.length - 1;
    const slider = $("tl-slider");
    slider.max = String(Math.max(0, events.length - 1));
    slider.value = String(Math.max(0, events.length - 1));
    slider.disabled = events.length === 0;
    $("tl-play").disabled = events.length === 0;
    renderTimeline();
  } catch (err) {
    showError(`The timeline could not be loaded: ${err.message}`);
  }
}

function renderTimeline() {
  const t = S.timeline;
  const slider = $("tl-slider");
  slider.max = String(Math.max(0, t.events.length - 1));
  renderList($("timeline-list"), t.events, t.replay ? t.pos : -1, name);
  const ev = t.events[t.pos];
  $("tl-now").textContent = t.events.length
    ? t.replay && ev
      ? `Event ${t.pos + 1} of ${t.events.length}: ${fmtTime(ev.time)} — ${eventText(ev, name)}`
      : `${t.events.length} events loaded.`
    : "No events in this window.";
  slider.setAttribute("aria-valuetext", ev ? `${fmtTime(ev.time)}: ${eventText(ev, name)}` : "none");
  if (t.replay) {
    S.map.setReplay(replayState(t.events, t.pos, { styleOf, names: name }));
    $("timeline-list").querySelector('[aria-current="step"]')?.scrollIntoView({ block: "nearest" });
  }
}

function setReplay(on) {
  const t = S.timeline;
  t.replay = on;
  $("tl-replay").setAttribute("aria-pressed", String(on));
  $("tl-replay").textContent = on ? "Back to the live picture" : "Replay on map";
  $("replay-flag").hidden = !on;
  document.body.classList.toggle("replaying", on);
  if (!on) {
    clearInterval(t.timer);
    t.timer = null;
    $("tl-play").textContent = "▶ Play";
    S.map.setReplay(null);
  }
  renderTimeline();
}

function togglePlay() {
  const t = S.timeline;
  if (t.timer) {
    clearInterval(t.timer);
    t.timer = null;
    $("tl-play").textContent = "▶ Play";
    return;
  }
  if (!t.replay) setReplay(true);
  if (t.pos >= t.events.length - 1) t.pos = -1;
  $("tl-play").textContent = "❚❚ Pause";
  t.timer = setInterval(() => {
    if (t.pos >= t.events.length - 1) {
      togglePlay();
      return;
    }
    t.pos += 1;
    $("tl-slider").value = String(t.pos);
    renderTimeline();
  }, 700);
}

function exportTimeline(kind) {
  const t = S.timeline;
  const stamp = new Date().toISOString().replace(/[:]/g, "").slice(0, 15);
  if (kind === "json") {
    download(`accord-timeline-${S.me}-${stamp}.json`, JSON.stringify(t.events, null, 2));
  } else {
    download(`accord-timeline-${S.me}-${stamp}.geojson`, JSON.stringify(eventsToGeoJSON(t.events), null, 2), "application/geo+json");
  }
}

// -- panels, keyboard, messages ------------------------------------------------------------------

const TABS = ["clearances", "request", "alerts", "timeline", "map"];

function showTab(name, focus = true) {
  for (const t of TABS) {
    const tab = $(`tab-${t}`);
    const on = t === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`pane-${t}`).hidden = !on;
  }
  if (focus) $(`tab-${name}`).focus();
  if (name === "timeline" && !S.timeline.loaded) loadTimeline();
}

function onTabKey(e) {
  const i = TABS.findIndex((t) => `tab-${t}` === e.target.id);
  if (i < 0) return;
  let j = null;
  if (e.key === "ArrowRight") j = (i + 1) % TABS.length;
  if (e.key === "ArrowLeft") j = (i - 1 + TABS.length) % TABS.length;
  if (e.key === "Home") j = 0;
  if (e.key === "End") j = TABS.length - 1;
  if (j !== null) {
    e.preventDefault();
    showTab(TABS[j]);
  }
}

let toastTimer = null;
function showError(text) {
  const box = $("map-error");
  box.hidden = false;
  box.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.hidden = true;
  }, 8000);
}

function announce(text) {
  const c = $("draw-hint");
  c.hidden = false;
  c.textContent = text;
  setTimeout(() => {
    if (c.textContent === text && !S.draw.active) c.hidden = true;
  }, 3000);
}

function typing(target) {
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}

function onKey(e) {
  if ($("app").hidden) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const inDialog = document.querySelector("dialog[open]");
  if (e.key === "Escape") {
    if (S.draw.active) {
      S.draw.cancel();
      e.preventDefault();
    } else if (pickingFireLocation) {
      pickingFireLocation = false;
      $("draw-hint").hidden = true;
      $("crosshair").hidden = true;
      openFireDialog();
    }
    return;
  }
  if (typing(e.target) || inDialog) return;
  const onMap = $("map").contains(e.target);
  if (S.draw.active && onMap) {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      S.draw.addCentre();
      return;
    }
    if (e.key === "Backspace") {
      e.preventDefault();
      S.draw.undo();
      return;
    }
  }
  if (pickingFireLocation && onMap && (e.key === "Enter" || e.key === " ")) {
    e.preventDefault();
    const c = S.map.map.getCenter();
    onMapClick({ lngLat: c, point: S.map.map.project(c) });
    return;
  }
  const k = e.key.toLowerCase();
  const actions = {
    "?": () => $("help-dialog").showModal(),
    u: openFireDialog,
    k: () => {
      const f = [...S.fires.values()].find((x) => !x.acked);
      if (f) ackFire(f.key);
      else if (S.revocations.size) ackRevocation([...S.revocations.keys()][0]);
    },
    m: () => focusMap(),
    n: () => startDrawing(null),
    d: () => startDrawing("disc"),
    c: () => startDrawing("corridor"),
    p: () => startDrawing("polygon"),
    f: () => S.draw.active && S.draw.finish(),
    i: () => {
      const c = S.map.map.getCenter();
      inspectAt(S.map.map.project(c), c);
    },
    t: () => showTab("timeline"),
    1: () => showTab("clearances"),
    2: () => showTab("request"),
    3: () => showTab("alerts"),
    4: () => showTab("timeline"),
    5: () => showTab("map"),
  };
  const act = actions[e.key] || actions[k];
  if (act) {
    e.preventDefault();
    act();
  }
}

function wire() {
  $("signin-form").addEventListener("submit", onSignInSubmit);
  $("signout-button").addEventListener("click", () => signOut());
  $("help-button").addEventListener("click", () => $("help-dialog").showModal());
  $("under-fire-button").addEventListener("click", () => {
    sound.unlock();
    openFireDialog();
  });
  $("fire-form").addEventListener("submit", onFireSubmit);
  $("fire-cancel").addEventListener("click", () => $("fire-dialog").close());
  $("fire-use-centre").addEventListener("click", () => {
    const c = S.map.map.getCenter();
    $("fire-location").value = formatSigned(c.lat, c.lng);
  });
  $("fire-pick").addEventListener("click", () => {
    $("fire-dialog").close();
    pickingFireLocation = true;
    $("draw-hint").hidden = false;
    $("draw-hint").textContent = "Click your position on the map (or pan and press Enter). Esc goes back.";
    $("crosshair").hidden = false;
    focusMap();
  });
  for (const t of TABS) {
    $(`tab-${t}`).addEventListener("click", () => showTab(t));
    $(`tab-${t}`).addEventListener("keydown", onTabKey);
  }
  for (const r of document.querySelectorAll('input[name="shape"]')) r.addEventListener("change", onShapeKindChange);
  $("draw-button").addEventListener("click", () => (S.draw.active ? S.draw.finish() : startDrawing(null)));
  $("clear-shape-button").addEventListener("click", () => {
    S.draw.cancel();
    S.shape = null;
    renderDraft();
  });
  for (const id of ["radius", "width", "hazard"]) $(id).addEventListener("input", renderDraft);
  $("request-form").addEventListener("submit", onRequestSubmit);
  $("timeline-form").addEventListener("submit", loadTimeline);
  $("tl-export-json").addEventListener("click", () => exportTimeline("json"));
  $("tl-export-geojson").addEventListener("click", () => exportTimeline("geojson"));
  $("tl-replay").addEventListener("click", () => setReplay(!S.timeline.replay));
  $("tl-play").addEventListener("click", togglePlay);
  $("tl-slider").addEventListener("input", (e) => {
    S.timeline.pos = Number(e.target.value);
    if (!S.timeline.replay) setReplay(true);
    else renderTimeline();
  });
  document.addEventListener("keydown", onKey);
}

async function boot() {
  wire();
  const message = sessionStorage.getItem("accord.signout");
  sessionStorage.removeItem("accord.signout");
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    showSignIn(message || "");
    return;
  }
  try {
    const r = await signIn(token, sessionStorage.getItem(PARTY_KEY));
    if (!r.me) {
      showSignIn("");
      return;
    }
    await start(r);
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(err instanceof ApiError && err.status === 401 ? "Your token is no longer accepted. Sign in again." : `Cannot sign in: ${err.message}`);
  }
}

boot();
