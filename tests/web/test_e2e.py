"""The console in a real browser: Debian's chromium driven by Playwright, against the live server.

Screenshots of each page go to artifacts/screenshots/.
"""

from __future__ import annotations

import json
import time

from tests.fakeprovider import Call, Text, ToolCalls
from tests.web.conftest import PASSWORD, SHOTS, needs_chromium

pytestmark = needs_chromium


def _login(browser, live_url: str, username: str, width: int = 1280):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/p/*/")
    return page


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_it_works_in_a_real_browser(browser, people, owner, api, provider, live_url):
    pid = owner.project.pk
    page = _login(browser, live_url, "eddie-editor")
    _shot(page, "overview")

    # Create an assistant, with a function tool, then edit it in place.
    page.goto(f"{live_url}/p/{pid}/assistants")
    _shot(page, "assistants-empty")
    page.get_by_role("link", name="New assistant").click()
    page.get_by_label("Name", exact=True).fill("Weather bot")
    page.get_by_label("Instructions").fill("You report the weather. Use **tools**.")
    page.get_by_role("button", name="Add function").click()
    page.get_by_label("Function name").fill("get_weather")
    page.get_by_label("Parameters (JSON Schema)").fill('{"type": "nonsense"}')
    page.get_by_role("button", name="Create assistant").click()
    page.get_by_text("Not a valid JSON Schema").wait_for()
    page.get_by_label("Parameters (JSON Schema)").fill(json.dumps(WEATHER_SCHEMA))
    page.get_by_role("button", name="Create assistant").click()
    page.wait_for_url("**/assistants/asst_*")
    assistant_id = page.url.rsplit("/", 1)[1]
    page.get_by_label("Temperature").fill("7")
    page.get_by_role("button", name="Save changes").click()
    page.locator("#e-temperature").wait_for()
    _shot(page, "assistant-validation")
    page.get_by_label("Temperature").fill("0.3")
    page.get_by_label("Name", exact=True).fill("Weather bot v2")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved.").wait_for()
    _shot(page, "assistant")
    stored = api.get(f"assistants/{assistant_id}").json()
    assert stored["name"] == "Weather bot v2" and stored["temperature"] == 0.3
    assert stored["tools"][0]["function"]["parameters"] == WEATHER_SCHEMA

    # Chat: the reply streams in, token by token.
    words = [f" word{i}" for i in range(12)]
    provider.script(Text("".join(words), chunks=words, delay=0.15))
    page.goto(f"{live_url}/p/{pid}/playground?assistant={assistant_id}")
    page.get_by_label("Message").fill("Tell me something")
    page.get_by_role("button", name="Send").click()
    stream = page.locator(".stream .text").first
    stream.wait_for()
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = stream.text_content() or ""
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if text.strip().endswith("word11"):
            break
        time.sleep(0.03)
    assert seen[-1].strip() == "".join(words).strip()
    partial = [s for s in seen if 0 < len(s.strip()) < len(seen[-1].strip())]
    assert len(partial) >= 3, seen  # the page showed the text growing, not all at once
    page.locator("[data-run-status]", has_text="Done").first.wait_for()
    _shot(page, "playground")

    # A tool call: the page asks for the output and the run finishes with it.
    provider.script(ToolCalls([Call("get_weather", '{"city": "Oslo"}')]), Text("It is snowing in Oslo."))
    page.get_by_label("Message").fill("Weather in Oslo?")
    page.get_by_role("button", name="Send").click()
    page.get_by_label("Output for get_weather").fill("snow, -3C")
    _shot(page, "playground-tool-call")
    page.get_by_role("button", name="Submit outputs").click()
    page.get_by_text("It is snowing in Oslo.").wait_for()
    thread_id = page.locator("#p-thread").input_value()
    assert provider.requests[-1]["messages"][-1]["content"] == "snow, -3C"

    # Inspect the thread: messages, and the runs with the tool call and its output.
    page.goto(f"{live_url}/p/{pid}/threads")
    _shot(page, "threads")
    # Full-text search narrows the list as one types.
    page.get_by_label("Search messages").fill("weather in oslo")
    page.wait_for_function("() => document.querySelectorAll('#results tbody tr').length === 1")
    # Rows are named by their first user message; the id is shown under it.
    row_link = page.locator(f'td.conv a[href$="/threads/{thread_id}"]')
    row_link.wait_for()
    assert row_link.inner_text() == "Tell me something"
    assert "weather in oslo" in page.locator("td.conv .snippet").inner_text().lower()
    _shot(page, "threads-search")
    row_link.click()
    page.locator(".run").first.wait_for()
    page.get_by_text("snow, -3C").first.wait_for()
    assert page.locator(".msg").count() == 4
    _shot(page, "thread")

    # A file citation shows the cited file's name and the quoted text.
    from console.threads.models import Message

    cited = api.post(
        "files", files={"file": ("tea-guide.txt", b"Steep for 3 minutes.")}, data={"purpose": "assistants"}
    ).json()
    Message.objects.create(
        thread_id=thread_id,
        role="assistant",
        content=[
            {
                "type": "text",
                "text": {
                    "value": "Steep it briefly【4:0†tea-guide.txt】.",
                    "annotations": [
                        {
                            "type": "file_citation",
                            "text": "【4:0†tea-guide.txt】",
                            "start_index": 16,
                            "end_index": 35,
                            "file_citation": {"file_id": cited["id"], "quote": "Steep for 3 minutes."},
                        }
                    ],
                },
            }
        ],
    )
    page.reload()
    page.locator(".citations").get_by_role("link", name="tea-guide.txt").wait_for()
    assert page.locator(".citations q").first.text_content() == "Steep for 3 minutes."
    _shot(page, "thread-citation")

    # The runs started in the playground are on the Jobs page; the overview charts their tokens.
    page.goto(f"{live_url}/p/{pid}/jobs")
    page.locator("#jobs tbody tr", has_text="Done").nth(1).wait_for(timeout=15000)
    _shot(page, "jobs")
    page.goto(f"{live_url}/p/{pid}/")
    page.locator("#usage-chart canvas").wait_for()
    _shot(page, "overview-usage")

    page.goto(f"{live_url}/p/{pid}/files")
    page.get_by_role("link", name="Show where used").first.click()
    page.get_by_text("Not used by any assistant or vector store.").wait_for()
    _shot(page, "files")
    page.context.close()

    # The admin's pages.
    admin = _login(browser, live_url, "alice-admin")
    for name in ("members", "upstream", "audit"):
        admin.goto(f"{live_url}/p/{pid}/{name}")
        _shot(admin, name)
    assert admin.get_by_text("assistant.update").count() >= 1
    admin.context.close()


def test_it_keeps_a_viewer_read_only_and_fits_a_phone(browser, people, owner, api, live_url):
    assistant = api.post("assistants", json={"model": "gpt-4o", "name": "Read me"}).json()
    page = _login(browser, live_url, "vera-viewer", width=390)
    page.goto(f"{live_url}/p/{owner.project.pk}/assistants/{assistant['id']}")
    assert page.get_by_label("Name", exact=True).is_disabled()
    assert page.get_by_role("button", name="Save changes").count() == 0
    assert page.get_by_role("link", name="Delete").count() == 0
    # Even a crafted request is refused by the view.
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: "POST", headers: {"X-CSRFToken": document.body.getAttribute("hx-headers").split('"')[3]},
                                          body: new URLSearchParams({model: "x", name: "hacked"})})).status""",
        page.url,
    )
    assert status == 403
    assert api.get(f"assistants/{assistant['id']}").json()["name"] == "Read me"
    _shot(page, "assistant-viewer-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400
    page.context.close()


def test_it_uploads_a_batch_and_shows_it_complete(browser, people, owner, api, worker, live_url, tmp_path):
    api.post("vector_stores", json={"name": "Manuals"})
    files = []
    for i in range(6):
        path = tmp_path / f"manual-{i}.txt"
        path.write_text(f"Manual {i}: how to brew tea, step {i}.")
        files.append(str(path))
    page = _login(browser, live_url, "eddie-editor")
    page.goto(f"{live_url}/p/{owner.project.pk}/vector_stores")
    _shot(page, "vector-stores")
    page.get_by_role("link", name="Manuals").click()
    page.locator("#batch-files").set_input_files(files)
    page.get_by_text("6 of 6 uploaded and added to the store").wait_for()
    page.locator("[data-upload-counts]", has_text="6 ingested").wait_for(timeout=30000)
    assert page.locator(".upload-list li").count() == 6
    _shot(page, "vector-store-batch")
    # Reopening the page still shows the batch and its outcome.
    page.reload()
    page.locator("[data-upload-counts]", has_text="6 of 6 arrived").wait_for()
    assert page.get_by_text("manual-3.txt").count() == 1
    page.context.close()
