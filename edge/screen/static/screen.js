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
};
let audio = null;
let lastShown = null;

function beep(outcome) {
  if (!audio) return;
  let at = audio.currentTime;
  for (const [freq, dur] of TONES[outcome] || []) {
    if (freq > 0) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "square";
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

function render(state) {
  setText("station", `${state.station} · dock ${state.dock}`);
  const link = document.getElementById("link");
  link.textContent = state.link.connected ? "broker: online" : "broker: OFFLINE (events kept)";
  link.className = state.link.connected ? "good" : "bad";
  const age = state.outbox.oldest_age_s;
  setText("outbox", `outbox ${state.outbox.depth}` + (age ? ` (oldest ${age}s)` : ""));
  const list = document.getElementById("devices");
  list.replaceChildren();
  for (const [id, dev] of Object.entries(state.devices)) {
    const item = document.createElement("li");
    item.textContent = `${id}: ${dev.state}` + (dev.reason ? ` (${dev.reason})` : "");
    item.className = dev.state === "ok" ? "good" : "bad";
    list.append(item);
  }
  const last = state.last;
  if (!last) return;
  document.body.className = `outcome-${last.outcome}`;
  setText("outcome", LABELS[last.outcome] || last.outcome);
  setText("code", last.code + (last.codes > 1 ? `  (+${last.codes - 1})` : ""));
  setText("weight", last.weight);
  const seq = last.seq ? `#${last.seq}` : "";
  setText("detail", [last.kind, ...last.flags, last.reason, seq].filter(Boolean).join(" · "));
  const key = `${last.seq}|${last.shown_at}`;
  if (lastShown !== null && key !== lastShown) beep(last.outcome);
  lastShown = key;
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
