"""Overview: counts, recent runs, active work, and token usage per day drawn by the vendored chart library."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from django.utils import timezone

from console.runs.models import Run
from console.threads.models import Thread
from console.web.models import RunWatch
from console.web.views.home import _usage_from_runs
from tests.web.conftest import client_for


def test_it_draws_token_usage_from_the_usage_report(people, owner, api):
    thread = Thread.objects.create(project=owner.project)
    Run.objects.create(
        project=owner.project,
        thread=thread,
        assistant_id="asst_x",
        model="m",
        status="completed",
        usage={"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42},
    )
    body = client_for(people.viewer).get(f"/p/{owner.project.pk}/").content.decode()
    assert "/static/vendor/uPlot-1.6.32.iife.min.js" in body
    # Every script and stylesheet is served from here, none from a CDN. (Looking for "cdn" in the
    # whole page failed whenever the random CSRF token happened to contain those letters.)
    assets = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', body)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets)
    assert 'data-usage-chart="usage-data"' in body
    data = json.loads(
        re.search(r'<script id="usage-data" type="application/json">(.*?)</script>', body, re.S).group(1)
    )
    assert len(data) == 30 and data[-1]["date"] == timezone.now().date().isoformat()
    assert (data[-1]["prompt_tokens"], data[-1]["completion_tokens"], data[-1]["total_tokens"]) == (
        30,
        12,
        42,
    )
    assert "from the runs of recent threads only" not in body


def test_it_says_when_there_is_no_usage(people, owner):
    body = client_for(people.viewer).get(f"/p/{owner.project.pk}/").content.decode()
    assert "No token usage in the last 30 days." in body and 'id="usage-data"' not in body


def test_it_lists_console_runs_as_active_work(people, owner):
    RunWatch.objects.create(
        project=owner.project,
        thread_id="thread_a",
        run_id="run_busy",
        assistant_id="asst_x",
        status="in_progress",
    )
    body = client_for(people.viewer).get(f"/p/{owner.project.pk}/").content.decode()
    assert "run_busy" in body and "Nothing running right now" not in body


def test_it_serves_the_chart_library_locally(people, client):
    response = client.get("/static/vendor/uPlot-1.6.32.iife.min.js")
    assert response.status_code == 200
    assert b"uPlot" in b"".join(response.streaming_content)


def test_it_falls_back_to_recent_runs_for_other_upstreams():
    runs = [
        {"created_at": 1767225600, "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
        {"created_at": 1767225700, "usage": None},
        {"created_at": 1767312000, "usage": {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}},
    ]
    assert _usage_from_runs(runs) == [
        {
            "date": "2026-01-01",
            "start_time": 1767225600,
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "total_tokens": 3,
        },
        {
            "date": "2026-01-02",
            "start_time": 1767312000,
            "prompt_tokens": 4,
            "completion_tokens": 5,
            "total_tokens": 9,
        },
    ]


def test_it_shows_where_the_money_went_this_month_per_assistant(people, owner, api):
    from decimal import Decimal

    from console.web.models import ModelPrice

    ModelPrice.objects.create(
        project=owner.project, model="gpt-4o", input_per_million=Decimal(2), output_per_million=Decimal(10)
    )
    support = api.post("assistants", json={"model": "gpt-4o", "name": "Support bot"}).json()
    sales = api.post("assistants", json={"model": "gpt-4o", "name": "Sales bot"}).json()
    thread = Thread.objects.create(project=owner.project)
    for assistant, prompt, completion in (
        (support, 1_000_000, 100_000),
        (support, 500_000, 0),
        (sales, 0, 10_000),
    ):
        Run.objects.create(
            project=owner.project,
            thread=thread,
            assistant_id=assistant["id"],
            model="gpt-4o",
            status="completed",
            usage={
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        )
    # Last month's run does not count.
    old = Run.objects.create(
        project=owner.project,
        thread=thread,
        assistant_id=sales["id"],
        model="gpt-4o",
        status="completed",
        usage={"prompt_tokens": 9_000_000, "completion_tokens": 0, "total_tokens": 9_000_000},
    )
    Run.objects.filter(pk=old.pk).update(created_at=timezone.now().replace(day=1) - timedelta(days=2))
    body = client_for(people.viewer).get(f"/p/{owner.project.pk}/").content.decode()
    month = body[body.index('id="h-month"') :]
    assert "<b>$4.10</b>" in month  # 1.5M in at $2 + 0.11M out at $10
    rows = re.findall(
        r"<tr><td><a [^>]*>([^<]+)</a></td><td>(\d+)</td><td>(\d+)</td><td>([^<]+)</td></tr>", month
    )
    assert rows == [("Support bot", "2", "1600000", "$4.00"), ("Sales bot", "1", "10000", "$0.1000")]
