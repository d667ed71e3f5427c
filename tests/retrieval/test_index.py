from __future__ import annotations

import pytest
from django.db import connection

from console.retrieval import schema
from console.retrieval.index import delete_file, delete_store, file_text, index_file, update_attributes
from console.retrieval.models import Chunk
from console.retrieval.search import search
from tests.retrieval.helpers import HashEmbedder, add

pytestmark = pytest.mark.django_db


def _vector_rows(store: str) -> int:
    total = 0
    with connection.cursor() as cursor:
        for table in schema.vector_tables(connection).values():
            cursor.execute(f"SELECT count(*) FROM {table} WHERE vector_store_id = %s", [store])
            total += cursor.fetchone()[0]
    return total


def test_it_stores_chunks_in_order() -> None:
    assert add("vs_a", "file-1", ["alpha one", "beta two", "gamma three"], {"lang": "en"}) == 3
    assert file_text("vs_a", "file-1") == ["alpha one", "beta two", "gamma three"]
    rows = list(Chunk.objects.filter(vector_store_id="vs_a").order_by("position"))
    assert [(r.position, r.file_id, r.filename, r.attributes) for r in rows] == [
        (0, "file-1", "file-1.txt", {"lang": "en"}),
        (1, "file-1", "file-1.txt", {"lang": "en"}),
        (2, "file-1", "file-1.txt", {"lang": "en"}),
    ]
    assert [r.tokens for r in rows] == [2, 2, 2]


def test_it_replaces_a_files_chunks_when_indexed_again() -> None:
    add("vs_a", "file-1", ["old words about zebras", "more zebras"])
    assert add("vs_a", "file-1", ["new words about giraffes"]) == 1
    assert file_text("vs_a", "file-1") == ["new words about giraffes"]
    assert search(["vs_a"], "zebras", embedder=None) == []
    assert [h.text for h in search(["vs_a"], "giraffes", embedder=None)] == ["new words about giraffes"]


def test_it_keeps_the_same_file_in_other_stores() -> None:
    add("vs_a", "file-1", ["shared document about otters"])
    add("vs_b", "file-1", ["shared document about otters"])
    delete_file("vs_a", "file-1")
    assert file_text("vs_a", "file-1") == []
    assert file_text("vs_b", "file-1") == ["shared document about otters"]
    assert search(["vs_a"], "otters", embedder=None) == []
    assert len(search(["vs_b"], "otters", embedder=None)) == 1


def test_it_deletes_a_store() -> None:
    add("vs_a", "file-1", ["one about lemurs"])
    add("vs_a", "file-2", ["two about lemurs"])
    add("vs_b", "file-3", ["three about lemurs"])
    delete_store("vs_a")
    assert not Chunk.objects.filter(vector_store_id="vs_a").exists()
    assert [h.file_id for h in search(["vs_a", "vs_b"], "lemurs", embedder=None)] == ["file-3"]


def test_it_updates_attributes() -> None:
    add("vs_a", "file-1", ["a", "b"], {"year": 2023})
    update_attributes("vs_a", "file-1", {"year": 2024, "draft": True})
    assert list(Chunk.objects.values_list("attributes", flat=True)) == [{"year": 2024, "draft": True}] * 2


def test_it_indexes_nothing_for_no_chunks() -> None:
    assert index_file("vs_a", "file-1", "empty.txt", [], {}, None) == 0
    assert file_text("vs_a", "file-1") == []


def test_it_stores_and_deletes_embeddings() -> None:
    embedder = HashEmbedder()
    add("vs_v", "file-1", ["cats nap", "dogs run"], embedder=embedder)
    add("vs_v", "file-2", ["birds sing"], embedder=embedder)
    assert _vector_rows("vs_v") == 3
    add("vs_v", "file-1", ["cats nap again"], embedder=embedder)  # replaced, not added
    assert _vector_rows("vs_v") == 2
    delete_file("vs_v", "file-2")
    assert _vector_rows("vs_v") == 1
    delete_store("vs_v")
    assert _vector_rows("vs_v") == 0


def test_it_refuses_mismatched_embeddings() -> None:
    from console.retrieval.chunking import TextChunk

    chunks = [TextChunk("a", 1), TextChunk("b", 1)]
    with pytest.raises(ValueError):
        index_file("vs_a", "file-1", "f.txt", chunks, {}, [[1.0, 0.0]])
    with pytest.raises(ValueError):
        index_file("vs_a", "file-1", "f.txt", chunks, {}, [[1.0, 0.0], [1.0]])
