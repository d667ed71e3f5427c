"""Stored upstream keys survive a SECRET_KEY rotation done with SECRET_KEY_FALLBACKS."""

from __future__ import annotations

from console.web import crypto, upstream
from console.web.models import Upstream


def test_it_reads_keys_made_under_a_former_secret_key(settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "old-secret-" + "x" * 40, []
    token = crypto.encrypt("sk-remote-1234")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "new-secret-" + "y" * 40, ["old-secret-" + "x" * 40]
    assert crypto.decrypt(token) == "sk-remote-1234"
    rotated = crypto.rotate(token)
    assert rotated and rotated != token
    # Once the old secret is dropped, only the re-encrypted token is readable.
    settings.SECRET_KEY_FALLBACKS = []
    assert crypto.decrypt(token) is None
    assert crypto.decrypt(rotated) == "sk-remote-1234"


def test_it_keeps_a_remote_upstream_working_after_rotation(settings, owner):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "before-" + "a" * 40, []
    upstream.set_remote(owner.project, "https://example.invalid/v1", "sk-remote-abcd")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "after-" + "b" * 40, ["before-" + "a" * 40]
    connection = upstream.connection_for(owner.project)
    assert connection.key == "sk-remote-abcd" and connection.base_url == "https://example.invalid/v1"
    # The stored token was re-encrypted under the new key, so dropping the fallback later is safe.
    settings.SECRET_KEY_FALLBACKS = []
    assert crypto.decrypt(Upstream.objects.get(project=owner.project).key_encrypted) == "sk-remote-abcd"
