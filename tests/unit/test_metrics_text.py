"""Edit similarity of free-text answers."""

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.metrics.text import edit_similarity, levenshtein_distance, normalize_text


def _reference_levenshtein(a, b):
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcé ", max_size=12), st.text(alphabet="abcé ", max_size=12))
def test_levenshtein_equals_textbook_dynamic_programme(a, b):
    assert levenshtein_distance(a, b) == _reference_levenshtein(a, b)
    assert levenshtein_distance(a, b) == levenshtein_distance(b, a)


def test_edit_similarity_normalizes_whitespace_and_case():
    assert normalize_text("  Hello\n  World ") == "hello world"
    assert edit_similarity("The  cat", "the cat") == 1.0
    assert edit_similarity("The cat", "the cat", case_sensitive=True) < 1.0
    assert edit_similarity("", "  ") == 1.0
    assert edit_similarity("abc", "") == 0.0
    assert round(edit_similarity("kitten", "sitting"), 3) == 0.571
