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
