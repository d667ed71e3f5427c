"""GET /v1/threads?order_by=last_activity&include[]=summary: the readable thread list (raw HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.runs.models import Run
from console.threads.models import Thread


def _thread(api, *texts: str) -> str:  # type: ignore[no-untyped-def]
    r = api.post("threads", json={"messages": [{"role": "user", "content": t} for t in texts]})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def test_it_orders_by_last_activity_and_summarises_each_thread(api, owner):
    old = _thread(api, "First question about invoices", "and a follow-up")
    new = _thread(api, "Where is my parcel?")
    empty = _thread(api)
    # The oldest thread gets a reply last, so it leads the list.
    assert (
        api.post(f"threads/{old}/messages", json={"role": "user", "content": "Any news?"}).status_code == 200
    )
    later = datetime.now(UTC) + timedelta(seconds=5)
    Run.objects.create(
        project=owner.project, thread_id=old, assistant_id="asst_a", model="m", status="completed"
    )
    Run.objects.create(
        project=owner.project,
        thread_id=old,
        assistant_id="asst_b",
        model="m",
        status="failed",
        last_error={"code": "server_error", "message": "boom"},
        created_at=later,
    )

    r = api.get("threads", params={"order_by": "last_activity", "include[]": "summary", "limit": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [t["id"] for t in body["data"]] == [old, empty] and body["has_more"] is True
    summary = body["data"][0]["summary"]
    assert summary["first_user_message"] == "First question about invoices"
    assert summary["message_count"] == 3 and summary["assistant_ids"] == ["asst_a", "asst_b"]
    assert summary["last_activity_at"] == int(later.timestamp())
    assert Thread.objects.get(pk=old).last_activity_at == later
    assert (
        summary["last_run"]["status"] == "failed" and summary["last_run"]["last_error"]["message"] == "boom"
    )
    assert (
        body["data"][1]["summary"]["first_user_message"] is None
        and body["data"][1]["summary"]["message_count"] == 0
    )

    rest = api.get(
        "threads", params={"order_by": "last_activity", "include[]": "summary", "after": empty}
    ).json()
    assert [t["id"] for t in rest["data"]] == [new] and rest["has_more"] is False
    ascending = api.get("threads", params={"order_by": "last_activity", "order": "asc"}).json()
    assert [t["id"] for t in ascending["data"]] == [new, empty, old] and "summary" not in ascending["data"][0]


def test_it_returns_the_matching_snippet_with_a_search(api):
    long_text = "intro " * 60 + "the REFUND was never paid " + "tail " * 60
    hit = _thread(api, "hello", long_text)
    _thread(api, "nothing to see")
    data = api.get("threads", params={"q": "refund", "include[]": "summary"}).json()["data"]
    assert [t["id"] for t in data] == [hit]
    snippet = data[0]["summary"]["snippet"]
    assert "REFUND was never paid" in snippet and snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) <= 170


def test_it_rejects_unknown_orders_and_includes(api):
    r = api.get("threads", params={"order_by": "name"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "order_by"
    r = api.get("threads", params={"include[]": "everything"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "include[]"
    r = api.get("threads", params={"order_by": "last_activity", "after": "thread_nope"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "after"
