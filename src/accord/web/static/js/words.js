// Plain words for statuses, answers, reasons and events. Colour is never the only signal: each
// status has an icon and words, and anything that is not "clear" says NOT CLEAR in capitals.

export const STATUS = {
  clear: { icon: "✔", word: "CLEAR", headline: "CLEAR", cls: "st-clear" },
  conflict: { icon: "✖", word: "CONFLICT", headline: "NOT CLEAR — CONFLICT", cls: "st-conflict" },
  unresolved: {
    icon: "?",
    word: "UNRESOLVED",
    headline: "NOT CLEAR — UNRESOLVED",
    cls: "st-unresolved",
  },
  revoked: { icon: "⚠", word: "REVOKED", headline: "NOT CLEAR — REVOKED", cls: "st-revoked" },
  closed: { icon: "■", word: "CLOSED", headline: "CLOSED — no longer active", cls: "st-closed" },
};

export function statusInfo(status) {
  return (
    STATUS[status] || {
      icon: "?",
      word: String(status || "unknown").toUpperCase(),
      headline: `NOT CLEAR — ${String(status || "unknown").toUpperCase()}`,
      cls: "st-unresolved",
    }
  );
}

export const ANSWERS = {
  absent: { icon: "○", word: "ABSENT", text: "none of ours are in the area", cls: "ans-absent" },
  present: { icon: "●", word: "PRESENT", text: "we have people in the area", cls: "ans-present" },
  checking: {
    icon: "…",
    word: "CHECKING — NOT CLEAR",
    text: "still checking: not yet known, NOT a no",
    cls: "ans-checking",
  },
  none: { icon: "…", word: "NO ANSWER YET — NOT CLEAR", text: "has not answered", cls: "ans-none" },
};

export function answerInfo(answer) {
  return ANSWERS[answer] || ANSWERS.none;
}

function metres(m) {
  if (m === undefined || m === null) return "";
  return m >= 10000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`;
}

/** One reason of a verdict in plain words; `name` maps a party id to its display name. */
export function reasonText(reason, name = (p) => p) {
  const who = reason.party ? name(reason.party) : "a party";
  switch (reason.code) {
    case "conflict": {
      if (reason.presence) {
        const d = reason.distance_m !== undefined ? `, ${metres(reason.distance_m)} from the area` : "";
        return `${who} has "${reason.presence}" inside the hazard area${d}.`;
      }
      return `${who} has someone or something inside the hazard area (its position is not shown to you).`;
    }
    case "confirmed_present":
      return `${who} confirmed it has people in the area.`;
    case "awaiting_confirmation":
      return `${who} has not answered yet. No answer is NOT a no.`;
    case "checking":
      return `${who} is still checking. "Checking" is NOT a no: NOT CLEAR until it answers.`;
    case "stale":
      return `${who} answers for this area and has not confirmed its picture recently: silence is not absence.`;
    case "stale_track":
      return `A moving unit of ${who} has not reported its position recently: it could be anywhere nearby.`;
    case "boundary_discrepancy": {
      const layers = (reason.layers || []).join(", ");
      return `The area touches a zone where the parties' boundary maps disagree${layers ? ` (layers ${layers})` : ""}.`;
    }
    case "alert":
      return `${who} reported being under fire nearby${reason.alert ? ` (alert ${reason.alert})` : ""}: CHECK FIRE.`;
    default:
      return `${reason.code}${reason.party ? ` (${who})` : ""}${reason.detail ? `: ${reason.detail}` : ""}.`;
  }
}

export const KINDS = {
  under_fire: "UNDER FIRE",
  troops_in_contact: "TROOPS IN CONTACT",
};

/** A one-line summary of a timeline or stream event. */
export function eventText(ev, name = (p) => p) {
  const by = ev.party ? name(ev.party) : "";
  switch (ev.type) {
    case "party_registered":
      return `party ${ev.name || ev.id} (${ev.id}) registered`;
    case "presence_upserted":
      return ev.visible_as === "coarse"
        ? `${by} registered or moved a ${ev.kind || "presence"} (coarse cell only)`
        : `${by} registered or moved ${ev.kind || "presence"} ${ev.label ? `"${ev.label}"` : ev.id || ""}`.trim();
    case "presence_removed":
      return `${by} removed presence ${ev.id || ""}`.trim();
    case "positions_updated":
      return `${by} reported track positions`;
    case "aor_set":
      return `${by} set its area of responsibility`;
    case "heartbeat":
      return `${by} confirmed its picture (heartbeat)`;
    case "layer_added":
      return `${by} loaded boundary layer "${ev.name || ev.id || ""}"`;
    case "clearance_requested":
      return `${by} requested clearance ${ev.id || ""}${ev.purpose ? ` (${ev.purpose})` : ""}: ${statusInfo(ev.status).word}`;
    case "clearance_answered": {
      const a = answerInfo(ev.answer);
      return `${by} answered ${a.word} on clearance ${ev.clearance || ""}`;
    }
    case "verdict_changed":
      return `clearance ${ev.clearance || ""} is now ${statusInfo(ev.status).word}`;
    case "clearance_revoked":
      return `clearance ${ev.clearance || ""} REVOKED — NOT CLEAR${ev.attempt > 1 ? ` (sent again, attempt ${ev.attempt})` : ""}`;
    case "clearance_acknowledged":
      return `${by} confirmed receipt of clearance ${ev.clearance || ""} verdict version ${ev.version}`;
    case "clearance_closed":
      return `clearance ${ev.clearance || ""} closed`;
    case "alert_raised":
      return `${by} raised ${KINDS[ev.kind] || ev.kind || "an alert"} (alert ${ev.id})`;
    case "check_fire":
      return `CHECK FIRE to ${name(ev.to || ev.party || "")} for clearance ${ev.clearance || ""}${ev.attempt > 1 ? ` (sent again, attempt ${ev.attempt})` : ""}`;
    case "check_fire_delivered":
      return `check-fire for clearance ${ev.clearance || ""} delivered to ${by}`;
    case "alert_acknowledged":
      return `${by} acknowledged check-fire of alert ${ev.alert || ""}`;
    case "alert_unacknowledged":
      return ev.alert
        ? `check-fire for clearance ${ev.clearance || ""} NOT acknowledged yet by ${name(ev.notified || "")}`
        : `revocation of clearance ${ev.clearance || ""} NOT acknowledged yet`;
    case "probe_warning":
      return `${name(ev.asker)} made a request that touched your undisclosed presences (${ev.used}/${ev.budget} this hour)`;
    default:
      return `${ev.type}${by ? ` by ${by}` : ""}`;
  }
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

export function fmtMetres(m) {
  return metres(m);
}
