"""Playground: send a message, relay the run's stream through the console, submit tool outputs, cancel."""

from __future__ import annotations

import json
import re
import time

import httpx

from console.web.models import AuditLog
from tests.fakeprovider import Call, Text, ToolCalls
from tests.runs.helpers import wait_for_status
from tests.web.conftest import client_for, htmx

TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


def _browser(client, live_url: str) -> httpx.Client:
    """An HTTP client carrying the Django test client's session, for the streaming view on the live server."""
    return httpx.Client(
        base_url=live_url, cookies={"sessionid": client.cookies["sessionid"].value}, timeout=30
    )


def _events(response: httpx.Response) -> list[tuple[str, str, float]]:
    out, event = [], ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            out.append((event, line[6:], time.monotonic()))
            if event in ("thread.run.completed", "thread.run.requires_action", "console.error"):
                break
    return out


def test_it_sends_a_message_and_relays_the_stream(people, owner, api, provider, live_url):
    # Ten chunks over about a second, so the relay shows them spread out even if the browser
    # connects after the first ones went out (those are replayed at once).
    chunks = ["Hello", " there", ",", " friend", ".", " How", " are", " you", " today", "?"]
    provider.script(Text("".join(chunks), chunks=chunks, delay=0.1))
    assistant = api.post("assistants", json={"model": "gpt-4o", "name": "Greeter"}).json()
    editor = client_for(people.editor)
    response = htmx(
        editor,
        "post",
        f"/p/{owner.project.pk}/playground/send",
        {"assistant_id": assistant["id"], "content": "Hi!"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    stream_url = re.search(r'data-stream-url="([^"]+)"', body).group(1)
    assert owner.key not in body and "Bearer" not in body
    thread_id = re.search(r'name="thread_id" value="(thread_[^"]+)"', body).group(1)
    assert AuditLog.objects.filter(action="run.create", username="eddie-editor").exists()

    with _browser(editor, live_url) as browser, browser.stream("GET", stream_url) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream)
    deltas = [
        json.loads(d)["delta"]["content"][0]["text"]["value"]
        for e, d, _ in events
        if e == "thread.message.delta"
    ]
    assert "".join(deltas) == "".join(chunks) and len(deltas) == len(chunks)
    times = [t for e, _, t in events if e == "thread.message.delta"]
    assert times[-1] - times[0] > 0.4  # relayed as they came, not buffered to the end
    assert events[-1][0] == "thread.run.completed"
    messages = api.get(f"threads/{thread_id}/messages").json()["data"]
    assert [m["role"] for m in messages] == ["assistant", "user"]


def test_it_submits_tool_outputs_and_cancels(people, owner, api, provider, live_url):
    provider.script(ToolCalls([Call("get_weather", '{"city": "Oslo"}')]), Text("Snowy."))
    assistant = api.post("assistants", json={"model": "gpt-4o", "tools": [TOOL]}).json()
    editor = client_for(people.editor)
    body = htmx(
        editor,
        "post",
        f"/p/{owner.project.pk}/playground/send",
        {"assistant_id": assistant["id"], "content": "Weather?"},
    ).content.decode()
    action_url = re.search(r'data-action-url="([^"]+)"', body).group(1)
    thread_id, run_id = action_url.split("/threads/")[1].split("/runs/")
    run_id = run_id.split("/")[0]
    run = wait_for_status(api, thread_id, run_id, {"requires_action"})
    call_id = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]

    form = htmx(client_for(people.viewer), "get", action_url).content.decode()
    assert "get_weather" in form and "Oslo" in form and "<html" not in form
    assert client_for(people.viewer).post(action_url, {f"output_{call_id}": "x"}).status_code == 403
    done = htmx(editor, "post", action_url, {f"output_{call_id}": "snow, -3C"})
    assert done.status_code == 200 and "data-stream-url" in done.content.decode()
    wait_for_status(api, thread_id, run_id, {"completed"})
    assert provider.requests[1]["messages"][-1]["content"] == "snow, -3C"

    # Cancel: a slow run, cancelled from the page.
    provider.script(Text("slow " * 50, delay=0.2))
    body = htmx(
        editor,
        "post",
        f"/p/{owner.project.pk}/playground/send",
        {"assistant_id": assistant["id"], "thread_id": thread_id, "content": "again"},
    ).content.decode()
    cancel_url = re.search(r'hx-post="([^"]+/cancel)"', body).group(1)
    assert client_for(people.viewer).post(cancel_url).status_code == 403
    assert htmx(editor, "post", cancel_url).status_code == 200
    new_run = cancel_url.split("/runs/")[1].split("/")[0]
    wait_for_status(api, thread_id, new_run, {"cancelled"})


def test_it_keeps_viewers_from_running(people, owner, api):
    assistant = api.post("assistants", json={"model": "gpt-4o"}).json()
    response = client_for(people.viewer).post(
        f"/p/{owner.project.pk}/playground/send", {"assistant_id": assistant["id"], "content": "Hi"}
    )
    assert response.status_code == 403
    assert api.get("threads").json()["data"] == []


def test_it_explains_a_missing_assistant(people, owner):
    response = htmx(
        client_for(people.editor), "post", f"/p/{owner.project.pk}/playground/send", {"content": "Hi"}
    )
    assert response.status_code == 422 and "Pick an assistant" in response.content.decode()
