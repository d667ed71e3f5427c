from __future__ import annotations

import threading

from console.conversations.models import ConversationItem
from console.runs.models import Run
from console.threads.models import Message, Thread
from tests.fakeprovider import Call, Text, ToolCalls
from tests.responses.helpers import WEATHER_TOOL
from tests.runs.helpers import new_assistant, wait_for_status
from tests.waiting import wait_until


def _message(role: str, text: str) -> dict:
    return {"type": "message", "role": role, "content": text}


def test_it_creates_reads_updates_and_deletes_a_conversation(api):
    r = api.post("conversations", json={"items": [_message("user", "Hello")], "metadata": {"topic": "demo"}})
    assert r.status_code == 200
    conversation = r.json()
    assert conversation["object"] == "conversation" and conversation["metadata"] == {"topic": "demo"}
    assert api.get(f"conversations/{conversation['id']}").json() == conversation
    updated = api.post(f"conversations/{conversation['id']}", json={"metadata": {"topic": "new"}}).json()
    assert updated["metadata"] == {"topic": "new"}
    deleted = api.delete(f"conversations/{conversation['id']}").json()
    assert deleted == {"id": conversation["id"], "object": "conversation.deleted", "deleted": True}
    assert api.get(f"conversations/{conversation['id']}").status_code == 404
    assert not Thread.objects.filter(pk=conversation["id"]).exists()


def test_a_conversation_is_a_thread(api):
    conversation = api.post(
        "conversations", json={"items": [_message("user", "Hello"), _message("assistant", "Hi!")]}
    ).json()
    thread = api.get(f"threads/{conversation['id']}").json()
    assert thread["object"] == "thread"
    messages = api.get(f"threads/{conversation['id']}/messages", params={"order": "asc"}).json()["data"]
    assert [(m["role"], m["content"][0]["text"]["value"]) for m in messages] == [
        ("user", "Hello"),
        ("assistant", "Hi!"),
    ]
    items = api.get(f"conversations/{conversation['id']}/items", params={"order": "asc"}).json()
    assert [i["id"] for i in items["data"]] == [m["id"] for m in messages]
    assert items["data"][0]["content"] == [{"type": "input_text", "text": "Hello"}]
    assert items["data"][1]["content"][0]["type"] == "output_text"


def test_it_adds_lists_reads_and_deletes_items(api):
    conversation = api.post("conversations", json={}).json()
    cid = conversation["id"]
    added = api.post(
        f"conversations/{cid}/items",
        json={
            "items": [
                _message("user", "Weather?"),
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
                _message("developer", "Be brief."),
            ]
        },
    ).json()
    assert [i["type"] for i in added["data"]] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert ConversationItem.objects.filter(thread_id=cid).count() == 3
    assert Message.objects.filter(thread_id=cid).count() == 1

    page = api.get(f"conversations/{cid}/items", params={"limit": 2}).json()
    assert [i["type"] for i in page["data"]] == ["message", "function_call_output"] and page[
        "has_more"
    ] is True
    rest = api.get(f"conversations/{cid}/items", params={"limit": 2, "after": page["last_id"]}).json()
    assert [i["type"] for i in rest["data"]] == ["function_call", "message"] and rest["has_more"] is False

    call_id = added["data"][1]["id"]
    assert api.get(f"conversations/{cid}/items/{call_id}").json()["call_id"] == "call_1"
    r = api.delete(f"conversations/{cid}/items/{call_id}")
    assert r.status_code == 200 and r.json()["id"] == cid
    assert api.get(f"conversations/{cid}/items/{call_id}").status_code == 404


def test_it_limits_items_to_twenty(api):
    many = [_message("user", str(n)) for n in range(21)]
    r = api.post("conversations", json={"items": many})
    assert r.status_code == 400 and r.json()["error"]["param"] == "items"
    cid = api.post("conversations", json={}).json()["id"]
    r = api.post(f"conversations/{cid}/items", json={"items": many})
    assert r.status_code == 400 and r.json()["error"]["param"] == "items"


def test_an_item_of_another_conversation_is_not_found(api):
    first = api.post("conversations", json={"items": [_message("user", "a")]}).json()["id"]
    second = api.post("conversations", json={}).json()["id"]
    item = api.get(f"conversations/{first}/items").json()["data"][0]["id"]
    r = api.get(f"conversations/{second}/items/{item}")
    assert r.status_code == 404
    assert api.delete(f"conversations/{second}/items/{item}").status_code == 404


def test_another_projects_key_gets_404(api, outsider_api):
    cid = api.post("conversations", json={"items": [_message("user", "a")]}).json()["id"]
    for r in (
        outsider_api.get(f"conversations/{cid}"),
        outsider_api.post(f"conversations/{cid}", json={"metadata": {}}),
        outsider_api.delete(f"conversations/{cid}"),
        outsider_api.get(f"conversations/{cid}/items"),
        outsider_api.post(f"conversations/{cid}/items", json={"items": [_message("user", "b")]}),
        outsider_api.post("responses", json={"model": "fake-model", "input": "x", "conversation": cid}),
    ):
        assert r.status_code == 404, r.text
    assert Thread.objects.filter(pk=cid).exists()


def test_a_response_continues_an_assistants_thread(api, provider):
    provider.script(Text("Run reply."), Text("Response reply."))
    assistant_id = new_assistant(api)
    thread_id = api.post(
        "threads", json={"messages": [{"role": "user", "content": "From Assistants."}]}
    ).json()["id"]
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    wait_for_status(api, thread_id, run["id"], {"completed"})

    body = api.post(
        "responses", json={"model": "fake-model", "input": "From Responses.", "conversation": thread_id}
    ).json()
    assert body["status"] == "completed" and body["conversation"] == {"id": thread_id}
    assert provider.requests[-1]["messages"] == [
        {"role": "user", "content": "From Assistants."},
        {"role": "assistant", "content": "Run reply."},
        {"role": "user", "content": "From Responses."},
    ]
    messages = api.get(f"threads/{thread_id}/messages", params={"order": "asc"}).json()["data"]
    assert [m["content"][0]["text"]["value"] for m in messages] == [
        "From Assistants.",
        "Run reply.",
        "From Responses.",
        "Response reply.",
    ]
    assert messages[-1]["role"] == "assistant" and messages[-1]["id"] == body["output"][0]["id"]


def test_a_function_call_round_trips_through_a_conversation(api, provider):
    provider.script(ToolCalls([Call("get_weather", '{"city": "Oslo"}', id="call_9")]), Text("Cold."))
    cid = api.post("conversations", json={}).json()["id"]
    first = api.post(
        "responses",
        json={"model": "fake-model", "input": "Oslo?", "conversation": cid, "tools": [WEATHER_TOOL]},
    ).json()
    assert first["output"][0]["type"] == "function_call"
    second = api.post(
        "responses",
        json={
            "model": "fake-model",
            "conversation": {"id": cid},
            "tools": [WEATHER_TOOL],
            "input": [{"type": "function_call_output", "call_id": "call_9", "output": "-5C"}],
        },
    ).json()
    assert second["status"] == "completed", second
    types = [i["type"] for i in api.get(f"conversations/{cid}/items", params={"order": "asc"}).json()["data"]]
    assert types == ["message", "function_call", "function_call_output", "message"]
    assert provider.requests[-1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_9",
        "content": "-5C",
    }


def test_a_run_and_a_response_do_not_interleave(api, provider):
    gate = threading.Event()
    provider.script(Text("slow run", gate=gate), Text("later"))
    assistant_id = new_assistant(api)
    thread_id = api.post("threads", json={"messages": [{"role": "user", "content": "x"}]}).json()["id"]
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    r = api.post("responses", json={"model": "fake-model", "input": "y", "conversation": thread_id})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == f"Thread {thread_id} already has an active run {run['id']}."
    gate.set()
    wait_for_status(api, thread_id, run["id"], {"completed"})

    gate2 = threading.Event()
    provider.script(Text("slow response", gate=gate2))
    created = api.post(
        "responses", json={"model": "fake-model", "input": "z", "conversation": thread_id, "background": True}
    ).json()
    r = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == f"Thread {thread_id} already has an active run {created['id']}."
    gate2.set()
    wait_until(
        lambda: api.get(f"responses/{created['id']}").json()["status"] == "completed", what="completed"
    )
    assert Run.objects.filter(thread_id=thread_id).count() == 1
