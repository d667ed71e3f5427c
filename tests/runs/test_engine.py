"""The worker's engine loop: coalesced deltas, interrupting a run that waits on the model, and many
SSE readers of many live runs in one web process (one shared Redis read)."""

from __future__ import annotations

import threading
from typing import Any

from console.runs.models import Run
from console.threads.models import Message
from tests.fakeprovider import Text
from tests.runs.helpers import collapse, names, new_assistant, new_thread, read_events, wait_for_status
from tests.runs.test_run_stream import TEXT_RUN
from tests.waiting import wait_until

WORDS = [f" w{i}" for i in range(30)]


def _deltas(events: list[tuple[str, Any]]) -> list[str]:
    return [d["delta"]["content"][0]["text"]["value"] for n, d in events if n == "thread.message.delta"]


def test_it_sends_the_first_delta_alone_then_coalesces(api, provider, settings):
    settings.RUN_STREAM_COALESCE_MS = 100
    provider.script(Text("".join(WORDS), chunks=WORDS, delay=0.01))  # 30 tokens over ~300 ms
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as r:
        events = read_events(r)
    assert collapse(names(events)) == TEXT_RUN
    deltas = _deltas(events)
    assert deltas[0] == WORDS[0]
    assert "".join(deltas) == "".join(WORDS)
    # At most one delta per 100 ms after the first: about 4 for 300 ms, never one per token.
    assert 2 <= len(deltas) <= 8, deltas


def test_it_cancels_a_run_still_waiting_for_its_first_token(api, provider):
    provider.script(Text("late", delay=30.0))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    wait_for_status(api, thread_id, run["id"], {"in_progress"})
    # The request is with the provider, which holds its first token for 30 s.
    wait_until(lambda: provider.requests, what="the provider receiving the request")
    assert api.post(f"threads/{thread_id}/runs/{run['id']}/cancel").json()["status"] == "cancelling"
    # Ends well before the token would come: the cancel interrupts the wait.
    done = wait_for_status(api, thread_id, run["id"], {"cancelled", "failed", "completed"}, timeout=10)
    assert done["status"] == "cancelled"
    assert Run.objects.get(pk=run["id"]).cancelled_at is not None
    assert not Message.objects.filter(run_id=run["id"], status="completed").exists()


def test_many_readers_follow_many_live_runs(api, provider):
    runs = 4
    for _ in range(runs):
        provider.script(Text("".join(WORDS[:10]), chunks=WORDS[:10], delay=0.02))
    assistant_id = new_assistant(api)
    threads = [new_thread(api) for _ in range(runs)]
    streamed: dict[str, list[tuple[str, Any]]] = {}
    followed: dict[str, list[tuple[str, Any]]] = {}

    def stream(thread_id: str) -> None:
        with api.stream(
            "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
        ) as r:
            streamed[thread_id] = read_events(r)

    def follow(thread_id: str) -> None:
        run_id = wait_until(
            lambda: Run.objects.filter(thread_id=thread_id).values_list("pk", flat=True).first(),
            interval=0.01,
            what="the run being created",
        )
        with api.stream("GET", f"threads/{thread_id}/runs/{run_id}/events") as r:
            followed[thread_id] = read_events(r)

    workers = [threading.Thread(target=fn, args=(t,)) for t in threads for fn in (stream, follow)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    for thread_id in threads:
        assert collapse(names(streamed[thread_id])) == TEXT_RUN
        # The extension replays the same run from its start: the same events, the same text.
        assert names(followed[thread_id]) == names(streamed[thread_id])
        assert "".join(_deltas(followed[thread_id])) == "".join(WORDS[:10])
        run_ids = {
            d["id"] for n, d in streamed[thread_id] if n.startswith("thread.run.") and "." not in n[11:]
        }
        assert run_ids == {Run.objects.get(thread_id=thread_id).pk}
