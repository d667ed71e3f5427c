from __future__ import annotations

import threading
from datetime import timedelta

from django.utils import timezone

from console.responses.lifecycle import reap_responses
from console.responses.models import Response
from tests.fakeprovider import Text
from tests.responses.helpers import names, read_events
from tests.waiting import wait_until


def _status(response_id: str) -> str:
    return Response.objects.get(pk=response_id).status


def test_it_runs_a_background_response_through_the_queue(api, provider):
    provider.script(Text("Done in the background."))
    created = api.post("responses", json={"model": "fake-model", "input": "x", "background": True}).json()
    assert created["status"] == "queued"
    done = wait_until(
        lambda: (body := api.get(f"responses/{created['id']}").json())["status"] == "completed" and body,
        what="completed",
    )
    assert done["output"][0]["content"][0]["text"] == "Done in the background."
    row = Response.objects.get(pk=created["id"])
    assert row.attempts == 1 and row.started_at is not None and row.heartbeat_at is not None


def test_it_cancels_a_background_response_mid_stream(api, provider):
    gate = threading.Event()
    provider.script(Text("never finished", gate=gate))
    created = api.post("responses", json={"model": "fake-model", "input": "x", "background": True}).json()
    wait_until(lambda: _status(created["id"]) == "in_progress", what="claimed")
    r = api.post(f"responses/{created['id']}/cancel")
    assert r.status_code == 200
    wait_until(lambda: _status(created["id"]) == "cancelled", what="cancelled")
    gate.set()
    assert api.get(f"responses/{created['id']}").json()["status"] == "cancelled"
    # The stream of a cancelled response ends; it never hangs.
    with api.stream("GET", f"responses/{created['id']}", params={"stream": "true"}) as stream:
        events = read_events(stream)
    assert names(events)[-1] == ""
    again = api.post(f"responses/{created['id']}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"


def test_it_refuses_to_cancel_a_foreground_response(api, provider):
    provider.script(Text("x"))
    body = api.post("responses", json={"model": "fake-model", "input": "x"}).json()
    r = api.post(f"responses/{body['id']}/cancel")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "Only responses created with background=true can be cancelled."


def test_it_refuses_background_without_store(api, provider):
    r = api.post("responses", json={"model": "fake-model", "input": "x", "background": True, "store": False})
    assert r.status_code == 400 and r.json()["error"]["param"] == "store"
    assert not Response.objects.exists()


def _left_behind(owner, status: str) -> Response:  # type: ignore[no-untyped-def]
    """A background response last heartbeated (or enqueued) five minutes ago."""
    item = {
        "type": "message",
        "id": "msg_x",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": "x"}],
    }
    return Response.objects.create(
        project=owner.project,
        model="fake-model",
        status=status,
        background=True,
        heartbeat_at=timezone.now() - timedelta(minutes=5),
        input=[item],
    )


def test_the_reaper_fails_a_response_whose_worker_died(api, provider, owner):
    # A response some worker claimed and then stopped heartbeating for.
    row = _left_behind(owner, "in_progress")
    assert reap_responses()["dead"] == 1
    failed = api.get(f"responses/{row.id}").json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert "stopped responding" in failed["error"]["message"]
    # A reader ends from the database, with a clear error; it does not hang.
    with api.stream("GET", f"responses/{row.id}", params={"stream": "true"}) as stream:
        events = read_events(stream)
    assert names(events) == ["response.failed", "error", ""]
    assert dict(events)["error"]["code"] == "server_error"


def test_the_sweeper_enqueues_a_lost_queued_response_again(api, provider, owner):
    provider.script(Text("Recovered."))
    row = _left_behind(owner, "queued")
    assert reap_responses()["requeued"] == 1
    wait_until(lambda: _status(row.id) == "completed", what="completed")
