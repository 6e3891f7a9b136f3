// ebb console: live charts (uPlot), the scaling timeline, alarms, logs and
// simulation reports. Plain script, no build step; served from the binary.
"use strict";

const palette = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777"];
const eventColor = { scaling: "#16a34a", "not-scaled": "#9ca3af", alarm: "#dc2626" };
const lineColor = { target: "#111827", high: "#dc2626", low: "#2563eb", step: "#d97706" };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function fmtTime(ms) {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

function fmtNum(v) {
  if (v == null) return "–";
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2).replace(/\.?0+$/, "") : v.toPrecision(2);
}

// Draws a chart's constant lines (targets, thresholds, step bounds) and
// the events of the timeline as vertical marks.
function drawMarks(u, lines, events) {
        const ctx = u.ctx, { left, top, width, height } = u.bbox;
        ctx.save();
        ctx.lineWidth = devicePixelRatio;
        ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
        ctx.textAlign = "left";
        ctx.textBaseline = "bottom";
        const labelled = new Map(); // y -> labels drawn there, so that equal lines' labels sit side by side
        for (const l of lines) {
          const y = u.valToPos(l.value, "y", true);
          if (y < top || y > top + height) continue;
          const k = Math.round(y), shift = labelled.get(k) || 0;
          ctx.strokeStyle = ctx.fillStyle = lineColor[l.kind] || "#111827";
          ctx.setLineDash(l.kind === "target" ? [] : [6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + width, y); ctx.stroke();
          const text = `${l.label} ${fmtNum(l.value)}`;
          ctx.fillText(text, left + 4 * devicePixelRatio + shift, y - 3 * devicePixelRatio);
          labelled.set(k, shift + ctx.measureText(text).width + 12 * devicePixelRatio);
        }
        ctx.setLineDash([]);
        for (const e of events) {
          const x = u.valToPos(e.time / 1000, "x", true);
          if (x < left || x > left + width) continue;
          ctx.strokeStyle = eventColor[e.kind] || "#4b5563";
          ctx.globalAlpha = 0.6;
          ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
        }
        ctx.restore();
}

// Endpoints page: filter the rows as one types (the form also filters on
// the server, as ListEndpoints' NameContains).
function endpointsPage() {
  const input = document.getElementById("filter"), table = document.getElementById("endpoints");
  if (!input || !table) return;
  input.addEventListener("input", () => {
    const q = input.value.trim().toLowerCase();
    let shown = 0;
    for (const row of table.tBodies[0].rows) {
      const match = row.dataset.name.toLowerCase().includes(q);
      row.hidden = !match;
      if (match) shown++;
    }
    document.getElementById("no-match").hidden = shown > 0;
  });
}

// Endpoint page: one event stream per time range; each message is a
// snapshot of every chart, the timeline and the alarms.
function endpointPage() {
  const live = document.getElementById("live");
  if (!live) return;
  const name = live.dataset.endpoint, state = document.getElementById("live-state");
  const charts = new Map(); // id -> {plot, figure, key, marks}
  const view = { start: 0, end: 1 }; // the x range, seconds
  let source = null;

  function connect(range) {
    if (source) source.close();
    for (const c of charts.values()) { c.plot.destroy(); c.figure.remove(); }
    charts.clear();
    state.textContent = "connecting…";
    source = new EventSource(`/console/endpoints/${encodeURIComponent(name)}/live?range=${range}`);
    source.onmessage = m => { draw(JSON.parse(m.data)); state.textContent = `live, updated ${new Date().toLocaleTimeString()}`; };
    source.addEventListener("failure", m => { state.textContent = `stopped: ${m.data}`; source.close(); });
    source.onerror = () => { state.textContent = "reconnecting…"; };
  }

  function draw(s) {
    view.start = s.start / 1000;
    view.end = s.end / 1000;
    const status = document.getElementById("status");
    status.textContent = s.status;
    status.className = `status status-${s.status}`;
    for (const v of s.variants) {
      const row = document.querySelector(`#variants tr[data-variant="${CSS.escape(v.name)}"]`);
      if (!row) continue;
      row.querySelector(".current").textContent = v.current;
      row.querySelector(".desired").textContent = v.desired;
      row.querySelector(".weight").textContent = fmtNum(v.weight);
    }
    for (const c of s.components || []) {
      const row = document.querySelector(`#components tr[data-component="${CSS.escape(c.name)}"]`);
      if (!row) continue;
      row.querySelector(".current").textContent = c.current;
      row.querySelector(".desired").textContent = c.desired;
    }
    const container = document.getElementById("charts");
    const seen = new Set();
    for (const c of s.charts) {
      seen.add(c.id);
      const data = [c.times.map(t => t / 1000), ...c.series.map(x => x.values)];
      // The chart's data, also in the DOM: each series' latest and highest
      // value, for people with screen readers and for tests.
      const summary = c.series.map(x => {
        const vals = x.values.filter(v => v != null);
        return { label: x.label, last: vals.length ? vals[vals.length - 1] : null, max: vals.length ? Math.max(...vals) : null };
      });
      const key = JSON.stringify([c.series.map(x => x.label), c.lines]);
      let entry = charts.get(c.id);
      if (entry && entry.key !== key) { entry.plot.destroy(); entry.figure.remove(); entry = null; }
      if (!entry) {
        const figure = el("figure", { class: "chart", id: `chart-${c.id}` }, el("figcaption", { text: `${c.title}${c.unit ? ` (${c.unit})` : ""}` }));
        container.append(figure);
        const lines = c.lines || [];
        // A chart may run past now (a forecast); a series on the right
        // axis has another unit (a forecast's capacity).
        const last = c.times.length ? c.times[c.times.length - 1] / 1000 : 0;
        const right = c.series.some(x => x.axis === "right");
        const fromZero = (u, min, max) => [0, max > 0 ? max * 1.1 : 1];
        const opts = {
          width: Math.max(480, (container.clientWidth || 900) - 20), height: 220,
          scales: { x: { time: true, range: () => [view.start, Math.max(view.end, last)] },
            y: { range: (u, min, max) => {
              const vals = lines.map(l => l.value).concat([min ?? 0, max ?? 1]);
              const hi = Math.max(...vals), lo = Math.min(0, ...vals);
              return [lo, hi > lo ? hi * 1.1 : lo + 1];
            } },
            ...(right ? { right: { range: fromZero } } : {}) },
          series: [{}, ...c.series.map((x, i) => ({ label: x.label, stroke: palette[i % palette.length], width: 2,
            scale: x.axis === "right" ? "right" : "y",
            paths: x.step ? uPlot.paths.stepped({ align: 1 }) : undefined, spanGaps: false }))],
          legend: { live: true },
        };
        if (right) opts.axes = [{}, {}, { scale: "right", side: 1, grid: { show: false } }];
        const marks = { lines, events: [] };
        opts.hooks = { draw: [u => drawMarks(u, marks.lines, marks.events)] };
        entry = { figure, key, marks, plot: new uPlot(opts, data, figure) };
        charts.set(c.id, entry);
      }
      entry.marks.events = s.events;
      entry.plot.setData(data);
      entry.figure.dataset.summary = JSON.stringify(summary);
      entry.figure.dataset.points = String(c.times.length);
      entry.figure.dataset.lines = JSON.stringify(c.lines || []);
    }
    for (const [id, c] of charts) if (!seen.has(id)) { c.plot.destroy(); c.figure.remove(); charts.delete(id); }

    const timeline = document.getElementById("timeline");
    timeline.replaceChildren(...s.events.map(e => el("li", { class: `event event-${e.kind}`, "data-kind": e.kind },
      el("time", { text: fmtTime(e.time), datetime: new Date(e.time).toISOString() }),
      el("span", { class: "kind", text: e.kind === "alarm" ? `alarm → ${e.state || "?"}` : e.kind === "scaling" ? "scaling" : "not scaled" }),
      el("span", { class: "title", text: e.title }),
      e.status ? el("span", { class: "status-code", text: e.status }) : null,
      e.repeats ? el("span", { class: "repeats", text: `and ${e.repeats} more time${e.repeats > 1 ? "s" : ""} since ${fmtTime(e.since).slice(11)}` }) : null,
      e.cause ? el("div", { class: "cause", text: e.cause }) : null)));
    if (!s.events.length) timeline.append(el("li", { class: "muted", text: "Nothing happened in this time range." }));

    const alarms = document.querySelector("#alarms tbody");
    alarms.replaceChildren(...s.alarms.map(a => el("tr", { "data-alarm": a.name },
      el("td", { text: a.name }), el("td", {}, el("span", { class: `state state-${a.state}`, text: a.state }), el("div", { class: "muted", text: `since ${fmtTime(a.updated)}` })),
      el("td", { text: a.metric }), el("td", { text: `${a.condition} ${fmtNum(a.threshold)}` }),
      el("td", { class: "reason" }, a.reason, (a.history || []).length ? el("details", { class: "history" },
        el("summary", { text: `history (${a.history.length} latest in this range)` }),
        el("ol", {}, ...a.history.map(h => el("li", {}, el("time", { text: fmtTime(h.time) }), ` ${h.type}: ${h.summary}`)))) : null))));
  }

  for (const b of document.querySelectorAll(".ranges button")) {
    b.addEventListener("click", () => {
      for (const o of document.querySelectorAll(".ranges button")) o.setAttribute("aria-pressed", String(o === b));
      connect(b.dataset.range);
    });
  }
  connect(document.querySelector(".ranges button[aria-pressed=true]").dataset.range);
}

// Logs page: the stream's last lines, then each new one.
function logsPage() {
  const pre = document.getElementById("log");
  if (!pre) return;
  const follow = document.getElementById("follow");
  document.getElementById("stream").addEventListener("change", e => e.target.form.submit());
  const src = new EventSource(`/console/endpoints/${encodeURIComponent(pre.dataset.endpoint)}/logs/live?stream=${encodeURIComponent(pre.dataset.stream)}`);
  src.onmessage = m => {
    for (const line of JSON.parse(m.data)) pre.append(el("span", { class: "line", "data-seq": line.seq },
      el("time", { text: fmtTime(line.time) }), ` ${line.message}\n`));
    if (follow.checked) pre.scrollTop = pre.scrollHeight;
  };
}

// Report page: an `ebb simulate --json` file, opened in the browser.
function reportPage() {
  const input = document.getElementById("report-file");
  if (!input) return;
  const out = document.getElementById("report"), error = document.getElementById("report-error");
  input.addEventListener("change", async () => {
    error.hidden = true;
    out.replaceChildren();
    try {
      renderReport(JSON.parse(await input.files[0].text()), out);
    } catch (e) {
      error.textContent = `This is not a report of ebb simulate --json: ${e.message}`;
      error.hidden = false;
    }
  });
}

function renderReport(r, out) {
  if (!Array.isArray(r.policies)) throw new Error("no \"policies\" list");
  const cols = [["name", "policy"], ["instance_hours", "instance-hours"], ["mean_utilization", "utilization"], ["p50_ms", "p50 ms"], ["p99_ms", "p99 ms"],
    ["ramp_p99_ms", "ramp p99 ms"], ["slo_attainment", "SLO attainment"], ["requests", "requests"], ["queued", "queued"], ["dropped", "dropped"], ["max_instances", "max instances"]];
  const pct = k => k === "mean_utilization" || k === "slo_attainment";
  const fmt = (k, v) => typeof v === "number" ? (pct(k) ? `${(v * 100).toFixed(3)}%` : fmtNum(v)) : String(v ?? "–");
  const rows = r.policies.slice();
  if (r.search && r.search.best && !rows.some(p => p.name === r.search.best.name)) rows.push(r.search.best);
  out.append(el("table", { class: "list", id: "report-table" },
    el("thead", {}, el("tr", {}, ...cols.map(c => el("th", { text: c[1] })), el("th", { text: "activities" }))),
    el("tbody", {}, ...rows.map(p => el("tr", { "data-policy": p.name }, ...cols.map(c => el("td", { text: fmt(c[0], p[c[0]]) })),
      el("td", { text: String((p.activities || []).length) }))))));
  if (r.search) {
    out.append(el("p", { class: "search", text: `Search: ${r.search.best?.name ?? "?"} against the baseline ${r.search.baseline}.` }));
    if (r.search.best?.policy) out.append(el("details", {}, el("summary", { text: "The policy found" }), el("pre", { text: JSON.stringify(r.search.best.policy, null, 2) })));
  }
  // Over time: load against each policy's capacity, and its instances,
  // minute by minute (reports of ebb simulate with "minutes"); from the
  // activities alone otherwise.
  const withMinutes = rows.filter(p => p.minutes && p.minutes.requests && p.minutes.requests.length);
  if (withMinutes.length) {
    const first = withMinutes[0], t0 = Date.parse(first.start) / 1000;
    const xs = first.minutes.requests.map((_, i) => t0 + 60 * i);
    const cut = a => xs.map((_, i) => a[i] ?? null);
    const chart = (id, title, series) => {
      const figure = el("figure", { class: "chart", id }, el("figcaption", { text: title }));
      out.append(figure);
      new uPlot({ width: Math.max(480, (out.clientWidth || 900) - 20), height: 260, scales: { x: { time: true } },
        series: [{}, ...series.map((x, i) => ({ label: x.label, stroke: x.color || palette[i % palette.length], width: x.width || 2 }))] },
        [xs, ...series.map(x => cut(x.values))], figure);
    };
    chart("report-load", "Load and capacity (requests per minute)", [{ label: "load", values: first.minutes.requests, color: "#9ca3af", width: 1 },
      ...withMinutes.map((p, i) => ({ label: `${p.name} capacity`, values: p.minutes.capacity, color: palette[i % palette.length] }))]);
    chart("report-capacity", "Instances (mean per minute)", withMinutes.map((p, i) => ({ label: p.name, values: p.minutes.instances, color: palette[i % palette.length] })));
  } else {
    const times = new Set();
    const steps = rows.map(p => (p.activities || []).map(a => {
      const m = /desired instance count to (\d+)/.exec(a.description);
      return m ? [Date.parse(a.time) / 1000, +m[1]] : null;
    }).filter(Boolean));
    steps.forEach(s => s.forEach(([t]) => times.add(t)));
    const xs = [...times].sort((a, b) => a - b);
    if (xs.length) {
      const data = [xs, ...steps.map(s => { let v = null, i = 0; return xs.map(t => { while (i < s.length && s[i][0] <= t) v = s[i++][1]; return v; }); })];
      const figure = el("figure", { class: "chart", id: "report-capacity" }, el("figcaption", { text: "Desired instances, from each policy's scaling activities" }));
      out.append(figure);
      new uPlot({ width: 900, height: 260, scales: { x: { time: true } },
        series: [{}, ...rows.map((p, i) => ({ label: p.name, stroke: palette[i % palette.length], width: 2, paths: uPlot.paths.stepped({ align: 1 }) }))] }, data, figure);
    }
  }
  for (const p of rows) {
    out.append(el("details", {}, el("summary", { text: `${p.name}: ${(p.activities || []).length} scaling activities` }),
      el("ol", { class: "timeline" }, ...(p.activities || []).map(a => el("li", { class: "event event-scaling" },
        el("time", { text: a.time.replace("T", " ").replace("Z", "") }), el("span", { class: "title", text: a.description }), el("div", { class: "cause", text: a.cause }))))));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  ({ endpoints: endpointsPage, endpoint: endpointPage, logs: logsPage, report: reportPage }[document.body.dataset.page] || (() => {}))();
});
