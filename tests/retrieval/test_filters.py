from __future__ import annotations

import pytest

from console.retrieval.filters import FilterError, compile_filter
from console.retrieval.search import search
from tests.retrieval.helpers import add

pytestmark = pytest.mark.django_db

DOCS = {
    "file-a": {"author": "ann", "year": 2021, "score": 4.5, "public": True},
    "file-b": {"author": "bob", "year": 2023, "score": 3, "public": False},
    "file-c": {"author": "cy", "year": "2023", "public": "true"},
    "file-d": {},
}


@pytest.fixture
def store() -> str:
    for file_id, attributes in DOCS.items():
        add("vs_f", file_id, [f"quarterly report {file_id}"], attributes)
    return "vs_f"


def _files(store: str, filters: dict) -> set[str]:
    return {hit.file_id for hit in search([store], "quarterly report", filters=filters, embedder=None)}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"type": "eq", "key": "author", "value": "ann"}, {"file-a"}),
        ({"type": "ne", "key": "author", "value": "ann"}, {"file-b", "file-c", "file-d"}),
        # Typed: the number 2023 is not the string "2023".
        ({"type": "eq", "key": "year", "value": 2023}, {"file-b"}),
        ({"type": "eq", "key": "year", "value": "2023"}, {"file-c"}),
        ({"type": "eq", "key": "year", "value": 2023.0}, {"file-b"}),
        ({"type": "gt", "key": "year", "value": 2021}, {"file-b"}),
        ({"type": "gte", "key": "year", "value": 2021}, {"file-a", "file-b"}),
        ({"type": "lt", "key": "score", "value": 4}, {"file-b"}),
        ({"type": "lte", "key": "score", "value": 4.5}, {"file-a", "file-b"}),
        ({"type": "gt", "key": "author", "value": "b"}, {"file-b", "file-c"}),
        ({"type": "eq", "key": "public", "value": True}, {"file-a"}),
        ({"type": "eq", "key": "public", "value": False}, {"file-b"}),
        ({"type": "ne", "key": "public", "value": True}, {"file-b", "file-c", "file-d"}),
        ({"type": "gt", "key": "public", "value": False}, set()),
        ({"type": "in", "key": "author", "value": ["ann", "cy"]}, {"file-a", "file-c"}),
        ({"type": "nin", "key": "author", "value": ["ann", "cy"]}, {"file-b", "file-d"}),
        ({"type": "eq", "key": "missing", "value": "x"}, set()),
        (
            {
                "type": "and",
                "filters": [
                    {"type": "gte", "key": "year", "value": 2020},
                    {"type": "ne", "key": "author", "value": "bob"},
                ],
            },
            {"file-a"},
        ),
        (
            {
                "type": "or",
                "filters": [
                    {"type": "eq", "key": "author", "value": "cy"},
                    {
                        "type": "and",
                        "filters": [
                            {"type": "lt", "key": "score", "value": 5},
                            {"type": "eq", "key": "public", "value": False},
                        ],
                    },
                ],
            },
            {"file-b", "file-c"},
        ),
    ],
)
def test_it_filters_by_attributes(store: str, filters: dict, expected: set[str]) -> None:
    assert _files(store, filters) == expected


def test_it_handles_awkward_keys_and_values(store: str) -> None:
    add("vs_f", "file-e", ["quarterly report e"], {"a.b c'$[0]": "it's 100%"})
    assert _files(store, {"type": "eq", "key": "a.b c'$[0]", "value": "it's 100%"}) == {"file-e"}


@pytest.mark.parametrize(
    "filters",
    [
        {"type": "xor", "filters": []},
        {"type": "and", "filters": []},
        {"type": "eq", "key": "", "value": 1},
        {"type": "eq", "key": "a"},
        {"type": "eq", "key": "a", "value": None},
        {"type": "in", "key": "a", "value": "notalist"},
        {"type": "eq", "key": 'a"b', "value": 1},
        [],
    ],
)
def test_it_rejects_malformed_filters(filters) -> None:
    with pytest.raises(FilterError):
        compile_filter(filters, "sqlite")
