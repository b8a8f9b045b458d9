// The agent workspace in the browser: live refresh of the view counts, the list, the
// presence switch and the offer banner on socket frames (realtime.js dispatches them on
// <body> as "sb-<Type>"), the offer countdown, browser notifications for new offers
// (asked for from a button, never on load), SLA time-left text, and the shortcuts of
// the list. Customer text is only ever set with textContent.
//
// htmx trigger filters need eval, which the CSP forbids: this module filters frames and
// re-dispatches plain events ("sb-counts-changed", "sb-list-changed",
// "sb-offers-changed", "sb-presence-changed") that the fragments listen for.

import { bind, showHelp } from "./shortcuts.js";

const body = document.body;
const labels = JSON.parse(document.getElementById("workspace-labels")?.textContent || "{}");
const bar = () => document.getElementById("agent-bar");
const myId = () => Number(bar()?.dataset.userId || 0);

function fire(name) {
  body.dispatchEvent(new CustomEvent(name));
}

function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

// -- live refresh ------------------------------------------------------------------

const TICKET_EVENTS = [
  "TicketCreated",
  "TicketUpdated",
  "TicketStatusChanged",
  "TicketAssigned",
  "MessageReceived",
  "MessageSent",
  "QueueChanged",
  "CustomersMerged",
  "CustomersUnmerged",
  "SlaBreached",
];

const refreshCounts = debounce(() => fire("sb-counts-changed"), 250);
const refreshList = debounce(() => {
  const table = document.querySelector("#ticket-list table.tickets");
  const empty = document.querySelector("#ticket-list .empty");
  // A later page keeps still (rows moving under the reader help nobody); the first
  // page follows the work.
  if ((table && table.dataset.firstPage === "true") || empty) fire("sb-list-changed");
}, 400);

for (const type of TICKET_EVENTS) {
  body.addEventListener("sb-" + type, () => {
    refreshCounts();
    refreshList();
  });
}

body.addEventListener("sb-AgentPresenceChanged", (event) => {
  const data = event.detail?.data || {};
  if (data.agent_id === undefined || Number(data.agent_id) === myId()) {
    refreshPresence();
  }
});

function refreshPresence() {
  const form = document.getElementById("presence");
  if (form && window.htmx) {
    window.htmx.ajax("GET", "/agent/fragments/presence", { target: form, swap: "outerHTML" });
  }
}

function forMe(event) {
  const data = event.detail?.data || {};
  return data.agent_id === undefined || Number(data.agent_id) === myId();
}

body.addEventListener("sb-OfferMade", (event) => {
  if (!forMe(event)) return;
  fire("sb-offers-changed");
  notify(event.detail.data || {});
});

body.addEventListener("sb-OfferEnded", (event) => {
  if (forMe(event)) fire("sb-offers-changed");
  refreshCounts();
});

// The socket replays what it missed after a blip; when that is gone, refresh in place.
body.addEventListener("sb-reload", (event) => {
  if (!document.getElementById("ticket-list")) return;
  event.preventDefault();
  fire("sb-offers-changed");
  refreshCounts();
  fire("sb-list-changed");
  refreshPresence();
});

// -- time left (offers and SLA) ----------------------------------------------------

function format(template, values) {
  return String(template || "").replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");
}

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}${labels.days || "d"} ${h}${labels.hours || "h"}`;
  if (h) return `${h}${labels.hours || "h"} ${String(m).padStart(2, "0")}${labels.minutes || "m"}`;
  if (m) return `${m}${labels.minutes || "m"}`;
  return `${s}${labels.seconds || "s"}`;
}

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll(".countdown[data-expires]")) {
    const left = (Date.parse(el.dataset.expires) - now) / 1000;
    el.textContent = format(labels.left, { time: duration(left) });
    const offer = el.closest(".offer");
    if (offer) offer.classList.toggle("expiring", left <= 10);
    if (left <= 0 && offer && !offer.classList.contains("gone")) {
      offer.classList.add("gone");
      fire("sb-offers-changed");
    }
  }
}

function slaTick() {
  const now = Date.now();
  for (const el of document.querySelectorAll(".sla[data-due]")) {
    const left = (Date.parse(el.dataset.due) - now) / 1000;
    if (left <= 0) {
      el.textContent = labels.breached || "Breached";
      el.classList.remove("ok", "warn");
      el.classList.add("bad");
      el.removeAttribute("data-due");
    } else {
      el.textContent = format(labels.left, { time: duration(left) });
    }
  }
}

setInterval(tick, 1000);
setInterval(slaTick, 30000);
tick();

// -- browser notifications ---------------------------------------------------------

function setupNotifyButton() {
  const button = document.getElementById("notify-ask");
  if (!button) return;
  const can = "Notification" in window && Notification.permission === "default";
  button.classList.toggle("hidden", !can);
}

document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element && event.target.closest("#notify-ask");
  if (!button || !("Notification" in window)) return;
  await Notification.requestPermission();
  setupNotifyButton();
});

function notify(data) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const note = new Notification(labels.offer_title || "New offer", {
      body: format(labels.offer_body, { ticket: data.number || "", channel: data.channel || "" }),
      tag: "offer-" + (data.offer_id || ""),
    });
    note.addEventListener("click", () => {
      window.focus();
      note.close();
    });
  } catch (err) {
    // Some browsers only allow notifications from a service worker; the banner stays.
  }
}

// -- the list and its shortcuts ----------------------------------------------------

let selected = null;

function rows() {
  return [...document.querySelectorAll("#ticket-list tr.ticket-row")];
}

function select(index) {
  const all = rows();
  if (!all.length) return;
  const i = Math.max(0, Math.min(all.length - 1, index));
  for (const row of all) row.classList.remove("selected");
  const row = all[i];
  row.classList.add("selected");
  selected = row.dataset.number;
  row.querySelector("a.ticket-link")?.focus();
}

function current() {
  return rows().findIndex((row) => row.dataset.number === selected);
}

body.addEventListener("htmx:afterSwap", (event) => {
  if (event.target && event.target.id === "ticket-list" && selected) {
    const row = rows().find((r) => r.dataset.number === selected);
    if (row) row.classList.add("selected");
  }
  setupNotifyButton();
  tick();
});

document.addEventListener("focusin", (event) => {
  const row = event.target instanceof Element && event.target.closest("tr.ticket-row");
  if (!row) return;
  for (const r of rows()) r.classList.toggle("selected", r === row);
  selected = row.dataset.number;
});

if (document.getElementById("ticket-list")) {
  bind("j", labels.shortcut_next, () => select(current() + 1));
  bind("k", labels.shortcut_previous, () => select(current() < 0 ? 0 : current() - 1));
  bind("Enter", labels.shortcut_open, () => {
    // Enter on a button or link outside the list keeps its own meaning.
    const active = document.activeElement;
    if (active && active !== document.body && !active.closest("#ticket-list")) return false;
    const row = rows()[current()];
    if (!row) return false;
    location.assign(row.dataset.href);
  });
}
bind("a", labels.shortcut_accept, () => {
  const accept = document.querySelector("#offers .offer-accept");
  if (!accept) return false;
  accept.click();
});
bind("/", labels.shortcut_search, () => {
  const search = document.getElementById("q");
  if (search) {
    search.focus();
    search.select();
    return;
  }
  location.assign("/agent#q");
});
bind("n", labels.shortcut_new, () => location.assign("/agent/new"));
bind("?", labels.shortcut_help, () => showHelp());

setupNotifyButton();
if (location.hash === "#q") document.getElementById("q")?.focus();
