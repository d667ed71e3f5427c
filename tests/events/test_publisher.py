"""The event publisher: each entry lands once, in order, through dropped connections and outages;
what it cannot deliver within EVENTS_PUBLISH_TIMEOUT it drops loudly, marking the run."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import orjson
import pytest
import redis
from django.conf import settings

from console.events import stream
from tests.events.redis_fault import PrivateRedis, drop_clients


def _entries(url: str, run_id: str) -> list[tuple[str, object]]:
    client = redis.Redis.from_url(url)
    try:
        rows = client.xrange(stream.stream_key(run_id))
    finally:
        client.close()
    return [
        (fields[b"e"].decode(), fields[b"d"] if fields[b"e"] == b"done" else orjson.loads(fields[b"d"])["i"])
        for _, fields in rows
    ]


def test_it_adds_each_entry_once_when_connections_drop_mid_batch(redis_url: str) -> None:
    run_id = "run_publisherkills"
    count = 20_000
    stop = threading.Event()
    kills = 0

    def killer() -> None:
        nonlocal kills
        while not stop.wait(0.003):
            kills += drop_clients(redis_url)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        payload = "x" * 200  # larger batches, so a kill lands inside one
        for i in range(count):
            stream.publish(run_id, "thread.message.delta", {"i": i, "pad": payload})
        stream.end_segment(run_id, final=True)
        stream.flush()
    finally:
        stop.set()
        thread.join()
    assert kills > 0
    entries = _entries(redis_url, run_id)
    assert [i for event, i in entries if event != "done"] == list(range(count))
    assert entries[-1] == ("done", b"[DONE]")
    assert [event for event, _ in entries].count("done") == 1
    assert not stream.lost(run_id)


@pytest.fixture
def own_redis(tmp_path, redis_url: str) -> Iterator[PrivateRedis]:
    """The publisher pointed at a redis-server this test may stop; the session's is restored after."""
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    saved = settings.REDIS_URL, settings.EVENTS_PUBLISH_TIMEOUT
    settings.REDIS_URL = server.url
    stream.flush()
    stream._sync_client = None
    try:
        yield server
    finally:
        server.stop()
        settings.REDIS_URL, settings.EVENTS_PUBLISH_TIMEOUT = saved
        stream._sync_client = None


def test_it_delivers_what_was_published_during_a_short_outage(own_redis: PrivateRedis) -> None:
    settings.EVENTS_PUBLISH_TIMEOUT = 30
    run_id = "run_shortoutage"
    own_redis.stop()
    for i in range(50):
        stream.publish(run_id, "thread.message.delta", {"i": i})
    own_redis.start()  # well within the bound
    stream.end_segment(run_id, final=True)
    stream.flush()
    entries = _entries(own_redis.url, run_id)
    assert entries == [("thread.message.delta", i) for i in range(50)] + [("done", b"[DONE]")]
    assert not stream.lost(run_id)


def test_it_drops_events_past_the_bound_and_marks_their_runs(own_redis: PrivateRedis) -> None:
    settings.EVENTS_PUBLISH_TIMEOUT = 0.5
    stream.publish("run_beforeoutage", "thread.message.delta", {"i": 0})
    stream.flush()
    own_redis.stop()
    stream.publish("run_duringoutage", "thread.message.delta", {"i": 1})
    with pytest.raises(stream.PublishError):
        stream.flush(timeout=30)
    assert stream.lost("run_duringoutage")
    assert not stream.lost("run_beforeoutage")

    own_redis.start()
    stream.publish("run_afteroutage", "thread.message.delta", {"i": 2})
    stream.flush()
    assert _entries(own_redis.url, "run_afteroutage") == [("thread.message.delta", 2)]
    assert _entries(own_redis.url, "run_duringoutage") == []
    assert not stream.lost("run_afteroutage")
