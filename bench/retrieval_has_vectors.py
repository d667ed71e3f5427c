"""Measures search()'s SQLite `_has_vectors` probe and a cheaper variant on a database built by
`bench/retrieval.py scale --db sqlite` (nothing in console/ is changed: the variant is patched in
for this process only).

    .venv/bin/python bench/retrieval_has_vectors.py [--work /tmp/bench-retrieval]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/bench-retrieval"))
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = f"sqlite:///{args.work / 'scale.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    import django

    django.setup()
    from retrieval import CORPUS_STORE, CachedEmbedder, pct

    import console.retrieval.search as s
    from console.retrieval.embeddings import LocalEmbedder

    queries = [
        q["query"] for q in json.loads((ROOT / "bench" / "retrieval_queries.json").read_text())["queries"]
    ]
    model = LocalEmbedder()
    embedder = CachedEmbedder({q: model.embed([q])[0] for q in queries})
    original = s._has_vectors

    def variant(connection, table, store_ids):  # type: ignore[no-untyped-def]
        with connection.cursor() as cursor:
            for store_id in store_ids:
                cursor.execute(
                    "SELECT 1 FROM retrieval_chunk c WHERE c.vector_store_id = %s AND EXISTS"
                    f" (SELECT 1 FROM {table} v WHERE v.chunk_id = c.id) LIMIT 1",
                    [store_id],
                )
                if cursor.fetchone():
                    return True
        return False

    probe: dict[str, list[float]] = {}

    def timed(fn, name):  # type: ignore[no-untyped-def]
        def inner(*a):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return fn(*a)
            finally:
                probe.setdefault(name, []).append((time.perf_counter() - t) * 1000)

        return inner

    print("| `_has_vectors` | probe p50 | hybrid search p50 | hybrid search p99 | same results |")
    print("|---|---|---|---|---|")
    baseline = None
    for name, fn in (
        ("current", original),
        ("EXISTS via chunk rows", variant),
        ("current (again)", original),
    ):
        s._has_vectors = timed(fn, name)
        for q in queries[:10]:
            s.search([CORPUS_STORE], q, embedder=embedder)
        probe.pop(name, None)
        lat, ids = [], []
        for q in queries:
            t = time.perf_counter()
            hits = s.search([CORPUS_STORE], q, embedder=embedder)
            lat.append((time.perf_counter() - t) * 1000)
            ids.append([h.chunk_id for h in hits])
        baseline = baseline or ids
        print(
            f"| {name} | {statistics.median(probe[name]):.1f} ms | {pct(lat, 0.5):.1f} ms | {pct(lat, 0.99):.1f} ms | {ids == baseline} |"
        )


if __name__ == "__main__":
    main()
