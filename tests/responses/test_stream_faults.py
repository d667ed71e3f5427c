"""Responses streams through Redis faults, as run streams (tests/api/test_run_stream_faults.py)."""

from __future__ import annotations

import redis

from console.events import stream
from console.responses.models import Response
from tests.events.redis_fault import drop_clients
from tests.fakeprovider import Text
from tests.responses.helpers import TEXT_RESPONSE, collapse, iter_events, names, read_events, sequence_numbers
from tests.waiting import wait_until


def test_it_delivers_every_event_once_when_redis_drops_every_connection(api, provider, redis_url):
    chunks = [f"w{i:02d} " for i in range(40)]
    provider.script(Text("".join(chunks), chunks=chunks, delay=0.05))
    events: list = []
    kills = 0
    with api.stream("POST", "responses", json={"model": "fake-model", "input": "x", "stream": True}) as r:
        for event in iter_events(r):
            events.append(event)
            deltas = names(events).count("response.output_text.delta")
            if event[0] == "response.output_text.delta" and deltas in (1, 3, 6, 9):
                kills += drop_clients(redis_url)
    assert kills >= 4
    assert collapse(names(events)) == TEXT_RESPONSE
    numbers = sequence_numbers(events)
    assert numbers == list(range(len(numbers)))  # each once, in order
    assert "".join(d["delta"] for n, d in events if n == "response.output_text.delta") == "".join(chunks)
    completed = dict(events)["response.completed"]["response"]
    assert Response.objects.get(pk=completed["id"]).status == "completed"


def test_it_ends_a_stream_whose_done_was_lost_without_repeating_its_end(api, provider, redis_url):
    provider.script(Text("All done here."))
    created = api.post("responses", json={"model": "fake-model", "input": "x", "background": True}).json()
    wait_until(lambda: Response.objects.get(pk=created["id"]).status == "completed", what="completed")
    stream.flush()
    client = redis.Redis.from_url(redis_url)
    key = stream.stream_key(created["id"])
    newest = client.xrevrange(key, count=1)
    assert newest[0][1][b"e"] == b"done"
    client.xdel(key, newest[0][0])  # Redis lost the final `done` (only)
    with api.stream("GET", f"responses/{created['id']}", params={"stream": "true"}) as r:
        events = read_events(r)
    assert names(events).count("response.completed") == 1 and events[-1] == ("", "[DONE]")


def test_it_ends_from_the_database_when_the_stream_is_gone(api, provider, redis_url):
    provider.script(Text("Kept in the database."))
    created = api.post("responses", json={"model": "fake-model", "input": "x", "background": True}).json()
    wait_until(lambda: Response.objects.get(pk=created["id"]).status == "completed", what="completed")
    stream.flush()
    redis.Redis.from_url(redis_url).delete(
        stream.stream_key(created["id"])
    )  # a Redis restart without persistence
    with api.stream("GET", f"responses/{created['id']}", params={"stream": "true"}) as r:
        events = read_events(r)
    assert names(events) == ["response.completed", ""]
    assert events[0][1]["response"]["output"][0]["content"][0]["text"] == "Kept in the database."
