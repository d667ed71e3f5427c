"""SSE run streams through Redis faults: every event exactly once across dropped connections, and
an end (from the database) when the stream's `done` was lost."""

from __future__ import annotations

import json

import redis

from console.events import stream
from console.runs.models import Run
from console.threads.models import Message
from tests.events.redis_fault import drop_clients
from tests.fakeprovider import Error, Text
from tests.runs.helpers import (
    TEXT_RUN,
    collapse,
    names,
    new_assistant,
    new_thread,
    read_events,
    wait_for_status,
)


def _text(events: list) -> str:
    return "".join(
        d["delta"]["content"][0]["text"]["value"] for n, d in events if n == "thread.message.delta"
    )


def test_it_delivers_every_event_once_when_redis_drops_every_connection(api, provider, redis_url):
    chunks = [f"w{i:02d} " for i in range(40)]
    provider.script(Text("".join(chunks), chunks=chunks, delay=0.05))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    events: list = []
    kills = 0
    body = {"assistant_id": assistant_id, "stream": True}
    with api.stream("POST", f"threads/{thread_id}/runs", json=body) as response:
        assert response.status_code == 200
        deltas = 0
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                raw = line[6:]
                events.append((event, raw if raw == "[DONE]" else json.loads(raw)))
                if event == "thread.message.delta":
                    deltas += 1
                    if deltas in (1, 5, 12, 20):  # while the run streams: every client connection drops
                        kills += drop_clients(redis_url)
    assert kills >= 4
    assert collapse(names(events)) == TEXT_RUN
    assert _text(events) == "".join(chunks)
    assert names(events).count("done") == 1 and events[-1] == ("done", "[DONE]")
    run_id = dict(events)["thread.run.created"]["id"]
    assert Run.objects.get(pk=run_id).status == "completed"
    assert Message.objects.get(run_id=run_id).content[0]["text"]["value"] == "".join(chunks)


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def test_it_ends_the_stream_from_the_database_when_its_done_was_lost(api, provider, redis_url):
    provider.script(Text("All done here."))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    wait_for_status(api, thread_id, run["id"], {"completed"})
    stream.flush()
    client = _redis(redis_url)
    key = stream.stream_key(run["id"])
    newest = client.xrevrange(key, count=1)
    assert newest[0][1][b"e"] == b"done"
    client.xdel(key, newest[0][0])  # Redis lost the final `done` (only)
    with api.stream("GET", f"threads/{thread_id}/runs/{run['id']}/events") as response:
        events = read_events(response)
    assert collapse(names(events)) == TEXT_RUN
    assert names(events).count("thread.run.completed") == 1  # not repeated from the database
    assert events[-1] == ("done", "[DONE]")
    assert _text(events) == "All done here."


def test_it_ends_with_the_failed_run_and_its_error_when_the_stream_is_gone(api, provider, redis_url):
    provider.script(Error(500, "model exploded", times=4))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    failed = wait_for_status(api, thread_id, run["id"], {"failed", "completed"})
    assert failed["status"] == "failed"
    stream.flush()
    _redis(redis_url).delete(stream.stream_key(run["id"]))  # a Redis restart without persistence
    with api.stream("GET", f"threads/{thread_id}/runs/{run['id']}/events") as response:
        events = read_events(response)
    assert names(events) == ["thread.run.failed", "error", "done"]
    assert events[0][1]["id"] == run["id"] and events[0][1]["last_error"] == failed["last_error"]
    assert events[1][1]["message"] == failed["last_error"]["message"]
    assert events[-1] == ("done", "[DONE]")


def test_it_fails_a_run_whose_events_cannot_be_written_and_ends_its_stream(api, provider, settings):
    """Redis unreachable for the worker's events past EVENTS_PUBLISH_TIMEOUT: the run fails with a
    last_error, and the open stream ends with the failed run, `error` and [DONE] (from the database)."""
    from console.engine.executor import EVENTS_LOST_MESSAGE
    from console.launcher import free_port

    chunks = [f"t{i:03d} " for i in range(150)]
    provider.script(Text("".join(chunks), chunks=chunks, delay=0.1))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    events: list = []
    reachable = settings.REDIS_URL
    try:
        body = {"assistant_id": assistant_id, "stream": True}
        with api.stream("POST", f"threads/{thread_id}/runs", json=body) as response:
            event = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    raw = line[6:]
                    events.append((event, raw if raw == "[DONE]" else json.loads(raw)))
                    if event == "thread.message.delta" and settings.REDIS_URL == reachable:
                        # From now on the worker's publisher finds nothing listening there.
                        settings.EVENTS_PUBLISH_TIMEOUT = 1.0
                        settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
                        stream._sync_client = None
    finally:
        settings.REDIS_URL = reachable
        stream._sync_client = None
    assert names(events)[-3:] == ["thread.run.failed", "error", "done"]
    failed = events[-3][1]
    assert failed["status"] == "failed"
    assert failed["last_error"] == {"code": "server_error", "message": EVENTS_LOST_MESSAGE}
    assert events[-2][1]["message"] == EVENTS_LOST_MESSAGE
    run = Run.objects.get(pk=failed["id"])
    assert run.status == "failed" and run.last_error["message"] == EVENTS_LOST_MESSAGE
    message = Message.objects.get(run_id=run.pk)
    assert message.status == "incomplete"
    assert "".join(chunks).startswith(message.content[0]["text"]["value"])
    assert 0 < len(message.content[0]["text"]["value"]) < len("".join(chunks))
