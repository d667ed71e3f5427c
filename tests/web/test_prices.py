"""Model prices (admins) and cost per run, per thread and per day; tokens only where no price is set."""

from __future__ import annotations

import json
import re

from console.runs.models import Run
from console.web.models import AuditLog, ModelPrice
from tests.web.conftest import client_for, htmx


def _runs(owner, api):  # type: ignore[no-untyped-def]
    thread = api.post("threads").json()["id"]
    for model, prompt, completion in (
        ("gpt-4o", 1_000_000, 200_000),
        ("gpt-4o", 500_000, 0),
        ("local-llm", 10, 5),
    ):
        Run.objects.create(
            project=owner.project,
            thread_id=thread,
            assistant_id="asst_x",
            model=model,
            status="completed",
            usage={
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        )
    return thread


def test_it_lets_admins_set_prices_and_shows_cost(people, owner, api):
    thread = _runs(owner, api)
    runs_url = f"/p/{owner.project.pk}/threads/{thread}/runs"
    before = htmx(client_for(people.viewer), "get", runs_url).content.decode()
    assert "Cost" not in before and "1700015 tokens over all runs" in before  # tokens only, no price yet

    assert client_for(people.editor).get(f"/p/{owner.project.pk}/prices").status_code == 403
    admin = client_for(people.admin)
    bad = htmx(
        admin, "post", f"/p/{owner.project.pk}/prices", {"model": "gpt-4o", "input": "-1", "output": "x"}
    )
    assert bad.status_code == 422 and not ModelPrice.objects.exists()
    ok = htmx(
        admin, "post", f"/p/{owner.project.pk}/prices", {"model": "gpt-4o", "input": "2.50", "output": "10"}
    )
    assert ok.status_code == 200 and "gpt-4o" in ok.content.decode()
    assert AuditLog.objects.filter(action="price.set", object_id="gpt-4o").exists()

    after = htmx(client_for(people.viewer), "get", runs_url).content.decode()
    # 1M in x $2.50 + 200k out x $10 = $4.50; 500k in = $1.25; local-llm has no price.
    assert "<dd>$4.50</dd>" in after and "<dd>$1.25</dd>" in after
    assert "This thread cost <b>$5.75</b>" in after and "models without a price are not counted" in after

    overview = client_for(people.viewer).get(f"/p/{owner.project.pk}/").content.decode()
    days = json.loads(
        re.search(r'<script id="usage-data" type="application/json">(.*?)</script>', overview).group(1)
    )  # type: ignore[union-attr]
    assert days[-1]["cost"] == 5.75 and "Token usage and cost per day" in overview and "$5.75" in overview
