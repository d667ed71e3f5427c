"""Repeated wrong console passwords from one address lock that address out for a while (429 with
Retry-After), in the console and the Django admin alike; other addresses sign in as usual."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.waiting import wait_until


@pytest.fixture
def staff(transactional_db, redis_url, settings):  # type: ignore[no-untyped-def]
    # A fast hasher: the attempts of a test then fit well within its window, even on a busy machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return User.objects.create_user("alice", password="right-password-123", is_staff=True, is_superuser=True)


def _login(client: Client, password: str, path: str = "/login"):  # type: ignore[no-untyped-def]
    return client.post(path, {"username": "alice", "password": password})


def test_it_locks_an_address_out_after_repeated_wrong_passwords(staff, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_WINDOW = 60
    attacker = Client(REMOTE_ADDR="10.0.0.9")
    for _ in range(3):
        assert _login(attacker, "wrong").status_code == 200  # the form again, with its error
    r = _login(attacker, "right-password-123")  # even the right password waits now
    assert r.status_code == 429
    assert 1 <= int(r["Retry-After"]) <= 60
    assert b"Too many failed sign-ins" in r.content
    assert _login(attacker, "wrong", path="/admin/login/").status_code == 429
    # Someone else signs in as usual.
    r = _login(Client(REMOTE_ADDR="10.0.0.10"), "right-password-123")
    assert r.status_code == 302


def test_a_successful_sign_in_clears_the_count_and_the_lockout_ends(staff, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_FAILURE_WINDOW = 3
    client = Client(REMOTE_ADDR="10.0.0.11")
    assert _login(client, "wrong").status_code == 200
    assert _login(client, "right-password-123").status_code == 302
    client.logout()
    assert _login(client, "wrong").status_code == 200  # the count started again from zero
    assert _login(client, "wrong").status_code == 200
    assert _login(client, "wrong").status_code == 429
    wait_until(lambda: _login(client, "right-password-123").status_code == 302, timeout=15, what="unlocked")
