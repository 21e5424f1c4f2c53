// Overview charts, loaded as a file (the CSP forbids inline script). Fetches the window's data
// from /overview/data (same query as the page), draws it with the vendored uPlot, and fetches
// again when /live/overview says the project changed (the server sends that at most once a
// second) or when a named range's window moves on. Each chart container reports how many
// points it drew in data-points and how many have a non-zero value in data-nonzero.
(function () {
  const root = document.getElementById("overview");
  if (!root || !window.uPlot) return;
  const query = root.dataset.query || "";
  const live = root.dataset.live === "1";
  const HEIGHT = 220;
  const PALETTE = ["#2563eb", "#d97706", "#059669", "#9333ea", "#dc2626", "#0891b2", "#65a30d"];
  const charts = {};
  let inflight = false;
  let again = false;
  let slideTimer = null;

  const count = (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US"));
  const millis = (v) => (v == null ? "–" : v < 1000 ? Math.round(v) + " ms" : (v / 1000).toFixed(2) + " s");
  const dollars = (v) => (v == null ? "–" : v === 0 ? "$0" : v < 1 ? "$" + v.toFixed(4) : "$" + v.toFixed(2));

  function line(label, values, color, format, dash) {
    return { spec: { label, stroke: color, width: 2, dash, value: (u, v) => format(v) }, values };
  }

  // Latency is null in buckets without events: gaps, with each known value drawn as a dot.
  function dotted(label, values, color) {
    const spec = line(label, values, color, millis);
    spec.spec.points = { show: true, size: 5 };
    return spec;
  }

  // Axis ticks in UTC: times of day for a day or less, dates (and times) beyond.
  function timeTicks(span) {
    return (u, splits) => splits.map((ts) => {
      const iso = new Date(ts * 1000).toISOString();
      if (span <= 86400) return iso.slice(11, 16);
      return iso.slice(11, 16) === "00:00" ? iso.slice(5, 10) : iso.slice(5, 10) + " " + iso.slice(11, 16);
    });
  }

  const COUNTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5,
                  1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8, 2e8, 5e8, 1e9, 2e9, 5e9, 1e10];

  // Each chart: its y unit, its value format and its lines, from the JSON.
  const SPECS = {
    events: (d) => ({ unit: "events", format: count, incrs: COUNTS, lines: [line("events", d.events, PALETTE[0], count)] }),
    latency: (d) => ({
      unit: "latency (ms)", format: millis,
      lines: [dotted("p50", d.latency.p50, PALETTE[0]), dotted("p95", d.latency.p95, PALETTE[1]),
              dotted("p99", d.latency.p99, PALETTE[4])],
    }),
    tokens: (d) => ({
      unit: "tokens", format: count, incrs: COUNTS,
      lines: d.tokens.flatMap((m, i) => [
        line(m.label + " in", m.in, PALETTE[i % PALETTE.length], count),
        line(m.label + " out", m.out, PALETTE[i % PALETTE.length], count, [6, 4]),
      ]),
    }),
    feedback: (d) => ({
      unit: "feedback", format: count, incrs: COUNTS,
      lines: [line("positive", d.feedback.positive, "#13753a", count), line("negative", d.feedback.negative, "#a40000", count)],
    }),
    cost: (d) => ({ unit: "cost (USD)", format: dollars, lines: [line("estimated cost", d.cost, PALETTE[3], dollars)] }),
  };

  function options(el, chart, data) {
    const y = { label: chart.unit, size: 70, values: (u, splits) => splits.map(chart.format) };
    if (chart.incrs) y.incrs = chart.incrs;  // counts: whole-number ticks only
    return {
      width: el.clientWidth || 400,
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{ label: "time (UTC)", values: timeTicks(data.until - data.since) }, y],
      series: [{ label: "time (UTC)", value: "{YYYY}-{MM}-{DD} {HH}:{mm}" }, ...chart.lines.map((l) => l.spec)],
      legend: { live: true },
    };
  }

  function draw(data) {
    for (const el of root.querySelectorAll("[data-chart]")) {
      const name = el.dataset.chart;
      const chart = SPECS[name](data);
      const columns = [data.x, ...chart.lines.map((l) => l.values)];
      const labels = chart.lines.map((l) => l.spec.label).join("\n");
      const existing = charts[name];
      if (existing && existing.labels === labels) {
        existing.plot.setData(columns);
      } else {
        if (existing) existing.plot.destroy();
        charts[name] = { labels, plot: new uPlot(options(el, chart, data), columns, el) };
      }
      el.dataset.points = String(data.x.length);
      el.dataset.nonzero = String(data.x.filter((_, i) => columns.slice(1).some((c) => c[i] > 0)).length);
    }
  }

  function show(data) {
    document.getElementById("figures").innerHTML = data.figures;  // server-rendered, escaped
    document.getElementById("tables").innerHTML = data.tables;
    draw(data);
    root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
    // A named range ends "now": fetch again when its last bucket closes, so the window slides.
    if (live && query.indexOf("since=") < 0) {
      clearTimeout(slideTimer);
      const wait = data.until * 1000 - Date.now() + 1000;
      slideTimer = setTimeout(refresh, Math.min(Math.max(wait, 1000), 24 * 3600 * 1000));
    }
  }

  async function refresh() {
    if (inflight) { again = true; return; }
    inflight = true;
    try {
      const response = await fetch("/overview/data?" + query, { headers: { Accept: "application/json" } });
      const type = response.headers.get("content-type") || "";
      if (response.ok && type.indexOf("application/json") === 0) show(await response.json());
    } finally {
      inflight = false;
      if (again) { again = false; refresh(); }
    }
  }

  window.addEventListener("resize", () => {
    for (const [name, chart] of Object.entries(charts)) {
      const el = root.querySelector('[data-chart="' + name + '"]');
      chart.plot.setSize({ width: el.clientWidth || 400, height: HEIGHT });
    }
  });

  if (!live) {
    refresh();
    return;
  }
  // The stream says "ready" once subscribed (again after each reconnect): fetching then misses
  // nothing. Without it within a few seconds (a proxy holding the stream), fetch anyway.
  const source = new EventSource("/live/overview");
  const fallback = setTimeout(refresh, 3000);
  source.addEventListener("ready", () => {
    clearTimeout(fallback);
    refresh();
  });
  source.addEventListener("tick", () => {
    const firstRun = document.getElementById("first-run");
    if (firstRun) firstRun.remove();
    refresh();
  });
})();
