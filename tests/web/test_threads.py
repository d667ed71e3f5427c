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
    assert "No thread has that metadata" in htmx(client, "get", _url(owner), {"mk": "customer", "mv": "x"}).content.decode()


def test_it_renders_markdown_safely(people, owner, api):
    text = "# Title\n\n**bold** <script>alert(1)</script> [x](javascript:alert(1))"
    thread = api.post("threads", json={"messages": [{"role": "user", "content": text}]}).json()
    body = client_for(people.viewer).get(_url(owner, f"/{thread['id']}")).content.decode()
    assert "<h1>Title</h1>" in body and "<strong>bold</strong>" in body
    assert "<script>alert" not in body and 'href="javascript:' not in body


def test_it_pages_messages_so_long_threads_start_fast(people, owner, api):
    thread = api.post("threads", json={"messages": [{"role": "user", "content": f"m{i:03d}"} for i in range(32)]}).json()
    client = client_for(people.viewer)
    first = client.get(_url(owner, f"/{thread['id']}")).content.decode()
    assert "m000" in first and "m029" in first and "m030" not in first and "Load more messages" in first
    messages = api.get(f"threads/{thread['id']}/messages", params={"order": "asc", "limit": 30}).json()
    rest = htmx(client, "get", _url(owner, f"/{thread['id']}"), {"after": messages["last_id"]}).content.decode()
    assert "m030" in rest and "m031" in rest and "<html" not in rest and "Load more" not in rest


def test_it_shows_runs_with_tool_calls_and_usage(people, owner, api, provider):
    from tests.fakeprovider import Call, Text, ToolCalls
    from tests.runs.helpers import wait_for_status

    provider.script(ToolCalls([Call("lookup", '{"q": "tea"}')], usage=(11, 3)), Text("Tea is ready.", usage=(20, 4)))
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    assistant = api.post("assistants", json={"model": "gpt-4o", "tools": [tool]}).json()
    thread = api.post("threads", json={"messages": [{"role": "user", "content": "tea?"}]}).json()
    run = api.post(f"threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]}).json()
    run = wait_for_status(api, thread["id"], run["id"], {"requires_action"})
    call = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]
    api.post(f"threads/{thread['id']}/runs/{run['id']}/submit_tool_outputs",
             json={"tool_outputs": [{"tool_call_id": call["id"], "output": "42 cups"}]})
    wait_for_status(api, thread["id"], run["id"], {"completed"})
    client = client_for(people.viewer)
    body = htmx(client, "get", _url(owner, f"/{thread['id']}/runs")).content.decode()
    assert "<html" not in body and run["id"] in body and "completed" in body
    assert "lookup" in body and "&quot;q&quot;: &quot;tea&quot;" in body and "42 cups" in body
    assert "31 in" in body or "total" in body


def test_it_exports_json_and_markdown(people, owner, api):
    thread = api.post("threads", json={"messages": [{"role": "user", "content": "Export me"}], "metadata": {"k": "v"}}).json()
    client = client_for(people.viewer)
    as_json = client.get(_url(owner, f"/{thread['id']}/export.json"))
    assert as_json["Content-Disposition"].startswith("attachment")
    data = json.loads(as_json.content)
    assert data["thread"]["id"] == thread["id"] and data["messages"][0]["content"][0]["text"]["value"] == "Export me"
    as_md = client.get(_url(owner, f"/{thread['id']}/export.md")).content.decode()
    assert f"# Thread {thread['id']}" in as_md and "## user" in as_md and "Export me" in as_md and "**k**: v" in as_md


def test_it_lets_only_admins_delete_threads(people, owner, api):
    thread = api.post("threads", json={}).json()
    url = _url(owner, f"/{thread['id']}/delete")
    assert client_for(people.editor).post(url).status_code == 403
    assert client_for(people.admin).post(url).status_code == 302
    assert api.get(f"threads/{thread['id']}").status_code == 404
    assert AuditLog.objects.filter(action="thread.delete", object_id=thread["id"]).exists()
