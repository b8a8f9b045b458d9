"""The customer chat page, its script and stylesheet, and the embeddable widget loader, as
static text.

The page runs under ``script-src 'self'``: no inline script, handler or style attribute;
its script and stylesheet are files served by ``/chat/chat.js`` and ``/chat/chat.css``.
Everything the page shows from the network goes through ``textContent`` (never
``innerHTML``), so a message cannot inject markup; file links and images use only the
URLs the server made. Labels follow the browser's language (Chinese or English).

The widget keeps the visitor's key and profile in the embedding site's own storage (a
third-party frame may get neither cookies nor storage) and accepts updates only from its
own frame and the chat's origin."""

from __future__ import annotations

from importlib.resources import files

_HERE = files("channels.webchat")
CHAT_PAGE = _HERE.joinpath("chat.html").read_text("utf-8")
CHAT_JS = _HERE.joinpath("chat.js").read_text("utf-8")
CHAT_CSS = _HERE.joinpath("chat.css").read_text("utf-8")
WIDGET_JS = """(function () {
  var me = document.currentScript;
  var base = me ? new URL(me.src).origin : "";
  var KEY = "sb_chat_state";
  var open = false;
  var state = null;
  try { state = localStorage.getItem(KEY); } catch (e) { state = null; }
  var frame = document.createElement("iframe");
  frame.src = base + "/chat?embed=1" + (state ? "#sb=" + encodeURIComponent(state) : "");
  frame.title = "Chat";
  frame.style.cssText = "position:fixed;bottom:84px;right:20px;width:360px;height:520px;" +
    "border:0;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.2);display:none;z-index:2147483646;background:#fff";
  window.addEventListener("message", function (ev) {
    if (ev.source !== frame.contentWindow || ev.origin !== base) { return; }
    var d = ev.data;
    if (!d || d.type !== "sb:state" || typeof d.key !== "string") { return; }
    try { localStorage.setItem(KEY, JSON.stringify({key: d.key, profile: d.profile || null})); } catch (e) { /* private mode */ }
  });
  var button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-label", "Chat");
  button.textContent = "\\uD83D\\uDCAC";
  button.style.cssText = "position:fixed;bottom:20px;right:20px;width:56px;height:56px;border-radius:50%;" +
    "border:0;background:#2563eb;color:#fff;font-size:26px;cursor:pointer;z-index:2147483647";
  button.onclick = function () { open = !open; frame.style.display = open ? "block" : "none"; };
  document.body.appendChild(frame);
  document.body.appendChild(button);
})();
"""
