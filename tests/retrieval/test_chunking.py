from __future__ import annotations

import itertools

import pytest

from console.retrieval.chunking import TextChunk, chunk_text, count_tokens
from console.tokens import encoding


def _words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def test_it_returns_one_chunk_for_short_text() -> None:
    assert chunk_text("hello world") == [TextChunk(text="hello world", tokens=2)]


def test_it_returns_nothing_for_empty_text() -> None:
    assert chunk_text("") == []
    assert chunk_text("   \n ") == []


def test_it_windows_by_tokens_with_overlap() -> None:
    text = _words(3000)
    tokens = encoding().encode_ordinary(text)
    chunks = chunk_text(text, max_tokens=800, overlap=400)
    # Windows start every 400 tokens until one reaches the end.
    assert [c.tokens for c in chunks[:-1]] == [800] * (len(chunks) - 1)
    assert len(chunks) == -(-(len(tokens) - 800) // 400) + 1
    assert all(c.tokens <= 800 for c in chunks)
    assert chunks[0].text == encoding().decode(tokens[:800])
    assert chunks[1].text == encoding().decode(tokens[400:1200])
    assert chunks[-1].text.endswith("w2999")


def test_it_supports_no_overlap() -> None:
    text = _words(2000)
    chunks = chunk_text(text, max_tokens=100, overlap=0)
    assert "".join(c.text for c in chunks) == text
    assert sum(c.tokens for c in chunks) == count_tokens(text)


def test_it_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        chunk_text("x", max_tokens=0)
    with pytest.raises(ValueError):
        chunk_text("x", max_tokens=100, overlap=60)


def test_it_keeps_multibyte_text_valid() -> None:
    text = "日本語のテキストと絵文字🙂を含む文章。" * 300
    chunks = chunk_text(text, max_tokens=50, overlap=25)
    assert len(chunks) > 10
    for chunk in chunks:
        assert "\ufffd" not in chunk.text
        assert chunk.text in text


def test_it_encodes_long_texts_in_segments_without_losing_text() -> None:
    # Longer than one encoding segment, with and without line breaks.
    lines = "\n".join(f"line {i} says something about retrieval" for i in range(40_000))
    chunks = chunk_text(lines, max_tokens=800, overlap=0)
    assert "".join(c.text for c in chunks) == lines
    blob = "abcdefgh" * 100_000
    assert "".join(c.text for c in chunk_text(blob, max_tokens=500, overlap=0)) == blob


def _piece_cases() -> list[tuple[str, int, int]]:
    words = " ".join(f"supercalifragilistic{i} and-the word{i}" for i in range(800))
    cjk = "日本語のテキストと絵文字🙂を含む文章。" * 300  # no whitespace at all
    mixed = "\n".join(f"<p>line {i}: https://example.com/{i}?q=é x{'y' * (i % 200)}</p>" for i in range(300))
    cases = [
        (text, size, overlap)
        for text in (words, cjk, mixed)
        for size, overlap in ((800, 400), (100, 30), (7, 3))
    ]
    return [*cases, (words, 50, 0)]


@pytest.mark.parametrize(("text", "size", "overlap"), _piece_cases())
def test_pieces_join_into_the_chunk_and_cut_only_at_whitespace(text: str, size: int, overlap: int) -> None:
    chunks = chunk_text(text, max_tokens=size, overlap=overlap)
    assert chunks
    for chunk in chunks:
        assert chunk.pieces
        assert "".join(chunk.pieces) == chunk.text
        assert all(chunk.pieces)
        if " " in text:  # a cut inside a chunk is at whitespace, so no word is split there
            # (a word without whitespace for 256 bytes around an edge is cut at the edge: the CJK case)
            for before, after in itertools.pairwise(chunk.pieces):
                assert before[-1].isspace() or after[0].isspace()


def test_overlapping_chunks_share_their_pieces() -> None:
    text = " ".join(f"supercalifragilistic{i}" for i in range(3000))
    chunks = chunk_text(text, max_tokens=800, overlap=400)
    distinct = {piece for chunk in chunks for piece in chunk.pieces}
    # Each window edge inside a word adds that word (whole, and its two halves) once more; the
    # rest of the text is in exactly one piece. The windows themselves hold it about twice.
    distinct_bytes = sum(len(piece.encode()) for piece in distinct)
    assert distinct_bytes < len(text.encode()) * 1.05
    assert sum(len(chunk.text.encode()) for chunk in chunks) > len(text.encode()) * 1.8
    for left, right in itertools.pairwise(chunks[:-1]):
        assert set(left.pieces) & set(right.pieces)


def test_a_long_word_is_cut_at_the_window_edge_on_a_character_boundary() -> None:
    text = ("é" * 2000 + " ") * 5
    for chunk in chunk_text(text, max_tokens=300, overlap=100):
        assert "".join(chunk.pieces) == chunk.text
        assert "\ufffd" not in chunk.text
