"""Login, roles and the audit log: permissions are enforced by views, whatever the page shows."""

from __future__ import annotations

import pytest
from django.test import Client

from console.web.models import AuditLog
from tests.web.conftest import PASSWORD, client_for, htmx


def test_it_logs_in_and_out(people, owner):
    client = Client()
    assert client.get(f"/p/{owner.project.pk}/assistants").status_code == 302
    response = client.post("/login", {"username": "vera-viewer", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/", follow=True).status_code == 200
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_it_rejects_a_bad_password(people):
    response = Client().post("/login", {"username": "vera-viewer", "password": "wrong"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_it_hides_projects_from_non_members(people, owner, outsider):
    client = client_for(people.stranger)
    assert client.get(f"/p/{owner.project.pk}/").status_code == 404
    assert client.get(f"/p/{owner.project.pk}/assistants").status_code == 404
    assert b"not a member" in client.get("/").content


def test_it_gives_superusers_admin_rights_everywhere(owner, outsider, console_upstream):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", "", PASSWORD)
    client = client_for(root)
    for project in (owner.project, outsider.project):
        assert client.get(f"/p/{project.pk}/members").status_code == 200


@pytest.mark.parametrize("path", ["members", "upstream", "audit"])
def test_it_keeps_admin_pages_from_editors_and_viewers(people, owner, path):
    for user in (people.viewer, people.editor):
        assert client_for(user).get(f"/p/{owner.project.pk}/{path}").status_code == 403
    assert client_for(people.admin).get(f"/p/{owner.project.pk}/{path}").status_code == 200


def test_it_lets_only_admins_manage_members(people, owner):
    url = f"/p/{owner.project.pk}/members"
    assert (
        client_for(people.editor).post(url, {"username": "sam-stranger", "role": "admin"}).status_code == 403
    )
    response = htmx(client_for(people.admin), "post", url, {"email": "sam-stranger", "role": "viewer"})
    assert response.status_code == 200
    assert b"<html" not in response.content and b"sam-stranger" in response.content
    assert client_for(people.stranger).get(f"/p/{owner.project.pk}/").status_code == 200
    entry = AuditLog.objects.get(action="member.add")
    assert entry.username == "alice-admin" and entry.detail == {
        "username": "sam-stranger",
        "role": "viewer",
        "invited": False,
    }


def test_it_reports_an_unknown_user(people, owner):
    response = htmx(
        client_for(people.admin),
        "post",
        f"/p/{owner.project.pk}/members",
        {"email": "nobody", "role": "viewer"},
    )
    assert response.status_code == 422
    assert "Enter the person&#x27;s e-mail address." in response.content.decode()


def test_it_shows_the_audit_log_to_admins(people, owner):
    AuditLog.objects.create(
        project=owner.project,
        username="eddie-editor",
        action="assistant.update",
        object_type="assistant",
        object_id="asst_x",
    )
    response = client_for(people.admin).get(f"/p/{owner.project.pk}/audit")
    assert response.status_code == 200
    assert b"assistant.update" in response.content and b"eddie-editor" in response.content


def test_it_sets_csrf_for_htmx_on_body(people, owner):
    body = client_for(people.viewer).get(f"/p/{owner.project.pk}/threads").content.decode()
    assert '<body hx-headers=\'{"X-CSRFToken": "' in body
    assert "/static/vendor/htmx-2.0.11.min.js" in body
