// Alarm tones made with WebAudio (no sound files). Browsers only let a page make sound after a
// user gesture, so `unlock()` is called from the sign-in click; `played` counts tones started, and
// the <body data-alarms> attribute mirrors it so a person (or a test) can see the alarm sounded.

let ctx = null;
export let played = 0;

export function unlock() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  if (!ctx) ctx = new Ctx();
  if (ctx.state === "suspended") ctx.resume().catch(() => {});
}

/** Three falling two-tone beeps, loud enough to hear across a room. */
export function alarm() {
  played += 1;
  document.body.dataset.alarms = String(played);
  if (!ctx) unlock();
  if (!ctx) return;
  const start = ctx.currentTime + 0.02;
  for (let i = 0; i < 3; i++) {
    const t = start + i * 0.42;
    beep(t, 960, 0.18);
    beep(t + 0.2, 640, 0.18);
  }
}

/** One short tone for things that need an answer but are not a check-fire. */
export function chime() {
  played += 1;
  document.body.dataset.alarms = String(played);
  if (!ctx) return;
  beep(ctx.currentTime + 0.02, 740, 0.15, 0.15);
}

function beep(t, freq, dur, level = 0.35) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = "square";
  osc.frequency.setValueAtTime(freq, t);
  gain.gain.setValueAtTime(0, t);
  gain.gain.linearRampToValueAtTime(level, t + 0.01);
  gain.gain.setValueAtTime(level, t + dur - 0.03);
  gain.gain.linearRampToValueAtTime(0, t + dur);
  osc.connect(gain).connect(ctx.destination);
  osc.start(t);
  osc.stop(t + dur + 0.01);
}
