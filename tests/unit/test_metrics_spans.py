"""Span scores, cross-checked against seqeval, nervaluate and scikit-learn per-character F1."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nervaluate import Evaluator
from seqeval.metrics import f1_score as seqeval_f1
from seqeval.scheme import IOB2
from sklearn.metrics import f1_score as sk_f1

from plugin.metrics import exact_span_f1_score, score_span_batch, span_f1_score, span_overlap_matrix

LABELS = ["PER", "ORG", "LOC"]


def _random_spans(rng, length=60, max_spans=5):
    """Non-overlapping, non-touching spans (what BIO tags can represent)."""
    cuts = np.sort(rng.choice(np.arange(1, length), size=2 * rng.integers(0, max_spans + 1), replace=False))
    return [
        (int(s), int(e), LABELS[rng.integers(0, 3)])
        for s, e in zip(cuts[::2], cuts[1::2], strict=True)
        if e - s >= 1 and s > 0
    ]


def _bio(spans, length):
    tags = ["O"] * length
    for s, e, label in spans:
        tags[s] = f"B-{label}"
        tags[s + 1 : e] = [f"I-{label}"] * (e - s - 1)
    return tags


def _chars(spans, length):
    chars = ["O"] * length
    for s, e, label in spans:
        chars[s:e] = [label] * (e - s)
    return chars


def _corpus(seed, n_docs=40, length=60):
    rng = np.random.default_rng(seed)
    gold = [_random_spans(rng, length) for _ in range(n_docs)]
    pred = []
    for spans in gold:  # perturb: shift ends, change labels, drop, keep
        doc = []
        for s, e, label in spans:
            roll = rng.random()
            if roll < 0.15:
                continue
            if roll < 0.3:
                label = LABELS[(LABELS.index(label) + 1) % 3]
            elif roll < 0.5:
                e = max(s + 1, e - 1)
            doc.append((s, e, label))
        pred.append(doc)
    return gold, pred, length


def _batch(docs):
    code = {label: i for i, label in enumerate(LABELS)}
    return np.array(
        [[d, s, e, code[label]] for d, spans in enumerate(docs) for s, e, label in spans]
    ).reshape(-1, 4)


@pytest.mark.parametrize("seed", range(8))
def test_exact_span_f1_equals_seqeval_strict_and_nervaluate(seed):
    gold, pred, length = _corpus(seed)
    scores = score_span_batch(_batch(gold), _batch(pred), n_docs=len(gold))
    expected = seqeval_f1(
        [_bio(d, length) for d in gold], [_bio(d, length) for d in pred], mode="strict", scheme=IOB2
    )
    assert scores.micro_exact_f1() == pytest.approx(expected, abs=1e-9)
    as_dicts = lambda docs: [[{"label": lb, "start": s, "end": e - 1} for s, e, lb in d] for d in docs]  # noqa: E731
    strict = Evaluator(as_dicts(gold), as_dicts(pred), tags=LABELS).evaluate()["overall"]["strict"]
    assert scores.micro_exact_f1() == pytest.approx(strict.f1, abs=1e-9)
    for d in range(len(gold)):
        assert scores.exact_f1()[d] == pytest.approx(exact_span_f1_score(gold[d], pred[d]), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_char_f1_equals_sklearn_micro_f1_over_characters(seed):
    gold, pred, length = _corpus(seed)
    scores = score_span_batch(_batch(gold), _batch(pred), n_docs=len(gold))
    y_true = [c for d in gold for c in _chars(d, length)]
    y_pred = [c for d in pred for c in _chars(d, length)]
    present = sorted({*y_true, *y_pred} - {"O"})
    expected = sk_f1(y_true, y_pred, labels=present, average="micro", zero_division=1.0)
    assert scores.micro_char_f1() == pytest.approx(expected, abs=1e-9)
    for d in range(len(gold)):
        assert scores.char_f1()[d] == pytest.approx(span_f1_score(gold[d], pred[d]), abs=1e-12)


def test_char_f1_differs_from_seqeval_on_partial_overlap():
    gold, pred = [(0, 10, "PER")], [(0, 9, "PER")]
    assert span_f1_score(gold, pred) == pytest.approx(18 / 19)  # 9 shared characters
    assert exact_span_f1_score(gold, pred) == 0.0  # seqeval/nervaluate strict: a miss
    assert seqeval_f1([_bio(gold, 12)], [_bio(pred, 12)], mode="strict", scheme=IOB2) == 0.0


def test_overlapping_spans_of_one_label_count_characters_once():
    # seqeval cannot represent this (BIO); by definition the characters form a set per label.
    assert span_f1_score([(0, 5, "A"), (3, 8, "A")], [(0, 8, "A")]) == 1.0
    assert exact_span_f1_score([(0, 5, "A"), (0, 5, "A")], [(0, 5, "A")]) == 1.0  # duplicates collapse


def test_span_degenerate_values():
    assert span_f1_score([], []) == 1.0
    assert span_f1_score([(0, 1, "A")], []) == 0.0
    assert span_f1_score([], [(0, 1, "A")]) == 0.0
    assert exact_span_f1_score([], []) == 1.0
    assert span_f1_score([(0, 4, "A")], [(10, 14, "A")]) == 0.0
    empty = score_span_batch(np.empty((0, 4)), np.empty((0, 4)), n_docs=2)
    assert empty.char_f1().tolist() == [1.0, 1.0]


spans_st = st.lists(
    st.tuples(st.integers(0, 30), st.integers(1, 8), st.sampled_from(LABELS)).map(
        lambda t: (t[0], t[0] + t[1], t[2])
    ),
    max_size=6,
)


@settings(max_examples=80, deadline=None)
@given(spans_st, spans_st)
def test_span_scores_are_symmetric_and_perfect_on_identity(gold, pred):
    assert span_f1_score(gold, pred) == pytest.approx(span_f1_score(pred, gold), abs=1e-12)
    assert exact_span_f1_score(gold, pred) == pytest.approx(exact_span_f1_score(pred, gold), abs=1e-12)
    assert span_f1_score(gold, gold) == 1.0
    assert exact_span_f1_score(gold, gold) == 1.0
    assert 0.0 <= span_f1_score(gold, pred) <= 1.0


def test_span_overlap_matrix_is_character_dice():
    sim = span_overlap_matrix([[0, 10], [5, 5]], [[0, 9], [20, 30]])
    np.testing.assert_allclose(sim, [[18 / 19, 0.0], [0.0, 0.0]])
