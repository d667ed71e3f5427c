"""GET /v1/usage?days=N (an extension): tokens per UTC day of the project's runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from console.runs.models import Run


def _run(owner, when: datetime, usage: dict | None, status: str = "completed") -> Run:  # type: ignore[no-untyped-def]
    from console.threads.models import Thread

    thread = Thread.objects.create(project=owner.project)
    return Run.objects.create(
        project=owner.project,
        thread=thread,
        assistant_id="asst_x",
        model="m",
        status=status,
        usage=usage,
        created_at=when,
    )


def test_it_sums_tokens_per_day_with_empty_days(api, owner):
    now = timezone.now().astimezone(UTC)
    today = now.replace(hour=0, minute=30, second=0, microsecond=0)
    _run(owner, today, {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
    _run(owner, today + timedelta(minutes=1), {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})
    _run(
        owner, today - timedelta(days=2), {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    )
    _run(owner, today - timedelta(days=1), None, status="failed")  # counted as a run, no tokens
    _run(owner, today - timedelta(days=9), {"prompt_tokens": 7, "completion_tokens": 7, "total_tokens": 14})

    r = api.get("usage", params={"days": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["days"] == 3
    days = body["data"]
    assert [d["date"] for d in days] == [(now.date() - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    assert all(d["object"] == "usage.day" for d in days)
    assert (
        days[0]["prompt_tokens"],
        days[0]["completion_tokens"],
        days[0]["total_tokens"],
        days[0]["runs"],
    ) == (100, 50, 150, 1)
    assert (days[1]["runs"], days[1]["total_tokens"]) == (1, 0)
    assert (
        days[2]["prompt_tokens"],
        days[2]["completion_tokens"],
        days[2]["total_tokens"],
        days[2]["runs"],
    ) == (11, 7, 18, 2)
    assert days[2]["start_time"] == int(datetime.combine(now.date(), datetime.min.time(), UTC).timestamp())
    assert body["totals"] == {"runs": 4, "prompt_tokens": 111, "completion_tokens": 57, "total_tokens": 168}

    ten = api.get("usage", params={"days": 10}).json()
    assert len(ten["data"]) == 10 and ten["totals"]["total_tokens"] == 182


def test_it_defaults_to_thirty_days(api):
    body = api.get("usage").json()
    assert body["days"] == 30 and len(body["data"]) == 30
    assert body["totals"]["total_tokens"] == 0


def test_it_ignores_malformed_usage_values(api, owner):
    _run(owner, timezone.now(), {"prompt_tokens": "lots", "completion_tokens": None, "total_tokens": True})
    body = api.get("usage", params={"days": 1}).json()
    assert body["data"][0]["runs"] == 1 and body["data"][0]["total_tokens"] == 0


def test_it_counts_only_the_projects_runs(api, outsider_api, outsider):
    _run(outsider, timezone.now(), {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})
    assert api.get("usage", params={"days": 1}).json()["totals"]["runs"] == 0
    assert outsider_api.get("usage", params={"days": 1}).json()["totals"]["total_tokens"] == 2


def test_it_rejects_bad_days(api):
    for raw, code in (
        ("week", "invalid_type"),
        ("0", "integer_below_min_value"),
        ("367", "integer_above_max_value"),
    ):
        r = api.get("usage", params={"days": raw})
        assert r.status_code == 400, raw
        assert r.json()["error"]["param"] == "days" and r.json()["error"]["code"] == code
    assert api.get("usage", params={"days": 366}).status_code == 200


def test_it_needs_a_key_and_only_get(anonymous_api, api):
    assert anonymous_api.get("usage").status_code == 401
    assert api.post("usage", json={}).status_code == 405
