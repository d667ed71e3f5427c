"""Landing: sign-in opens the project last used (or the only one), with a project switcher in the header."""

from __future__ import annotations

from console.projects.services import get_or_create_project
from console.web.models import Membership
from tests.web.conftest import client_for


def test_it_lands_in_the_last_used_project_and_offers_a_switcher(people, owner):
    second = get_or_create_project("second-project")
    Membership.objects.create(user=people.viewer, project=second, role="viewer")
    client = client_for(people.viewer)
    assert client.get("/").status_code == 200  # two projects, none used yet: the list
    page = client.get(f"/p/{second.pk}/").content.decode()
    assert (
        'class="switcher"' in page
        and "owner-project" in page
        and 'aria-current="page">second-project' in page
    )
    again = client_for(people.viewer)  # a new session, as after signing in again
    response = again.get("/")
    assert response.status_code == 302 and response["Location"] == f"/p/{second.pk}/"
    again.get(f"/p/{owner.project.pk}/")
    assert client_for(people.viewer).get("/")["Location"] == f"/p/{owner.project.pk}/"
    assert client_for(people.viewer).get("/?all=1").status_code == 200


def test_it_sends_someone_with_one_project_straight_there(people, owner):
    response = client_for(people.editor).get("/")
    assert response.status_code == 302 and response["Location"] == f"/p/{owner.project.pk}/"
