"""Deleted keys and projects answer 401 at once, in every web process, and a delete raced by API
traffic on its keys succeeds."""

from __future__ import annotations

import threading

import httpx
import pytest

from console.projects.models import ApiKey, Project
from console.projects.services import create_api_key, delete_project
from tests.webproc import web_process

pytestmark = pytest.mark.timeout(180)


def _get(url: str, key: str) -> httpx.Response:
    return httpx.get(f"{url}/v1/assistants", headers={"Authorization": f"Bearer {key}"}, timeout=10)


@pytest.fixture
def other_web(transactional_db, redis_url):  # type: ignore[no-untyped-def]
    with web_process() as web:
        yield web


def test_it_refuses_a_deleted_key_at_once_in_another_process(other_web, owner):
    for _ in range(3):  # the other process now has the key in its cache
        assert _get(other_web.url, owner.key).status_code == 200
    ApiKey.objects.filter(project=owner.project).delete()
    r = _get(other_web.url, owner.key)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "invalid_api_key"


def test_it_refuses_a_revoked_key_at_once_in_another_process(other_web, owner):
    from console.projects.services import revoke_api_key

    assert _get(other_web.url, owner.key).status_code == 200
    revoke_api_key(ApiKey.objects.get(project=owner.project))
    assert _get(other_web.url, owner.key).status_code == 401


def test_it_refuses_a_deleted_projects_keys_at_once_in_another_process(other_web, owner):
    _, second = create_api_key(owner.project)
    assert _get(other_web.url, owner.key).status_code == 200
    assert _get(other_web.url, second).status_code == 200
    delete_project(owner.project)
    assert _get(other_web.url, owner.key).status_code == 401
    assert _get(other_web.url, second).status_code == 401
    assert not Project.objects.filter(pk=owner.project.pk).exists()


def test_it_deletes_a_project_while_its_key_keeps_creating_objects(live_url, owner):
    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(
            base_url=f"{live_url}/v1/", headers={"Authorization": f"Bearer {owner.key}"}, timeout=30
        ) as client:
            while not stop.is_set():
                statuses.append(client.post("threads", json={}).status_code)
                statuses.append(client.post("assistants", json={"model": "gpt-4o"}).status_code)

    workers = [threading.Thread(target=traffic) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        from tests.waiting import wait_until

        wait_until(lambda: statuses.count(200) >= 20, timeout=60, what="traffic on the project")
        delete_project(owner.project)
        seen = len(statuses)
        wait_until(lambda: len(statuses) >= seen + 8, timeout=60, what="traffic after the delete")
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    assert not Project.objects.filter(pk=owner.project.pk).exists()
    # After the delete: 401, then 429 once the deleted key has failed often enough (the brute-force brake).
    assert set(statuses) <= {200, 401, 429}, sorted(set(statuses))
    assert statuses[-1] in (401, 429)
