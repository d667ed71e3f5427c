"""Hybrid search over vector stores: full-text always, vectors when there are embeddings.

Each query runs a full-text ranking (FTS5 bm25, or PostgreSQL ts_rank) and, when the stores
hold embeddings of the configured embedder's size, a vector ranking (cosine). The rankings are
fused with reciprocal rank fusion. A hit's score is its fused score divided by the best score
possible (first in every ranking that found anything), so it lies in (0, 1]: 1.0 means "ranked
first everywhere", and score_threshold cuts on that scale.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from console.retrieval import schema
from console.retrieval.embeddings import Embedder, EmbeddingError, get_embedder
from console.retrieval.filters import compile_filter
from console.retrieval.index import vector_literal
from console.retrieval.models import Chunk

log = logging.getLogger(__name__)

RANKERS = frozenset({"auto", "default_2024_08_21", "default-2024-08-21", "default-2024-11-15", "none"})
RRF_K = 60
MAX_RESULTS = 50
MAX_TERMS = 24

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves""".split()
)
_WORD = re.compile(r"\w+")


@dataclass
class Hit:
    file_id: str
    filename: str
    score: float
    text: str
    attributes: dict[str, Any]
    chunk_id: int


class _Default:
    pass


_DEFAULT_EMBEDDER: Any = _Default()


def search(
    vector_store_ids: list[str],
    query: str | list[str],
    *,
    max_num_results: int = 10,
    score_threshold: float = 0.0,
    filters: dict[str, Any] | None = None,
    ranker: str = "auto",
    embedder: Embedder | None | _Default = _DEFAULT_EMBEDDER,
) -> list[Hit]:
    """The best chunks for the query (or queries) across the stores, best first.

    `embedder` defaults to get_embedder(); pass None to search full-text only.
    Raises ValueError (FilterError for filters) for arguments out of range.
    """
    if not 1 <= max_num_results <= MAX_RESULTS:
        raise ValueError(f"max_num_results must be between 1 and {MAX_RESULTS}")
    if not 0.0 <= score_threshold <= 1.0:
        raise ValueError("score_threshold must be between 0 and 1")
    if ranker not in RANKERS:
        raise ValueError(f"Unknown ranker '{ranker}'.")
    queries = [query] if isinstance(query, str) else list(query)
    queries = [q for q in queries if isinstance(q, str) and q.strip()]
    store_ids = list(dict.fromkeys(vector_store_ids))
    if not queries or not store_ids:
        return []

    connection = connections[DEFAULT_DB_ALIAS]
    where, params = compile_filter(filters, connection.vendor)
    # Each ranking looks deeper than the page, so fusion can promote what both agree on.
    depth = max(2 * max_num_results, 20)

    rankings: list[list[int]] = []
    for text in queries:
        rankings.append(_text_ranking(connection, store_ids, text, depth, where, params))
    chosen = get_embedder() if isinstance(embedder, _Default) else embedder
    if chosen is not None:
        rankings.extend(_vector_rankings(connection, chosen, store_ids, queries, depth, where, params))

    rankings = [ranking for ranking in rankings if ranking]
    if not rankings:
        return []
    fused: dict[int, float] = defaultdict(float)
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking, start=1):
            fused[chunk_id] += 1.0 / (RRF_K + rank)
    best = len(rankings) / (RRF_K + 1)
    # Rounded before the threshold, so a score read from a result can be used as a threshold.
    scored = sorted(
        ((round(score / best, 6), chunk_id) for chunk_id, score in fused.items()), key=lambda x: (-x[0], x[1])
    )
    scored = [(score, chunk_id) for score, chunk_id in scored if score >= score_threshold][:max_num_results]
    return _hits(scored, store_ids)


def query_terms(text: str) -> list[str]:
    """Distinct lower-case words of the query, stopwords dropped unless nothing else is left."""
    words = list(dict.fromkeys(word.lower() for word in _WORD.findall(text)))
    kept = [word for word in words if word not in STOPWORDS]
    return (kept or words)[:MAX_TERMS]


def _hits(scored: list[tuple[float, int]], store_ids: list[str]) -> list[Hit]:
    rows = {
        row.pk: row
        for row in Chunk.objects.filter(
            pk__in=[chunk_id for _, chunk_id in scored], vector_store_id__in=store_ids
        )
    }
    return [
        Hit(
            file_id=row.file_id,
            filename=row.filename,
            score=score,
            text=row.text,
            attributes=row.attributes,
            chunk_id=row.pk,
        )
        for score, chunk_id in scored
        if (row := rows.get(chunk_id)) is not None
    ]


# --- full text ------------------------------------------------------------------------------


def _text_ranking(
    connection: Any, store_ids: list[str], text: str, limit: int, where: str, params: list[Any]
) -> list[int]:
    terms = query_terms(text)
    if not terms:
        return []
    if connection.vendor == "sqlite":
        return _sqlite_text(connection, store_ids, terms, limit, where, params)
    return _pg_text(connection, store_ids, terms, limit, where, params)


def _sqlite_text(
    connection: Any, store_ids: list[str], terms: list[str], limit: int, where: str, params: list[Any]
) -> list[int]:
    """Chunks with every term first, then chunks with any term, each phase ranked by bm25.

    Quoted terms are plain strings to FTS5 (no operators). The all-terms phase is selective and
    usually fills the page alone; the any-term phase lets natural questions match.
    """
    marks = ", ".join(["%s"] * len(store_ids))
    # CROSS JOIN pins the join order: FTS5 first, then chunks by rowid. Left to itself, the
    # planner may walk the store's chunks and run the MATCH once per chunk.
    sql = (
        f"SELECT c.id FROM {schema.FTS_TABLE} f CROSS JOIN retrieval_chunk c ON c.id = f.rowid"
        f" WHERE {schema.FTS_TABLE} MATCH %s AND c.vector_store_id IN ({marks}) AND {where}"
        f" ORDER BY bm25({schema.FTS_TABLE}) LIMIT %s"
    )
    quoted = [f'"{term}"' for term in terms]
    phases = [" AND ".join(quoted)]
    if len(terms) > 1:
        phases.append(" OR ".join(quoted))
    ranking: list[int] = []
    with connection.cursor() as cursor:
        for match in phases:
            cursor.execute(sql, [match, *store_ids, *params, limit])
            seen = set(ranking)
            ranking.extend(row[0] for row in cursor.fetchall() if row[0] not in seen)
            if len(ranking) >= limit:
                break
    return ranking[:limit]


def _pg_text(
    connection: Any, store_ids: list[str], terms: list[str], limit: int, where: str, params: list[Any]
) -> list[int]:
    """Chunks with every term first, then chunks with any term.

    Ranking reads each candidate's tsvector, so for very common words it is bounded to
    RETRIEVAL_TEXT_CANDIDATES rows per phase; the all-terms phase keeps precise queries exact.
    ts_rank with normalization 1 (divided by 1 + log of the length) keeps long index pages from
    outranking the pages about a subject; measured better and faster than ts_rank_cd
    (docs/benchmarks.md, "Retrieval and ingestion").
    """
    cap = settings.RETRIEVAL_TEXT_CANDIDATES
    config = schema.PG_TEXT_CONFIG
    sql = (
        "SELECT s.id FROM (SELECT c.id, c.search_vector FROM retrieval_chunk c"
        f" WHERE c.search_vector @@ websearch_to_tsquery('{config}', %s)"
        f" AND c.vector_store_id = ANY(%s) AND {where} LIMIT %s) s"
        f" ORDER BY ts_rank(s.search_vector, websearch_to_tsquery('{config}', %s), 1) DESC, s.id LIMIT %s"
    )
    phases = [" ".join(terms)]
    if len(terms) > 1:
        phases.append(" or ".join(terms))
    ranking: list[int] = []
    with connection.cursor() as cursor:
        for phrase in phases:
            cursor.execute(sql, [phrase, store_ids, *params, cap, phrase, limit])
            seen = set(ranking)
            ranking.extend(row[0] for row in cursor.fetchall() if row[0] not in seen)
            if len(ranking) >= limit:
                break
    return ranking[:limit]


# --- vectors --------------------------------------------------------------------------------


def _vector_rankings(
    connection: Any,
    embedder: Embedder,
    store_ids: list[str],
    queries: list[str],
    limit: int,
    where: str,
    params: list[Any],
) -> list[list[int]]:
    tables = schema.vector_tables(connection)
    if embedder.dimensions:
        tables = {dims: table for dims, table in tables.items() if dims == embedder.dimensions}
    if not any(_has_vectors(connection, table, store_ids) for table in tables.values()):
        return []  # no embeddings in these stores: do not pay for embedding the query
    try:
        vectors = embedder.embed(queries)
    except EmbeddingError as exc:
        log.warning("query embedding failed, searching full-text only: %s", exc)
        return []
    rankings = []
    for vector in vectors:
        table = tables.get(len(vector))
        if table is None:
            continue
        if connection.vendor == "sqlite":
            rankings.append(_sqlite_vectors(connection, table, store_ids, vector, limit, where, params))
        else:
            rankings.append(_pg_vectors(connection, table, store_ids, vector, limit, where, params))
    return rankings


def _has_vectors(connection: Any, table: str, store_ids: list[str]) -> bool:
    if connection.vendor == "sqlite":
        # A vec0 table answers a filter on its partition column by reading every vector
        # (≈ 125 ms at 1M); going through the chunk table's index is ≈ 0.1 ms.
        query = (
            f"SELECT 1 FROM retrieval_chunk c WHERE c.vector_store_id = %s "
            f"AND EXISTS (SELECT 1 FROM {table} v WHERE v.chunk_id = c.id) LIMIT 1"
        )
    else:
        query = f"SELECT 1 FROM {table} WHERE vector_store_id = %s LIMIT 1"
    with connection.cursor() as cursor:
        for store_id in store_ids:
            cursor.execute(query, [store_id])
            if cursor.fetchone():
                return True
    return False


def _sqlite_vectors(
    connection: Any,
    table: str,
    store_ids: list[str],
    vector: list[float],
    limit: int,
    where: str,
    params: list[Any],
) -> list[int]:
    import sqlite_vec

    blob = sqlite_vec.serialize_float32(vector)
    found: list[tuple[float, int]] = []
    with connection.cursor() as cursor:
        if where != "1=1":
            # Filtered: exact distances over the chunks the filter admits, so a selective filter
            # cannot starve a top-k that was taken before filtering.
            marks = ", ".join(["%s"] * len(store_ids))
            cursor.execute(
                f"SELECT vec_distance_cosine(v.embedding, %s) AS d, c.id FROM retrieval_chunk c"
                f" JOIN {table} v ON v.chunk_id = c.id WHERE c.vector_store_id IN ({marks}) AND {where}"
                " ORDER BY d LIMIT %s",
                [blob, *store_ids, *params, limit],
            )
            found.extend(cursor.fetchall())
        else:
            bits = schema.bits_table(table)
            # Every float table of such a size has its twins (schema.ensure_vector_table, migration 0002).
            coarse = not len(vector) % 8
            exact_limit = settings.RETRIEVAL_EXACT_VECTOR_LIMIT
            # One KNN per store: the partition key keeps each scan to that store's vectors.
            for store_id in store_ids:
                if coarse and _store_larger_than(cursor, store_id, exact_limit):
                    found.extend(_sqlite_rescored(cursor, table, bits, store_id, blob, limit))
                    continue
                cursor.execute(
                    f"SELECT distance, chunk_id FROM {table}"
                    " WHERE embedding MATCH %s AND k = %s AND vector_store_id = %s",
                    [blob, limit, store_id],
                )
                found.extend(cursor.fetchall())
    found.sort()
    return [int(chunk_id) for _, chunk_id in found[:limit]]


def _store_larger_than(cursor: Any, store_id: str, size: int) -> bool:
    """Whether the store has more than `size` chunks: at most size + 1 index entries are read."""
    cursor.execute(
        "SELECT count(*) FROM (SELECT 1 FROM retrieval_chunk WHERE vector_store_id = %s LIMIT %s)",
        [store_id, size + 1],
    )
    return bool(cursor.fetchone()[0] > size)


def _sqlite_rescored(
    cursor: Any, table: str, bits: str, store_id: str, blob: bytes, limit: int
) -> list[tuple[float, int]]:
    """Approximate KNN: the nearest bit vectors by hamming distance, rescored by exact cosine.

    Sign bits keep a coarse picture of each vector, enough to bring the true nearest neighbours
    into a few hundred candidates; the float vectors then order those exactly. vec0's top-k
    selection costs O(vectors x k), so the candidates are kept to a couple of hundred.
    """
    candidates = max(settings.RETRIEVAL_RESCORE_CANDIDATES, limit)
    cursor.execute(
        f"SELECT chunk_id FROM {bits}"
        " WHERE embedding MATCH vec_quantize_binary(%s) AND k = %s AND vector_store_id = %s",
        [blob, candidates, store_id],
    )
    ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    marks = ", ".join(["%s"] * len(ids))
    cursor.execute(
        f"SELECT vec_distance_cosine(embedding, %s) AS d, chunk_id FROM {schema.raw_table(table)}"
        f" WHERE chunk_id IN ({marks}) ORDER BY d LIMIT %s",
        [blob, *ids, limit],
    )
    return list(cursor.fetchall())


def _pg_vectors(
    connection: Any,
    table: str,
    store_ids: list[str],
    vector: list[float],
    limit: int,
    where: str,
    params: list[Any],
) -> list[int]:
    kind = schema.pg_vector_type(len(vector))
    literal = vector_literal(vector)
    exact_limit = settings.RETRIEVAL_EXACT_VECTOR_LIMIT
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE vector_store_id = ANY(%s) LIMIT %s) s",
            [store_ids, exact_limit + 1],
        )
        small = cursor.fetchone()[0] <= exact_limit
        if small:
            # A materialised scan of the stores' rows: exact, and cheaper than walking a graph
            # built over every store's vectors.
            sql = (
                f"WITH s AS MATERIALIZED (SELECT e.chunk_id, e.embedding FROM {table} e"
                f" JOIN retrieval_chunk c ON c.id = e.chunk_id WHERE e.vector_store_id = ANY(%s) AND {where})"
                f" SELECT s.chunk_id, s.embedding <=> %s::{kind} AS d FROM s ORDER BY d LIMIT %s"
            )
        else:
            # HNSW; iterative scans (pgvector >= 0.8) keep going until the filters are satisfied.
            cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(max(limit * 2, 40))])
            try:
                with transaction.atomic():
                    cursor.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
            except DatabaseError:
                # pgvector < 0.8 has no iterative scans: a filtered search may return fewer than `limit`.
                log.debug("hnsw.iterative_scan unavailable; filtered vector search may return fewer results")
            sql = (
                f"SELECT e.chunk_id, e.embedding <=> %s::{kind} AS d FROM {table} e"
                f" JOIN retrieval_chunk c ON c.id = e.chunk_id WHERE e.vector_store_id = ANY(%s) AND {where}"
                f" ORDER BY e.embedding <=> %s::{kind} LIMIT %s"
            )
        if small:
            cursor.execute(sql, [store_ids, *params, literal, limit])
        else:
            cursor.execute(sql, [literal, store_ids, *params, literal, limit])
        rows = cursor.fetchall()
    rows.sort(key=lambda row: (row[1], row[0]))
    return [int(chunk_id) for chunk_id, _ in rows]
