"""Read the elements of a large top-level JSON array one at a time, in bounded memory.

Each element is decoded by the standard library's C scanner (``json.JSONDecoder.raw_decode``) from
a text buffer refilled in blocks. On these machines that is about 1.5x less CPU than
``ijson.items(..., use_float=True)`` with the yajl2_c backend for Label Studio exports (many
mid-sized objects), and it needs nothing outside the standard library. Memory holds one block plus
the element being decoded.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any, Protocol

_SPACE = " \t\r\n"
_LOOKBACK = 16  # longer than any literal or escape a block boundary can split


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class JSONStreamError(ValueError):
    """The stream is not a JSON array (or is cut short); the message says where."""


def iter_array(raw: Readable, *, block: int = 1 << 20) -> Iterator[Any]:
    """Yield the elements of the JSON array that ``raw`` (UTF-8 bytes) holds, in order.

    Parameters
    ----------
    raw : binary file
        Positioned at the start of the document.
    block : int
        Bytes read at a time. An element larger than the buffer makes the next read twice as
        large, so a huge element is decoded in amortized linear time.

    Raises
    ------
    JSONStreamError
        If the document is not an array of JSON values, naming the element and the reason.

    Examples
    --------
    >>> import io
    >>> list(iter_array(io.BytesIO(b' [{"id": 1}, 2.5, "\\xc3\\xa9"] '), block=3))
    [{'id': 1}, 2.5, 'é']
    """
    buffer = _Buffer(raw, block)
    if buffer.next_char() != "[":
        raise JSONStreamError("the document is not a JSON array")
    buffer.pos += 1
    decode = json.JSONDecoder().raw_decode
    index = 0
    while True:
        char = buffer.next_char()
        if char == "]":
            return
        if index:
            if char != ",":
                raise JSONStreamError(
                    f"expected ',' or ']' after element #{index}, found {char or 'the end'!r}"
                )
            buffer.pos += 1
            buffer.next_char()
        while True:
            try:
                value, end = decode(buffer.text, buffer.pos)
            except json.JSONDecodeError as exc:
                # An element cut by the end of the buffer fails at (or just before: a split ``true``)
                # the end, or inside a string running to it; anything else is a real syntax error,
                # reported now rather than after reading the rest of the file.
                cut = exc.msg.startswith("Unterminated string") or exc.pos >= len(buffer.text) - _LOOKBACK
                if buffer.eof or not cut:
                    raise JSONStreamError(f"element #{index + 1}: {exc.msg}") from None
                buffer.grow()
                continue
            if isinstance(value, int | float) and end > len(buffer.text) - _LOOKBACK and not buffer.eof:
                buffer.grow()  # a bare number near the end of the buffer might go on ("1" + ".5")
                continue
            break
        buffer.pos = end
        buffer.want = block
        index += 1
        yield value


class _Buffer:
    """Decoded text not consumed yet, refilled from the byte stream on demand."""

    def __init__(self, raw: Readable, block: int) -> None:
        self.raw = raw
        self.block = self.want = block
        self.utf8 = codecs.getincrementaldecoder("utf-8-sig")()
        self.text = ""
        self.pos = 0
        self.eof = False

    def grow(self) -> None:
        """Read more (twice as much as last time when the element still did not fit)."""
        data = self.raw.read(self.want)
        self.want *= 2
        self.eof = not data
        try:
            added = self.utf8.decode(data, final=self.eof)
        except UnicodeDecodeError as exc:
            raise JSONStreamError(f"not UTF-8: {exc.reason}") from None
        self.text = self.text[self.pos :] + added
        self.pos = 0

    def next_char(self) -> str:
        """Skip whitespace; the next character ('' at the end of the stream)."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in _SPACE:
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if self.eof:
                return ""
            self.grow()
