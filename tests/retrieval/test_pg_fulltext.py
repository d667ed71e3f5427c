"""PostgreSQL full text: search_vector filled from shared pieces, its triggers, its migration."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from console.retrieval.chunking import chunk_text
from console.retrieval.index import index_file
from console.retrieval.models import Chunk
from console.retrieval.search import search

pytestmark = pytest.mark.django_db

WORDS = (
    "the of and configuration internationalization retrieval_chunk tsvector unbelievably running "
    "foo-bar https://example.com/docs/index.html user@example.org 3.14159 v2.0.1 naïve café "
    "straße Überprüfung antidisestablishmentarianism ingestion PostgreSQL's <b>bold</b> "
    "searching indexes indices was were being quickly"
).split()


def _document(words: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    out = []
    for i in range(words):
        out.append(rng.choice(WORDS) if i % 9 else f"marker{i}")
        if i % 40 == 39:
            out.append("\n\n")
    return " ".join(out)


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL full text only")


def _lexeme_counts(where: str, params: list) -> list[tuple]:
    """Per chunk: its stored vector's and a fresh to_tsvector's lexemes, each with its number of positions."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.position,"
            " (SELECT array_agg(lexeme || ':' || cardinality(positions) ORDER BY lexeme) FROM unnest(c.search_vector)),"
            " (SELECT array_agg(lexeme || ':' || cardinality(positions) ORDER BY lexeme)"
            "  FROM unnest(to_tsvector('english', c.text))),"
            " c.search_vector = to_tsvector('english', c.text)"
            f" FROM retrieval_chunk c WHERE {where} ORDER BY c.position",
            params,
        )
        return cursor.fetchall()


@pytest.mark.parametrize(("size", "overlap"), [(800, 400), (200, 70), (60, 30), (100, 0)])
def test_a_files_vectors_have_the_lexemes_of_their_texts(size: int, overlap: int) -> None:
    chunks = chunk_text(_document(6000), max_tokens=size, overlap=overlap)
    if overlap:  # some window edges fall inside a word: those chunks hold that word as a piece
        assert any(len(chunk.pieces) > 2 for chunk in chunks)
    index_file("vs_1", "file-1", "doc.txt", chunks, {}, None)
    rows = _lexeme_counts("c.vector_store_id = %s", ["vs_1"])
    assert len(rows) == len(chunks)
    for _, stored, fresh, _ in rows:
        # The same lexemes, each with as many positions. Positions themselves may differ: `||`
        # continues after the last lexeme of the left piece, to_tsvector after its last word,
        # so a piece that ends in stopwords moves the words after it that many places closer.
        assert stored == fresh
    if not overlap:
        assert all(equal for *_, equal in rows)  # one piece per chunk: identical vectors


def test_full_text_finds_words_from_both_halves_of_a_chunk() -> None:
    chunks = chunk_text(_document(3000), max_tokens=800, overlap=400)
    index_file("vs_1", "file-1", "doc.txt", chunks, {}, None)
    middle = chunks[1]
    assert len(middle.pieces) >= 2
    first = next(w for w in middle.pieces[0].split()[5:] if w.startswith("marker"))
    last = next(w for w in reversed(middle.pieces[-1].split()[:-5]) if w.startswith("marker"))
    hits = search(["vs_1"], f"{first} {last}", embedder=None)
    assert hits[0].text == middle.text
    assert first in hits[0].text and last in hits[0].text
    assert {hit.text for hit in search(["vs_1"], first, embedder=None)} == {chunks[0].text, middle.text}
    assert {hit.text for hit in search(["vs_1"], last, embedder=None)} == {middle.text, chunks[2].text}


def test_chunks_without_pieces_are_parsed_whole() -> None:
    from tests.retrieval.helpers import add

    add("vs_1", "file-1", ["cats were running", "dogs barked loudly at the cats"])
    assert [row[3] for row in _lexeme_counts("c.vector_store_id = %s", ["vs_1"])] == [True, True]
    assert len(search(["vs_1"], "cat", embedder=None)) == 2


def _vector(pk: int) -> tuple[str, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_vector::text, search_vector = to_tsvector('english', text) FROM retrieval_chunk WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def test_the_trigger_fills_the_vector_for_other_writers() -> None:
    fields = {"vector_store_id": "vs_1", "file_id": "file-1", "tokens": 3, "filename": "f.txt"}
    row = Chunk.objects.create(position=0, text="Penguins were swimming", **fields)
    assert _vector(row.pk) == ("'penguin':1 'swim':3", True)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO retrieval_chunk (vector_store_id, file_id, position, text, tokens, attributes, filename)"
            " VALUES ('vs_1', 'file-1', 1, 'Otters are sleeping', 3, '{}', 'f.txt') RETURNING id"
        )
        raw = cursor.fetchone()[0]
    assert _vector(raw) == ("'otter':1 'sleep':3", True)
    assert [h.text for h in search(["vs_1"], "penguin", embedder=None)] == ["Penguins were swimming"]

    # New text without a new vector: recomputed. A vector given with it, or alone: kept.
    Chunk.objects.filter(pk=row.pk).update(text="Walruses were diving")
    assert _vector(row.pk) == ("'dive':3 'walrus':1", True)
    Chunk.objects.filter(pk=row.pk).update(attributes={"a": 1})
    assert _vector(row.pk) == ("'dive':3 'walrus':1", True)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE retrieval_chunk SET text = 'Seals', search_vector = 'seal:1 custom:2' WHERE id = %s",
            [row.pk],
        )
        assert _vector(row.pk) == ("'custom':2 'seal':1", False)
        cursor.execute("UPDATE retrieval_chunk SET search_vector = 'other:1' WHERE id = %s", [row.pk])
        assert _vector(row.pk) == ("'other':1", False)
        cursor.execute("UPDATE retrieval_chunk SET search_vector = NULL WHERE id = %s", [row.pk])
    assert _vector(row.pk) == ("'seal':1", True)


def _column() -> tuple[str, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attgenerated FROM pg_attribute"
            " WHERE attrelid = 'retrieval_chunk'::regclass AND attname = 'search_vector'"
        )
        generated = cursor.fetchone()[0]
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'retrieval_chunk'::regclass AND NOT tgisinternal"
            " ORDER BY tgname"
        )
        triggers = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'retrieval_chunk' AND indexname = 'retrieval_chunk_search'"
        )
        assert "gin (search_vector)" in cursor.fetchone()[0]
    return generated, triggers


def _migrate(target: str) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("retrieval", target)])


def test_the_migration_goes_back_and_forth_keeping_rows() -> None:
    chunks = chunk_text(_document(2000), max_tokens=200, overlap=100)
    index_file("vs_1", "file-1", "doc.txt", chunks, {}, None)
    assert _column() == ("", ["retrieval_chunk_search_insert", "retrieval_chunk_search_update"])

    _migrate("0002_vector_bits")
    assert _column() == ("s", [])  # the stored generated column again, recomputed from the text
    assert all(row[3] for row in _lexeme_counts("c.vector_store_id = %s", ["vs_1"]))
    assert Chunk.objects.filter(vector_store_id="vs_1").count() == len(chunks)

    _migrate("0003_plain_search_vector")
    assert _column() == ("", ["retrieval_chunk_search_insert", "retrieval_chunk_search_update"])
    assert all(row[3] for row in _lexeme_counts("c.vector_store_id = %s", ["vs_1"]))  # kept as they were
    index_file("vs_1", "file-1", "doc.txt", chunks, {}, None)
    assert all(stored == fresh for _, stored, fresh, _ in _lexeme_counts("c.vector_store_id = %s", ["vs_1"]))
    hits = search(["vs_1"], "antidisestablishmentarianism", max_num_results=50, embedder=None)
    assert {hit.text for hit in hits} == {c.text for c in chunks if "antidisestablishmentarianism" in c.text}
