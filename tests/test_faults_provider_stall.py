"""A provider that stalls: no response, headers and no data, keep-alive comments only, or silence
mid-stream. Each fails the run within PROVIDER_READ_TIMEOUT with a last_error saying which; a cancel
works during the stall; embeddings (during ingestion) and pass-through streams are bounded too.

The fake provider is a real HTTP server that holds the connection open as scripted (Stall)."""

from __future__ import annotations

import json

import pytest

from console.threads.models import Message
from tests.fakeprovider import Stall
from tests.runs.helpers import new_assistant, new_thread, wait_for_status
from tests.waiting import wait_until

BOUND = 1.5


@pytest.fixture
def stalling(provider, settings):  # type: ignore[no-untyped-def]
    settings.PROVIDER_READ_TIMEOUT = BOUND
    return provider


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("response", "did not respond: no response headers within 1.5 s (PROVIDER_READ_TIMEOUT)"),
        ("headers", "sent response headers but no data for 1.5 s (PROVIDER_READ_TIMEOUT)"),
        ("comments", "sent only keep-alive comments, no data, for 1.5 s (PROVIDER_READ_TIMEOUT)"),
        ("midstream", "stalled mid-stream: no data for 1.5 s (PROVIDER_READ_TIMEOUT) after 3 chunks"),
    ],
)
def test_it_fails_a_run_whose_provider_stalls_saying_how(api, stalling, mode, says):
    stalling.script(Stall(mode, comment_every=0.2))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    # Not retried: one request, then the run fails (the bound is far below the 20 s waited here).
    done = wait_for_status(api, thread_id, run["id"], {"failed", "completed", "cancelled"}, timeout=20)
    assert done["status"] == "failed", done
    assert done["last_error"]["code"] == "server_error"
    assert says in done["last_error"]["message"], done["last_error"]
    assert len(stalling.requests) == 1
    print(f"\n{mode}: failed {done['failed_at'] - done['started_at']} s after it started (bound {BOUND} s)")
    messages = list(Message.objects.filter(run_id=run["id"]))
    if mode == "midstream":
        (message,) = messages
        assert message.status == "incomplete"
        assert message.content[0]["text"]["value"] == "words before the"  # the 3 chunks it sent
    else:
        assert messages == []


def test_it_cancels_a_run_while_its_provider_stalls(api, provider, settings):
    settings.PROVIDER_READ_TIMEOUT = 60.0  # the stall would outlast the test: only the cancel ends it
    provider.script(Stall("comments", comment_every=0.2))
    assistant_id = new_assistant(api)
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    wait_until(lambda: provider.requests, what="the provider to be called")
    wait_for_status(api, thread_id, run["id"], {"in_progress"})
    r = api.post(f"threads/{thread_id}/runs/{run['id']}/cancel")
    assert r.status_code == 200, r.text
    assert wait_for_status(api, thread_id, run["id"], {"cancelled"}, timeout=10)["status"] == "cancelled"


def test_it_fails_an_ingestion_whose_embeddings_provider_stalls(api, stalling, settings):
    settings.EMBEDDINGS_BASE_URL = stalling.base_url
    settings.EMBEDDINGS_API_KEY = "emb-key"
    settings.EMBEDDINGS_MODEL = "fake-embed"
    settings.EMBEDDINGS_DIMENSIONS = None
    stalling.script(Stall("headers"))
    upload = api.post(
        "files", files={"file": ("notes.txt", b"hello stalled world")}, data={"purpose": "assistants"}
    )
    file_id = upload.json()["id"]
    store = api.post("vector_stores", json={"file_ids": [file_id]}).json()
    row = wait_until(
        lambda: (
            (got := api.get(f"vector_stores/{store['id']}/files/{file_id}").json())["status"] != "in_progress"
            and got
        ),
        timeout=20,
        what="the file to be ingested",
    )
    assert row["status"] == "failed", row
    assert "sent nothing for 1.5 s (PROVIDER_READ_TIMEOUT)" in row["last_error"]["message"], row
    assert len([c for c in stalling.calls if c["path"] == "/v1/embeddings"]) == 1  # not retried


def test_it_ends_a_passthrough_stream_whose_provider_stalls_with_an_error(api, stalling):
    stalling.script(Stall("midstream", after_chunks=2))
    body = {"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with api.stream("POST", "chat/completions", json=body) as response:
        assert response.status_code == 200
        data = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    chunks = [json.loads(d) for d in data]
    assert [c["choices"][0]["delta"]["content"] for c in chunks[:2]] == ["words", " before"]
    assert chunks[-1]["error"]["code"] == "provider_timeout", chunks[-1]
    assert "PROVIDER_READ_TIMEOUT" in chunks[-1]["error"]["message"]
    assert "[DONE]" not in data
