"""Writes to the search index: a file's chunks (and their embeddings) in a vector store.

The full-text index follows the chunk rows by itself on SQLite (triggers); on PostgreSQL the chunk
rows are written with their tsvector, built from pieces that overlapping windows share (triggers
fill it for any other writer). Vector rows are written and deleted here, in the same transaction
as their chunks. Chunks go in with bulk_create on SQLite and one INSERT per file on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from console.retrieval import schema
from console.retrieval.chunking import TextChunk
from console.retrieval.models import Chunk

BATCH_SIZE = 500


def index_file(
    vector_store_id: str,
    file_id: str,
    filename: str,
    chunks: list[TextChunk],
    attributes: dict[str, Any],
    embeddings: list[list[float]] | None,
) -> int:
    """Replace the chunks of (store, file) with these; returns how many were stored."""
    if embeddings is not None and len(embeddings) != len(chunks):
        raise ValueError("there must be one embedding per chunk")
    dims = {len(vector) for vector in embeddings or ()}
    if len(dims) > 1:
        raise ValueError("all embeddings must have the same number of dimensions")
    connection = connections[DEFAULT_DB_ALIAS]
    table = schema.ensure_vector_table(connection, dims.pop()) if embeddings else None
    with transaction.atomic():
        _delete(connection, "c.vector_store_id = %s AND c.file_id = %s", [vector_store_id, file_id])
        Chunk.objects.filter(vector_store_id=vector_store_id, file_id=file_id).delete()
        if connection.vendor == "postgresql":
            ids = _pg_insert_chunks(connection, vector_store_id, file_id, filename, chunks, attributes)
        else:
            rows = [
                Chunk(
                    vector_store_id=vector_store_id,
                    file_id=file_id,
                    position=position,
                    text=chunk.text,
                    tokens=chunk.tokens,
                    attributes=attributes or {},
                    filename=filename,
                )
                for position, chunk in enumerate(chunks)
            ]
            ids = [row.pk for row in Chunk.objects.bulk_create(rows, batch_size=BATCH_SIZE)]
        if table and embeddings:
            _insert_vectors(connection, table, vector_store_id, ids, embeddings)
    return len(ids)


# One statement parses each distinct piece of a file once and builds every chunk's text and
# vector from its pieces, in order. Parameters: the pieces; the store, file, attributes and
# filename; the chunks' token counts (by position); then one (position, piece) pair per piece of
# each chunk, in order.
_PG_INSERT_FROM_PIECES = f"""
    WITH piece AS MATERIALIZED (
        SELECT k AS id, text, to_tsvector('{schema.PG_TEXT_CONFIG}'::regconfig, text) AS vector
        FROM unnest(%s::text[]) WITH ORDINALITY AS x (text, k)
    )
    INSERT INTO retrieval_chunk
        (vector_store_id, file_id, position, text, tokens, attributes, filename, search_vector)
    SELECT %s, %s, c.position - 1, string_agg(p.text, '' ORDER BY m.n), c.tokens, %s::jsonb, %s,
        {schema.PG_TSVECTOR_AGG}(p.vector ORDER BY m.n)
    FROM unnest(%s::integer[]) WITH ORDINALITY AS c (tokens, position)
    JOIN unnest(%s::integer[], %s::integer[]) WITH ORDINALITY AS m (position, piece, n)
        ON m.position = c.position
    JOIN piece p ON p.id = m.piece
    GROUP BY c.position, c.tokens
    RETURNING id, position
"""


def _pg_insert_chunks(
    connection: Any,
    vector_store_id: str,
    file_id: str,
    filename: str,
    chunks: list[TextChunk],
    attributes: dict[str, Any],
) -> list[int]:
    """Insert the chunk rows with their tsvectors; returns their ids in chunk order.

    Overlapping windows share their pieces (chunking.py): only distinct pieces cross the wire and
    go through to_tsvector, which with 800/400 windows halves the text parsed, the largest cost
    of PostgreSQL ingestion. Positions in the statement count from 1, as WITH ORDINALITY does.
    """
    if not chunks:
        return []
    piece_numbers: dict[str, int] = {}
    part_positions: list[int] = []
    part_pieces: list[int] = []
    for position, chunk in enumerate(chunks, start=1):
        for piece in chunk.pieces:
            part_positions.append(position)
            part_pieces.append(piece_numbers.setdefault(piece, len(piece_numbers) + 1))
    params = [
        list(piece_numbers),
        vector_store_id,
        file_id,
        json.dumps(attributes or {}),
        filename,
        [chunk.tokens for chunk in chunks],
        part_positions,
        part_pieces,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_PG_INSERT_FROM_PIECES, params)
        ids = {position: pk for pk, position in cursor.fetchall()}
    return [ids[position] for position in range(len(chunks))]


def delete_file(vector_store_id: str, file_id: str) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic():
        _delete(connection, "c.vector_store_id = %s AND c.file_id = %s", [vector_store_id, file_id])
        Chunk.objects.filter(vector_store_id=vector_store_id, file_id=file_id).delete()


def delete_store(vector_store_id: str) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic():
        _delete(connection, "c.vector_store_id = %s", [vector_store_id])
        Chunk.objects.filter(vector_store_id=vector_store_id).delete()


def update_attributes(vector_store_id: str, file_id: str, attributes: dict[str, Any]) -> None:
    Chunk.objects.filter(vector_store_id=vector_store_id, file_id=file_id).update(attributes=attributes or {})


def file_text(vector_store_id: str, file_id: str) -> list[str]:
    """The file's chunks' texts in order. Windows overlap, so neighbours repeat text."""
    return list(
        Chunk.objects.filter(vector_store_id=vector_store_id, file_id=file_id)
        .order_by("position")
        .values_list("text", flat=True)
    )


def _delete(connection: Any, where: str, params: list[Any]) -> None:
    """Remove the vector rows of the chunks that `where` selects (before the chunks go)."""
    by_size = schema.vector_tables(connection)
    tables = list(by_size.values())
    if not tables:
        return
    if connection.vendor == "sqlite":  # the twins of sizes that pack into bytes (schema.ensure_bits_table)
        tables += [
            name
            for dims, t in by_size.items()
            if not dims % 8
            for name in (schema.bits_table(t), schema.raw_table(t))
        ]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"DELETE FROM {table} WHERE chunk_id IN (SELECT c.id FROM retrieval_chunk c WHERE {where})",
                params,
            )


def _insert_vectors(
    connection: Any,
    table: str,
    vector_store_id: str,
    ids: Sequence[int | None],
    embeddings: list[list[float]],
) -> None:
    if connection.vendor == "sqlite":
        import sqlite_vec

        rows: list[tuple[Any, ...]] = [
            (pk, vector_store_id, sqlite_vec.serialize_float32(vector))
            for pk, vector in zip(ids, embeddings, strict=True)
        ]
        sql = f"INSERT INTO {table} (chunk_id, vector_store_id, embedding) VALUES (%s, %s, %s)"
        if not len(embeddings[0]) % 8:
            bits, raw = schema.bits_table(table), schema.raw_table(table)
            with connection.cursor() as cursor:
                for start in range(0, len(rows), BATCH_SIZE):
                    batch = rows[start : start + BATCH_SIZE]
                    cursor.executemany(
                        f"INSERT INTO {bits} (chunk_id, vector_store_id, embedding)"
                        " VALUES (%s, %s, vec_quantize_binary(%s))",
                        batch,
                    )
                    cursor.executemany(
                        f"INSERT INTO {raw} (chunk_id, embedding) VALUES (%s, %s)",
                        [(r[0], r[2]) for r in batch],
                    )
    else:
        kind = schema.pg_vector_type(len(embeddings[0]))
        rows = [
            (pk, vector_store_id, vector_literal(vector)) for pk, vector in zip(ids, embeddings, strict=True)
        ]
        sql = f"INSERT INTO {table} (chunk_id, vector_store_id, embedding) VALUES (%s, %s, %s::{kind})"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH_SIZE):
            cursor.executemany(sql, rows[start : start + BATCH_SIZE])


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form; the same for vector and halfvec."""
    from pgvector import Vector

    return str(Vector(list(vector)).to_text())
