"""POST /v1/vector_stores/{id}/search."""

from __future__ import annotations

import pytest

from console.vector_stores.models import VectorStore
from tests.vector_stores.conftest import upload, wait_store

DOCS = {
    "llamas.txt": (
        b"Llamas are domesticated camelids from the Andes, used as pack animals.",
        {"topic": "animals", "year": 2021},
    ),
    "rivers.txt": (
        b"The Amazon river carries more water than any other river on Earth.",
        {"topic": "geography", "year": 2023},
    ),
    "returns.txt": (
        b"Our return policy: items may be returned within 30 days for a refund.",
        {"topic": "policy", "year": 2024},
    ),
}


@pytest.fixture
def corpus(vs_api):
    store = vs_api.post("vector_stores", json={"name": "corpus"}).json()["id"]
    ids = {}
    for name, (content, attributes) in DOCS.items():
        ids[name] = upload(vs_api, name, content)
        vs_api.post(f"vector_stores/{store}/files", json={"file_id": ids[name], "attributes": attributes})
    wait_store(vs_api, store)
    return store, ids


def test_it_finds_the_relevant_chunk(vs_api, corpus):
    store, ids = corpus
    r = vs_api.post(f"vector_stores/{store}/search", json={"query": "What is the return policy?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "vector_store.search_results.page"
    assert body["search_query"] == ["What is the return policy?"]
    assert body["has_more"] is False and body["next_page"] is None
    top = body["data"][0]
    assert top["file_id"] == ids["returns.txt"] and top["filename"] == "returns.txt"
    assert top["attributes"] == {"topic": "policy", "year": 2024}
    assert 0 <= top["score"] <= 1
    assert top["content"][0]["type"] == "text" and "return policy" in top["content"][0]["text"]


def test_it_accepts_several_queries(vs_api, corpus):
    store, ids = corpus
    r = vs_api.post(
        f"vector_stores/{store}/search", json={"query": ["llamas", "Amazon river"], "rewrite_query": True}
    )
    assert r.status_code == 200, r.text
    assert r.json()["search_query"] == ["llamas", "Amazon river"]
    assert {ids["llamas.txt"], ids["rivers.txt"]} <= {hit["file_id"] for hit in r.json()["data"]}


def test_it_filters_by_attributes(vs_api, corpus):
    store, ids = corpus
    query = "river llamas return policy"
    eq = vs_api.post(
        f"vector_stores/{store}/search",
        json={"query": query, "filters": {"type": "eq", "key": "topic", "value": "animals"}},
    ).json()
    assert {hit["file_id"] for hit in eq["data"]} == {ids["llamas.txt"]}
    compound = vs_api.post(
        f"vector_stores/{store}/search",
        json={
            "query": query,
            "filters": {
                "type": "or",
                "filters": [
                    {"type": "gte", "key": "year", "value": 2024},
                    {"type": "in", "key": "topic", "value": ["geography"]},
                ],
            },
        },
    ).json()
    assert {hit["file_id"] for hit in compound["data"]} == {ids["rivers.txt"], ids["returns.txt"]}


def test_it_limits_the_number_of_results(vs_api, corpus):
    store, _ = corpus
    r = vs_api.post(
        f"vector_stores/{store}/search", json={"query": "river llamas return policy", "max_num_results": 1}
    )
    assert r.status_code == 200 and len(r.json()["data"]) == 1


def test_it_applies_a_score_threshold(vs_api, corpus):
    store, _ = corpus
    r = vs_api.post(
        f"vector_stores/{store}/search",
        json={"query": "llamas", "ranking_options": {"ranker": "none", "score_threshold": 1.0}},
    )
    assert r.status_code == 200
    assert all(hit["score"] >= 1.0 for hit in r.json()["data"])


def test_a_search_counts_as_activity(vs_api, corpus):
    store, _ = corpus
    before = VectorStore.objects.get(pk=store).last_active_at
    vs_api.post(f"vector_stores/{store}/search", json={"query": "llamas"})
    assert VectorStore.objects.get(pk=store).last_active_at > before


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({}, "query", "Missing required parameter: 'query'."),
        ({"query": 5}, "query", "expected one of"),
        ({"query": []}, "query", "array too short"),
        ({"query": "x", "max_num_results": 0}, "max_num_results", ">= 1"),
        ({"query": "x", "max_num_results": 51}, "max_num_results", "<= 50"),
        (
            {"query": "x", "ranking_options": {"ranker": "best"}},
            "ranking_options.ranker",
            "'none', 'auto', and",
        ),
        (
            {"query": "x", "ranking_options": {"score_threshold": 2}},
            "ranking_options.score_threshold",
            "<= 1",
        ),
        (
            {"query": "x", "filters": {"type": "like", "key": "a", "value": "b"}},
            "filters.type",
            "Supported values",
        ),
        (
            {"query": "x", "filters": {"type": "eq", "key": "a"}},
            "filters.value",
            "Missing required parameter",
        ),
        (
            {"query": "x", "filters": {"type": "and", "filters": [{"type": "eq", "key": "a", "value": {}}]}},
            "filters.filters[0].value",
            "expected one of",
        ),
        ({"query": "x", "top_k": 3}, "top_k", "Unrecognized request argument supplied: top_k"),
    ],
)
def test_it_validates_the_search_body(api, body, param, fragment):
    store = api.post("vector_stores").json()["id"]
    r = api.post(f"vector_stores/{store}/search", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param
    assert fragment in r.json()["error"]["message"]


def test_an_empty_store_finds_nothing(api):
    store = api.post("vector_stores").json()["id"]
    r = api.post(f"vector_stores/{store}/search", json={"query": "anything"})
    assert r.status_code == 200 and r.json()["data"] == []
