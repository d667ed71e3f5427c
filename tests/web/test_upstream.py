"""The upstream: a server-held key for this server, remote servers with encrypted keys, failures as messages."""

from __future__ import annotations

import socket

from django.conf import settings

from console.web import crypto
from console.web.models import Upstream
from tests.web.conftest import client_for, htmx


def test_it_creates_a_server_held_key_on_first_use_and_never_shows_it(people, owner, api):
    client = client_for(people.admin)
    pages = [
        client.get(f"/p/{owner.project.pk}/{p}").content.decode() for p in ("", "assistants", "upstream")
    ]
    row = Upstream.objects.get(project=owner.project)
    raw = crypto.decrypt(row.key_encrypted)
    assert raw and raw.startswith("sk-proj-") and raw not in row.key_encrypted
    assert all(raw not in page for page in pages)
    # The same key is reused rather than one per request.
    client.get(f"/p/{owner.project.pk}/assistants")
    assert Upstream.objects.get(project=owner.project).key_encrypted == row.key_encrypted


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_it_shows_a_clear_message_when_the_api_is_down(people, owner):
    settings.CONSOLE_SELF_URL = f"http://127.0.0.1:{_dead_port()}/v1"
    client = client_for(people.viewer)
    response = client.get(f"/p/{owner.project.pk}/assistants")
    assert response.status_code == 502
    assert "cannot be reached" in response.content.decode()
    partial = htmx(client, "get", f"/p/{owner.project.pk}/threads")
    assert partial.status_code == 502 and "<html" not in partial.content.decode()


def test_it_times_out_a_slow_api(people, owner):
    with socket.socket() as listener:  # accepts connections and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings.CONSOLE_SELF_URL = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        old = settings.CONSOLE_UPSTREAM_TIMEOUT
        settings.CONSOLE_UPSTREAM_TIMEOUT = 0.5
        try:
            response = client_for(people.viewer).get(f"/p/{owner.project.pk}/files")
        finally:
            settings.CONSOLE_UPSTREAM_TIMEOUT = old
    assert response.status_code == 504 and "did not answer in time" in response.content.decode()


def test_it_connects_a_remote_server_with_an_encrypted_key(people, owner, outsider, live_url, api):
    # "Another server" here is this one seen with the outsider project's key.
    api.post("assistants", json={"model": "gpt-4o", "name": "Owner's"})
    admin = client_for(people.admin)
    url = f"/p/{owner.project.pk}/upstream"
    bad = htmx(admin, "post", url, {"base_url": f"{live_url}/v1", "key": "sk-wrong"})
    assert bad.status_code == 422 and "rejected" in bad.content.decode()
    good = htmx(admin, "post", url, {"base_url": f"{live_url}/v1", "key": outsider.key})
    assert good.status_code == 200 and outsider.key not in good.content.decode()
    row = Upstream.objects.get(project=owner.project)
    assert row.base_url == f"{live_url}/v1" and outsider.key not in row.key_encrypted
    assert crypto.decrypt(row.key_encrypted) == outsider.key
    assert "Owner&#x27;s" not in admin.get(f"/p/{owner.project.pk}/assistants").content.decode()
    assert client_for(people.editor).post(url, {"action": "self"}).status_code == 403
    htmx(admin, "post", url, {"action": "self"})
    assert "Owner&#x27;s" in admin.get(f"/p/{owner.project.pk}/assistants").content.decode()
