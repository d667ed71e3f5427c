"""Token windows, like OpenAI's static chunking strategy (800 tokens, 400 overlap by default)."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

from console.engine.tokens import encoding

# tiktoken's pre-tokenizer slows down on very long strings, and its batch API encodes on
# several threads; so long texts are encoded in segments cut at line breaks.
_SEGMENT_CHARS = 256 * 1024
_THREADS = max(1, min(4, os.cpu_count() or 1))


@dataclass
class TextChunk:
    text: str
    tokens: int


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
    chunks: list[TextChunk] = []
    for start in starts:
        end = min(start + max_tokens, total)
        piece = data[offsets[start] : offsets[end]].decode("utf-8", errors="ignore")
        if piece.strip():
            chunks.append(TextChunk(text=piece, tokens=end - start))
    return chunks
