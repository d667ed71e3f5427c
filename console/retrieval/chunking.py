"""Token windows, like OpenAI's static chunking strategy (800 tokens, 400 overlap by default).

A chunk can also give its text cut into pieces that neighbouring chunks share (`pieces`), so
that PostgreSQL parses every piece once for full-text search instead of every window.
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
from dataclasses import dataclass, field

from console.tokens import encoding

# tiktoken's pre-tokenizer slows down on very long strings, and its batch API encodes on
# several threads; so long texts are encoded in segments cut at line breaks.
_SEGMENT_CHARS = 256 * 1024
_THREADS = max(1, min(4, os.cpu_count() or 1))

# A piece edge moves to the whitespace around a window edge when it finds some within this many
# bytes (on each side); otherwise it stays at the window edge, on a character boundary.
_WORD_BYTES = 256
_SPACE = frozenset(b" \t\n\r\x0b\x0c")
_UP_TO_LAST_SPACE = re.compile(rb".*\s", re.S)
_NOT_SPACE = re.compile(rb"\S*")


@dataclass
class TextChunk:
    """One window of text and its token count.

    `pieces` are consecutive runs of its text ("".join(pieces) == text) cut only at whitespace or
    at the chunk's own ends, so each piece tokenizes for full-text search as it does inside the
    chunk, and overlapping chunks share theirs (equal strings): an index can parse each distinct
    piece once. They are cut when asked for (only PostgreSQL's index asks); a chunk made
    elsewhere is its own single piece.
    """

    text: str
    tokens: int
    span: tuple[_Pieces, int, int] | None = field(default=None, compare=False, repr=False)

    @property
    def pieces(self) -> tuple[str, ...]:
        if self.span is None:
            return (self.text,)
        cuts, start, end = self.span
        return cuts.between(start, end)


def _segments(text: str) -> list[str]:
    segments: list[str] = []
    start = 0
    while len(text) - start > _SEGMENT_CHARS:
        cut = text.rfind("\n", start + _SEGMENT_CHARS // 2, start + _SEGMENT_CHARS)
        if cut < 0:
            cut = text.rfind(" ", start + _SEGMENT_CHARS // 2, start + _SEGMENT_CHARS)
        if cut < 0:
            cut = start + _SEGMENT_CHARS
        segments.append(text[start:cut])
        start = cut
    segments.append(text[start:])
    return segments


def encode(text: str) -> list[int]:
    segments = _segments(text)
    if len(segments) == 1:
        return encoding().encode_ordinary(text)
    batches = encoding().encode_ordinary_batch(segments, num_threads=_THREADS)
    return list(itertools.chain.from_iterable(batches))


def count_tokens(text: str) -> int:
    return len(encode(text))


def chunk_text(text: str, max_tokens: int = 800, overlap: int = 400) -> list[TextChunk]:
    """Windows of at most `max_tokens` tokens, each starting `max_tokens - overlap` after the last."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if not 0 <= overlap <= max_tokens // 2:
        raise ValueError("overlap must be between 0 and half of max_tokens")
    tokens = encode(text)
    if not tokens:
        return []
    # Slicing the UTF-8 bytes at token offsets is much faster than decoding every window; a
    # window edge that splits a character drops that character's partial bytes. Only window
    # edges need offsets, measured by decoding the spans between them (in Rust, in one pass).
    step = max_tokens - overlap
    total = len(tokens)
    starts = list(range(0, max(total - overlap, 1), step))
    edges = sorted({0, total, *starts, *(min(start + max_tokens, total) for start in starts)})
    offsets = {0: 0}
    position = 0
    enc = encoding()
    for left, right in itertools.pairwise(edges):
        position += len(enc.decode_bytes(tokens[left:right]))
        offsets[right] = position
    data = text.encode("utf-8")
    if offsets[total] != len(data):  # segments always re-join exactly; this guards the assumption
        data = enc.decode_bytes(tokens)
    cuts = _Pieces(data, [offsets[edge] for edge in edges]) if overlap else None  # else nothing is shared
    chunks: list[TextChunk] = []
    for start in starts:
        end = min(start + max_tokens, total)
        piece = data[offsets[start] : offsets[end]].decode("utf-8", errors="ignore")
        if piece.strip():
            span = (cuts, offsets[start], offsets[end]) if cuts else None
            chunks.append(TextChunk(text=piece, tokens=end - start, span=span))
    return chunks


class _Pieces:
    """Cuts `data` at every window edge into pieces that chunks share.

    A window edge inside a word would split that word in the chunks that span the edge, and
    full-text search would index two word fragments there. So each edge gets a region: the
    whitespace-delimited word around it ([left, right), empty when the edge is already at
    whitespace). A chunk is then: the tail of its first edge's region, then for every edge inside
    the chunk the stretch of text before that edge's region and the whole region, then the
    stretch before its last edge's region and that region's head. Every piece edge inside a chunk
    lies at whitespace (or, for a word longer than _WORD_BYTES, on a character boundary), and
    the chunk's text is exactly its pieces joined. Regions that overlap (edges closer together
    than a word) are merged into one.
    """

    def __init__(self, data: bytes, edges: list[int]) -> None:
        self.data = data
        self.edges = edges  # byte offsets of the window edges, ascending
        self.region: list[int] = []  # index into lefts/rights of each edge's (merged) region
        self.lefts: list[int] = []
        self.rights: list[int] = []
        self._text: dict[tuple[int, int], str] = {}
        size = len(data)
        for edge in edges:
            left, right = (edge, edge) if edge in (0, size) else self._word(edge)
            if self.rights and left < self.rights[-1]:
                self.rights[-1] = max(self.rights[-1], right)
            else:
                self.lefts.append(left)
                self.rights.append(right)
            self.region.append(len(self.lefts) - 1)

    def _word(self, edge: int) -> tuple[int, int]:
        data = self.data
        if data[edge - 1] in _SPACE or data[edge] in _SPACE:
            return edge, edge
        low = max(0, edge - _WORD_BYTES)
        before = _UP_TO_LAST_SPACE.match(data, low, edge)
        left = before.end() if before else (0 if low == 0 else -1)
        after = _NOT_SPACE.match(data, edge, min(len(data), edge + _WORD_BYTES))
        right = after.end() if after else edge
        if left < 0 or (right == edge + _WORD_BYTES and right < len(data) and data[right] not in _SPACE):
            # No whitespace near: cut at the edge, moved out of any character it splits.
            left = right = edge
            while left > 0 and data[left] & 0xC0 == 0x80:
                left -= 1
            while right < len(data) and data[right] & 0xC0 == 0x80:
                right += 1
        return left, right

    def _span(self, start: int, end: int) -> str:
        text = self._text.get((start, end))
        if text is None:
            text = self._text[start, end] = self.data[start:end].decode("utf-8", errors="ignore")
        return text

    def between(self, start: int, end: int) -> tuple[str, ...]:
        """The pieces of the chunk data[start:end], both of them window edges."""
        first = self.region[bisect.bisect_left(self.edges, start)]
        last = self.region[bisect.bisect_left(self.edges, end)]
        if first == last:
            spans = [(start, end)]
        else:
            spans = [(start, self.rights[first])]
            for region in range(first + 1, last):
                spans += [
                    (self.rights[region - 1], self.lefts[region]),
                    (self.lefts[region], self.rights[region]),
                ]
            spans += [(self.rights[last - 1], self.lefts[last]), (self.lefts[last], end)]
        return tuple(text for text in (self._span(a, b) for a, b in spans if a < b) if text)
