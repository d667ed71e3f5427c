"""Annotations of an assistant message: where a marker the model wrote points at a file.

A marker is a citation such as 【0:1†guide.md】 (file_search) or a `sandbox:/mnt/data/…` link to a
file the run wrote (code_interpreter). The stored message and the stream annotate the same text with
the same function, so what a client rebuilds from the deltas equals what a GET returns.
"""

from __future__ import annotations

from typing import Any

# marker text -> (annotation type, file id); file_path markers first, then citations.
Markers = dict[str, tuple[str, str]]


def find(text: str, markers: Markers, offset: int = 0) -> list[dict[str, Any]]:
    """An annotation at every place a marker appears in text, in order; indexes shifted by offset."""
    annotations = []
    for marker, (kind, file_id) in markers.items():
        start = text.find(marker)
        while start >= 0:
            annotations.append(
                {
                    "type": kind,
                    "text": marker,
                    "start_index": offset + start,
                    "end_index": offset + start + len(marker),
                    kind: {"file_id": file_id},
                }
            )
            start = text.find(marker, start + len(marker))
    return sorted(annotations, key=lambda a: a["start_index"])


class StreamedText:
    """Cuts one text part's stream so that every marker travels whole in one delta, annotated there.

    Text that may be the start of a marker is held back until it is known (like OpenAI, which sent a
    citation's text and its annotation in one delta). With no markers nothing is held.
    """

    def __init__(self, markers: Markers) -> None:
        self.markers = markers
        self.starts = {marker[0] for marker in markers}
        self.longest = max((len(marker) for marker in markers), default=0)
        self.held = ""
        self.sent = 0  # characters of the part's text released so far
        self.count = 0  # annotations released so far

    def take(self, text: str, final: bool) -> tuple[str, list[dict[str, Any]]]:
        """What can go out now (everything when final) and its annotations, each with its index in the part."""
        if not self.markers:
            return text, []
        text = self.held + text
        cut = len(text) if final else self._safe_end(text)
        out, self.held = text[:cut], text[cut:]
        found = []
        for annotation in find(out, self.markers, self.sent):
            found.append({"index": self.count, **annotation})
            self.count += 1
        self.sent += len(out)
        return out, found

    def _safe_end(self, text: str) -> int:
        """Where text can be cut without splitting a marker: before the longest tail that could
        still grow into one, and before any marker the cut would split."""
        cut = len(text)
        for start in range(max(0, len(text) - self.longest + 1), len(text)):
            if text[start] in self.starts:
                tail = text[start:]
                if any(len(marker) > len(tail) and marker.startswith(tail) for marker in self.markers):
                    cut = start
                    break
        moved = True
        while moved:
            moved = False
            for marker in self.markers:
                start = text.find(marker, max(0, cut - len(marker) + 1))
                if 0 <= start < cut < start + len(marker):
                    cut, moved = start, True
        return cut
