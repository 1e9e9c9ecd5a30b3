/* Small inline-SVG charts for the dashboard: line charts with interval bands, heat maps, bars.
   No dependencies, no network. Every text goes through textContent (never innerHTML). */
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
                   "#7f7f7f", "#bcbd22"];

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    const node = el("text", Object.assign({ x, y }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  function svg(container, width, height, label) {
    const root = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
                             "aria-label": label, class: "chart" });
    container.appendChild(root);
    return root;
  }

  function scale(d0, d1, r0, r1) {
    const span = d1 - d0 || 1;
    return (v) => r0 + ((v - d0) / span) * (r1 - r0);
  }

  function shortTime(ms) {
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, "0");
    return `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  }

  /* series: [{name, color?, width?, points: [{x: ms, y, lo?, hi?}]}]; options: {threshold, markers:
     [{x, y?, color, title, kind: "line"|"dot"}], spans: [{from, to, color, title}], xDomain: [ms, ms],
     yMin, yMax, height, width, label} */
  function lineChart(container, series, options) {
    const o = Object.assign({ width: 640, height: 220, yMin: 0, yMax: 1, label: "chart" }, options || {});
    const m = { left: 40, right: 12, top: 10, bottom: 26 };
    const root = svg(container, o.width, o.height, o.label);
    const xs = series.flatMap((s) => s.points.map((p) => p.x)).concat((o.markers || []).map((k) => k.x));
    let [x0, x1] = o.xDomain || [Math.min(...xs), Math.max(...xs)];
    if (x0 === x1) { x0 -= 3600e3; x1 += 3600e3; }
    const x = scale(x0, x1, m.left, o.width - m.right);
    const y = scale(o.yMin, o.yMax, o.height - m.bottom, m.top);
    const axes = el("g", { class: "axes" }, root);
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      const v = o.yMin + tick * (o.yMax - o.yMin);
      el("line", { x1: m.left, x2: o.width - m.right, y1: y(v), y2: y(v), class: "grid" }, axes);
      text(axes, m.left - 4, y(v) + 4, v.toFixed(2), { "text-anchor": "end" });
    }
    for (let i = 0; i <= 3; i++) {
      const v = x0 + (i / 3) * (x1 - x0);
      text(axes, x(v), o.height - 8, shortTime(v), { "text-anchor": i === 0 ? "start" : i === 3 ? "end" : "middle" });
    }
    for (const span of o.spans || []) {  /* shaded time ranges, e.g. work under suspicion */
      const rect = el("rect", { x: x(span.from), y: m.top, width: Math.max(1, x(span.to) - x(span.from)),
                                height: o.height - m.bottom - m.top, fill: span.color, class: "span" }, root);
      el("title", {}, rect).textContent = span.title;
    }
    if (o.threshold != null) {
      el("line", { x1: m.left, x2: o.width - m.right, y1: y(o.threshold), y2: y(o.threshold),
                   class: "threshold" }, root);
    }
    series.forEach((s, i) => {
      const color = s.color || PALETTE[i % PALETTE.length];
      const pts = s.points.filter((p) => p.y != null);
      const banded = pts.filter((p) => p.lo != null && p.hi != null);
      if (banded.length) {
        const upper = banded.map((p) => `${x(p.x)},${y(p.hi)}`);
        const lower = banded.slice().reverse().map((p) => `${x(p.x)},${y(p.lo)}`);
        el("polygon", { points: upper.concat(lower).join(" "), fill: color, class: "band" }, root);
      }
      if (pts.length) {
        el("polyline", { points: pts.map((p) => `${x(p.x)},${y(p.y)}`).join(" "), stroke: color,
                         "stroke-width": s.width || 2, class: "series", "data-name": s.name }, root);
      }
      if (pts.length <= 12) {  /* few points: show each one */
        for (const p of pts) el("circle", { cx: x(p.x), cy: y(p.y), r: 3, fill: color, class: "point" }, root);
      }
    });
    for (const k of o.markers || []) {
      const mark = k.kind === "dot"
        ? el("circle", { cx: x(k.x), cy: y(k.y), r: 4, fill: k.color, class: "marker" }, root)
        : el("line", { x1: x(k.x), x2: x(k.x), y1: m.top, y2: o.height - m.bottom, stroke: k.color,
                       class: "marker" }, root);
      el("title", {}, mark).textContent = k.title;
    }
    return root;
  }

  /* A colour from red (0) through amber to green (1). */
  function rateColor(v) {
    if (v == null) return "#e5e7eb";
    const hue = Math.max(0, Math.min(1, v)) * 120;
    return `hsl(${hue}, 65%, 55%)`;
  }

  /* rows, cols: [{key, label}]; cell(rowKey, colKey) -> {value, title, lines?} | null; lines: small
     text under the value (e.g. the number of answers and the interval), so 0.00 of 1 is not 0.00 of 40 */
  function heatmap(container, rows, cols, cell, options) {
    const o = Object.assign({ cell: 96, row: 52, label: "heat map" }, options || {});
    const left = 180, top = 90, R = o.row;
    const width = left + cols.length * o.cell + 10, height = top + rows.length * R + 10;
    const root = svg(container, width, height, o.label);
    cols.forEach((c, j) => {
      text(root, left + j * o.cell + o.cell / 2, top - 8, c.label,
           { transform: `rotate(-35 ${left + j * o.cell + o.cell / 2} ${top - 8})`, class: "col-label" });
    });
    rows.forEach((r, i) => {
      text(root, left - 8, top + i * R + R / 2 + 4, r.label, { "text-anchor": "end" });
      cols.forEach((c, j) => {
        const data = cell(r.key, c.key);
        const rect = el("rect", { x: left + j * o.cell + 1, y: top + i * R + 1, width: o.cell - 2, height: R - 2,
                                  fill: rateColor(data ? data.value : null), class: "cell",
                                  "data-value": data && data.value != null ? data.value : "" }, root);
        el("title", {}, rect).textContent = data ? data.title : "no gold of this class yet";
        const cx = left + j * o.cell + o.cell / 2;
        if (data) {
          text(root, cx, top + i * R + 17, data.value != null ? data.value.toFixed(2) : "–",
               { "text-anchor": "middle", class: "cell-text" });
          (data.lines || []).forEach((line, k) => text(root, cx, top + i * R + 31 + 12 * k, line,
               { "text-anchor": "middle", class: "cell-note" }));
        }
      });
    });
    return root;
  }

  /* bars: [{label, value, title?, color?}], horizontal, values in [0, max] */
  function bars(container, items, options) {
    const o = Object.assign({ width: 640, max: null, label: "bars", format: (v) => String(v) }, options || {});
    const left = 170, row = 22;
    const max = o.max != null ? o.max : Math.max(1, ...items.map((b) => b.value));
    const root = svg(container, o.width, items.length * row + 8, o.label);
    const x = scale(0, max, left, o.width - 60);
    items.forEach((b, i) => {
      text(root, left - 6, i * row + 16, b.label, { "text-anchor": "end" });
      const rect = el("rect", { x: left, y: i * row + 4, width: Math.max(1, x(b.value) - left), height: row - 6,
                                fill: b.color || PALETTE[0], class: "bar" }, root);
      el("title", {}, rect).textContent = b.title || `${b.label}: ${o.format(b.value)}`;
      text(root, x(b.value) + 4, i * row + 16, o.format(b.value));
    });
    return root;
  }

  function legend(container, entries) {
    const list = document.createElement("ul");
    list.className = "legend";
    entries.forEach((e, i) => {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = e.color || PALETTE[i % PALETTE.length];
      item.append(swatch, document.createTextNode(e.name));
      list.appendChild(item);
    });
    container.appendChild(list);
  }

  return { lineChart, heatmap, bars, legend, rateColor, shortTime, PALETTE };
})();
