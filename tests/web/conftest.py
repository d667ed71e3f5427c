"""Console fixtures: users in each role on the owner project, and the console pointed at the live server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.test import Client

PASSWORD = "correct horse battery staple"

# Browser tests (test_e2e*.py): Debian's chromium driven by Playwright, screenshots kept as artifacts.
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# Marks the tests that drive chromium (`-m "not chromium"` leaves them out by choice). A missing
# chromium fails them, never skips them: `make test` installs it (tests/system-packages.sh).
needs_chromium = pytest.mark.chromium


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM calls
    # (fixtures, flush) are still synchronous, so Django's async-safety check would refuse them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (make test does)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class People:
    admin: Any
    editor: Any
    viewer: Any
    stranger: Any


@pytest.fixture
def console_upstream(live_url: str) -> Iterator[str]:
    """The console calls this server's /v1 over HTTP: here, the in-process live server."""
    old = settings.CONSOLE_SELF_URL
    settings.CONSOLE_SELF_URL = f"{live_url}/v1"
    yield settings.CONSOLE_SELF_URL
    settings.CONSOLE_SELF_URL = old


@pytest.fixture
def people(owner: Any, console_upstream: str) -> People:
    from django.contrib.auth import get_user_model

    from console.web.models import Membership

    users = get_user_model().objects
    admin = users.create_user("alice-admin", password=PASSWORD)
    editor = users.create_user("eddie-editor", password=PASSWORD)
    viewer = users.create_user("vera-viewer", password=PASSWORD)
    stranger = users.create_user("sam-stranger", password=PASSWORD)
    Membership.objects.create(user=admin, project=owner.project, role="admin")
    Membership.objects.create(user=editor, project=owner.project, role="editor")
    Membership.objects.create(user=viewer, project=owner.project, role="viewer")
    return People(admin=admin, editor=editor, viewer=viewer, stranger=stranger)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def htmx(client: Client, method: str, url: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
    headers = {"HX-Request": "true", **extra.pop("headers", {})}
    return getattr(client, method)(url, data or {}, headers=headers, **extra)


@pytest.fixture
def owner_api(api: httpx.Client) -> httpx.Client:
    return api
