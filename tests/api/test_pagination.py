"""Cursor pagination, exercised on GET /v1/assistants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.assistants.models import Assistant
from console.core.ids import new_id


@pytest.fixture
def ids(api) -> list[str]:
    """25 assistants, oldest first."""
    created = []
    for i in range(25):
        r = api.post("assistants", json={"model": "m", "name": f"a{i:02d}"})
        assert r.status_code == 200, r.text
        created.append(r.json()["id"])
    return created


def _ids(body: dict) -> list[str]:
    return [item["id"] for item in body["data"]]


def test_it_defaults_to_20_newest_first(api, ids):
    r = api.get("assistants")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    assert _ids(body) == ids[::-1][:20]
    assert body["has_more"] is True
    assert body["first_id"] == ids[24] and body["last_id"] == ids[5]


def test_it_accepts_limits_between_1_and_100(api, ids):
    one = api.get("assistants", params={"limit": 1}).json()
    assert _ids(one) == [ids[24]] and one["has_more"] is True
    assert one["first_id"] == one["last_id"] == ids[24]

    hundred = api.get("assistants", params={"limit": 100}).json()
    assert _ids(hundred) == ids[::-1] and hundred["has_more"] is False

    exact = api.get("assistants", params={"limit": 25}).json()
    assert len(exact["data"]) == 25 and exact["has_more"] is False

    almost = api.get("assistants", params={"limit": 24}).json()
    assert len(almost["data"]) == 24 and almost["has_more"] is True

    blank = api.get("assistants", params={"limit": ""}).json()
    assert len(blank["data"]) == 20


@pytest.mark.parametrize(
    ("limit", "fragment", "code"),
    [
        (
            "0",
            "integer below minimum value. Expected a value >= 1, but got 0 instead.",
            "integer_below_min_value",
        ),
        ("-3", "integer below minimum value", "integer_below_min_value"),
        (
            "101",
            "integer above maximum value. Expected a value <= 100, but got 101 instead.",
            "integer_above_max_value",
        ),
        ("abc", "Invalid type for 'limit': expected an integer, but got a string instead.", "invalid_type"),
        ("2.5", "expected an integer", "invalid_type"),
    ],
)
def test_it_rejects_limits_out_of_bounds(api, limit, fragment, code):
    r = api.get("assistants", params={"limit": limit})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "limit" and error["code"] == code
    assert fragment in error["message"]


def test_it_orders_both_ways(api, ids):
    asc = api.get("assistants", params={"order": "asc", "limit": 100}).json()
    assert _ids(asc) == ids
    desc = api.get("assistants", params={"order": "desc", "limit": 100}).json()
    assert _ids(desc) == ids[::-1]
    r = api.get("assistants", params={"order": "newest"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "order"
    assert r.json()["error"]["message"] == "Invalid value: 'newest'. Supported values are: 'asc' and 'desc'."


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_it_walks_forward_with_after_and_back_with_before(api, ids, order):
    expected = ids if order == "asc" else ids[::-1]

    pages, after = [], None
    while True:
        params = {"limit": 7, "order": order}
        if after:
            params["after"] = after
        body = api.get("assistants", params=params).json()
        pages.append(body)
        assert body["first_id"] == body["data"][0]["id"] and body["last_id"] == body["data"][-1]["id"]
        if not body["has_more"]:
            break
        after = body["last_id"]
    assert [len(p["data"]) for p in pages] == [7, 7, 7, 4]
    assert [i for p in pages for i in _ids(p)] == expected

    # And back again from the last page, using before.
    walked_back, before = [], pages[-1]["first_id"]
    while True:
        body = api.get("assistants", params={"limit": 7, "order": order, "before": before}).json()
        walked_back.insert(0, _ids(body))
        assert body["first_id"] == body["data"][0]["id"] and body["last_id"] == body["data"][-1]["id"]
        if not body["has_more"]:
            break
        before = body["first_id"]
    assert [i for page in walked_back for i in page] == expected[:21]
    assert walked_back == [_ids(p) for p in pages[:3]]


def test_it_combines_after_and_before(api, ids):
    body = api.get("assistants", params={"order": "asc", "after": ids[3], "before": ids[9]}).json()
    assert _ids(body) == ids[4:9]
    assert body["has_more"] is False
    limited = api.get(
        "assistants", params={"order": "asc", "after": ids[3], "before": ids[9], "limit": 2}
    ).json()
    assert _ids(limited) == ids[4:6] and limited["has_more"] is True


def test_it_returns_an_empty_page_past_the_end(api, ids):
    body = api.get("assistants", params={"after": ids[0]}).json()
    assert body == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
    body = api.get("assistants", params={"before": ids[24]}).json()
    assert body["data"] == [] and body["has_more"] is False


def test_it_lists_nothing(api):
    r = api.get("assistants")
    assert r.status_code == 200
    assert r.json() == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


@pytest.mark.parametrize("cursor", ["after", "before"])
def test_it_rejects_an_unknown_cursor(api, ids, cursor):
    r = api.get("assistants", params={cursor: "asst_doesnotexist"})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == cursor
    assert "asst_doesnotexist" in error["message"]


def test_it_rejects_a_cursor_from_another_project(api, outsider_api):
    foreign = outsider_api.post("assistants", json={"model": "m"}).json()["id"]
    api.post("assistants", json={"model": "m"})
    r = api.get("assistants", params={"after": foreign})
    assert r.status_code == 400 and r.json()["error"]["param"] == "after"


def test_it_keeps_objects_of_the_same_second_in_creation_order(api):
    created = [api.post("assistants", json={"model": "m"}).json() for _ in range(8)]
    ids = [a["id"] for a in created]
    # created_at has whole seconds on the wire, so these mostly share one; the order must still be exact.
    assert _ids(api.get("assistants", params={"order": "asc"}).json()) == ids
    assert _ids(api.get("assistants").json()) == ids[::-1]
    page = api.get("assistants", params={"order": "asc", "limit": 3, "after": ids[2]}).json()
    assert _ids(page) == ids[3:6]


def test_it_breaks_exact_timestamp_ties_by_id_across_pages(api, owner):
    moment = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    generated = [new_id("asst_") for _ in range(9)]
    for asst_id in generated:
        Assistant.objects.create(id=asst_id, project=owner.project, model="m", created_at=moment)
    # Ties fall back to the id, in the database's own collation.
    ids = list(Assistant.objects.order_by("id").values_list("id", flat=True))
    assert sorted(ids) == sorted(generated)

    asc = api.get("assistants", params={"order": "asc", "limit": 100}).json()
    assert _ids(asc) == ids
    desc = api.get("assistants", params={"limit": 100}).json()
    assert _ids(desc) == ids[::-1]

    walked, after = [], None
    while True:
        params = {"order": "asc", "limit": 4, **({"after": after} if after else {})}
        body = api.get("assistants", params=params).json()
        walked += _ids(body)
        if not body["has_more"]:
            break
        after = body["last_id"]
    assert walked == ids

    back = api.get("assistants", params={"order": "asc", "limit": 4, "before": ids[6]}).json()
    assert _ids(back) == ids[2:6] and back["has_more"] is True
    assert all(item["created_at"] == int(moment.timestamp()) for item in asc["data"])
