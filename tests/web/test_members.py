"""Members: people added by name and e-mail get a one-time, expiring link to set their password."""

from __future__ import annotations

import re
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from console.web.models import AuditLog, Invite, Membership
from tests.web.conftest import PASSWORD, client_for, htmx


def _add(people, owner, email: str, role: str = "editor"):  # type: ignore[no-untyped-def]
    response = htmx(
        client_for(people.admin),
        "post",
        f"/p/{owner.project.pk}/members",
        {"action": "add", "name": "Ann Bee", "email": email, "role": role},
    )
    assert response.status_code == 200, response.content
    return re.search(r'value="(http[^"]+/invite/[^"]+)"', response.content.decode()).group(1)


def test_it_invites_a_new_person_who_sets_a_password_once(people, owner):
    link = _add(people, owner, "Ann@Example.com")
    user = get_user_model().objects.get(username="ann@example.com")
    assert not user.has_usable_password() and user.get_full_name() == "Ann Bee"
    assert Membership.objects.get(user=user).role == "editor"
    assert Invite.objects.get(user=user).token_hash not in link  # only the hash is stored
    path = link.split("testserver", 1)[-1]
    first = (
        client_for(people.viewer)
        .__class__()
        .post(path, {"new_password1": PASSWORD + "x", "new_password2": PASSWORD + "x"})
    )
    assert first.status_code == 302 and first["Location"] == f"/p/{owner.project.pk}/"
    again = (
        client_for(people.viewer)
        .__class__()
        .post(path, {"new_password1": PASSWORD + "y", "new_password2": PASSWORD + "y"})
    )
    assert again.status_code == 410
    user.refresh_from_db()
    assert user.check_password(PASSWORD + "x")
    assert AuditLog.objects.filter(action="member.joined", object_id=str(user.pk)).exists()


def test_it_refuses_an_expired_link_and_makes_a_new_one(people, owner):
    link = _add(people, owner, "late@example.com", role="viewer")
    Invite.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    path = link.split("testserver", 1)[-1]
    anonymous = Client()
    assert anonymous.get(path).status_code == 410
    user = get_user_model().objects.get(username="late@example.com")
    page = client_for(people.admin).get(f"/p/{owner.project.pk}/members").content.decode()
    assert "Invite link expired" in page
    response = htmx(
        client_for(people.admin),
        "post",
        f"/p/{owner.project.pk}/members",
        {"action": "reinvite", "user_id": user.pk},
    )
    fresh = re.search(r'value="(http[^"]+/invite/[^"]+)"', response.content.decode()).group(1)
    assert fresh != link and anonymous.get(fresh.split("testserver", 1)[-1]).status_code == 200


def test_it_changes_roles_and_removes_people_in_place(people, owner):
    url = f"/p/{owner.project.pk}/members"
    admin = client_for(people.admin)
    response = htmx(admin, "post", url, {"action": "role", "user_id": people.viewer.pk, "role": "editor"})
    assert response.status_code == 200 and "<html" not in response.content.decode()
    assert Membership.objects.get(user=people.viewer).role == "editor"
    htmx(admin, "post", url, {"action": "remove", "user_id": people.viewer.pk})
    assert not Membership.objects.filter(user=people.viewer).exists()
    assert (
        client_for(people.editor).post(url, {"action": "remove", "user_id": people.admin.pk}).status_code
        == 403
    )
    again = htmx(admin, "post", url, {"action": "add", "name": "", "email": "eddie-editor", "role": "viewer"})
    assert again.status_code == 422 and "already a member" in again.content.decode()
