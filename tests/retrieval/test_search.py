from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection

from console.retrieval import schema
from console.retrieval.embeddings import EmbeddingError
from console.retrieval.search import query_terms, search
from tests.retrieval.helpers import HashEmbedder, add

pytestmark = pytest.mark.django_db


def _texts(hits) -> list[str]:
    return [hit.text for hit in hits]


def test_it_answers_natural_questions() -> None:
    add("vs_1", "file-1", ["To reset your password, open Settings and choose Security."])
    add("vs_1", "file-2", ["Our office is closed on public holidays."])
    hits = search(["vs_1"], "How can I reset my password?", embedder=None)
    assert _texts(hits) == ["To reset your password, open Settings and choose Security."]
    hit = hits[0]
    assert (hit.file_id, hit.filename, hit.attributes) == ("file-1", "file-1.txt", {})
    assert hit.score == 1.0 and hit.chunk_id > 0


def test_it_matches_word_forms() -> None:
    add("vs_1", "file-1", ["The workers were running the migrations."])
    assert len(search(["vs_1"], "run migration", embedder=None)) == 1


def test_it_ranks_chunks_with_more_terms_first() -> None:
    add("vs_1", "file-1", ["invoice", "invoice payment overdue reminder", "payment"])
    hits = search(["vs_1"], "overdue invoice payment", embedder=None)
    assert _texts(hits)[0] == "invoice payment overdue reminder"
    assert len(hits) == 3
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < score <= 1 for score in scores)


def test_it_searches_only_the_given_stores() -> None:
    add("vs_1", "file-1", ["penguins live in the south"])
    add("vs_2", "file-2", ["penguins cannot fly"])
    add("vs_3", "file-3", ["penguins swim"])
    assert {h.file_id for h in search(["vs_1", "vs_2"], "penguins", embedder=None)} == {"file-1", "file-2"}
    assert search(["vs_none"], "penguins", embedder=None) == []
    assert search([], "penguins", embedder=None) == []


def test_it_limits_results() -> None:
    add("vs_1", "file-1", [f"note {i} about kiwis" for i in range(60)])
    assert len(search(["vs_1"], "kiwis", embedder=None)) == 10
    assert len(search(["vs_1"], "kiwis", max_num_results=3, embedder=None)) == 3
    assert len(search(["vs_1"], "kiwis", max_num_results=50, embedder=None)) == 50


def test_it_applies_the_score_threshold() -> None:
    add("vs_1", "file-1", [f"note {i} about kiwis" for i in range(30)])
    everything = search(["vs_1"], "kiwis", max_num_results=50, embedder=None)
    assert len(everything) == 30
    cut = everything[9].score
    kept = search(["vs_1"], "kiwis", max_num_results=50, score_threshold=cut, embedder=None)
    assert len(kept) == 10 and all(hit.score >= cut for hit in kept)
    assert search(["vs_1"], "kiwis", score_threshold=1.0, embedder=None)[0].score == 1.0


def test_it_validates_arguments() -> None:
    for kwargs in (
        {"max_num_results": 0},
        {"max_num_results": 51},
        {"score_threshold": 1.5},
        {"ranker": "best"},
    ):
        with pytest.raises(ValueError):
            search(["vs_1"], "x", embedder=None, **kwargs)
    for ranker in ("auto", "default_2024_08_21", "default-2024-11-15", "none"):
        assert search(["vs_1"], "x", ranker=ranker, embedder=None) == []


def test_it_ignores_query_syntax() -> None:
    add("vs_1", "file-1", ['he said "quote" AND (NEAR) - * ^ {x}: done'])
    for query in ['"quote', "AND OR NOT", "(NEAR", "x:", "-done*", "'; DROP TABLE retrieval_chunk; --"]:
        search(["vs_1"], query, embedder=None)  # no syntax errors
    assert len(search(["vs_1"], '"quote" AND', embedder=None)) == 1


def test_it_keeps_stopwords_when_the_query_has_nothing_else() -> None:
    assert query_terms("What is the best way to do it?") == ["best", "way"]
    assert query_terms("to be or not to be") == ["to", "be", "or", "not"]
    add("vs_1", "file-1", ["to be or not to be"])
    # PostgreSQL's 'english' configuration leaves stopwords out of the index itself.
    assert len(search(["vs_1"], "to be", embedder=None)) == (1 if connection.vendor == "sqlite" else 0)


def test_it_fuses_several_queries() -> None:
    add("vs_1", "file-1", ["apples are red"])
    add("vs_1", "file-2", ["bananas are yellow"])
    hits = search(["vs_1"], ["apples", "bananas"], embedder=None)
    assert {h.file_id for h in hits} == {"file-1", "file-2"}
    assert [h.score for h in hits] == [0.5, 0.5]


def test_it_finds_by_meaning_with_embeddings() -> None:
    embedder = HashEmbedder()
    add("vs_1", "file-1", ["cats sleep most of the day"], embedder=embedder)
    add("vs_1", "file-2", ["the stock market rose"], embedder=embedder)
    # No shared word with the text, but the same meaning to the embedder.
    hits = search(["vs_1"], "feline", embedder=embedder)
    assert _texts(hits)[0] == "cats sleep most of the day"
    assert search(["vs_1"], "feline", embedder=None) == []


@pytest.mark.parametrize("exact_limit", [10_000, 0])
def test_it_ranks_what_both_rankings_agree_on_first(settings, exact_limit: int) -> None:
    settings.RETRIEVAL_EXACT_VECTOR_LIMIT = exact_limit
    embedder = HashEmbedder()
    add(
        "vs_1",
        "file-1",
        ["kitten photos", "feline health guide", "health insurance plans"],
        embedder=embedder,
    )
    hits = search(["vs_1"], "cat health", embedder=embedder, max_num_results=3)
    assert _texts(hits)[0] == "feline health guide"
    assert hits[0].score > hits[1].score
    assert all(0 < hit.score <= 1 for hit in hits)


def test_it_does_not_embed_queries_for_stores_without_embeddings() -> None:
    embedder = HashEmbedder()
    add("vs_1", "file-1", ["plain text only"])
    assert len(search(["vs_1"], "plain", embedder=embedder)) == 1
    assert embedder.calls == 0


def test_it_falls_back_to_full_text_when_embedding_fails() -> None:

    class Broken(HashEmbedder):
        def embed(self, texts: list[str]) -> list[list[float]]:
            if texts == ["dogs"]:
                raise EmbeddingError("down")
            return super().embed(texts)

    embedder = Broken()
    add("vs_1", "file-1", ["dogs bark"], embedder=embedder)
    assert _texts(search(["vs_1"], "dogs", embedder=embedder)) == ["dogs bark"]


@pytest.mark.parametrize("exact_limit", [10_000, 0])
def test_it_searches_embeddings_with_filters(settings, exact_limit: int) -> None:
    # On PostgreSQL, a limit of 0 sends every store through the HNSW index.
    settings.RETRIEVAL_EXACT_VECTOR_LIMIT = exact_limit
    embedder = HashEmbedder()
    add("vs_1", "file-1", ["kittens play"], {"kind": "pets"}, embedder=embedder)
    add("vs_1", "file-2", ["cats hunt mice"], {"kind": "wild"}, embedder=embedder)
    hits = search(
        ["vs_1"], "feline", filters={"type": "eq", "key": "kind", "value": "wild"}, embedder=embedder
    )
    assert [h.file_id for h in hits] == ["file-2"]


def test_it_uses_the_configured_embedder_by_default(settings) -> None:
    settings.EMBEDDINGS_BASE_URL = ""
    settings.EMBEDDINGS_MODEL = ""
    settings.EMBEDDINGS_LOCAL = False
    add("vs_1", "file-1", ["configured by environment"])
    assert len(search(["vs_1"], "environment")) == 1


def _sqlite_bits_or_skip() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the bit-vector scan is SQLite's index; PostgreSQL uses HNSW")


class RandomEmbedder(HashEmbedder):
    """A distinct pseudo-random unit vector per text: no ties between distances."""

    def _one(self, text: str) -> list[float]:
        import hashlib
        import random

        rng = random.Random(hashlib.sha256(text.encode()).digest())
        vector = [rng.gauss(0.0, 1.0) for _ in range(self.dimensions)]
        norm = sum(x * x for x in vector) ** 0.5
        return [x / norm for x in vector]


@pytest.mark.parametrize("candidates", [200, 30])
def test_it_rescores_bit_vector_candidates_with_exact_distances(settings, candidates: int) -> None:
    # Queries of words no chunk holds: the results are the vector ranking alone.
    _sqlite_bits_or_skip()
    embedder = RandomEmbedder(dimensions=64)
    add("vs_big", "file-1", [f"chunk {i}" for i in range(60)], embedder=embedder)
    add("vs_big", "file-2", [f"chunk {i}" for i in range(60, 120)], embedder=embedder)
    add("vs_other", "file-3", [f"chunk {i}" for i in range(30)], embedder=embedder)
    settings.RETRIEVAL_RESCORE_CANDIDATES = candidates
    for query in ["alpha", "bravo", "charlie", "delta"]:
        settings.RETRIEVAL_EXACT_VECTOR_LIMIT = 10_000
        exact = search(["vs_big"], query, embedder=embedder, max_num_results=20)
        settings.RETRIEVAL_EXACT_VECTOR_LIMIT = 0
        coarse = search(["vs_big"], query, embedder=embedder, max_num_results=20)
        assert len(exact) == len(coarse) == 20
        assert all(hit.file_id in ("file-1", "file-2") for hit in coarse)
        if candidates >= 120:  # every vector of the store is a candidate: the same as exact
            assert [h.chunk_id for h in coarse] == [h.chunk_id for h in exact]
        else:  # a quarter of the store as candidates: most of the true top 20, in exact order
            assert len({h.chunk_id for h in coarse} & {h.chunk_id for h in exact}) >= 10
            in_both = [h.chunk_id for h in coarse if h.chunk_id in {e.chunk_id for e in exact}]
            assert in_both == [h.chunk_id for h in exact if h.chunk_id in set(in_both)]


def test_it_keeps_bit_vectors_in_step_with_float_vectors() -> None:
    _sqlite_bits_or_skip()
    embedder = HashEmbedder(dimensions=64)
    add("vs_1", "file-1", ["cats nap", "dogs run"], embedder=embedder)
    table = schema.vector_table(connection, 64)
    bits, raw = schema.bits_table(table), schema.raw_table(table)

    def rows(name: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {name} WHERE chunk_id IN (SELECT chunk_id FROM {table})")
            return cursor.fetchone()[0]

    assert rows(table) == rows(bits) == rows(raw) == 2
    add("vs_1", "file-1", ["cats nap again"], embedder=embedder)
    assert rows(table) == rows(bits) == rows(raw) == 1
    with connection.cursor() as cursor:  # a database from before the twins existed
        cursor.execute(f"DROP TABLE {bits}")
        cursor.execute(f"DROP TABLE {raw}")
    schema.install_vector_bits(None, SimpleNamespace(connection=connection))  # the migration's step
    assert rows(bits) == rows(raw) == 1
    from console.retrieval.index import delete_store

    delete_store("vs_1")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {raw}")
        assert cursor.fetchone()[0] == 0
    assert rows(table) == rows(bits) == 0


def test_it_searches_sizes_that_do_not_pack_into_bytes_exactly(settings) -> None:
    _sqlite_bits_or_skip()
    settings.RETRIEVAL_EXACT_VECTOR_LIMIT = 0
    embedder = HashEmbedder(dimensions=20)
    add("vs_1", "file-1", ["cats sleep most of the day"], embedder=embedder)
    add("vs_1", "file-2", ["the stock market rose"], embedder=embedder)
    assert not schema.table_exists(connection, schema.bits_table(schema.vector_table(connection, 20)))
    assert _texts(search(["vs_1"], "feline", embedder=embedder))[0] == "cats sleep most of the day"
