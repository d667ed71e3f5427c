from __future__ import annotations

import json
import time
from typing import Any

import httpx


def read_events(response: httpx.Response) -> list[tuple[str, Any]]:
    """Parses an SSE response into (event, data) pairs; data is JSON except for [DONE]."""
    assert response.headers["content-type"].startswith("text/event-stream"), response.text
    events: list[tuple[str, Any]] = []
    event = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            raw = line[6:]
            events.append((event or "", raw if raw == "[DONE]" else json.loads(raw)))
            event = None
    return events


def names(events: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in events]


def collapse(sequence: list[str]) -> list[str]:
    """Runs of the same event name become one, so delta counts don't matter."""
    out: list[str] = []
    for item in sequence:
        if not out or out[-1] != item:
            out.append(item)
    return out


def wait_for_status(
    api: httpx.Client, thread_id: str, run_id: str, statuses: set[str], timeout: float = 20
) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"threads/{thread_id}/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run stayed {run['status']}: {run}")
        time.sleep(0.05)


def new_thread(api: httpx.Client, text: str = "Hello?") -> str:
    return api.post("threads", json={"messages": [{"role": "user", "content": text}]}).json()["id"]


def new_assistant(api: httpx.Client, **fields: Any) -> str:
    body = {"model": "fake-model", "instructions": "You are terse.", **fields}
    return api.post("assistants", json=body).json()["id"]


# The events of a plain text run, in OpenAI's order (deltas collapsed into one).
TEXT_RUN = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.completed",
    "thread.run.step.completed",
    "thread.run.completed",
    "done",
]


def stream_new_run(api: httpx.Client, **assistant_fields: Any) -> tuple[str, list[tuple[str, Any]]]:
    """Streams a run of a new assistant on a new thread; returns the thread's id and the events."""
    assistant_id = new_assistant(api, **assistant_fields)
    thread_id = new_thread(api)
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as r:
        return thread_id, read_events(r)
