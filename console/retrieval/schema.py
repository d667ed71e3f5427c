"""Full-text and vector indexes beside retrieval_chunk, one design per database.

SQLite:
- retrieval_chunk_fts: an FTS5 table with external content (rowid = Chunk.id), porter stemming,
  kept in sync by triggers, so any delete or update of chunks (ORM, cascade, shell) keeps it right.
- retrieval_chunk_vec_<dims>: a sqlite-vec vec0 table (cosine) per embedding size, partitioned by
  vector store, created when the first embeddings of that size arrive.
- retrieval_chunk_vecbit_<dims>: its binary-quantized twin (one sign bit per dimension, hamming
  distance), same partitions, and retrieval_chunk_vecraw_<dims>, a plain rowid table of the same
  float vectors. vec0 has no ANN index, so a KNN reads every vector of the store; bits are 32x
  less to read, and search rescores their best candidates with the floats read by chunk id.
  Only for sizes divisible by 8 (bits are packed by the byte).
PostgreSQL:
- retrieval_chunk.search_vector: a tsvector ('english') with a GIN index. index.py fills it from
  the chunk's pieces, each parsed once per file (overlapping windows share them); for any other
  writer, BEFORE INSERT/UPDATE triggers set it to to_tsvector('english', text) when it is NULL, or
  when the text changes and the vector does not. Until migration 0003 it was a stored generated
  column (which parsed every window in full, so 800/400 windows parsed each byte twice).
- retrieval_chunk_embedding_<dims>: pgvector column with an HNSW index (cosine) per embedding
  size, created when the first embeddings of that size arrive (halfvec above 2,000 dimensions,
  which is HNSW's limit for vector; no ANN index above 4,000).

Vector tables carry no foreign key (a TRUNCATE of retrieval_chunk would need CASCADE): index.py
deletes their rows with the chunks, and search joins back to retrieval_chunk.

A later migration that alters retrieval_chunk on SQLite makes Django rebuild the table, which
drops its triggers: such a migration must run install_fulltext again.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

log = logging.getLogger(__name__)

FTS_TABLE = "retrieval_chunk_fts"
PG_TEXT_CONFIG = "english"
HNSW_MAX_VECTOR_DIMS = 2000
HNSW_MAX_HALFVEC_DIMS = 4000
MAX_DIMS = 16000  # pgvector's limit for vector; also a sanity bound for table names

_SQLITE_FULLTEXT = [
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        text, content='retrieval_chunk', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    f"""CREATE TRIGGER retrieval_chunk_fts_insert AFTER INSERT ON retrieval_chunk BEGIN
        INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text);
    END""",
    f"""CREATE TRIGGER retrieval_chunk_fts_delete AFTER DELETE ON retrieval_chunk BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    f"""CREATE TRIGGER retrieval_chunk_fts_update AFTER UPDATE OF text ON retrieval_chunk BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text);
    END""",
    # Rows written before the triggers existed (none on a fresh install, but cheap to be sure).
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]
_SQLITE_FULLTEXT_DROP = [
    "DROP TRIGGER IF EXISTS retrieval_chunk_fts_insert",
    "DROP TRIGGER IF EXISTS retrieval_chunk_fts_delete",
    "DROP TRIGGER IF EXISTS retrieval_chunk_fts_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
_PG_FULLTEXT = [
    f"""ALTER TABLE retrieval_chunk ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (to_tsvector('{PG_TEXT_CONFIG}'::regconfig, text)) STORED""",
    "CREATE INDEX retrieval_chunk_search ON retrieval_chunk USING gin (search_vector)",
]
_PG_FULLTEXT_DROP = [
    "DROP INDEX IF EXISTS retrieval_chunk_search",
    "ALTER TABLE retrieval_chunk DROP COLUMN IF EXISTS search_vector",
]
# Migration 0003: the generated column becomes a plain one (no table rewrite: the stored vectors
# and the GIN index stay), filled by index.py or by these triggers. WHEN keeps the trigger
# function from running at all for rows that arrive with their vector.
PG_SEARCH_VECTOR_FUNCTION = "retrieval_chunk_search_vector"
# index.py joins a chunk's piece vectors in order with this (`a || b` shifts b's positions past a's).
PG_TSVECTOR_AGG = "retrieval_tsvector_agg"
_PG_PLAIN_SEARCH_VECTOR = [
    "ALTER TABLE retrieval_chunk ALTER COLUMN search_vector DROP EXPRESSION",
    f"""CREATE FUNCTION {PG_SEARCH_VECTOR_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_vector := to_tsvector('{PG_TEXT_CONFIG}'::regconfig, NEW.text);
        RETURN NEW;
    END $$""",
    f"""CREATE TRIGGER retrieval_chunk_search_insert BEFORE INSERT ON retrieval_chunk
        FOR EACH ROW WHEN (NEW.search_vector IS NULL)
        EXECUTE FUNCTION {PG_SEARCH_VECTOR_FUNCTION}()""",
    f"""CREATE TRIGGER retrieval_chunk_search_update BEFORE UPDATE OF text, search_vector ON retrieval_chunk
        FOR EACH ROW WHEN (NEW.search_vector IS NULL OR (NEW.text IS DISTINCT FROM OLD.text
            AND NEW.search_vector IS NOT DISTINCT FROM OLD.search_vector))
        EXECUTE FUNCTION {PG_SEARCH_VECTOR_FUNCTION}()""",
    f"CREATE AGGREGATE {PG_TSVECTOR_AGG}(tsvector) (SFUNC = tsvector_concat, STYPE = tsvector, INITCOND = '')",
]
# Back to the generated column: it cannot be added to an existing plain column, so the column is
# dropped and added again (the table is rewritten and every vector recomputed from its text).
_PG_GENERATED_SEARCH_VECTOR = [
    "DROP TRIGGER IF EXISTS retrieval_chunk_search_insert ON retrieval_chunk",
    "DROP TRIGGER IF EXISTS retrieval_chunk_search_update ON retrieval_chunk",
    f"DROP FUNCTION IF EXISTS {PG_SEARCH_VECTOR_FUNCTION}()",
    f"DROP AGGREGATE IF EXISTS {PG_TSVECTOR_AGG}(tsvector)",
    *_PG_FULLTEXT_DROP,
    *_PG_FULLTEXT,
]


def install_fulltext(apps: Any, schema_editor: Any) -> None:
    _run(schema_editor, {"sqlite": _SQLITE_FULLTEXT, "postgresql": _PG_FULLTEXT})


def remove_fulltext(apps: Any, schema_editor: Any) -> None:
    _run(schema_editor, {"sqlite": _SQLITE_FULLTEXT_DROP, "postgresql": _PG_FULLTEXT_DROP})


def plain_search_vector(apps: Any, schema_editor: Any) -> None:
    _run(schema_editor, {"sqlite": [], "postgresql": _PG_PLAIN_SEARCH_VECTOR})


def generated_search_vector(apps: Any, schema_editor: Any) -> None:
    _run(schema_editor, {"sqlite": [], "postgresql": _PG_GENERATED_SEARCH_VECTOR})


def _run(schema_editor: Any, statements: dict[str, list[str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise ImproperlyConfigured(f"retrieval supports SQLite and PostgreSQL, not {vendor}")
    for statement in statements[vendor]:
        schema_editor.execute(statement)


# --- sqlite-vec -----------------------------------------------------------------------------


SQLITE_VEC_MISSING = (
    "sqlite-vec could not be loaded into SQLite ({error}). The search index needs it: reinstall the "
    "project's dependencies (`.venv/bin/pip install -e .`, which brings sqlite-vec and pysqlite3-binary), "
    "or use PostgreSQL with DATABASE_URL."
)


def load_sqlite_vec(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """connection_created handler: load sqlite-vec into every SQLite connection.

    A SQLite without it is a broken install, refused at the first connection (the start's migrate)
    rather than left to serve full-text search only.
    """
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    try:
        import sqlite_vec

        raw.enable_load_extension(True)
        try:
            sqlite_vec.load(raw)
        finally:
            raw.enable_load_extension(False)
    except Exception as exc:  # no extension loading, no wheel, wrong platform
        raise ImproperlyConfigured(SQLITE_VEC_MISSING.format(error=exc)) from exc


# --- vector tables --------------------------------------------------------------------------


def vector_table(connection: BaseDatabaseWrapper, dims: int) -> str:
    if not 1 <= dims <= MAX_DIMS:
        raise ValueError(f"embeddings must have between 1 and {MAX_DIMS} dimensions")
    prefix = "retrieval_chunk_vec_" if connection.vendor == "sqlite" else "retrieval_chunk_embedding_"
    return f"{prefix}{int(dims)}"


def pg_vector_type(dims: int) -> str:
    return "halfvec" if HNSW_MAX_VECTOR_DIMS < dims <= HNSW_MAX_HALFVEC_DIMS else "vector"


_VECTOR_TABLE_NAME = re.compile(r"^retrieval_chunk_(?:vec|embedding)_(\d+)$")


def vector_tables(connection: BaseDatabaseWrapper) -> dict[int, str]:
    """The vector tables that exist, by dimensions."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE %s",
                ["retrieval_chunk_vec_%"],
            )
        else:
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE %s",
                ["retrieval_chunk_embedding_%"],
            )
        names = [row[0] for row in cursor.fetchall()]
    tables: dict[int, str] = {}
    for name in names:
        match = _VECTOR_TABLE_NAME.match(name)
        if match:
            tables[int(match.group(1))] = name
    return tables


def bits_table(table: str) -> str:
    """The binary-quantized twin of a SQLite float vector table."""
    return table.replace("retrieval_chunk_vec_", "retrieval_chunk_vecbit_", 1)


def raw_table(table: str) -> str:
    """A plain copy of a SQLite float table's vectors, for rescoring by chunk id: a vec0 point
    lookup reads into a large blob (≈ 0.1 ms), a rowid lookup here is a few µs."""
    return table.replace("retrieval_chunk_vec_", "retrieval_chunk_vecraw_", 1)


def table_exists(connection: BaseDatabaseWrapper, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [name])
        return cursor.fetchone() is not None


def ensure_vector_table(connection: BaseDatabaseWrapper, dims: int) -> str:
    table = vector_table(connection, dims)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING vec0("
                " chunk_id integer primary key, vector_store_id text partition key,"
                f" embedding float[{dims}] distance_metric=cosine)"
            )
        ensure_bits_table(connection, table, dims)
        return table
    kind = pg_vector_type(dims)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        # Two workers may meet the first embeddings of a size at once; IF NOT EXISTS alone races.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('retrieval_chunk_embedding'))")
        cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (chunk_id bigint PRIMARY KEY,"
            f" vector_store_id varchar(64) NOT NULL, embedding {kind}({dims}) NOT NULL)"
        )
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_store ON {table} (vector_store_id)")
        if dims <= HNSW_MAX_HALFVEC_DIMS:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} USING hnsw (embedding {kind}_cosine_ops)"
            )
    return table


def ensure_bits_table(connection: BaseDatabaseWrapper, table: str, dims: int) -> None:
    """Creates the bit twin of a SQLite float table and its rescoring copy, filled from it if
    they are new (a database whose float vectors were written before they existed)."""
    bits, raw = bits_table(table), raw_table(table)
    if dims % 8 or (table_exists(connection, bits) and table_exists(connection, raw)):
        return  # bit vectors pack 8 dimensions a byte; other sizes are only searched exactly
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {bits}")
        cursor.execute(f"DROP TABLE IF EXISTS {raw}")
        cursor.execute(
            f"CREATE VIRTUAL TABLE {bits} USING vec0("
            " chunk_id integer primary key, vector_store_id text partition key,"
            f" embedding bit[{dims}])"
        )
        cursor.execute(f"CREATE TABLE {raw} (chunk_id integer PRIMARY KEY, embedding blob NOT NULL)")
        cursor.execute(
            f"INSERT INTO {bits} (chunk_id, vector_store_id, embedding)"
            f" SELECT chunk_id, vector_store_id, vec_quantize_binary(embedding) FROM {table}"
        )
        cursor.execute(f"INSERT INTO {raw} (chunk_id, embedding) SELECT chunk_id, embedding FROM {table}")


def install_vector_bits(apps: Any, schema_editor: Any) -> None:
    """Migration step: give existing SQLite float vector tables their bit twins."""
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return  # PostgreSQL has HNSW
    for dims, table in vector_tables(connection).items():
        ensure_bits_table(connection, table, dims)
