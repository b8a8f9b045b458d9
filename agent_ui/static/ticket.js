// The ticket page: live timeline and side refreshes from the stream's frames for this
// ticket, collision notices, the composer (Ctrl+Enter, a draft kept in localStorage per
// ticket and user), inline errors from htmx posts, and SLA clocks counting down.
// Customer data only ever reaches the DOM through textContent.

import { bind } from "./shortcuts.js";

const root = document.getElementById("ticket");

function send(frame) {
  const stream = window.Switchboard && window.Switchboard.stream;
  if (!stream || typeof stream.send !== "function") return false;
  try {
    stream.send(frame);
    return true;
  } catch (err) {
    return false;
  }
}

function later(fn, ms) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}

function fire(name) {
  document.body.dispatchEvent(new CustomEvent(name, { bubbles: true }));
}

// A refresh asked for while a request for that part is in flight (a refresh, or the
// composer's post that answers with the timeline) runs once that answer is in place: a
// trigger fired at the old element is lost when the swap replaces it, so an SMS receipt
// arriving while the reply was being posted would otherwise never be shown.
function refresher(name, id, ms) {
  let busy = false;
  let again = false;
  const run = later(() => {
    if (busy) { again = true; return; }
    fire(name);
  }, ms);
  const about = (ev) => ev.detail && ev.detail.target && ev.detail.target.id === id;
  document.body.addEventListener("htmx:beforeRequest", (ev) => { if (about(ev)) busy = true; });
  document.body.addEventListener("htmx:afterRequest", (ev) => {
    if (!about(ev)) return;
    // Still busy until the answer has replaced the old element (the swap follows).
    setTimeout(() => {
      busy = false;
      if (again) { again = false; run(); }
    }, 50);
  });
  return run;
}

// -- live refreshes ---------------------------------------------------------------------
function liveRefreshes(number, customerId) {
  const timeline = refresher("ticket-timeline", "timeline", 150);
  const changed = later(() => fire("ticket-changed"), 150);
  const mine = (ev) => ev.detail && ev.detail.data && ev.detail.data.number === number;
  for (const type of ["MessageReceived", "MessageSent", "DeliveryStatusChanged", "CallChanged"]) {
    document.body.addEventListener("sb-" + type, (ev) => { if (mine(ev)) timeline(); });
  }
  for (const type of ["TicketUpdated", "TicketStatusChanged", "TicketAssigned", "SlaWarning", "SlaBreached", "SlaStarted"]) {
    document.body.addEventListener("sb-" + type, (ev) => { if (mine(ev)) changed(); });
  }
  for (const type of ["CustomersMerged", "CustomersUnmerged"]) {
    document.body.addEventListener("sb-" + type, (ev) => {
      const d = (ev.detail && ev.detail.data) || {};
      if (String(d.kept_id) === customerId || String(d.merged_id) === customerId) changed();
    });
  }
  const side = later(() => fire("ticket-side"), 150);
  document.body.addEventListener("sb-ErpFindingsUpdated", (ev) => { if (mine(ev)) side(); });
  document.body.addEventListener("sb-reload", () => { timeline(); changed(); });
}

// -- collision notice -------------------------------------------------------------------
function collisions(number, me) {
  const list = document.getElementById("collision");
  const others = new Map(); // user id -> {name, action, until}
  const words = { viewing: root.dataset.tViewing, typing: root.dataset.tTyping };

  function draw() {
    const now = Date.now();
    for (const [id, o] of others) if (o.until < now) others.delete(id);
    list.replaceChildren();
    for (const o of others.values()) {
      const li = document.createElement("li");
      li.className = "collision-" + o.action;
      li.textContent = (words[o.action] || words.viewing).replace("{name}", o.name);
      list.append(li);
    }
  }

  document.body.addEventListener("sb-Collision", (ev) => {
    const d = (ev.detail && ev.detail.data) || {};
    if (d.ticket !== number || String(d.user_id) === me) return;
    if (d.action === "left") {
      others.delete(String(d.user_id));
    } else {
      // A newcomer did not see our earlier notice (collision frames are not replayed):
      // answer once, after the server's one-a-second limit per kind.
      if (!others.has(String(d.user_id))) setTimeout(viewing, 1100);
      const ttl = d.action === "typing" ? 8000 : 70000;
      const prior = others.get(String(d.user_id));
      if (d.action === "viewing" && prior && prior.action === "typing" && prior.until > Date.now()) {
        prior.until = Math.max(prior.until, Date.now() + 1000);
      } else {
        others.set(String(d.user_id), { name: String(d.name || "?"), action: d.action, until: Date.now() + ttl });
      }
    }
    draw();
  });
  setInterval(draw, 2000);

  const viewing = () => send({ type: "viewing", ticket: number });
  viewing();
  document.body.addEventListener("sb-hello", viewing);
  setInterval(viewing, 30000);
  window.addEventListener("pagehide", () => send({ type: "left", ticket: number }));
  let lastTyping = 0;
  return () => {
    const now = Date.now();
    if (now - lastTyping < 2000) return;
    lastTyping = now;
    send({ type: "typing", ticket: number });
  };
}

// -- composer ---------------------------------------------------------------------------
function composer(typing) {
  const form = document.getElementById("composer");
  if (!form) return;
  const text = form.querySelector("textarea");
  const note = form.querySelector("#note-toggle");
  const key = form.dataset.draft;
  const store = (() => { try { return window.localStorage; } catch (err) { return null; } })();

  if (store && key) {
    const saved = store.getItem(key);
    if (saved) {
      try {
        const draft = JSON.parse(saved);
        text.value = String(draft.text || "");
        if (note && draft.note) note.checked = true;
      } catch (err) {
        store.removeItem(key);
      }
    }
  }
  const save = () => {
    if (!store || !key) return;
    if (text.value) store.setItem(key, JSON.stringify({ text: text.value, note: !!(note && note.checked) }));
    else store.removeItem(key);
  };
  const mode = () => form.classList.toggle("as-note", !!(note && note.checked));
  mode();
  text.addEventListener("input", () => { save(); if (!(note && note.checked)) typing(); });
  if (note) note.addEventListener("change", () => { save(); mode(); });
  text.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("htmx:afterRequest", (ev) => {
    if (ev.detail.elt !== form || !ev.detail.successful) return;
    text.value = "";
    const files = form.querySelector("#reply-files");
    if (files) files.value = "";
    if (note) note.checked = false;
    mode();
    if (store && key) store.removeItem(key);
    text.focus();
  });
}

// -- errors of htmx posts, shown inline as text -----------------------------------------
function inlineErrors() {
  document.body.addEventListener("htmx:beforeRequest", (ev) => {
    const box = errorBox(ev.detail.elt);
    if (box) box.textContent = "";
  });
  document.body.addEventListener("htmx:beforeSwap", (ev) => {
    const xhr = ev.detail.xhr;
    if (!xhr || xhr.status < 400) return;
    ev.detail.shouldSwap = false;
    ev.detail.isError = false;
    const box = errorBox(ev.detail.requestConfig && ev.detail.requestConfig.elt) || errorBox(ev.detail.elt);
    if (box) box.textContent = (xhr.responseText || String(xhr.status)).slice(0, 500);
  });
}

function errorBox(elt) {
  const form = elt && elt.closest ? elt.closest("[data-errors]") : null;
  return form ? document.querySelector(form.dataset.errors) : null;
}

// -- SLA clocks -------------------------------------------------------------------------
function pad(n) { return String(n).padStart(2, "0"); }

function duration(seconds) {
  let left = Math.abs(Math.trunc(seconds));
  const days = Math.floor(left / 86400); left -= days * 86400;
  const hours = Math.floor(left / 3600); left -= hours * 3600;
  const minutes = Math.floor(left / 60); const secs = left - minutes * 60;
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${pad(minutes)}m`;
  return `${minutes}m ${pad(secs)}s`;
}

const seen = new WeakMap();

function tick() {
  for (const section of document.querySelectorAll(".sla")) {
    const t = section.dataset;
    for (const clock of section.querySelectorAll(".sla-clock")) {
      const state0 = clock.dataset.state;
      if (state0 === "met" || state0 === "paused" || clock.dataset.remaining === "") continue;
      if (!seen.has(clock)) seen.set(clock, performance.now());
      const remaining = Number(clock.dataset.remaining) - (performance.now() - seen.get(clock)) / 1000;
      const due = Date.parse(clock.dataset.due);
      const warn = Date.parse(clock.dataset.warn);
      const warnBefore = Number.isFinite(due) && Number.isFinite(warn) ? (due - warn) / 1000 : 0;
      const state = remaining < 0 ? "breached" : state0 === "warning" || remaining <= warnBefore ? "warning" : "running";
      clock.classList.remove("sla-running", "sla-warning", "sla-breached");
      clock.classList.add("sla-" + state);
      const badge = clock.querySelector(".sla-state");
      if (badge) badge.textContent = t["t" + state[0].toUpperCase() + state.slice(1)] || state;
      const left = clock.querySelector(".sla-left");
      if (left) left.textContent = (remaining >= 0 ? t.tLeft : t.tOver).replace("{time}", duration(remaining));
    }
  }
}

function scrollTimeline() {
  const list = document.querySelector("#timeline .timeline");
  if (list) list.scrollTop = list.scrollHeight;
}

// -- SMS length: characters and segments while replying by SMS (Twilio bills per segment)
const GSM7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡" +
  "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED = "^{}\\[~]|€\f";

function smsLength(text) {
  // GSM-7 when every character is in its alphabet (extended ones take two septets),
  // else UCS-2 counted in UTF-16 units (an emoji is two); 160/153 or 70/67 per segment.
  let septets = 0;
  let gsm = true;
  for (const ch of text) {
    if (GSM7.includes(ch)) septets += 1;
    else if (GSM7_EXTENDED.includes(ch)) septets += 2;
    else { gsm = false; break; }
  }
  const units = gsm ? septets : text.length;
  const single = gsm ? 160 : 70;
  const multi = gsm ? 153 : 67;
  const segments = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / multi);
  return { chars: [...text].length, segments, encoding: gsm ? "GSM-7" : "UCS-2" };
}

function smsCounter() {
  const form = document.getElementById("composer");
  const out = document.getElementById("sms-count");
  if (!form || !out) return;
  const text = form.querySelector("textarea");
  const via = form.querySelector("#via");
  const note = form.querySelector("#note-toggle");
  const show = () => {
    const channel = via ? via.value : "";
    const sms = channel === "sms" && !(note && note.checked);
    out.hidden = !sms;
    if (!sms) return;
    const n = smsLength(text.value);
    out.textContent = out.dataset.template
      .replace("{chars}", String(n.chars))
      .replace("{segments}", String(n.segments))
      .replace("{encoding}", n.encoding);
    out.classList.toggle("warn", n.segments > 3);
  };
  text.addEventListener("input", show);
  if (via) via.addEventListener("change", show);
  if (note) note.addEventListener("change", show);
  form.addEventListener("htmx:afterRequest", () => setTimeout(show, 0));
  show();
}

if (root) {
  const number = root.dataset.number;
  liveRefreshes(number, root.dataset.customer);
  const typing = collisions(number, root.dataset.user);
  composer(typing);
  smsCounter();
  inlineErrors();
  tick();
  setInterval(tick, 1000);
  scrollTimeline();
  document.body.addEventListener("htmx:afterSwap", (ev) => {
    if (ev.detail.target && ev.detail.target.id === "timeline") scrollTimeline();
    tick();
  });
  document.body.addEventListener("htmx:afterSettle", () => { scrollTimeline(); tick(); });
}

// -- keyboard shortcuts (listed on the ? overlay with the workspace's) ------------------
function shortcuts() {
  const form = document.getElementById("composer");
  if (!form || !root) return;
  const focus = (asNote) => {
    const note = form.querySelector("#note-toggle");
    if (note && !note.disabled && note.checked !== asNote) {
      note.checked = asNote;
      note.dispatchEvent(new Event("change", { bubbles: true }));
    }
    const text = form.querySelector("textarea");
    if (text) text.focus();
  };
  bind("r", root.dataset.tShortcutReply || "Reply", () => focus(false));
  bind("i", root.dataset.tShortcutNote || "Internal note", () => focus(true));
}
shortcuts();
