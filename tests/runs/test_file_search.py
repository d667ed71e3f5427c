"""file_search in runs: the model's query searches the attached stores; the reply cites what it used."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from console.runs.models import RunStep
from console.vector_stores.models import VectorStore
from tests.fakeprovider import Call, Text, ToolCalls
from tests.runs.helpers import collapse, names, new_assistant, read_events, wait_for_status
from tests.vector_stores.conftest import upload, wait_store

REFUNDS = (
    b"Refund policy. Customers may return any product within 30 days for a full refund to the original card."
)
SHIPPING = b"Shipping. Orders leave our warehouse within two business days and arrive in a week."


def _store(api) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    files = {
        "refunds.md": upload(api, "refunds.md", REFUNDS),
        "shipping.md": upload(api, "shipping.md", SHIPPING),
    }
    store = api.post("vector_stores", json={"name": "policies", "file_ids": list(files.values())}).json()
    assert wait_store(api, store["id"])["file_counts"]["completed"] == 2
    return store["id"], files


def test_it_searches_cites_and_streams(api, provider):
    store_id, files = _store(api)
    marker = "【0:0†refunds.md】"
    provider.script(
        ToolCalls([Call("file_search", '{"query": "refund policy return days"}')]),
        Text(f"You can return products within 30 days{marker}."),
    )
    assistant_id = new_assistant(
        api,
        tools=[{"type": "file_search", "file_search": {"max_num_results": 5}}],
        tool_resources={"file_search": {"vector_store_ids": [store_id]}},
    )
    thread_id = api.post("threads", json={"messages": [{"role": "user", "content": "Refunds?"}]}).json()["id"]
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as r:
        events = read_events(r)
    sequence = collapse(names(events))
    assert sequence[3:7] == [
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.step.completed",
    ]
    assert sequence[-2:] == ["thread.run.completed", "done"]
    delta = next(d for n, d in events if n == "thread.run.step.delta")
    assert delta["delta"]["step_details"]["tool_calls"][0]["type"] == "file_search"

    run_id = dict(events)["thread.run.completed"]["id"]
    step = RunStep.objects.get(run_id=run_id, type="tool_calls")
    search = step.step_details["tool_calls"][0]["file_search"]
    assert search["ranking_options"] == {"ranker": "default_2024_08_21", "score_threshold": 0.0}
    assert search["results"][0]["file_id"] == files["refunds.md"]
    assert 0 < search["results"][0]["score"] <= 1

    # Content only when include[] asks for it.
    plain = api.get(f"threads/{thread_id}/runs/{run_id}/steps/{step.pk}").json()
    assert "content" not in plain["step_details"]["tool_calls"][0]["file_search"]["results"][0]
    detailed = api.get(
        f"threads/{thread_id}/runs/{run_id}/steps/{step.pk}",
        params={"include[]": "step_details.tool_calls[*].file_search.results[*].content"},
    ).json()
    content = detailed["step_details"]["tool_calls"][0]["file_search"]["results"][0]["content"]
    assert "30 days" in content[0]["text"]

    # The model saw the passages, with the markers to cite.
    tool_message = [m for m in provider.requests[1]["messages"] if m["role"] == "tool"][0]
    assert marker in tool_message["content"] and "30 days" in tool_message["content"]
    assert provider.requests[0]["tools"][0]["function"]["name"] == "file_search"

    reply = api.get(f"threads/{thread_id}/messages", params={"limit": 1}).json()["data"][0]
    text = reply["content"][0]["text"]
    annotation = text["annotations"][0]
    assert annotation["type"] == "file_citation"
    assert annotation["file_citation"] == {"file_id": files["refunds.md"]}
    assert text["value"][annotation["start_index"] : annotation["end_index"]] == marker


def test_it_searches_files_attached_to_messages(api, provider):
    file_id = upload(api, "shipping.md", SHIPPING)
    provider.script(ToolCalls([Call("file_search", '{"query": "shipping warehouse"}')]), Text("A week."))
    assistant_id = new_assistant(api, tools=[{"type": "file_search"}])
    thread = api.post(
        "threads",
        json={
            "messages": [
                {
                    "role": "user",
                    "content": "When?",
                    "attachments": [{"file_id": file_id, "tools": [{"type": "file_search"}]}],
                }
            ]
        },
    ).json()
    store_id = thread["tool_resources"]["file_search"]["vector_store_ids"][0]
    wait_store(api, store_id)
    run = api.post(f"threads/{thread['id']}/runs", json={"assistant_id": assistant_id}).json()
    assert wait_for_status(api, thread["id"], run["id"], {"completed", "failed"})["status"] == "completed"
    step = RunStep.objects.get(run_id=run["id"], type="tool_calls")
    assert step.step_details["tool_calls"][0]["file_search"]["results"][0]["file_id"] == file_id


def test_it_refuses_a_run_on_an_expired_store(api, provider):
    store_id, _ = _store(api)
    assistant_id = new_assistant(
        api, tools=[{"type": "file_search"}], tool_resources={"file_search": {"vector_store_ids": [store_id]}}
    )
    VectorStore.objects.filter(pk=store_id).update(
        expires_after={"anchor": "last_active_at", "days": 1},
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    thread_id = api.post("threads", json={"messages": [{"role": "user", "content": "Hi"}]}).json()["id"]
    r = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id})
    assert r.status_code == 400
    assert "expired" in r.json()["error"]["message"]


def test_the_demo_models_answer_after_a_search_cites_its_first_source(api, provider, settings):
    from console.providers import quirks

    settings.LLM_QUIRKS = quirks.parse("llama-cpp-python,search_first")
    store_id, files = _store(api)
    # It searches for the question first; the toy model's answer never copies a marker.
    provider.script(Text("Within 30 days."))
    assistant_id = new_assistant(
        api,
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store_id]}},
    )
    thread_id = api.post(
        "threads", json={"messages": [{"role": "user", "content": "How many days for a refund?"}]}
    ).json()["id"]
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    assert wait_for_status(api, thread_id, run["id"], {"completed", "failed"})["status"] == "completed"
    assert len(provider.requests) == 1
    text = api.get(f"threads/{thread_id}/messages").json()["data"][0]["content"][0]["text"]
    assert text["value"] == "Within 30 days. 【0:0†refunds.md】"
    assert [(a["type"], a["file_citation"]["file_id"]) for a in text["annotations"]] == [
        ("file_citation", files["refunds.md"])
    ]
    # An answer that cites is left as it is.
    provider.script(Text("A week【0:0†shipping.md】."))
    thread_id = api.post(
        "threads", json={"messages": [{"role": "user", "content": "How long does shipping take?"}]}
    ).json()["id"]
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    assert wait_for_status(api, thread_id, run["id"], {"completed", "failed"})["status"] == "completed"
    value = api.get(f"threads/{thread_id}/messages").json()["data"][0]["content"][0]["text"]["value"]
    assert value == "A week【0:0†shipping.md】."
