from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from tests.contract import check_response_event
from tests.runs.helpers import collapse, names

__all__ = ["collapse", "iter_events", "names", "read_events", "sequence_numbers"]


def iter_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event, data) pairs of a Responses stream as they arrive; each event's data is checked
    against the contract. `data: [DONE]` comes as ("", "[DONE]")."""
    assert response.headers["content-type"].startswith("text/event-stream"), response.text
    event = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            raw = line[6:]
            if raw == "[DONE]":
                yield ("", raw)
            else:
                data = json.loads(raw)
                assert data["type"] == event, (event, data)
                check_response_event(data)
                yield (event or "", data)
            event = None


def read_events(response: httpx.Response) -> list[tuple[str, Any]]:
    return list(iter_events(response))


def sequence_numbers(events: list[tuple[str, Any]]) -> list[int]:
    return [data["sequence_number"] for name, data in events if name]


TEXT_RESPONSE = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
    "",
]

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
