"""The console's third pass in chromium: first steps, members with invite links, a playground that
shows what the assistant did, no dead ends, names before ids, plain words, roles and phone width.

Each test runs at 1280 and 390 px wide, fails on any Content-Security-Policy violation the browser
reports, and saves screenshots under artifacts/screenshots/ (console3-*.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from console.runs.models import Run
from console.web.models import AuditLog, Invite, Membership
from tests.fakeprovider import Call, Text, ToolCalls
from tests.web.conftest import needs_chromium
from tests.web.test_e2e import _shot
from tests.web.test_e2e_console2 import _fits, _open, go_to

pytestmark = needs_chromium

WIDTHS = [1280, 390]


@pytest.fixture
def violations() -> list[str]:
    return []


@pytest.fixture
def done(violations: list[str]) -> Iterator[None]:
    yield
    assert violations == [], violations


def _header_fits(page: Any, width: int) -> None:
    height = page.evaluate("document.querySelector('header.top').getBoundingClientRect().height")
    if width <= 400:
        assert height <= 120, height


@pytest.mark.parametrize("width", WIDTHS)
def test_it_shows_first_steps_grouped_navigation_and_project_counts(
    browser, people, owner, api, live_url, width, violations, done
):
    page = _open(browser, live_url, "alice-admin", width, violations)
    # An empty project: a short path with a link per step, none ticked yet.
    steps = page.locator(".steps-path li")
    assert steps.count() == 3 and page.locator(".steps-path li.done").count() == 0
    assert page.locator(".steps-path").get_by_role("link", name="Create an assistant").is_visible()
    _header_fits(page, width)
    _fits(page, width)
    _shot(page, f"console3-first-steps-{width}")
    # The sections are grouped: build, watch, settings; Jobs is part of Activity.
    if width <= 400:
        assert not page.locator("#main-nav").is_visible()
        page.get_by_role("button", name="Menu").click()
        _shot(page, f"console3-menu-{width}")
    nav = page.locator("#main-nav")
    assert [g.strip() for g in nav.locator(".group-name").all_text_contents()] == [
        "Build",
        "Watch",
        "Settings",
    ]
    assert nav.get_by_role("link", name="Jobs").count() == 0
    assert nav.get_by_role("link", name="Connected server").is_visible()
    # One step done ticks it.
    api.post("assistants", json={"model": "gpt-4o", "name": "Support bot"})
    page.reload()
    assert page.locator('.steps-path li.done[data-step="assistant"]').count() == 1
    # The admin describes the project; the list shows it with the project's counts.
    page.get_by_label("What this project is for").fill("Answers our customers' parcel questions")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved.").wait_for()
    page.goto(f"{live_url}/?all=1")
    card = page.locator(".project-list li", has_text=owner.project.name)
    assert "Answers our customers' parcel questions" in card.inner_text()
    assert "1 assistant · 0 document stores · 0 conversations" in card.inner_text()
    _shot(page, f"console3-projects-{width}")
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_it_adds_a_member_whose_invite_link_sets_a_password(
    browser, people, owner, live_url, width, violations, done
):
    page = _open(browser, live_url, "alice-admin", width, violations)
    go_to(page, "Members")
    page.get_by_label("Name", exact=True).fill("Rita Lead")
    page.get_by_label("E-mail", exact=False).fill(f"rita{width}@example.com")
    page.get_by_label("Role", exact=True).select_option("editor")
    page.get_by_role("button", name="Add and make an invite link").click()
    link = page.locator("#invite-url").input_value()
    assert "/invite/" in link and Invite.objects.filter(used_at__isnull=True).count() == 1
    _fits(page, width)
    _shot(page, f"console3-members-invite-{width}")
    # Roles change in place.
    row = page.locator("tr", has_text="Rita Lead")
    row.get_by_label("Role of Rita Lead").select_option("viewer")
    page.wait_for_function("() => !document.querySelector('#invite-url')")
    assert Membership.objects.get(user__email=f"rita{width}@example.com").role == "viewer"

    # The invited person opens the link in their own browser, sets a password and is in.
    other = browser.new_context(viewport={"width": width, "height": 900})
    theirs = other.new_page()
    theirs.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    theirs.goto(link)
    theirs.get_by_label("New password").fill("a long and new passphrase 42")
    theirs.get_by_label("Type it again").fill("a long and new passphrase 42")
    _shot(theirs, f"console3-invite-{width}")
    theirs.get_by_role("button", name="Set my password and sign in").click()
    theirs.wait_for_url(f"**/p/{owner.project.pk}/")
    assert theirs.locator(".role").first.inner_text() == "viewer"
    # The link works once.
    theirs.goto(link)
    assert theirs.get_by_role("heading", name="This invite link no longer works").is_visible()
    other.close()
    assert AuditLog.objects.filter(action="member.add", username="alice-admin").exists()

    # Removing someone happens in place too (the confirm dialog names the person).
    page.reload()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    page.locator("tr", has_text="Rita Lead").get_by_role("button", name="Remove").click()
    page.locator("tr", has_text="Rita Lead").wait_for(state="detached")
    assert any("Rita Lead" in d for d in dialogs)
    # The Django admin site is styled: its static files are served.
    assert page.request.get(f"{live_url}/static/admin/css/base.css").status == 200
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_it_renders_the_playground_turn_like_the_thread_page(
    browser, people, owner, api, provider, live_url, width, violations, done, settings
):
    settings.DEMO_MODEL_BASE_URL = provider.base_url  # the provider stands in for the demo model
    bot = api.post(
        "assistants",
        json={
            "model": "gpt-4o",
            "name": "Weather bot",
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
                }
            ],
        },
    ).json()
    words = ["Here", " is", " **bold**", " news", ":", "\n\n- one", "\n- two"]
    provider.script(Text("".join(words), chunks=words, delay=0.1))
    page = _open(browser, live_url, "eddie-editor", width, violations)
    page.goto(f"{live_url}/p/{owner.project.pk}/playground?assistant={bot['id']}")
    assert "built-in demo model (toy quality)" in page.locator("#p-assistant").inner_text()
    # Enter sends; Shift+Enter makes a new line.
    box = page.get_by_label("Message")
    box.fill("First line")
    box.press("Shift+Enter")
    box.type("second line")
    assert box.input_value() == "First line\nsecond line"
    box.press("Enter")
    # Text streams live, then the finished turn shows rendered markdown.
    page.locator(".stream .text").first.wait_for()
    page.locator(".stream .md strong", has_text="bold").wait_for()
    assert page.locator(".stream .md li").count() == 2
    assert page.locator("[data-run-status]").first.inner_text() == "Done"
    assert "built-in demo model (toy quality)" in page.locator(".msg.assistant .meta").first.inner_text()
    assert box.input_value() == ""
    _fits(page, width)
    _shot(page, f"console3-playground-{width}")
    # A tool call is collapsed but visible in the finished turn.
    provider.script(ToolCalls([Call("get_weather", '{"city": "Oslo"}')]), Text("Snow in Oslo."))
    box.fill("Weather in Oslo?")
    box.press("Enter")
    page.get_by_label("Output for get_weather").fill("snow")
    page.get_by_role("button", name="Submit outputs").click()
    page.get_by_text("Snow in Oslo.").first.wait_for()
    page.locator(".result details.call summary", has_text="get_weather").wait_for()
    assert page.locator(".result details.call[open]").count() == 0
    thread_id = page.locator("#p-thread").input_value()
    # The thread page is titled by the first user message; "Continue in playground" keeps the assistant.
    page.goto(f"{live_url}/p/{owner.project.pk}/threads/{thread_id}")
    assert page.locator("h1 .name").inner_text().startswith("First line")
    assert page.locator("h1 [data-copy]").get_attribute("data-copy") == thread_id
    assert "Weather bot" in page.locator(".run-head").first.inner_text()
    _shot(page, f"console3-thread-{width}")
    page.get_by_role("link", name="Continue in playground").click()
    assert page.locator("#p-assistant").input_value() == bot["id"]
    assert page.locator("#p-thread").input_value() == thread_id
    # "New chat" starts a new thread with the same assistant.
    page.get_by_role("link", name="New chat").first.click()
    assert page.locator("#p-thread").input_value() == ""
    assert page.locator("#p-assistant").input_value() == bot["id"]
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_it_offers_a_way_out_of_blocked_and_waiting_runs(
    browser, people, owner, api, live_url, width, violations, done
):
    bot = api.post("assistants", json={"model": "gpt-4o", "name": "Tools bot"}).json()
    thread = api.post(
        "threads", json={"messages": [{"role": "user", "content": "Where is my parcel 77?"}]}
    ).json()["id"]
    waiting = Run.objects.create(
        project=owner.project,
        thread_id=thread,
        assistant_id=bot["id"],
        model="gpt-4o",
        status="requires_action",
        required_action={
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {"id": "call_abc", "type": "function", "function": {"name": "track", "arguments": "{}"}}
                ]
            },
        },
    )
    expired_thread = api.post("threads").json()["id"]
    expired = Run.objects.create(
        project=owner.project,
        thread_id=expired_thread,
        assistant_id=bot["id"],
        model="gpt-4o",
        status="expired",
        expires_at=timezone.now(),
    )
    # A viewer sees what the run waits for, and no form.
    viewer = _open(browser, live_url, "vera-viewer", width, violations)
    viewer.goto(f"{live_url}/p/{owner.project.pk}/threads/{thread}")
    viewer.get_by_text("waiting for the app that started it").wait_for()
    assert viewer.get_by_role("button", name="Submit outputs").count() == 0
    assert viewer.get_by_role("link", name="Continue in playground").count() == 0
    viewer.context.close()

    page = _open(browser, live_url, "eddie-editor", width, violations)
    # Activity lists the expired run beside the failed ones, in words.
    go_to(page, "Activity")
    row = page.locator(f"#failed-{expired.id}")
    row.wait_for()
    assert "Expired" in row.inner_text()
    # The blocked thread: the message stays typed, with a Cancel action right there.
    page.goto(f"{live_url}/p/{owner.project.pk}/playground?thread={thread}")
    box = page.get_by_label("Message")
    box.fill("Any news?")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("The assistant is still busy with this conversation").wait_for()
    assert box.input_value() == "Any news?"
    _fits(page, width)
    _shot(page, f"console3-blocked-{width}")
    page.get_by_role("button", name="Cancel the run in progress").click()
    page.get_by_text("The run is cancel").wait_for()
    assert Run.objects.get(pk=waiting.id).status in ("cancelling", "cancelled")
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_it_says_errors_in_plain_words_and_shapes_pages_by_role(
    browser, people, owner, api, live_url, width, violations, done
):
    store = api.post("vector_stores", json={"name": "Refund policies"}).json()
    page = _open(browser, live_url, "eddie-editor", width, violations)
    page.goto(f"{live_url}/p/{owner.project.pk}/assistants/new")
    # The JSON schema box shows only for "JSON schema"; stores are checkboxes.
    assert not page.get_by_label("JSON schema").is_visible()
    page.get_by_label("Response format").select_option("json_schema")
    assert page.get_by_label("JSON schema").is_visible()
    page.get_by_label("Response format").select_option("auto")
    assert not page.get_by_label("JSON schema").is_visible()
    page.get_by_label("Name", exact=True).fill("Refunds")
    page.get_by_label("Model").fill("gpt-4o")
    page.get_by_label("Temperature").fill("3")
    page.get_by_label("Refund policies").check()
    page.get_by_label("New store").fill("Parcel rules")
    page.get_by_label("Files for it").set_input_files(
        [{"name": "parcels.txt", "mimeType": "text/plain", "buffer": b"Parcels arrive in 3 days."}]
    )
    page.get_by_role("button", name="Create assistant").click()
    error = page.locator("#e-temperature")
    error.wait_for()
    assert error.inner_text().startswith("Temperature must be between 0 and 2.")
    assert not page.locator("#e-temperature .api-details").is_visible()
    error.get_by_role("button", name="details").click()
    assert "Expected a value <= 2" in page.locator("#e-temperature .api-details").inner_text()
    _shot(page, f"console3-plain-error-{width}")
    assert page.get_by_label("Refund policies").is_checked()  # the pick survives the error
    page.get_by_label("Temperature").fill("0.5")
    page.get_by_label("Files for it").set_input_files(
        [{"name": "parcels.txt", "mimeType": "text/plain", "buffer": b"Parcels arrive in 3 days."}]
    )
    page.get_by_role("button", name="Create assistant").click()
    page.wait_for_url("**/assistants/asst_*")
    created = api.get("assistants", params={"limit": 1}).json()["data"][0]
    ids = created["tool_resources"]["file_search"]["vector_store_ids"]
    assert len(ids) == 1 and api.get(f"vector_stores/{ids[0]}").json()["name"] == "Parcel rules"
    assert any(t["type"] == "file_search" for t in created["tools"])
    # The refused first try left no store behind.
    names = [s["name"] for s in api.get("vector_stores").json()["data"]]
    assert sorted(names) == ["Parcel rules", "Refund policies"] and store["id"] not in ids
    # The assistant's name leads; its id is smaller, with a copy button.
    assert page.locator("h1 .name").inner_text() == "Refunds"
    assert page.locator("h1 [data-copy]").get_attribute("data-copy") == created["id"]
    page.context.close()

    # A viewer is not offered what a viewer cannot do, and sees the documents the assistant uses.
    viewer = _open(browser, live_url, "vera-viewer", width, violations)
    viewer.goto(f"{live_url}/p/{owner.project.pk}/assistants/{created['id']}")
    used = viewer.locator("section", has=viewer.get_by_role("heading", name="Documents it uses"))
    assert "Parcel rules" in used.inner_text()
    used.get_by_role("link", name="parcels.txt").wait_for()
    assert viewer.get_by_role("link", name="Try in playground").count() == 0
    assert viewer.get_by_role("button", name="Save changes").count() == 0
    viewer.goto(f"{live_url}/p/{owner.project.pk}/playground")
    assert viewer.get_by_role("button", name="Send").count() == 0
    _header_fits(viewer, width)
    _fits(viewer, width)
    _shot(viewer, f"console3-viewer-assistant-{width}")
    viewer.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_it_updates_the_store_live_during_an_upload_and_lists_it_in_activity(
    browser, people, owner, api, worker, live_url, tmp_path, width, violations, done
):
    store = api.post("vector_stores", json={"name": "Manuals"}).json()["id"]
    paths = []
    for name in ("alpha.txt", "beta.txt"):
        path = tmp_path / name
        path.write_text(f"The {name} manual says hello.")
        paths.append(str(path))
    page = _open(browser, live_url, "eddie-editor", width, violations)
    page.goto(f"{live_url}/p/{owner.project.pk}/vector_stores/{store}")
    assert "0 total" in page.locator("[data-store-counts]").inner_text()
    page.locator("#batch-files").set_input_files(paths)
    # No reload: the counts and the file list follow the upload.
    page.locator("[data-store-counts]", has_text="2 total").wait_for()
    page.locator("[data-store-counts]", has_text="2 ready").wait_for()
    page.locator("#store-live table").get_by_role("link", name="beta.txt").wait_for()
    _fits(page, width)
    _shot(page, f"console3-store-live-{width}")
    # The same files again, with a new one: the two already there are flagged before any upload.
    gamma = tmp_path / "gamma.txt"
    gamma.write_text("The gamma manual.")
    page.locator("#batch-files").set_input_files([*paths, str(gamma)])
    notice = page.locator(".dup-notice")
    notice.wait_for()
    assert "2 of these files are already in this store" in notice.inner_text()
    assert "alpha.txt" in notice.inner_text() and "gamma.txt" not in notice.inner_text()
    _shot(page, f"console3-store-duplicates-{width}")
    notice.get_by_role("button", name="Skip them").click()
    page.locator("[data-store-counts]", has_text="3 total").wait_for()
    page.locator("[data-store-counts]", has_text="3 ready").wait_for()
    go_to(page, "Activity")
    page.locator("#jobs tr", has_text="2 files into a store").wait_for()
    _shot(page, f"console3-activity-uploads-{width}")
    page.context.close()
