// Switchboard realtime: the page's one socket to /api/v1/stream (a plain ES module, no
// build step). Every frame is dispatched on <body> as a CustomEvent named "sb-" + its
// type (for example "sb-TicketUpdated", so htmx can use
// hx-trigger="sb-TicketUpdated from:body") and as "sb-any"; event.detail is the frame.
//
// The socket reconnects with exponential backoff and jitter and sends the id of the last
// event it saw (?last_id=), so the server replays what was missed. When the missed part
// is gone the server sends "reload": the page reloads unless a listener of "sb-reload"
// calls preventDefault() (and refreshes its state itself). A socket closed because the
// session ended (code 4401) dispatches "sb-signed-out" and, unless prevented, goes to the
// login page. document.body.dataset.stream is "connecting", "live", "reconnecting" or
// "signed-out", for a small status notice in CSS.
//
// window.Switchboard.stream.send({type: "viewing", ticket: "SB-1001"}) sends a frame
// (queued while reconnecting); frames are "viewing", "typing", "left", "ping".

const PATH = "/api/v1/stream";
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 15000;
const PING_EVERY_MS = 25000;
const PONG_WITHIN_MS = 10000;
const QUEUE_MAX = 50;
const SEEN_MAX = 2000;

let socket = null;
let lastId = null;
let attempt = 0;
let retryTimer = null;
let pingTimer = null;
let pongTimer = null;
let stopped = false;
const outbox = [];
const seen = new Set();

function setState(state) {
  if (document.body) document.body.dataset.stream = state;
}

function dispatch(frame) {
  const body = document.body;
  if (!body) return true;
  const wanted = body.dispatchEvent(
    new CustomEvent("sb-" + frame.type, { detail: frame, cancelable: true }),
  );
  body.dispatchEvent(new CustomEvent("sb-any", { detail: frame }));
  return wanted;
}

function streamUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = lastId ? "?last_id=" + encodeURIComponent(lastId) : "";
  return scheme + "//" + location.host + PATH + query;
}

function duplicate(frame) {
  // The server deduplicates too; this guards a replay that overlaps a live frame.
  const eventId = frame.data && frame.data.event_id;
  if (!eventId) return false;
  if (seen.has(eventId)) return true;
  seen.add(eventId);
  if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value);
  return false;
}

function onFrame(message) {
  let frame;
  try {
    frame = JSON.parse(message.data);
  } catch (err) {
    return;
  }
  if (!frame || typeof frame.type !== "string") return;
  clearTimeout(pongTimer);
  if (frame.type === "hello" || (frame.type === "pong" && frame.data && frame.data.last_id)) {
    lastId = frame.data.last_id;
  } else if (frame.id !== undefined && frame.id !== null) {
    lastId = frame.id;
    if (duplicate(frame)) return;
  }
  if (frame.type === "reload") {
    if (dispatch(frame)) location.reload();
    return;
  }
  dispatch(frame);
}

function flush() {
  while (outbox.length && socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(outbox.shift()));
  }
}

function keepAlive() {
  clearInterval(pingTimer);
  pingTimer = setInterval(() => {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type: "ping" }));
    clearTimeout(pongTimer);
    // No answer in time: the network is gone without the socket noticing.
    pongTimer = setTimeout(() => socket && socket.close(), PONG_WITHIN_MS);
  }, PING_EVERY_MS);
}

function scheduleReconnect() {
  if (stopped || retryTimer) return;
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt);
  const delay = ceiling / 2 + Math.random() * (ceiling / 2);
  attempt += 1;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    connect();
  }, delay);
}

function connect() {
  if (stopped) return;
  setState(lastId === null && attempt === 0 ? "connecting" : "reconnecting");
  const ws = new WebSocket(streamUrl());
  socket = ws;
  ws.addEventListener("open", () => {
    attempt = 0;
    setState("live");
    keepAlive();
    flush();
  });
  ws.addEventListener("message", onFrame);
  ws.addEventListener("close", (event) => {
    if (socket !== ws) return;
    socket = null;
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    if (event.code === 4401) {
      setState("signed-out");
      if (dispatch({ type: "signed-out", data: { reason: event.reason } })) {
        location.assign("/");
      }
      return;
    }
    setState("reconnecting");
    scheduleReconnect();
  });
}

function send(frame) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(frame));
    return;
  }
  outbox.push(frame);
  if (outbox.length > QUEUE_MAX) outbox.shift();
}

function start() {
  stopped = false;
  if (!socket) connect();
}

function stop() {
  stopped = true;
  clearTimeout(retryTimer);
  retryTimer = null;
  if (socket) socket.close(1000, "page closed");
  socket = null;
}

window.addEventListener("online", () => {
  if (!socket && !stopped) {
    clearTimeout(retryTimer);
    retryTimer = null;
    attempt = 0;
    connect();
  }
});

const stream = {
  send,
  start,
  stop,
  get lastId() {
    return lastId;
  },
};
window.Switchboard = Object.assign(window.Switchboard || {}, { stream });

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}

export { send, start, stop };
