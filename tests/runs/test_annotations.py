"""console/engine/annotations.py: streamed text is cut so that each marker goes out whole, annotated
in the delta that carries it, and the deltas add up to what the stored message holds."""

from __future__ import annotations

import random

from console.engine.annotations import Markers, StreamedText, find

MARKERS: Markers = {
    "sandbox:/mnt/data/a.csv": ("file_path", "file-a"),
    "sandbox:/mnt/data/a.csv.bak": ("file_path", "file-b"),
    "【0:0†refunds.md】": ("file_citation", "file-r"),
    "【0:1†shipping.md】": ("file_citation", "file-s"),
}
TEXT = (
    "Returns take 30 days【0:0†refunds.md】 and shipping a week【0:1†shipping.md】. A stray 【 bracket, "
    "the data [here](sandbox:/mnt/data/a.csv), the backup (sandbox:/mnt/data/a.csv.bak), again【0:0†refunds.md】"
)


def _stream(pieces: list[str], markers: Markers = MARKERS) -> list[tuple[str, list[dict]]]:
    streamed = StreamedText(markers)
    out = [streamed.take(piece, final=False) for piece in pieces]
    out.append(streamed.take("", final=True))
    return [(text, found) for text, found in out if text]


def _check(deltas: list[tuple[str, list[dict]]], full: str, markers: Markers = MARKERS) -> None:
    assert "".join(text for text, _ in deltas) == full
    offset, count, rebuilt = 0, 0, []
    for text, found in deltas:
        for annotation in found:
            assert annotation["index"] == count
            count += 1
            start, end = annotation["start_index"] - offset, annotation["end_index"] - offset
            assert 0 <= start < end <= len(text) and text[start:end] == annotation["text"]
            rebuilt.append({k: v for k, v in annotation.items() if k != "index"})
        offset += len(text)
    assert rebuilt == find(full, markers)


def test_it_holds_a_marker_back_until_it_is_whole():
    deltas = _stream(["Returns take 30 days【0:", "0†refunds", ".md】 and more"])
    assert deltas[0] == ("Returns take 30 days", [])
    assert deltas[1][0] == "【0:0†refunds.md】 and more"
    assert deltas[1][1] == [
        {
            "index": 0,
            "type": "file_citation",
            "text": "【0:0†refunds.md】",
            "start_index": 20,
            "end_index": 36,
            "file_citation": {"file_id": "file-r"},
        }
    ]


def test_it_waits_while_a_marker_may_still_grow_into_a_longer_one():
    deltas = _stream(["see sandbox:/mnt/data/a.csv", ".bak now"])
    assert deltas[0] == ("see ", [])
    assert [a["text"] for a in deltas[1][1]] == ["sandbox:/mnt/data/a.csv", "sandbox:/mnt/data/a.csv.bak"]


def test_it_never_splits_a_marker_for_another_ones_start():
    markers: Markers = {"abc": ("file_path", "f1"), "cd": ("file_path", "f2")}
    deltas = _stream(["xabc", "d!"], markers)
    assert deltas[0] == ("x", [])
    _check(deltas, "xabcd!", markers)


def test_it_lets_everything_out_at_the_end_and_holds_nothing_without_markers():
    assert _stream(["a stray 【0:"]) == [("a stray ", []), ("【0:", [])]
    assert StreamedText({}).take("【0:", final=False) == ("【0:", [])


def test_it_adds_up_to_the_stored_annotations_however_the_text_is_cut():
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(TEXT)), rng.randint(1, 30)))
        pieces = [TEXT[a:b] for a, b in zip([0, *cuts], [*cuts, len(TEXT)], strict=True)]
        _check(_stream(pieces), TEXT)
