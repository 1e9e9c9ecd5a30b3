"""The incremental array reader gives exactly what ``json.loads`` gives, whatever the block size."""

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.offline.jsonstream import JSONStreamError, iter_array

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
spacing = st.sampled_from(["", " ", "\n", " \r\n\t "])


@settings(max_examples=200, deadline=None)
@given(st.lists(values, max_size=8), spacing, st.integers(1, 40), st.booleans())
def test_iter_array_equals_json_loads(items, space, block, ascii_only):
    text = space + "[" + space + ("," + space).join(json.dumps(v, ensure_ascii=ascii_only) for v in items)
    text += space + "]" + space
    assert list(iter_array(io.BytesIO(text.encode()), block=block)) == json.loads(text)


def test_iter_array_reads_a_byte_order_mark_and_huge_elements():
    big = {"text": "é" * 100_000, "n": [1.5] * 1000}
    data = b"\xef\xbb\xbf[" + json.dumps(big).encode() + b", 7]"
    assert list(iter_array(io.BytesIO(data), block=64)) == [big, 7]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}', "the document is not a JSON array"),
        ("", "the document is not a JSON array"),
        ('[{"a": 1} {"b": 2}]', "expected ',' or ']' after element #1"),
        ('[{"a": 1},]', "element #2: Expecting value"),
        ('[{"a": 1}, {"b": ', "element #2: Expecting value"),
        ('[{"a": 1}, {"b": "cut', "element #2: Unterminated string"),
        ('[{"a": 1}', "expected ',' or ']' after element #1, found 'the end'"),
        ('[{"a": tru}, ' + " " * 5000 + "1]", "element #1: Expecting value"),
    ],
)
def test_iter_array_names_the_problem(text, message):
    with pytest.raises(JSONStreamError) as error:
        list(iter_array(io.BytesIO(text.encode()), block=4))
    assert str(error.value).startswith(message)


def test_iter_array_reports_a_syntax_error_without_reading_the_rest():
    class Counting(io.BytesIO):
        read_bytes = 0

        def read(self, size=-1):
            data = super().read(size)
            Counting.read_bytes += len(data)
            return data

    stream = Counting(b'[{"a": 1}, {"a" 2}, ' + b'{"b": 1}, ' * 100_000 + b"{}]")
    with pytest.raises(JSONStreamError, match="element #2: Expecting ':' delimiter"):
        list(iter_array(stream, block=256))
    assert Counting.read_bytes <= 1024
