// The knowledge panel on the ticket page: "insert into reply" records the insertion on
// the server (which raises that article for similar tickets) and puts the article's text
// into the composer at the cursor. Article text only reaches the page as a textarea value.

function csrfToken() {
  try {
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    return headers["X-CSRF-Token"] || "";
  } catch (err) {
    return "";
  }
}

function insertAtCursor(area, text) {
  const start = typeof area.selectionStart === "number" ? area.selectionStart : area.value.length;
  const end = typeof area.selectionEnd === "number" ? area.selectionEnd : start;
  const before = area.value.slice(0, start);
  const gap = before && !before.endsWith("\n") ? "\n" : "";
  area.setRangeText(gap + text, start, end, "end");
  area.dispatchEvent(new Event("input", { bubbles: true }));
  area.focus();
}

async function insert(button) {
  const box = button.closest(".kb-suggestions");
  const composer = document.getElementById("reply-text");
  if (!box || !composer) return;
  button.disabled = true;
  const url =
    "/agent/tickets/" + encodeURIComponent(box.dataset.ticket) +
    "/kb/" + encodeURIComponent(button.dataset.slug) + "/insert";
  try {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
    });
    if (!response.ok) throw new Error("insert failed: " + response.status);
    const body = await response.json();
    insertAtCursor(composer, body.text);
    button.textContent = button.dataset.done;
    button.classList.add("done");
  } catch (err) {
    button.disabled = false;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest(".kb-insert") : null;
  if (button && !button.disabled) insert(button);
});

// -- macros: typing "/" or "#" and part of a name in the reply offers the matching
// macros; choosing one replaces what was typed with the macro filled in for this ticket.
const TRIGGER = /(^|\s)([/#])([^\s/#]{0,40})$/;

function ticketNumber() {
  const found = /^\/agent\/tickets\/([^/]+)/.exec(location.pathname);
  return found ? decodeURIComponent(found[1]) : null;
}

function picker(area) {
  let list = document.getElementById("kb-macro-picker");
  if (!list) {
    list = document.createElement("ul");
    list.id = "kb-macro-picker";
    list.className = "kb-macro-picker";
    list.setAttribute("role", "listbox");
    area.insertAdjacentElement("afterend", list);
  }
  return list;
}

function closePicker() {
  const list = document.getElementById("kb-macro-picker");
  if (list) list.remove();
}

async function choose(area, match, macroId) {
  const number = ticketNumber();
  const response = await fetch(
    "/agent/tickets/" + encodeURIComponent(number) + "/macros/" + encodeURIComponent(macroId),
    { credentials: "same-origin", headers: { Accept: "application/json" } },
  );
  if (!response.ok) return;
  const body = await response.json();
  const end = area.selectionStart;
  const start = end - match[2].length - match[3].length;
  area.setRangeText(body.text, start, end, "end");
  area.dispatchEvent(new Event("input", { bubbles: true }));
  closePicker();
  area.focus();
}

let asked = 0;
async function offerMacros(area) {
  const number = ticketNumber();
  const before = area.value.slice(0, area.selectionStart);
  const match = TRIGGER.exec(before);
  if (!number || !match) {
    closePicker();
    return;
  }
  const ticket = ++asked;
  const response = await fetch(
    "/agent/tickets/" + encodeURIComponent(number) + "/macros?q=" + encodeURIComponent(match[3]),
    { credentials: "same-origin", headers: { Accept: "application/json" } },
  );
  if (!response.ok || ticket !== asked) return;
  const body = await response.json();
  if (!body.macros.length) {
    closePicker();
    return;
  }
  const list = picker(area);
  list.replaceChildren();
  for (const macro of body.macros) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "kb-macro";
    button.setAttribute("role", "option");
    button.textContent = macro.name;
    button.addEventListener("click", () => choose(area, match, macro.id));
    item.appendChild(button);
    list.appendChild(item);
  }
}

document.addEventListener("input", (event) => {
  if (event.target instanceof HTMLTextAreaElement && event.target.id === "reply-text") {
    offerMacros(event.target);
  }
});

document.addEventListener("keydown", (event) => {
  const list = document.getElementById("kb-macro-picker");
  if (!list) return;
  if (event.key === "Escape") {
    closePicker();
  } else if (event.key === "ArrowDown" && event.target.id === "reply-text") {
    const first = list.querySelector("button");
    if (first) {
      event.preventDefault();
      first.focus();
    }
  }
});
