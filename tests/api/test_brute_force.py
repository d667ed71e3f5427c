"""Repeated wrong API keys from one address get 429 with Retry-After, in every web process (the
count is in Redis); other addresses and keys already in use are not slowed."""

from __future__ import annotations

import httpx
import pytest

from tests.waiting import wait_until
from tests.webproc import web_process

pytestmark = pytest.mark.timeout(120)

WRONG = "sk-proj-" + "x" * 48


def _get(url: str, key: str, source: str = "127.0.0.1") -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        return client.get(f"{url}/v1/assistants", headers={"Authorization": f"Bearer {key}"})


def test_it_answers_429_after_too_many_wrong_keys_from_one_address(live_url, owner, settings):
    settings.AUTH_FAILURE_LIMIT = 5
    settings.AUTH_FAILURE_WINDOW = 60
    assert _get(live_url, owner.key).status_code == 200  # a key in use, checked moments ago
    for _ in range(5):
        assert _get(live_url, WRONG).status_code == 401
    r = _get(live_url, WRONG)
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    error = r.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "invalid_request_error"
    assert "incorrect API key" in error["message"]
    # Another address is not slowed at all, nor is the key this process checked moments ago.
    assert _get(live_url, WRONG, source="127.0.0.2").status_code == 401
    assert _get(live_url, owner.key).status_code == 200


def test_it_lets_the_address_in_again_once_the_window_ends(live_url, owner, settings):
    settings.AUTH_FAILURE_LIMIT = 2
    settings.AUTH_FAILURE_WINDOW = 3
    for _ in range(2):
        assert _get(live_url, WRONG).status_code == 401
    assert _get(live_url, WRONG).status_code == 429
    wait_until(lambda: _get(live_url, WRONG).status_code == 401, timeout=15, what="the window to end")


def test_every_web_process_shares_the_count(live_url, owner):
    with web_process(AUTH_FAILURE_LIMIT="4", AUTH_FAILURE_WINDOW="60") as other:
        for _ in range(4):  # failures made against this process...
            assert _get(live_url, WRONG).status_code == 401
        r = _get(other.url, WRONG)  # ...count in the other one
        assert r.status_code == 429, r.text
        # A fresh, valid key from that address waits too: its key is not even looked up.
        assert _get(other.url, owner.key).status_code == 429
        assert _get(other.url, owner.key, source="127.0.0.3").status_code == 200
