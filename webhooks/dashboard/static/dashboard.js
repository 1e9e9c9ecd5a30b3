/* The dashboard's pages: each fetches its JSON from /api/v1 with the session cookie and draws it. */
"use strict";

(() => {
  const panel = document.getElementById("panel");
  const API = panel.dataset.api.replace(/\/projects$/, "");
  const project = panel.dataset.project;

  /* GET a JSON document; null when the endpoint or its data does not exist yet (404). */
  async function getJSON(path) {
    const response = await fetch(API + path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 404) return null;
    if (response.status === 401) { window.location.reload(); return null; }
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value; else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
    return node;
  }

  function section(title) {
    const box = h("section", { class: "card" }, h("h2", {}, title));
    panel.appendChild(box);
    return box;
  }

  function noData(container, what) {
    container.appendChild(h("p", { class: "no-data" }, `No data yet: ${what}.`));
  }

  function table(container, headers, rows) {
    const body = h("tbody", {});
    for (const row of rows) body.appendChild(h("tr", {}, ...row.map((cell) => h("td", {}, cell))));
    container.appendChild(h("table", {}, h("thead", {}, h("tr", {}, ...headers.map((x) => h("th", {}, x)))), body));
  }

  const pct = (v) => (v == null ? "–" : `${(100 * v).toFixed(1)} %`);
  const num = (v, digits = 2) => (v == null ? "–" : Number(v).toFixed(digits));
  const interval = (ci) => (ci ? `[${num(ci[0])}, ${num(ci[1])}]` : "–");
  const ms = (iso) => Date.parse(iso);
  const when = (iso) => (iso ? Charts.shortTime(ms(iso)) : "–");
  const who = (a) => a.name || a.email || `user ${a.id}`;
  /* A link into Label Studio (new tab); plain text when there is nowhere to go. */
  const ls = (url, text) => (url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "ls-link" }, text) : String(text ?? "–"));

  /* The flags column: their count, the open one linked to its suspect work in Label Studio. */
  const flagCell = (flags) => {
    const open = flags.find((f) => f.status === "open");
    return open ? ls(open.url, `${flags.length} (open)`) : String(flags.length);
  };

  const pages = {
    async projects() {
      const data = await getJSON("/projects");
      const box = section("Projects");
      if (!data || !data.projects.length) return noData(box, "no project is connected (lsqa connect)");
      const list = h("ul", { class: "projects" });
      for (const p of data.projects) {
        list.appendChild(h("li", {}, h("a", { href: `projects/${p.id}/accuracy` }, `${p.title || "untitled"} (${p.id})`),
                           p.connected ? "" : " (not connected)", " · ", ls(p.url, "open in Label Studio")));
      }
      box.appendChild(list);
    },

    async accuracy() {
      const data = await getJSON(`/projects/${project}/timeline`);
      const summary = section("Annotators");
      if (!data || !data.annotators.length) return noData(summary, "no annotator has answered gold");
      table(summary, ["annotator", "status", "accuracy", "interval", "answers in window", "flags", "quiz answers"],
        data.annotators.map((a) => [who(a), a.status, pct(a.accuracy.accuracy),
          interval([a.accuracy.lower, a.accuracy.upper]), a.accuracy.n, flagCell(a.flags), a.quiz_answers.length]));
      const charts = section(`Accuracy over time (window ${data.window}, ${Math.round(100 * data.confidence_level)} % Wilson bounds; dashed: threshold ${data.threshold})`);
      const times = data.annotators.flatMap((a) => a.points.map((p) => ms(p.at))
        .concat(a.quiz_answers.map((q) => ms(q.at)), a.flags.map((f) => ms(f.raised_at))));
      const xDomain = [Math.min(...times), Math.max(...times)];  /* one time axis: panels compare */
      for (const a of data.annotators) {
        const box = h("div", { class: "small-multiple", "data-annotator": a.id }, h("h3", {}, `${who(a)} · ${a.status}`));
        charts.appendChild(box);
        if (!a.points.length && !a.quiz_answers.length) { noData(box, "no gold answered"); continue; }
        const markers = [], spans = [];
        for (const f of a.flags) {
          if (f.decline_started_at) {
            spans.push({ from: ms(f.decline_started_at), to: ms(f.cleared_at || f.raised_at), color: "#fca5a5",
                         title: `decline began ${when(f.decline_started_at)}: work since then is suspect` });
          }
          markers.push({ x: ms(f.raised_at), color: "#d62728", title: `flag raised ${when(f.raised_at)}` });
          if (f.cleared_at) markers.push({ x: ms(f.cleared_at), color: "#2ca02c", title: `flag cleared ${when(f.cleared_at)}` });
        }
        for (const q of a.quiz_answers) {
          markers.push({ x: ms(q.at), y: q.passed ? 1 : 0, kind: "dot", color: q.passed ? "#2ca02c" : "#d62728",
                         title: `quiz answer ${q.passed ? "passed" : "missed"} ${when(q.at)}` });
        }
        Charts.lineChart(box, [{ name: who(a), points: a.points.map((p) => ({ x: ms(p.at), y: p.accuracy, lo: p.lower, hi: p.upper })) }],
          { threshold: data.threshold, markers, spans, xDomain, label: `accuracy of ${who(a)}` });
      }
      charts.appendChild(h("p", { class: "hint" }, "Red line: flag raised (shaded: from the likely start of the decline) · green line: flag cleared · dots: quiz answers (top passed, bottom missed)."));
    },

    async heatmap() {
      const data = await getJSON(`/projects/${project}/heatmap`);
      const box = section("Per-class accuracy on gold (annotator × class)");
      if (!data || !data.labels.length) return noData(box, "no gold answers with classes");
      const cells = new Map(data.cells.map((c) => [`${c.annotator_id}|${c.label}`, c]));
      Charts.heatmap(box, data.annotators.map((a) => ({ key: a.id, label: who(a) })),
        data.labels.map((l) => ({ key: l, label: l })),
        (row, col) => {
          const c = cells.get(`${row}|${col}`);
          if (!c) return null;
          return { value: c.n ? c.accuracy : null, lines: [`n=${c.n}`, interval([c.lower, c.upper])],
                   title: `${col}: ${pct(c.accuracy)} of ${c.n} answers, interval ${interval([c.lower, c.upper])}` };
        }, { label: "class by annotator accuracy" });
    },

    async agreement() {
      const data = await getJSON(`/projects/${project}/batches`);
      const chartBox = section("Batch kappa per category over time");
      const done = data ? data.batches.filter((b) => b.kappa != null || b.per_category.some((c) => c.kappa != null)) : [];
      if (!done.length) return noData(chartBox, "no batch agreement computed");
      const at = (b) => ms(b.computed_at || b.created_at);
      const labels = [...new Set(done.flatMap((b) => b.per_category.map((c) => c.label)))].sort();
      const series = [{ name: "overall", color: "#111827", width: 3,
                        points: done.map((b) => ({ x: at(b), y: b.kappa, lo: b.kappa_ci && b.kappa_ci[0], hi: b.kappa_ci && b.kappa_ci[1] })) }];
      labels.forEach((label, i) => series.push({ name: label, color: Charts.PALETTE[i % Charts.PALETTE.length],
        points: done.map((b) => { const c = b.per_category.find((x) => x.label === label); return { x: at(b), y: c ? c.kappa : null }; }) }));
      const lows = Math.min(0, ...series.flatMap((s) => s.points.map((p) => (p.lo != null ? p.lo : p.y)).filter((v) => v != null)));
      Charts.lineChart(chartBox, series, { threshold: data.kappa_threshold, yMin: lows, yMax: 1, label: "kappa per category" });
      Charts.legend(chartBox, series.map((s) => ({ name: s.name, color: s.color })));
      const list = section("Batches");
      table(list, ["batch", "source", "created", "status", "sample", "kappa", "kappa CI", "alpha", "categories below threshold"],
        data.batches.map((b) => [ls(b.url, b.id), b.source, when(b.created_at), b.status, `${b.sample_done}/${b.sample_size}`,
          num(b.kappa), interval(b.kappa_ci), num(b.alpha),
          b.per_category.filter((c) => c.below_threshold).map((c) => c.label).join(", ") || "–"]));
    },

    async gold() {
      const data = await getJSON(`/projects/${project}/gold`);
      const box = section("Gold library health");
      if (!data || !(data.items_active + data.items_retired)) return noData(box, "no gold items imported");
      const kpis = h("dl", { class: "kpis" });
      for (const [label, value] of [["active items", data.items_active], ["retired items", data.items_retired],
        ["answers", data.answers], ["miss rate", pct(data.miss_rate)], ["mean exposure", num(data.exposure.mean, 1)],
        ["max exposure", data.exposure.max], ["never served", data.exposure.never_served],
        ["suspect items", data.suspect_items]]) {
        kpis.append(h("div", {}, h("dt", {}, label), h("dd", {}, value)));
      }
      box.appendChild(kpis);
      const answered = data.items.filter((i) => i.answers > 0).slice(0, 25);
      const missBox = section("Miss rate per item (most missed first; red: good annotators keep missing it)");
      if (!answered.length) noData(missBox, "no gold answered");
      else Charts.bars(missBox, answered.map((i) => ({ label: `item ${i.id}${i.source_task_id ? ` (task ${i.source_task_id})` : ""}`,
        value: i.miss_rate, color: i.suspect ? "#d62728" : "#1f77b4",
        title: `${i.misses} of ${i.answers} missed; good annotators ${i.good_misses} of ${i.good_answers}` })),
        { max: 1, format: pct, label: "miss rate per gold item" });
      const suspects = section("Items good annotators keep missing (check their gold answer)");
      const rows = data.items.filter((i) => i.suspect);
      if (!rows.length) return noData(suspects, "no suspect item");
      table(suspects, ["item", "source task", "served", "answers", "missed", "good annotators missed"],
        rows.map((i) => [i.id, ls(i.source_task_url, i.source_task_id ?? "–"), i.served, i.answers, pct(i.miss_rate), `${i.good_misses}/${i.good_answers}`]));
    },

    async relabel() {
      const data = await getJSON(`/projects/${project}/relabel`);
      const box = section("Relabel queue");
      if (!data || !data.items.length) return noData(box, "nothing queued for relabeling");
      const counts = { queued: 0, pushed: 0, corrected: 0 };
      for (const item of data.items) counts[item.status] = (counts[item.status] || 0) + 1;
      Charts.bars(box, Object.entries(counts).map(([label, value]) => ({ label, value })), { label: "relabel items by status" });
      if (data.relabel_project_id) {
        const where = data.items.find((i) => i.relabel_url);
        box.appendChild(h("p", {}, "Relabel project: ",
          ls(where && where.relabel_url.replace(/\?task=.*$/, ""), data.relabel_project_id)));
      }
      table(box, ["item", "task", "annotator", "reason", "status", "review task", "queued", "corrected", "by", "gold verified"],
        data.items.map((i) => [i.id, ls(i.url, i.source_task_id), i.annotator_name ?? i.annotator_id ?? "–",
          i.reason_text ?? i.reason, i.status, ls(i.relabel_url, i.relabel_task_id ?? "–"), when(i.queued_at),
          when(i.corrected_at), i.corrected_by_name ?? i.corrected_by ?? "–",
          i.gold_verified == null ? "–" : i.gold_verified ? "yes" : "no"]));
    },

    async alerts() {
      const data = await getJSON(`/projects/${project}/alerts`);
      const box = section("Alerts");
      if (!data || !data.alerts.length) return noData(box, "no alert raised");
      table(box, ["when", "severity", "kind", "title"],
        data.alerts.map((a) => [when(a.created_at), h("span", { class: `severity ${a.severity}` }, a.severity), a.kind, a.title]));
    },
  };

  const page = pages[panel.dataset.page];
  panel.replaceChildren();
  page().then(() => { panel.dataset.ready = "true"; }).catch((error) => {
    panel.appendChild(h("p", { class: "error", role: "alert" }, `Could not load: ${error.message}`));
    panel.dataset.ready = "error";
  });
})();
