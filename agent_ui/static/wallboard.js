// The supervisor wallboard, live. realtime.js re-dispatches every socket frame on <body>
// as "sb-<Type>"; this module maps frame types to the parts whose numbers they move,
// debounces, and asks htmx to re-fetch those fragments (a "wb-<part>" event the
// fragments' hx-trigger listens for) or re-reads the chart data. Nothing polls the
// server: the only timer re-draws the countdowns from the page's own clock.

const PARTS = {
  tiles: ["QueueChanged", "OfferMade", "OfferEnded", "AgentPresenceChanged", "TicketCreated",
    "TicketAssigned", "TicketStatusChanged", "TicketUpdated", "TicketRated"],
  sla: ["SlaWarning", "SlaBreached", "TicketAssigned", "TicketStatusChanged", "TicketUpdated",
    "TicketCreated", "MessageSent"],
  agents: ["AgentPresenceChanged", "OfferMade", "OfferEnded", "TicketAssigned",
    "TicketStatusChanged", "TicketUpdated"],
  charts: ["TicketCreated", "MessageSent"],
};
const DELAY_MS = { tiles: 250, sla: 400, agents: 300, charts: 3000 };
const COLORS = ["#1f6feb", "#2e7d32", "#b26a00", "#8e24aa", "#c62828", "#00838f"];

const body = document.body;
const timers = {};

function refresh(part) {
  if (part === "charts") {
    loadCharts();
  } else {
    body.dispatchEvent(new CustomEvent("wb-" + part));
  }
}

function soon(part) {
  clearTimeout(timers[part]);
  timers[part] = setTimeout(() => refresh(part), DELAY_MS[part]);
}

const byType = {};
for (const [part, types] of Object.entries(PARTS)) {
  for (const type of types) {
    (byType[type] ||= []).push(part);
  }
}
for (const [type, parts] of Object.entries(byType)) {
  body.addEventListener("sb-" + type, () => parts.forEach(soon));
}
// After a reconnect the stream replays what was missed; when the missed part is gone it
// sends "reload", and the wallboard re-reads its parts instead of reloading the page. A
// page left in the background re-reads everything once when it comes back.
body.addEventListener("sb-reload", (event) => {
  event.preventDefault();
  Object.keys(PARTS).forEach(soon);
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    Object.keys(PARTS).forEach(soon);
  }
});

// -- status line for actions -------------------------------------------------------
const status = document.getElementById("wb-status");
body.addEventListener("htmx:beforeRequest", () => status && status.classList.remove("wb-error"));
body.addEventListener("htmx:responseError", (event) => {
  if (!status) return;
  status.textContent = event.detail.xhr.responseText || String(event.detail.xhr.status);
  status.classList.add("wb-error");
});

// -- countdowns --------------------------------------------------------------------
function span(seconds) {
  const s = Math.trunc(seconds);
  const a = Math.abs(s);
  const two = (n) => String(n).padStart(2, "0");
  let text;
  if (a >= 86400) {
    text = `${Math.floor(a / 86400)}d ${Math.floor((a % 86400) / 3600)}h`;
  } else if (a >= 3600) {
    text = `${Math.floor(a / 3600)}h ${two(Math.floor((a % 3600) / 60))}m`;
  } else {
    text = `${Math.floor(a / 60)}:${two(a % 60)}`;
  }
  return (s < 0 ? "-" : "") + text;
}

function tick() {
  const now = Date.now() / 1000;
  for (const el of document.querySelectorAll(".wb-since[data-since]")) {
    if (el.dataset.since) el.textContent = span(Math.max(0, now - Number(el.dataset.since)));
  }
  for (const el of document.querySelectorAll(".wb-due[data-due]")) {
    el.textContent = span(Date.parse(el.dataset.due) / 1000 - now);
  }
  for (const el of document.querySelectorAll(".wb-due[data-due-s]")) {
    el.textContent = span(Math.max(0, Number(el.dataset.dueS) - now));
  }
}
setInterval(tick, 1000);

// -- charts ------------------------------------------------------------------------
const charts = {};

function width(el) {
  return Math.max(240, el.clientWidth);
}

function draw(id, opts, data) {
  const el = document.getElementById(id);
  if (!el || !window.uPlot) return;
  if (charts[id]) charts[id].destroy();
  el.replaceChildren();
  charts[id] = new window.uPlot({ width: width(el), height: 220, ...opts }, data, el);
}

function drawVolume(v) {
  const el = document.getElementById("wb-volume");
  const zone = el && el.dataset.zone;
  const tzDate = zone && window.uPlot.tzDate
    ? (ts) => window.uPlot.tzDate(new Date(ts * 1e3), zone) : undefined;
  const series = v.series.length ? v.series : [{ label: "", counts: v.hours.map(() => 0) }];
  draw("wb-volume", {
    ...(tzDate ? { tzDate } : {}),
    series: [{ label: v.time }, ...series.map((s, i) => ({
      label: s.label, stroke: COLORS[i % COLORS.length], width: 2,
      points: { show: true, size: 4 },
    }))],
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(4, max + 1)] } },
    axes: [{}, { values: (u, splits) => splits.map((n) => (Number.isInteger(n) ? n : "")) }],
  }, [v.hours, ...series.map((s) => s.counts)]);
}

function drawResponses(f) {
  const xs = f.buckets.map((_, i) => i);
  const bars = window.uPlot.paths && window.uPlot.paths.bars
    ? window.uPlot.paths.bars({ size: [0.7, 60] }) : undefined;
  draw("wb-frt", {
    legend: { show: false },
    series: [{ value: (u, i) => (i == null ? "" : f.buckets[i] ?? "") },
      { label: f.series, stroke: COLORS[0], fill: "rgba(31,111,235,0.35)", paths: bars,
        points: { show: false } }],
    scales: { x: { time: false, range: [-0.5, xs.length - 0.5] },
      y: { range: (u, min, max) => [0, Math.max(4, max + 1)] } },
    axes: [{ splits: () => xs, values: (u, splits) => splits.map((i) => f.buckets[i] ?? "") },
      { values: (u, splits) => splits.map((n) => (Number.isInteger(n) ? n : "")) }],
  }, [xs, f.counts]);
}

async function loadCharts() {
  const response = await fetch("/supervisor/charts.json", {
    credentials: "same-origin", headers: { Accept: "application/json" },
  });
  if (!response.ok) return;
  const data = await response.json();
  drawVolume(data.volume);
  drawResponses(data.frt);
  body.dataset.chartsReady = "1";
}

window.addEventListener("resize", () => {
  for (const [id, chart] of Object.entries(charts)) {
    const el = document.getElementById(id);
    if (el) chart.setSize({ width: width(el), height: 220 });
  }
});

if (document.readyState === "complete") {
  loadCharts();
} else {
  window.addEventListener("load", loadCharts);
}
tick();
