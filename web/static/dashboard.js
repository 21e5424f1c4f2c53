// Live table behaviour, loaded as a file (the CSP forbids inline script):
// keep a bounded number of rows, pause/resume, and leave the first-run state on the first event.
(function () {
  const MAX_ROWS = 200;
  let pending = 0;

  function paused() {
    const toggle = document.getElementById("live-toggle");
    return toggle && !toggle.checked;
  }

  document.addEventListener("htmx:sseBeforeMessage", (event) => {
    if (!paused()) return;
    event.preventDefault();
    pending += 1;
    const note = document.getElementById("pending");
    note.hidden = false;
    note.textContent = pending + " new event(s) while paused: reload to see them.";
  });

  document.addEventListener("htmx:sseMessage", () => {
    // Sessions list: an updated session arrives as a new top row; drop its older copy.
    const seen = new Set();
    for (const row of document.querySelectorAll("#rows > tr[data-session]")) {
      if (seen.has(row.dataset.session)) row.remove();
      else seen.add(row.dataset.session);
    }
    for (const id of ["first-run", "no-match"]) {
      const empty = document.getElementById(id);
      if (empty && empty.closest("main")) empty.remove();
    }
    const rows = document.querySelectorAll("#rows > tr.event-row");
    if (rows.length <= MAX_ROWS) return;
    for (const row of Array.from(rows).slice(MAX_ROWS)) row.remove();
    // "Load older events" must continue after the last row still shown.
    const last = rows[MAX_ROWS - 1];
    const more = document.getElementById("more");
    if (more && last) {
      const link = more.querySelector("a");
      const url = new URL(link.getAttribute("href"), window.location.href);
      url.searchParams.set("after", last.dataset.cursor);
      const target = url.pathname + url.search;
      link.setAttribute("href", target);
      link.setAttribute("hx-get", target);
      htmx.process(more);
    }
  });
})();

// Data tables (events, sessions, end users): a row opens in the side panel (its link is a real
// link with hx-get, so without JavaScript it is a page); j/k move a selection, Enter opens it,
// Esc closes the panel (back to the list's URL, keeping its scroll and its live stream).
(function () {
  const ROWS = "#rows > tr:has(a.row-link)";
  const TYPING = "input, textarea, select, [contenteditable]";
  let selected = null;

  function panel() { return document.getElementById("panel"); }

  function select(row) {
    if (selected) selected.classList.remove("selected");
    selected = row;
    if (!row) return;
    row.classList.add("selected");
    row.scrollIntoView({ block: "nearest" });
  }

  function markOpen(row) {
    for (const old of document.querySelectorAll("#rows > tr.open")) old.classList.remove("open");
    if (row) row.classList.add("open");
  }

  function open(row) {
    const link = row && row.querySelector("a.row-link");
    if (!link) return;
    select(row);
    markOpen(row);
    link.click();
  }

  function close() {
    const aside = panel();
    if (!aside || !aside.firstElementChild) return;
    const back = aside.querySelector("a.panel-close");
    // Through htmx, so what the panel held (a session's live stream) is cleaned up too.
    htmx.swap(aside, "", { swapStyle: "innerHTML", swapDelay: 0, settleDelay: 0 });
    markOpen(null);
    if (back) history.pushState({ htmx: true }, "", back.getAttribute("href"));
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("a.panel-close")) {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      close();
      return;
    }
    const row = event.target.closest(ROWS);
    if (!row || event.target.closest("a, button, input, select, summary, label")) return;
    open(row);
  });

  // A row's own link (clicked, or Enter on it) marks the row as the one open.
  document.addEventListener("htmx:beforeRequest", (event) => {
    const link = event.detail.elt;
    if (link && link.classList && link.classList.contains("row-link")) {
      const row = link.closest("tr");
      select(row);
      markOpen(row);
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest && event.target.closest(TYPING)) return;
    if (event.key === "Escape") { close(); return; }
    const rows = Array.from(document.querySelectorAll(ROWS));
    if (!rows.length) return;
    const at = rows.indexOf(selected);
    if (event.key === "j") select(rows[Math.min(at + 1, rows.length - 1)]);
    else if (event.key === "k") select(rows[Math.max(at - 1, 0)]);
    else if (event.key === "Enter" && selected && rows.includes(selected)
             && !event.target.closest("a, button, summary")) open(selected);
    else return;
    event.preventDefault();
  });
})();

// Relative times ("3 min ago") are written by the server; this keeps them true while the page
// stays open, with the server's rule (web/cells.py `ago`).
(function () {
  function ago(moment, now) {
    const seconds = Math.floor((now - moment) / 1000);
    if (seconds < 45) return "just now";
    if (seconds < 3600) return Math.max(1, Math.round(seconds / 60)) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    if (seconds <= 30 * 86400) return Math.floor(seconds / 86400) + " d ago";
    return new Date(moment).toISOString().slice(0, 10);
  }
  setInterval(() => {
    const now = Date.now();
    for (const time of document.querySelectorAll("table.data time[datetime]")) {
      const moment = Date.parse(time.getAttribute("datetime"));
      if (!Number.isNaN(moment)) time.textContent = ago(moment, now);
    }
  }, 30000);
})();
