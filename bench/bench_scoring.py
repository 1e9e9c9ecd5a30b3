"""Benchmark the scoring engine against the reference libraries, in the same process.

Run: ``.venv/bin/python bench/bench_scoring.py``. Synthetic data with fixed seeds; each figure is
the median of several runs. Ratios compare our code with a plain numpy implementation (the goal is
at most 2x) and with the reference library.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import krippendorff
import numpy as np
from pycocotools import mask as mask_utils
from scipy.optimize import linear_sum_assignment
from seqeval.metrics import f1_score as seqeval_f1
from seqeval.scheme import IOB2
from sklearn.metrics import cohen_kappa_score as sk_kappa
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from plugin.metrics import (
    cohen_kappa_score,
    count_ratings,
    fleiss_kappa_score,
    krippendorff_alpha,
    score_span_batch,
)
from plugin.scoring.boxes import BoxSet, score_box_batch, score_box_frames


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``fn`` in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def row(name: str, ours: float, numpy_ref: float | None, library: float | None, unit: str = "ms") -> None:
    scale = 1e3 if unit == "ms" else 1.0
    cells = [f"{name:<46}", f"{ours * scale:>10.2f}"]
    cells.append(
        f"{numpy_ref * scale:>10.2f} {ours / numpy_ref:>6.2f}x" if numpy_ref else f"{'-':>10} {'':>7}"
    )
    cells.append(f"{library * scale:>10.2f} {library / ours:>7.1f}x faster" if library else f"{'-':>10}")
    print(" ".join(cells))


# -- agreement ---------------------------------------------------------------------------------------


def numpy_kappa(a: np.ndarray, b: np.ndarray, k: int) -> float:
    table = np.bincount(a * k + b, minlength=k * k).reshape(k, k)
    n = table.sum()
    p_o = np.trace(table) / n
    p_e = (table.sum(0) * table.sum(1)).sum() / n**2
    return (p_o - p_e) / (1 - p_e)


def bench_kappa(n: int) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 14, n)
    b = np.where(rng.random(n) < 0.8, a, rng.integers(0, 14, n))
    assert abs(cohen_kappa_score(a, b) - sk_kappa(a, b)) < 1e-9
    row(
        f"Cohen's kappa, {n:,} pairs, 14 classes",
        timed(lambda: cohen_kappa_score(a, b), 20),
        timed(lambda: numpy_kappa(a, b, 14), 20),
        timed(lambda: sk_kappa(a, b), 5),
    )


def numpy_fleiss(ratings: np.ndarray, k: int) -> float:
    items = np.repeat(np.arange(len(ratings)), ratings.shape[1])
    counts = np.bincount(items * k + ratings.ravel(), minlength=len(ratings) * k).reshape(-1, k).astype(float)
    n = ratings.shape[1]
    p_item = ((counts**2).sum(1) - n) / (n * (n - 1))
    p_cat = counts.sum(0) / counts.sum()
    p_e = (p_cat**2).sum()
    return (p_item.mean() - p_e) / (1 - p_e)


def bench_fleiss() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 5, 5000)
    ratings = np.where(rng.random((5000, 3)) < 0.7, truth[:, None], rng.integers(0, 5, (5000, 3)))

    def reference() -> float:
        return fleiss_kappa(aggregate_raters(ratings, n_cat=5)[0])

    assert abs(fleiss_kappa_score(count_ratings(ratings, n_categories=5)) - reference()) < 1e-9
    row(
        "Fleiss' kappa, 5,000 items x 3 raters",
        timed(lambda: fleiss_kappa_score(count_ratings(ratings, n_categories=5)), 20),
        timed(lambda: numpy_fleiss(ratings, 5), 20),
        timed(reference, 10),
    )


def numpy_alpha(data: np.ndarray, n_values: int) -> float:
    """Nominal alpha the textbook way: value counts per item, coincidence matrix by a product."""
    rated = ~np.isnan(data)
    items = np.nonzero(rated)[1]
    codes = data[rated].astype(np.int64)
    counts = np.bincount(items * n_values + codes, minlength=data.shape[1] * n_values)
    counts = counts.reshape(-1, n_values).astype(float)
    m = counts.sum(1)
    counts, m = counts[m >= 2], m[m >= 2]
    o = counts.T @ (counts / (m - 1)[:, None]) - np.diag((counts / (m - 1)[:, None]).sum(0))
    n_c = o.sum(1)
    n = n_c.sum()
    d_o = o.sum() - np.trace(o)
    d_e = (n**2 - (n_c**2).sum()) / (n - 1)
    return 1 - d_o / d_e


def bench_alpha() -> None:
    rng = np.random.default_rng(2)
    raters, items = 22, 180_000
    truth = rng.integers(0, 14, items)
    data = np.where(rng.random((raters, items)) < 0.85, truth, rng.integers(0, 14, (raters, items))).astype(
        float
    )
    data[rng.random(data.shape) < 0.95] = np.nan
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert abs(krippendorff_alpha(data) - expected) < 1e-9
    assert abs(numpy_alpha(data, 14) - expected) < 1e-9
    row(
        "Krippendorff's alpha, 22 x 180,000, 95% missing",
        timed(lambda: krippendorff_alpha(data), 10),
        timed(lambda: numpy_alpha(data, 14), 10),
        timed(lambda: krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"), 3),
    )
    row(
        "  same, ordinal",
        timed(lambda: krippendorff_alpha(data, level="ordinal"), 5),
        None,
        timed(lambda: krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"), 3),
    )


# -- boxes -------------------------------------------------------------------------------------------


def shelf_frames(n_frames: int, seed: int = 3) -> tuple[np.ndarray, ...]:
    """Ten boxes per frame on two shelf rows; annotations jittered, 5% relabelled."""
    rng = np.random.default_rng(seed)
    col, shelf = np.tile(np.arange(5), 2), np.repeat(np.arange(2), 5)
    gold = np.stack(
        [
            col * 20 + 2 + rng.uniform(0, 2, (n_frames, 10)),
            shelf * 50 + 5 + rng.uniform(0, 2, (n_frames, 10)),
            rng.uniform(12, 17, (n_frames, 10)),
            rng.uniform(30, 40, (n_frames, 10)),
        ],
        axis=-1,
    )
    pred = gold + rng.normal(0, 1.0, gold.shape)
    labels = rng.integers(0, 14, (n_frames, 10))
    pred_labels = np.where(rng.random((n_frames, 10)) < 0.05, rng.integers(0, 14, (n_frames, 10)), labels)
    return gold, pred, labels, pred_labels


def reference_boxes(gold: np.ndarray, pred: np.ndarray) -> None:
    """pycocotools IoU + scipy Hungarian, frame by frame."""
    for g, p in zip(gold, pred, strict=True):
        iou = np.asarray(mask_utils.iou(p.tolist(), g.tolist(), [0] * len(g))).T
        linear_sum_assignment(np.where(iou >= 0.5, iou, 0.0), maximize=True)


def bench_boxes() -> None:
    n_frames = 180_000
    gold, pred, labels, pred_labels = shelf_frames(n_frames)
    frame = np.repeat(np.arange(n_frames), 10)
    gold_set = BoxSet.from_arrays(frame, gold.reshape(-1, 4), labels.ravel())
    pred_set = BoxSet.from_arrays(frame, pred.reshape(-1, 4), pred_labels.ravel())
    ours = timed(lambda: score_box_batch(pred_set, gold_set, n_frames=n_frames), 3)
    sample = 20_000  # the reference is extrapolated from a sample to keep the benchmark short
    library = timed(lambda: reference_boxes(gold[:sample], pred[:sample]), 1) * n_frames / sample
    row("Boxes: IoU + matching, 180,000 frames x 10 (s)", ours, None, library, unit="s")
    print(
        f"{'':<46} -> {n_frames / ours:,.0f} frames/s (goal >= 50,000); reference {n_frames / library:,.0f}/s"
    )

    n_dict = 30_000

    def results(boxes: np.ndarray, names: np.ndarray) -> list[list[dict]]:
        return [
            [
                {
                    "from_name": "box",
                    "to_name": "img",
                    "type": "rectanglelabels",
                    "id": f"r{i}",
                    "original_width": 1920,
                    "original_height": 1080,
                    "value": {
                        "x": b[0],
                        "y": b[1],
                        "width": b[2],
                        "height": b[3],
                        "rotation": 0,
                        "rectanglelabels": [f"class{n}"],
                    },
                }
                for i, (b, n) in enumerate(zip(frame_boxes.tolist(), frame_names.tolist(), strict=True))
            ]
            for frame_boxes, frame_names in zip(boxes, names, strict=True)
        ]

    pred_results, gold_results = (
        results(pred[:n_dict], pred_labels[:n_dict]),
        results(gold[:n_dict], labels[:n_dict]),
    )
    full = timed(lambda: score_box_frames(pred_results, gold_results, tag="box"), 3)
    row(f"Boxes: result dicts -> verdicts, {n_dict:,} frames (s)", full, None, None, unit="s")
    print(f"{'':<46} -> {n_dict / full:,.0f} frames/s (goal >= 20,000)")


# -- spans -------------------------------------------------------------------------------------------


def span_corpus(n_docs: int, seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Five spans per 45-token document (offsets are token indices, so seqeval sees the same units)."""
    rng = np.random.default_rng(seed)
    starts = np.arange(5) * 9 + rng.integers(0, 3, (n_docs, 5))
    ends = starts + rng.integers(1, 6, (n_docs, 5))
    labels = rng.integers(0, 4, (n_docs, 5))
    doc = np.repeat(np.arange(n_docs), 5)
    gold = np.column_stack([doc, starts.ravel(), ends.ravel(), labels.ravel()])
    pred = gold.copy()
    pred[:, 2] = np.maximum(pred[:, 1] + 1, pred[:, 2] - (rng.random(len(pred)) < 0.2))
    pred[:, 3] = np.where(rng.random(len(pred)) < 0.1, rng.integers(0, 4, len(pred)), pred[:, 3])
    return gold, pred


def bench_spans() -> None:
    n_docs = 50_000
    gold, pred = span_corpus(n_docs)
    ours = timed(lambda: score_span_batch(gold, pred, n_docs=n_docs), 5)

    as_lists = [[tuple(s) for s in gold[gold[:, 0] == d, 1:].tolist()] for d in range(2000)]
    labels = ["PER", "ORG", "LOC", "MISC"]

    def from_python() -> None:
        rows = [(d, s, e, lb) for d, spans in enumerate(as_lists) for s, e, lb in spans]
        score_span_batch(np.array(rows), np.array(rows), n_docs=len(as_lists))

    def bio(table: np.ndarray, docs: int) -> list[list[str]]:
        out = [["O"] * 45 for _ in range(docs)]
        for d, s, e, lb in table[table[:, 0] < docs].tolist():
            out[d][s] = f"B-{labels[lb]}"
            out[d][s + 1 : e] = [f"I-{labels[lb]}"] * (e - s - 1)
        return out

    sample = 2000
    g_bio, p_bio = bio(gold, sample), bio(pred, sample)
    exact = score_span_batch(
        gold[gold[:, 0] < sample], pred[pred[:, 0] < sample], n_docs=sample
    ).micro_exact_f1()
    assert abs(exact - seqeval_f1(g_bio, p_bio, mode="strict", scheme=IOB2)) < 1e-9
    library = timed(lambda: seqeval_f1(g_bio, p_bio, mode="strict", scheme=IOB2), 1) * n_docs / sample
    row("Spans: char + exact F1, 50,000 docs x 5 spans", ours, None, library)
    py = timed(from_python, 5) * n_docs / sample
    print(f"{'':<46} -> {n_docs / ours:,.0f} docs/s from arrays (goal >= 300,000);")
    print(f"{'':<46}    {n_docs / py:,.0f} docs/s from Python span tuples")
    print(f"{'':<46}    seqeval strict: {n_docs / library:,.0f} docs/s")


def main() -> None:
    print(
        f"{'workload':<46} {'ours ms':>10} {'numpy ms':>10} {'ratio':>7} {'reference':>10} {'speed-up':>15}"
    )
    bench_kappa(200_000)
    bench_kappa(5_000)
    bench_fleiss()
    bench_alpha()
    bench_boxes()
    bench_spans()


if __name__ == "__main__":
    main()
