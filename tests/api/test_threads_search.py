"""GET /v1/threads search extensions: assistant_id, created_after/created_before, q (raw HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime

from console.runs.models import Run
from console.threads.models import Message, Thread


def _ids(r) -> list[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["data"]]


def _thread(api, *texts: str) -> str:  # type: ignore[no-untyped-def]
    messages = [{"role": "user", "content": t} for t in texts]
    r = api.post("threads", json={"messages": messages})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def _assistant(api) -> str:  # type: ignore[no-untyped-def]
    r = api.post("assistants", json={"model": "gpt-4o"})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def test_it_searches_message_text_case_insensitively(api):
    refund = _thread(api, "Hello", "I want a REFUND for order 42")
    other = _thread(api, "Where is my parcel?")
    assert _ids(api.get("threads", params={"q": "refund"})) == [refund]
    assert _ids(api.get("threads", params={"q": "Parcel"})) == [other]
    assert _ids(api.get("threads", params={"q": "nothing like this"})) == []
    assert set(_ids(api.get("threads", params={"q": ""}))) == {refund, other}


def test_it_searches_text_values_not_the_json_around_them(api):
    plain = _thread(api, "just words")
    # "text", "annotations" and "type" are keys of every stored part; none is message text.
    for word in ("annotations", "type", "value", '"'):
        assert _ids(api.get("threads", params={"q": word})) == [], word
    assert _ids(api.get("threads", params={"q": "words"})) == [plain]


def test_it_treats_like_wildcards_literally(api):
    percent = _thread(api, "50% off")
    _thread(api, "50 items off")
    underscore = _thread(api, "snake_case")
    _thread(api, "snakeXcase")
    assert _ids(api.get("threads", params={"q": "50%"})) == [percent]
    assert _ids(api.get("threads", params={"q": "e_c"})) == [underscore]
    backslash = _thread(api, r"C:\temp")
    assert _ids(api.get("threads", params={"q": "\\t"})) == [backslash]


def test_it_finds_non_ascii_text(api):
    cafe = _thread(api, "Un café crème, s'il vous plaît")
    _thread(api, "tea")
    assert _ids(api.get("threads", params={"q": "café"})) == [cafe]
    assert _ids(api.get("threads", params={"q": "plaît"})) == [cafe]


def test_it_searches_messages_added_later_and_assistant_replies(api, owner):
    thread_id = _thread(api)
    api.post(
        f"threads/{thread_id}/messages",
        json={"role": "user", "content": [{"type": "text", "text": "needle"}]},
    )
    assert _ids(api.get("threads", params={"q": "NEEDLE"})) == [thread_id]
    other = _thread(api, "question")
    Message.objects.create(
        thread_id=other,
        role="assistant",
        content=[{"type": "text", "text": {"value": "The answer is haystack.", "annotations": []}}],
    )
    assert _ids(api.get("threads", params={"q": "haystack"})) == [other]


def test_it_filters_by_assistant_through_runs_or_messages(api, owner):
    assistant, other_assistant = _assistant(api), _assistant(api)
    with_run = _thread(api, "a")
    with_message = _thread(api, "b")
    _thread(api, "c")
    Run.objects.create(
        project=owner.project, thread_id=with_run, assistant_id=assistant, model="gpt-4o", status="completed"
    )
    Message.objects.create(thread_id=with_message, role="assistant", assistant_id=assistant, content=[])
    Run.objects.create(
        project=owner.project, thread_id=with_message, assistant_id=assistant, model="gpt-4o", status="failed"
    )
    assert _ids(api.get("threads", params={"assistant_id": assistant})) == [with_message, with_run]
    assert _ids(api.get("threads", params={"assistant_id": other_assistant})) == []
    assert _ids(api.get("threads", params={"assistant_id": "asst_unknown"})) == []


def test_it_filters_by_creation_time(api):
    old, middle, new = _thread(api), _thread(api), _thread(api)
    for thread_id, day in ((old, 1), (middle, 2), (new, 3)):
        Thread.objects.filter(pk=thread_id).update(created_at=datetime(2026, 3, day, 12, tzinfo=UTC))
    day2 = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
    day3 = int(datetime(2026, 3, 3, tzinfo=UTC).timestamp())
    assert _ids(api.get("threads", params={"created_after": day2})) == [new, middle]
    assert _ids(api.get("threads", params={"created_before": day2})) == [old]
    assert _ids(api.get("threads", params={"created_after": day2, "created_before": day3})) == [middle]
    # Inclusive below, exclusive above: a thread made exactly at created_after is in.
    exact = int(datetime(2026, 3, 2, 12, tzinfo=UTC).timestamp())
    assert _ids(api.get("threads", params={"created_after": exact, "created_before": exact + 1})) == [middle]


def test_it_combines_filters_and_pages_through_them(api, owner):
    assistant = _assistant(api)
    matching = []
    for i in range(5):
        thread_id = _thread(api, f"invoice {i}")
        Run.objects.create(
            project=owner.project, thread_id=thread_id, assistant_id=assistant, model="m", status="completed"
        )
        matching.append(thread_id)
    _thread(api, "invoice without a run")
    lonely = _thread(api, "no match")
    Run.objects.create(
        project=owner.project, thread_id=lonely, assistant_id=assistant, model="m", status="completed"
    )
    params = {"q": "INVOICE", "assistant_id": assistant, "limit": 2}
    first = api.get("threads", params=params).json()
    assert [t["id"] for t in first["data"]] == matching[::-1][:2] and first["has_more"] is True
    second = api.get("threads", params={**params, "after": first["last_id"]}).json()
    third = api.get("threads", params={**params, "after": second["last_id"]}).json()
    assert [t["id"] for t in second["data"] + third["data"]] == matching[::-1][2:]
    assert third["has_more"] is False
    assert _ids(api.get("threads", params={"q": "invoice", "metadata[x]": "y"})) == []


def test_it_never_shows_other_projects_threads(api, outsider_api):
    mine = _thread(api, "shared words")
    _thread(outsider_api, "shared words")
    assert _ids(api.get("threads", params={"q": "shared"})) == [mine]


def test_it_rejects_bad_times(api):
    r = api.get("threads", params={"created_after": "yesterday"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "created_after"
    assert error["code"] == "invalid_type"
    r = api.get("threads", params={"created_before": "-5"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "created_before"
    assert r.json()["error"]["code"] == "invalid_value"
    r = api.get("threads", params={"created_before": str(10**20)})
    assert r.status_code == 400 and r.json()["error"]["param"] == "created_before"


def test_it_rejects_an_overlong_search(api):
    r = api.get("threads", params={"q": "x" * 257})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "q" and r.json()["error"]["code"] == "string_above_max_length"
    assert api.get("threads", params={"q": "x" * 256}).status_code == 200
