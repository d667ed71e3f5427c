"""Annotations of an assistant message: where a marker the model wrote points at a file."""

from __future__ import annotations

from typing import Any


def marker_annotations(text: str, markers: dict[str, str], kind: str) -> list[dict[str, Any]]:
    """An annotation of `kind` (file_path or file_citation) at every place a marker appears in text."""
    annotations = []
    for marker, file_id in markers.items():
        start = text.find(marker)
        while start >= 0:
            annotations.append(
                {
                    "type": kind,
                    "text": marker,
                    "start_index": start,
                    "end_index": start + len(marker),
                    kind: {"file_id": file_id},
                }
            )
            start = text.find(marker, start + len(marker))
    return sorted(annotations, key=lambda a: a["start_index"])
