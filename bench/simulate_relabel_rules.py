"""False-alert and detection rates of the evidence rules against the raw rules they replaced.

Run: ``.venv/bin/python bench/simulate_relabel_rules.py [--runs N] [--batches N] [--seed N]``.

* **systematic** (``plugin.relabel.rules.systematic_error``): annotator x class pairs answer gold
  items of the class one by one and the rule is re-checked after each answer (as every relabel
  cycle does); a pair of a 0.90-accurate annotator that trips it is a false pattern, a pair at
  0.30 that trips it is a caught one. Figures per pair, and false patterns per project of
  22 annotators x 14 classes.
* **kappa** (``kappa_alert_due``): batches of ``--items`` double-annotated items over 14 classes
  (frequencies 1/rank), two annotators each right with probability 0.92; an alert on a category
  whose true kappa (from a 100,000-item sample) is at or above the 0.75 threshold is a false alert.
  Batches whose annotators get class c01 (the second most frequent) right only half the time show
  detection.
* **suspect gold item** (``suspect_gold_item``): items answered by good annotators (0.95
  accurate); a sound item flagged suspect is a false alert, a wrong gold answer (good annotators
  "miss" it 85 % of the time) flagged is a caught one.
"""

from __future__ import annotations

import argparse

import numpy as np

from plugin.agreement.figures import PairedLabels, agreement_figures
from plugin.relabel.rules import (
    kappa_alert_due,
    raw_kappa_alert,
    raw_suspect_gold_item,
    raw_systematic_error,
    suspect_gold_item,
    systematic_error,
)

ANNOTATORS, CLASSES = 22, 14


def ever_trips(correct: np.ndarray, rule) -> tuple[float, float]:
    """Share of runs in which the rule trips at some answer, and the median answers to trip."""
    hits = np.cumsum(correct, axis=1)
    first = np.full(len(correct), -1)
    for n in range(1, correct.shape[1] + 1):
        k = hits[:, n - 1]
        tripped = np.array([rule(int(r), n) for r in k]) & (first < 0)
        first[tripped] = n
    caught = first[first > 0]
    return len(caught) / len(correct), float(np.median(caught)) if len(caught) else float("nan")


def systematic(runs: int, answers: int, rng: np.random.Generator) -> None:
    rules = {
        "raw (<= 0.6 of >= 5)": lambda k, n: raw_systematic_error(k, n, accuracy=0.6, min_answers=5),
        "Wilson 95% upper < 0.6": lambda k, n: systematic_error(k, n, accuracy=0.6, min_answers=5),
    }
    print(f"\nsystematic rule: {answers} gold answers per annotator x class, {runs} runs per row")
    print(f"{'class accuracy':<16}" + "".join(f"{name:>34}" for name in rules))
    for p in (0.95, 0.90, 0.80, 0.30):
        correct = rng.random((runs, answers)) < p
        cells = []
        for rule in rules.values():
            share, median = ever_trips(correct, rule)
            per_project = share * ANNOTATORS * CLASSES
            extra = f" ({per_project:.1f}/project)" if p >= 0.8 else f" (median {median:.0f})"
            cells.append(f"{share:>10.2%}{extra}")
        print(f"{p:<16.2f}" + "".join(f"{c:>34}" for c in cells))


def rater(truth: np.ndarray, accuracy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    wrong = rng.random(len(truth)) >= accuracy[truth]
    other = (truth + rng.integers(1, CLASSES, len(truth))) % CLASSES
    return np.where(wrong, other, truth)


def _pairs(truth: np.ndarray, accuracy: np.ndarray, rng: np.random.Generator) -> PairedLabels:
    names = [f"c{i:02d}" for i in range(CLASSES)]
    a, c = rater(truth, accuracy, rng), rater(truth, accuracy, rng)
    n = len(truth)
    return PairedLabels(
        tuple(range(n)), tuple(names[i] for i in a), tuple(names[i] for i in c), (1,) * n, (2,) * n
    )


def kappa(batches: int, items: int, resamples: int, min_items: int, rng: np.random.Generator) -> None:
    """Per category and batch: alerts on categories whose true kappa is at or above the threshold
    (false) and on the weak category (caught); the true kappa comes from one 100,000-item sample."""
    weights = 1.0 / np.arange(1, CLASSES + 1)
    weights /= weights.sum()
    print(f"\nkappa alert: {batches} batches of {items} double-annotated items, {resamples} resamples")
    for label, weak in (("0.92 everywhere", None), ("class c01 at 0.50", 1)):
        accuracy = np.full(CLASSES, 0.92)
        if weak is not None:
            accuracy[weak] = 0.5
        big = agreement_figures(_pairs(rng.choice(CLASSES, 100_000, p=weights), accuracy, rng), n_resamples=0)
        sound = {c["label"] for c in big["per_category"] if c["kappa"] >= 0.75}
        counts = {"raw": [0, 0, 0], "ours": [0, 0, 0]}  # false alerts, sound categories seen, weak caught
        for b in range(batches):
            pairs = _pairs(rng.choice(CLASSES, size=items, p=weights), accuracy, rng)
            figures = agreement_figures(pairs, threshold=0.75, n_resamples=resamples, seed=b)
            for cat in figures["per_category"]:
                for name, fired in (
                    ("raw", raw_kappa_alert(cat, 0.75)),
                    ("ours", kappa_alert_due(cat, 0.75, min_items)),
                ):
                    if cat["label"] in sound:
                        counts[name][0] += fired
                        counts[name][1] += 1
                    elif weak is not None and cat["label"] == f"c{weak:02d}":
                        counts[name][2] += fired
        line = f"  {label:<18} ({len(sound)} of {CLASSES} truly >= 0.75) false alerts per sound category"
        line += "".join(
            f", {k} {v[0] / max(v[1], 1):.2%} ({v[0] / batches:.2f}/batch)" for k, v in counts.items()
        )
        if weak is not None:
            line += "; weak category caught: " + ", ".join(
                f"{k} {v[2] / batches:.0%}" for k, v in counts.items()
            )
        print(line)


def suspect_items(runs: int, rng: np.random.Generator) -> None:
    print(f"\nsuspect gold item: good annotators' answers per item, {runs} items per row")
    print(
        f"{'answers':<9}{'sound item flagged: raw':>26}{'ours':>8}{'wrong gold caught: raw':>26}{'ours':>8}"
    )
    for n in (2, 3, 5, 8, 12):
        sound = rng.binomial(n, 0.05, runs)
        wrong = rng.binomial(n, 0.85, runs)
        cells = [
            np.mean([raw_suspect_gold_item(int(m), n) for m in sound]),
            np.mean([suspect_gold_item(int(m), n, threshold=0.9) for m in sound]),
            np.mean([raw_suspect_gold_item(int(m), n) for m in wrong]),
            np.mean([suspect_gold_item(int(m), n, threshold=0.9) for m in wrong]),
        ]
        print(f"{n:<9}{cells[0]:>26.2%}{cells[1]:>8.2%}{cells[2]:>26.0%}{cells[3]:>8.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--answers", type=int, default=20, help="gold answers per annotator x class")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--items", type=int, default=200, help="double-annotated items per batch")
    parser.add_argument("--resamples", type=int, default=300)
    parser.add_argument("--min-items", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    systematic(args.runs, args.answers, rng)
    kappa(args.batches, args.items, args.resamples, args.min_items, rng)
    suspect_items(args.runs, rng)


if __name__ == "__main__":
    main()
