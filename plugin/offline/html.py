"""Render a report as one self-contained HTML file: inline SVG charts and CSS, no script, no network.

Charts: error rate per class (the overall rate as a dashed line, flagged classes in red), accuracy
and share of all errors per annotator, and the histogram of matched-region overlap with the
0.70-0.85 band shaded. Every text from the data is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

_BAR_H, _GAP, _LABEL_W, _PLOT_W = 18, 6, 190, 420
_RED, _BLUE, _GREY, _BAND = "#c0392b", "#2f6fb0", "#8a8f98", "#f5d76e"

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1000px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.cards{display:flex;flex-wrap:wrap;gap:.75rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem}.card b{display:block;font-size:1.3rem}
.plan{background:#f4f8fc;border-left:4px solid #2f6fb0;padding:.6rem 1rem}
table{border-collapse:collapse;font-size:.85rem}
td,th{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}.flag{color:#c0392b;font-weight:600}
svg text{font-size:12px;fill:#333}
"""


def render_html(report: dict[str, Any], *, title: str = "QA audit") -> str:
    """The whole page for ``report`` (a dict with the keys of :func:`plugin.offline.report.build_report`)."""
    s, plan = report["summary"], report["recommendation"]
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>",
        _cards(report),
        "<h2>Recommendation</h2><div class='plan'>",
        f"<p><b>{escape(plan['strategy'] or 'no recommendation')}</b></p><ul>",
        *(f"<li>{escape(str(r))}</li>" for r in plan["reasons"]),
        "</ul>",
        *(
            ["<p>Actions:</p><ul>", *(f"<li>{escape(str(a))}</li>" for a in plan["actions"]), "</ul>"]
            if plan.get("actions")
            else []
        ),
        "</div>",
        "<h2>Error rate per class</h2>",
        class_chart(report["per_class"], s["error_rate"]),
        "<h2>Annotators: accuracy and share of all errors</h2>",
        annotator_chart(report["per_annotator"]),
        "<h2>Boundary quality of matched regions</h2>",
        histogram_chart(report["boundary"]),
        "<h2>Per class</h2>",
        _table(
            ["class", "gold units", "errors", "error rate", "missing", "wrong label", "confused as"],
            [
                [
                    c["label"],
                    c["n"],
                    c["errors"],
                    _pct(c["error_rate"]),
                    c.get("missing", ""),
                    c.get("wrong_label", ""),
                    ", ".join(f"{x['label']} ({x['count']})" for x in c.get("confused_as", [])),
                ]
                for c in report["per_class"]
            ],
            [c.get("flagged", False) for c in report["per_class"]],
        ),
        "<h2>Per annotator</h2>",
        _table(
            ["annotator", "gold units", "errors", "accuracy", "error share", "work share", "records"],
            [
                [
                    a["annotator"],
                    a["n"],
                    a.get("errors", ""),
                    _pct(a["accuracy"]),
                    _pct(a["error_share"]),
                    _pct(a.get("work_share")),
                    a.get("records", ""),
                ]
                for a in report["per_annotator"]
            ],
            [a.get("flagged", False) for a in report["per_annotator"]],
        ),
        "<h2>Records with the most errors</h2>",
        _table(
            ["record", "annotator", "gold units", "errors", "missing", "extras"],
            [
                [r["record"], r["annotator"], r["units"], r["errors"], r["missing"], r["extras"]]
                for r in report.get("flagged_records", [])[:30]
            ],
        ),
        f"<p style='color:#888;font-size:.8rem'>{escape(_source_line(report.get('source', {})))}</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _cards(report: dict[str, Any]) -> str:
    s, b, profile = report["summary"], report["boundary"], report.get("error_profile", {})
    cards = [
        ("label error", _pct(s["error_rate"])),
        ("records compared", f"{s['records_compared']:,}"),
        ("records with errors", f"{s.get('records_with_errors', 0):,}"),
        ("gold units", f"{s.get('gold_units', 0):,}"),
        ("matched regions", f"{b['matched_regions']:,}"),
        ("IoU 0.70-0.85", _pct(b["share_iou_070_085"])),
        ("error profile", ", ".join(profile.get("kinds", [])) or "-"),
    ]
    body = "".join(f"<div class='card'>{escape(k)}<b>{escape(v)}</b></div>" for k, v in cards)
    return f"<div class='cards'>{body}</div>"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _svg(width: int, height: int, body: Sequence[str], label: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(label)}'>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}'>{escape(text)}</text>"


def class_chart(per_class: Sequence[dict[str, Any]], overall: float) -> str:
    """Horizontal bars of error rate per class; the overall rate as a dashed line."""
    top = max([c["error_rate"] for c in per_class] + [overall, 0.01])
    scale = _PLOT_W / top
    body = []
    for i, c in enumerate(per_class):
        y = i * (_BAR_H + _GAP) + 4
        color = _RED if c.get("flagged") else _BLUE
        body.append(_text(_LABEL_W - 6, y + 13, str(c["label"]), "end"))
        body.append(
            f"<rect x='{_LABEL_W}' y='{y}' width='{c['error_rate'] * scale:.1f}' height='{_BAR_H}' "
            f"fill='{color}'><title>{escape(str(c['label']))}: {_pct(c['error_rate'])} of {c['n']}"
            "</title></rect>"
        )
        body.append(_text(_LABEL_W + c["error_rate"] * scale + 4, y + 13, _pct(c["error_rate"])))
    height = len(per_class) * (_BAR_H + _GAP) + 24
    x = _LABEL_W + overall * scale
    body.append(
        f"<line x1='{x:.1f}' y1='0' x2='{x:.1f}' y2='{height - 18}' stroke='{_GREY}' stroke-dasharray='4 3'/>"
    )
    body.append(_text(x, height - 4, f"overall {_pct(overall)}", "middle"))
    return _svg(_LABEL_W + _PLOT_W + 70, height, body, "error rate per class")


def annotator_chart(per_annotator: Sequence[dict[str, Any]]) -> str:
    """Two bar columns per annotator: accuracy (0-100 %) and share of all errors."""
    half = _PLOT_W // 2
    share_scale = 1.0 / max([a["error_share"] for a in per_annotator] + [1e-9])
    body = [_text(_LABEL_W, 12, "accuracy"), _text(_LABEL_W + half + 40, 12, "share of all errors")]
    for i, a in enumerate(per_annotator):
        y = i * (_BAR_H + _GAP) + 20
        color = _RED if a.get("flagged") else _BLUE
        accuracy = a["accuracy"] or 0.0
        body.append(_text(_LABEL_W - 6, y + 13, str(a["annotator"]), "end"))
        body.append(
            f"<rect x='{_LABEL_W}' y='{y}' width='{accuracy * (half - 40):.1f}' height='{_BAR_H}' "
            f"fill='{_GREY}'/>"
        )
        body.append(_text(_LABEL_W + accuracy * (half - 40) + 4, y + 13, _pct(a["accuracy"])))
        x0, bar = _LABEL_W + half + 40, a["error_share"] * share_scale * (half - 40)
        body.append(f"<rect x='{x0}' y='{y}' width='{bar:.1f}' height='{_BAR_H}' fill='{color}'/>")
        body.append(_text(x0 + bar + 4, y + 13, _pct(a["error_share"])))
    height = len(per_annotator) * (_BAR_H + _GAP) + 26
    return _svg(_LABEL_W + _PLOT_W + 90, height, body, "accuracy and error share per annotator")


def histogram_chart(boundary: dict[str, Any]) -> str:
    """Histogram of IoU / character F1 of matched regions, the 0.70-0.85 band shaded."""
    counts = boundary.get("histogram", {}).get("counts", [])
    edges = boundary.get("histogram", {}).get("edges", [])
    if not counts or not sum(counts):
        return "<p>No matched regions.</p>"
    left, width, height, base = 50, 600, 220, 190
    top = max(counts)
    # Matched regions start at the match threshold: show from 0.5 (or the first filled bin) up.
    start = min(0.5, edges[next(i for i, c in enumerate(counts) if c)])
    x = lambda v: left + (v - start) / (1.0 - start) * width  # noqa: E731
    lo, hi = boundary.get("band", [0.70, 0.85])
    body = [
        f"<rect x='{x(lo):.1f}' y='10' width='{x(hi) - x(lo):.1f}' height='{base - 10}' fill='{_BAND}' "
        "opacity='0.6'/>",
        _text(
            (x(lo) + x(hi)) / 2, 22, f"{_pct(boundary['share_iou_070_085'])} in {lo:.2f}-{hi:.2f}", "middle"
        ),
    ]
    for count, a, b in zip(counts, edges, edges[1:], strict=False):
        if a < start:
            continue
        h = (base - 30) * count / top
        body.append(
            f"<rect x='{x(a) + 1:.1f}' y='{base - h:.1f}' width='{x(b) - x(a) - 2:.1f}' height='{h:.1f}' "
            f"fill='{_BLUE}'><title>{a:.2f}-{b:.2f}: {count}</title></rect>"
        )
    for tick in sorted({start, 0.5, 0.7, 0.85, 1.0}):
        body.append(_text(x(tick), base + 16, f"{tick:g}", "middle"))
    body.append(f"<line x1='{left}' y1='{base}' x2='{left + width}' y2='{base}' stroke='{_GREY}'/>")
    body.append(_text(left + width / 2, height + 14, boundary.get("measure", "IoU"), "middle"))
    return _svg(left + width + 20, height + 20, body, "overlap histogram of matched regions")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], flags: Sequence[bool] = ()) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = " class='flag'" if i < len(flags) and flags[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _source_line(source: dict[str, Any]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in source.items())
