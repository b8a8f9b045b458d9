// Switchboard keyboard shortcuts: one map of keys for every /agent page, and the "?"
// overlay that lists them (an accessible <dialog>). A plain ES module, no build step.
//
// The keys, in one place (pages bind what they do; a page may rebind a key):
//   workspace list  j / k   next / previous ticket      Enter  open the selected ticket
//   every page      a       accept the (first) offer    /      search
//                   n       new ticket                   ?      this overlay
//   ticket page     r       reply                        n      internal note (rebinds n)
//
// Usage: import { bind } from "/static/shortcuts.js";
//        bind("r", "Reply", () => ...);   // label in the UI's language
// Keys are ignored while typing in a field (except Escape, which the dialog handles) and
// when a modifier (Ctrl, Alt, Meta) is held, so browser and screen-reader keys still work.

export const KEYMAP = new Map();

export function bind(key, label, run) {
  KEYMAP.set(key, { label, run });
}

export function unbind(key) {
  KEYMAP.delete(key);
}

function typing(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const kind = (target.getAttribute("type") || "text").toLowerCase();
    return !["button", "submit", "checkbox", "radio", "reset"].includes(kind);
  }
  return false;
}

function dialog() {
  return document.getElementById("shortcuts");
}

function fillRows() {
  const rows = document.getElementById("shortcuts-rows");
  if (!rows) return;
  rows.replaceChildren();
  for (const [key, entry] of KEYMAP) {
    const tr = document.createElement("tr");
    const keyCell = document.createElement("td");
    const kbd = document.createElement("kbd");
    kbd.textContent = key;
    keyCell.append(kbd);
    const label = document.createElement("td");
    label.textContent = entry.label;
    tr.append(keyCell, label);
    rows.append(tr);
  }
}

export function showHelp() {
  const box = dialog();
  if (!box || box.open) return;
  fillRows();
  box.showModal();
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
  if (typing(event.target)) return;
  if (dialog() && dialog().open) return;
  const entry = KEYMAP.get(event.key);
  if (!entry) return;
  const handled = entry.run(event);
  if (handled !== false) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const opener = event.target instanceof Element && event.target.closest("#shortcuts-open");
  if (opener) showHelp();
});
