// Station screen: renders the agent's state from /events. Every text goes through textContent.
"use strict";

const LABELS = {
  OK: "OK", NO_READ: "NO READ", NO_WEIGHT: "NO WEIGHT", MULTI_READ: "TWO CODES",
  INVALID_CODE: "BAD CODE — RESCAN", REPEAT: "ALREADY SCANNED", NOT_CAPTURED: "NOT CAPTURED",
};
// One distinct tone pattern per outcome: [frequency Hz, duration s] steps.
const TONES = {
  OK: [[1320, 0.12]],
  NO_READ: [[330, 0.25], [220, 0.35]],
  NO_WEIGHT: [[660, 0.15], [440, 0.25]],
  MULTI_READ: [[880, 0.1], [0, 0.05], [880, 0.1], [0, 0.05], [880, 0.1]],
  INVALID_CODE: [[520, 0.12], [0, 0.06], [260, 0.3]],
  REPEAT: [[990, 0.08], [0, 0.05], [990, 0.08]],
  NOT_CAPTURED: [[180, 0.8]],
  // A held parcel: a two-note siren, three times, unlike any outcome tone.
  HELD: [[1400, 0.18], [700, 0.18], [1400, 0.18], [700, 0.18], [1400, 0.18], [700, 0.3]],
};
let audio = null;
let lastShown = null;
let lastHeld = false;

function beep(outcome) {
  if (!audio) return;
  let at = audio.currentTime;
  for (const [freq, dur] of TONES[outcome] || []) {
    if (freq > 0) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = outcome === "HELD" ? "sawtooth" : "square";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.2, at);
      gain.gain.setValueAtTime(0, at + dur);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + dur);
    }
    at += dur;
  }
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

function lineOf(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text;
  el.className = className;
  return el;
}

function renderVerdict(verdict) {
  const box = document.getElementById("verdict");
  box.replaceChildren();
  box.dataset.state = verdict ? verdict.state : "none";
  box.className = verdict ? `tone-${verdict.tone}` : "";
  if (!verdict) return;
  box.append(lineOf("div", "gateway:", "verdict-label"));
  for (const line of verdict.lines) box.append(lineOf("div", line.text, `tone-${line.tone}`));
  if (verdict.detail) box.append(lineOf("div", verdict.detail, "verdict-detail"));
}

function renderHold(hold) {
  const box = document.getElementById("hold");
  box.replaceChildren();
  box.hidden = !hold;
  document.body.classList.toggle("held", Boolean(hold));
  if (!hold) return;
  box.append(lineOf("div", `HELD — ${hold.words.toUpperCase()}`, "hold-reason"));
  box.append(lineOf("div", "SET ASIDE — do not load", "hold-action"));
  if (hold.note) box.append(lineOf("div", hold.note, "hold-note"));
}

function renderRecent(recent) {
  const list = document.getElementById("recent");
  list.replaceChildren();
  for (const parcel of recent || []) {
    const item = document.createElement("li");
    item.append(lineOf("span", `#${parcel.seq} ${parcel.code}`, "recent-code"));
    const hold = parcel.hold || (parcel.verdict && parcel.verdict.hold);
    if (hold) item.append(lineOf("span", `HELD — ${hold.words}`, "tone-red"));
    for (const line of (parcel.verdict || {}).lines || []) {
      item.append(lineOf("span", line.text, `tone-${line.tone}`));
    }
    list.append(item);
  }
}

function render(state) {
  setText("station", `${state.station} · dock ${state.dock}`);
  const link = document.getElementById("link");
  link.textContent = state.link.connected ? "broker: online" : "broker: OFFLINE (events kept)";
  link.className = state.link.connected ? "good" : "bad";
  const age = state.outbox.oldest_age_s;
  setText("outbox", `outbox ${state.outbox.depth}` + (age ? ` (oldest ${age}s)` : ""));
  const holds = state.holds || { count: 0, version: -1 };
  setText("holds", holds.version < 0 ? "holds: none received" : `holds ${holds.count} · v${holds.version}`);
  const list = document.getElementById("devices");
  list.replaceChildren();
  for (const [id, dev] of Object.entries(state.devices)) {
    const item = document.createElement("li");
    item.textContent = `${id}: ${dev.state}` + (dev.reason ? ` (${dev.reason})` : "");
    item.className = dev.state === "ok" ? "good" : "bad";
    list.append(item);
  }
  renderRecent(state.recent);
  const last = state.last;
  if (!last) {
    lastShown = lastShown ?? "";  // nothing shown yet: the first parcel will beep
    return;
  }
  document.body.className = `outcome-${last.outcome}`;
  // The station's own list decides; the gateway's verdict can only add a hold it knew first.
  const hold = last.hold || (last.verdict && last.verdict.hold) || null;
  renderHold(hold);
  renderVerdict(last.verdict);
  setText("outcome", LABELS[last.outcome] || last.outcome);
  setText("code", last.code + (last.codes > 1 ? `  (+${last.codes - 1})` : ""));
  setText("weight", last.weight);
  const seq = last.seq ? `#${last.seq}` : "";
  setText("detail", [last.kind, ...last.flags, last.reason, seq].filter(Boolean).join(" · "));
  const key = `${last.seq}|${last.shown_at}`;
  if (lastShown !== null && key !== lastShown) beep(hold ? "HELD" : last.outcome);
  else if (hold && !lastHeld && key === lastShown) beep("HELD");  // the gateway's, just now
  lastShown = key;
  lastHeld = Boolean(hold);
}

function connect() {
  const source = new EventSource("/events");
  source.onopen = () => setText("stream", "live");
  source.onmessage = (msg) => render(JSON.parse(msg.data));
  source.onerror = () => setText("stream", "agent not answering — retrying");
}

document.getElementById("sound").addEventListener("click", (ev) => {
  audio = audio || new AudioContext();
  audio.resume();
  ev.target.remove();
  beep("OK");
});
connect();
