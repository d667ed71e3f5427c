"""A Redis that refuses writes (maxmemory reached, noeviction) while runs stream: no stream lies.

The suite's private redis-server is given a maxmemory below what it already holds (CONFIG SET), so
every write is refused with OOM as a full Redis refuses it, and set back afterwards. A run whose
events are refused fails naming the cause, its open stream ends with `error`, new runs get 503
`queue_unavailable`; and a reader that finds an entry missing in a stream ends with `error`, never
with `[DONE]`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from console.events import stream
from console.runs.models import Run
from console.threads.models import Message
from tests.fakeprovider import Text
from tests.runs.helpers import names, new_assistant, new_thread, read_events, wait_for_status


@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.config_set("maxmemory", 0)
        client.close()


def _fill(admin: redis.Redis) -> None:
    """From now on Redis refuses every write, as at maxmemory with noeviction."""
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", 1)


def _text(events: list) -> str:
    return "".join(
        d["delta"]["content"][0]["text"]["value"] for n, d in events if n == "thread.message.delta"
    )


def test_it_fails_a_run_whose_events_a_full_redis_refuses_and_ends_its_stream_with_error(
    api, provider, admin
):
    chunks = [f"t{i:03d} " for i in range(200)]
    provider.script(Text("".join(chunks), chunks=chunks, delay=0.03))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    events: list = []
    refused = None
    body = {"assistant_id": assistant_id, "stream": True}
    with api.stream("POST", f"threads/{thread_id}/runs", json=body, timeout=60) as response:
        assert response.status_code == 200
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                raw = line[6:]
                events.append((event, raw if raw == "[DONE]" else json.loads(raw)))
                if event == "thread.message.delta" and len(events) == 12:
                    _fill(admin)
                    # While Redis refuses writes a new run is not accepted: 503, as when it is down.
                    refused = api.post(f"threads/{new_thread(api)}/runs", json={"assistant_id": assistant_id})
    assert refused is not None and refused.status_code == 503, refused
    assert refused.json()["error"]["code"] == "queue_unavailable"

    run_id = dict(events)["thread.run.created"]["id"]
    run = Run.objects.get(pk=run_id)
    assert run.status == "failed", run.status
    assert (
        "refused them (OutOfMemoryError: command not allowed when used memory > 'maxmemory'"
        in (run.last_error["message"])
    ), run.last_error
    # The stream says it broke: the run's failure, then `error` naming the cause.
    assert "thread.run.failed" in names(events) and "error" in names(events), names(events)[-5:]
    error = dict(events)["error"]
    assert "maxmemory" in error["message"]
    # What the client saw is all in the stored message (kept, marked incomplete).
    message = Message.objects.get(run_id=run_id)
    assert message.status == "incomplete"
    stored = message.content[0]["text"]["value"]
    seen = _text(events)
    assert seen and stored.startswith(seen) and len(stored) < len("".join(chunks))


def test_it_ends_a_stream_with_error_when_an_entry_is_missing(api, provider, redis_url):
    chunks = [f"g{i} " for i in range(30)]
    provider.script(Text("".join(chunks), chunks=chunks, delay=0.06))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    wait_for_status(api, thread_id, run["id"], {"completed"})
    stream.flush()
    client = redis.Redis.from_url(redis_url)
    key = stream.stream_key(run["id"])
    deltas = [entry_id for entry_id, fields in client.xrange(key) if fields[b"e"] == b"thread.message.delta"]
    assert len(deltas) > 3
    client.xdel(key, deltas[2])  # one entry never made it into Redis
    client.close()
    with api.stream("GET", f"threads/{thread_id}/runs/{run['id']}/events") as response:
        events = read_events(response)
    assert names(events)[-1] == "error", names(events)[-4:]
    assert events[-1][1]["code"] == "events_lost"
    assert "done" not in names(events) and ("", "[DONE]") not in events
    # The stored run is whole: the stream only said it could not be.
    assert Message.objects.get(run_id=run["id"]).content[0]["text"]["value"] == "".join(chunks)

    # A whole stream still ends with [DONE].
    provider.script(Text("All here."))
    other = api.post(f"threads/{new_thread(api)}/runs", json={"assistant_id": assistant_id}).json()
    wait_for_status(api, other["thread_id"], other["id"], {"completed"})
    with api.stream("GET", f"threads/{other['thread_id']}/runs/{other['id']}/events") as response:
        events = read_events(response)
    assert names(events)[-1] == "done" and "error" not in names(events)
