// Overview charts, loaded as a file (the CSP forbids inline script). Fetches the window's data
// from /overview/data (same query as the page), draws it with the vendored uPlot, and fetches
// again when /live/overview says the project changed (the server sends that at most once a
// second) or when a named range's window moves on.
// Each chart container reports what it drew, for the browser tests: data-points (buckets),
// data-nonzero (buckets with a non-zero value), data-empty ("1": nothing to draw, "No data"
// shown instead of axes), data-xticks and data-yticks (the axes' labels, "|"-separated) and
// data-colors (each line's colour, "|"-separated).
(function () {
  const root = document.getElementById("overview");
  if (!root || !window.uPlot) return;
  const query = root.dataset.query || "";
  const live = root.dataset.live === "1";
  const HEIGHT = 220;
  // One colour per line, in the order lines are drawn. Each set keeps a contrast of at least
  // 3:1 against the chart's background (--surface) of its colour scheme (checked by
  // tests/test_overview_charts_browser.py); the out lines of the token chart are dashed too.
  const PALETTES = {
    light: ["#1d4ed8", "#c2410c", "#047857", "#7e22ce", "#b91c1c", "#0e7490",
            "#4d7c0f", "#be185d", "#a16207", "#4338ca", "#0f766e", "#57534e"],
    dark: ["#60a5fa", "#fb923c", "#34d399", "#c084fc", "#f87171", "#22d3ee",
           "#a3e635", "#f472b6", "#facc15", "#818cf8", "#2dd4bf", "#d6d3d1"],
  };
  const darkScheme = window.matchMedia("(prefers-color-scheme: dark)");
  const charts = {};
  let inflight = false;
  let again = false;
  let slideTimer = null;
  let last = null;

  // The decimals a step needs: 0.025 -> 3, 5 -> 0 (uPlot's steps are rounded, like 0.025).
  const decimals = (step) => {
    let digits = 0;
    while (digits < 10 && Math.abs(Number(step.toFixed(digits)) - step) > step * 1e-6) digits++;
    return digits;
  };
  const trim = (v, digits) => String(Number(v.toFixed(digits)));
  const count = (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US"));
  const millis = (v) => (v == null ? "–" : v < 1000 ? Math.round(v) + " ms" : trim(v / 1000, 2) + " s");
  const dollars = (v) => (v == null ? "–" : v === 0 ? "$0" : v < 1 ? "$" + v.toFixed(4) : "$" + v.toFixed(2));

  // Axis labels. Ticks are multiples of the axis' step (uPlot's foundIncr), so labels with
  // the step's precision never repeat.
  const TICKS = {
    count: (v) => Math.round(v).toLocaleString("en-US"),
    tokens: (v) => (v >= 1e9 ? trim(v / 1e9, 2) + "B" : v >= 1e6 ? trim(v / 1e6, 2) + "M"
      : v >= 1e3 ? trim(v / 1e3, 2) + "k" : String(Math.round(v))),
    latency: (v) => (v === 0 ? "0" : v < 1000 ? Math.round(v) + " ms" : trim(v / 1000, 3) + " s"),
    dollars: (v, step) => (v === 0 ? "$0" : "$" + v.toFixed(Math.max(step < 1 ? 2 : 0, decimals(step)))),
  };
  // Steps between ticks: whole numbers for counts and tokens, whole milliseconds (then
  // round seconds and minutes) for latency. Cost keeps uPlot's decimal steps.
  const COUNTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5,
                  1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8, 2e8, 5e8, 1e9, 2e9, 5e9, 1e10, 2e10, 5e10];
  const LATENCY = [1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 15000,
                   20000, 30000, 60000, 120000, 300000, 600000, 1200000, 1800000, 3600000];

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function line(label, values, color, format, dash) {
    return { spec: { label, stroke: color, width: 2, dash, value: (u, v) => format(v) }, values };
  }

  // Latency is null in buckets without events: gaps, with each known value drawn as a dot.
  function dotted(label, values, color) {
    const spec = line(label, values, color, millis);
    spec.spec.points = { show: true, size: 5 };
    return spec;
  }

  // Axis ticks in UTC: times of day for a day or less, dates (and times) beyond, with the
  // year past half a year. Steps of whole minutes at least, so labels never repeat.
  const TIMES = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 182 * 86400];
  function timeTicks(el, span) {
    return (u, splits) => {
      const labels = splits.map((ts) => {
        const iso = new Date(ts * 1000).toISOString();
        if (span <= 86400) return iso.slice(11, 16);
        if (span > 182 * 86400) return iso.slice(0, 10);
        return iso.slice(11, 16) === "00:00" ? iso.slice(5, 10) : iso.slice(5, 10) + " " + iso.slice(11, 16);
      });
      el.dataset.xticks = labels.join("|");
      return labels;
    };
  }

  // Each chart: its y axis (label, tick labels, steps) and its lines, from the JSON.
  function specs(d, palette) {
    return {
      events: { unit: "events", ticks: TICKS.count, incrs: COUNTS,
                lines: [line("events", d.events, palette[0], count)] },
      latency: { unit: "latency", ticks: TICKS.latency, incrs: LATENCY,
                 lines: [dotted("p50", d.latency.p50, palette[0]), dotted("p95", d.latency.p95, palette[1]),
                         dotted("p99", d.latency.p99, palette[4])] },
      tokens: { unit: "tokens", ticks: TICKS.tokens, incrs: COUNTS,
                lines: d.tokens.flatMap((m, i) => [
                  line(m.label + " in", m.in, palette[(2 * i) % palette.length], count),
                  line(m.label + " out", m.out, palette[(2 * i + 1) % palette.length], count, [6, 4]),
                ]) },
      feedback: { unit: "feedback", ticks: TICKS.count, incrs: COUNTS,
                  lines: [line("positive", d.feedback.positive, css("--ok"), count),
                          line("negative", d.feedback.negative, css("--danger"), count)] },
      cost: { unit: "cost (USD)", ticks: TICKS.dollars,
              lines: [line("estimated cost", d.cost, palette[3], dollars)] },
    };
  }

  function options(el, chart, data) {
    const fg = css("--fg");
    const grid = { stroke: css("--border"), width: 1 };
    const y = {
      label: chart.unit, size: 64, stroke: fg, grid, ticks: grid,
      values: (u, splits, axis, space, step) => {
        const labels = splits.map((v) => chart.ticks(v, step));
        el.dataset.yticks = labels.join("|");
        return labels;
      },
    };
    if (chart.incrs) y.incrs = chart.incrs;
    return {
      width: el.clientWidth || 400,
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{ label: "time (UTC)", stroke: fg, grid, ticks: grid, incrs: TIMES,
               values: timeTicks(el, data.until - data.since) }, y],
      series: [{ label: "time (UTC)", value: "{YYYY}-{MM}-{DD} {HH}:{mm}" }, ...chart.lines.map((l) => l.spec)],
      legend: { live: true },
    };
  }

  // No value above zero anywhere: say so instead of drawing axes with made-up ticks.
  function showEmpty(el, name) {
    if (charts[name]) { charts[name].plot.destroy(); delete charts[name]; }
    if (!el.querySelector(".no-data")) {
      el.replaceChildren();
      const note = document.createElement("p");
      note.className = "no-data";
      note.textContent = "No data in this range";
      el.appendChild(note);
    }
    el.dataset.empty = "1";
    el.dataset.yticks = "";
  }

  function draw(data) {
    last = data;
    const palette = darkScheme.matches ? PALETTES.dark : PALETTES.light;
    const all = specs(data, palette);
    for (const el of root.querySelectorAll("[data-chart]")) {
      const name = el.dataset.chart;
      const chart = all[name];
      const columns = [data.x, ...chart.lines.map((l) => l.values)];
      const nonzero = data.x.filter((_, i) => columns.slice(1).some((c) => c[i] > 0)).length;
      el.dataset.points = String(data.x.length);
      el.dataset.nonzero = String(nonzero);
      el.dataset.colors = chart.lines.map((l) => l.spec.stroke).join("|");
      if (nonzero === 0) { showEmpty(el, name); continue; }
      const key = chart.lines.map((l) => l.spec.label + " " + l.spec.stroke).join("\n");
      const existing = charts[name];
      if (existing && existing.key === key) {
        existing.plot.setData(columns);
      } else {
        if (existing) existing.plot.destroy();
        el.replaceChildren();
        charts[name] = { key, plot: new uPlot(options(el, chart, data), columns, el) };
      }
      el.dataset.empty = "0";
    }
  }

  function show(data) {
    document.getElementById("figures").innerHTML = data.figures;  // server-rendered, escaped
    document.getElementById("tables").innerHTML = data.tables;
    draw(data);
    root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
    // A named range ends "now": fetch again when its last bucket closes, so the window slides.
    if (live && query.indexOf("since=") < 0 && query.indexOf("until=") < 0) {
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
  // The colours follow the scheme: redraw every chart when it changes.
  darkScheme.addEventListener("change", () => {
    for (const name of Object.keys(charts)) { charts[name].plot.destroy(); delete charts[name]; }
    if (last) draw(last);
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
