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
    const firstRun = document.getElementById("first-run");
    if (firstRun) firstRun.remove();
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
