"""File storage benchmark (issue 14): ingestion on S3 against local disk, and server memory for a big file.

    apt-get install -y python3.11-doc postgresql-doc-15   # the bench corpus (as bench/retrieval.py)
    .venv/bin/python bench/storage.py ingest [--every 1]   # full-text ingestion, local disk then S3
    .venv/bin/python bench/storage.py memory [--mb 200]    # one web process's RSS, upload + download

S3 is moto's server mode on loopback (moto[server]), the same as the multi-node test uses. Each
measurement runs in a fresh child process configured only by environment variables, as a server is.

`ingest` uploads every corpus file through console.files.services.create_file (timed apart), then
ingests them all through the real task body (console.vector_stores.ingest.ingest, --threads files
at a time as a threads-pool worker runs them, on SQLite) and compares files/s: the S3 run also
fetches each file into a temporary copy. Run it on an otherwise idle machine.

`memory` starts uvicorn (as `make run` does), uploads a file of --mb MB through POST /v1/files,
downloads it through GET /v1/files/{id}/content, and samples the server's RSS every 20 ms: it
prints the baseline, the peak during each transfer, and the growth.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _env(work: pathlib.Path, s3: Any | None) -> dict[str, str]:
    env = {**os.environ, "VAR_DIR": str(work), "DATABASE_URL": "", "MEDIA_ROOT": str(work / "media")}
    env.update(s3.env("bench") if s3 is not None else {"FILE_STORAGE": "local"})
    return env


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- ingest -------------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace) -> None:
    from tests.s3 import moto_server

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        options = ["_ingest", "--every", str(args.every), "--threads", str(args.threads)]
        results["local"] = _child(options, _env(pathlib.Path(tmp) / "local", None))
        with moto_server() as s3:
            results["s3"] = _child(options, _env(pathlib.Path(tmp) / "s3", s3))
    print("| storage | files (completed) | MB | upload files/s | ingestion files/s | ingestion MB/s |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['files']} ({r['statuses'].get('completed', 0)}) | {r['mb']:.1f} | {r['files'] / r['upload_s']:.0f} | "
            f"{r['files'] / r['ingest_s']:.1f} | {r['mb'] / r['ingest_s']:.2f} |"
        )
    ratio = results["local"]["ingest_s"] / results["s3"]["ingest_s"]
    print(f"\nS3 ingestion throughput = {ratio:.0%} of local disk (target: at least 80%)")


def _ingest_child(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import Count

    from bench.retrieval import corpus_files
    from console import celery_app
    from console.files import services as files
    from console.projects.services import get_or_create_project
    from console.vector_stores import ingest
    from console.vector_stores import services as stores
    from console.vector_stores.models import VectorStoreFile

    call_command("migrate", verbosity=0)
    # The batch's tasks go nowhere; this process runs them itself below, as a threads-pool worker would.
    celery_app.conf.broker_url = "memory://"
    project = get_or_create_project("bench")
    corpus = corpus_files(args.every)
    size = 0
    started = time.perf_counter()
    ids = []
    for name, path in corpus:
        with open(path, "rb") as handle:
            length = path.stat().st_size
            size += length
            stored = files.create_file(
                project, source=handle, source_path=None, filename=name, purpose="assistants", size=length
            )
        ids.append(stored.pk)
    upload_s = time.perf_counter() - started
    store = stores.create_store(project, name="corpus")
    stores.create_batch(project, store.pk, [stores.NewFile(file_id=i) for i in ids])

    def one(file_id: str) -> None:
        try:
            ingest.ingest(store.pk, file_id)
        finally:
            connections.close_all()

    started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(one, ids))
    ingest_s = time.perf_counter() - started
    statuses = {
        row["status"]: row["n"]
        for row in VectorStoreFile.objects.filter(store=store).values("status").annotate(n=Count("pk"))
    }
    result = {
        "files": len(ids),
        "mb": size / 1e6,
        "upload_s": upload_s,
        "ingest_s": ingest_s,
        "statuses": statuses,
    }
    print(json.dumps(result))


# --- memory -------------------------------------------------------------------------------------


def _rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Sampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb(self.pid))

    def __enter__(self) -> _Sampler:
        self.peak = _rss_mb(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _memory_once(work: pathlib.Path, s3: Any | None, mb: int) -> dict[str, float]:
    import httpx

    env = _env(work, s3)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, cwd=ROOT, check=True)
    key = (
        subprocess.run(
            [*manage, "create_api_key", "--project", "bench"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "console.asgi:application",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    big = work / "big.bin"
    with open(big, "wb") as out:
        block = os.urandom(1 << 20)
        for _ in range(mb):
            out.write(block)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        headers = {"Authorization": f"Bearer {key}"}
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/files", headers=headers, timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        # Warm up: the first request imports and caches what every request needs.
        httpx.post(
            f"{base}/files",
            headers=headers,
            files={"file": ("w.txt", b"warm")},
            data={"purpose": "assistants"},
        )
        baseline = _rss_mb(server.pid)
        before = {"upload": baseline}
        with _Sampler(server.pid) as up, open(big, "rb") as handle:
            r = httpx.post(
                f"{base}/files",
                headers=headers,
                files={"file": ("big.bin", handle)},
                data={"purpose": "assistants"},
                timeout=600,
            )
            r.raise_for_status()
        file_id = r.json()["id"]
        received = 0
        before["download"] = _rss_mb(server.pid)
        with _Sampler(server.pid) as down:
            with httpx.stream(
                "GET", f"{base}/files/{file_id}/content", headers=headers, timeout=600
            ) as response:
                for chunk in response.iter_bytes():
                    received += len(chunk)
        assert received == mb << 20, received
        return {
            "baseline_mb": baseline,
            "upload_growth_mb": up.peak - before["upload"],
            "download_growth_mb": down.peak - before["download"],
            "end_mb": _rss_mb(server.pid),
        }
    finally:
        server.terminate()
        server.wait(timeout=15)


def cmd_memory(args: argparse.Namespace) -> None:
    from tests.s3 import moto_server

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        results["local"] = _memory_once(pathlib.Path(tmp) / "local", None, args.mb)
        with moto_server() as s3:
            results["s3"] = _memory_once(pathlib.Path(tmp) / "s3", s3, args.mb)
    print(
        f"| storage ({args.mb} MB file) | RSS at start | growth during upload | growth during download | RSS at end |"
    )
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['baseline_mb']:.0f} MB | {r['upload_growth_mb']:.0f} MB | "
            f"{r['download_growth_mb']:.0f} MB | {r['end_mb']:.0f} MB |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest")
    ingest.add_argument("--every", type=int, default=1, help="take every Nth corpus file")
    ingest.add_argument(
        "--threads", type=int, default=4, help="files ingested at once, as a worker's threads do"
    )
    child = sub.add_parser("_ingest")
    child.add_argument("--every", type=int, default=1)
    child.add_argument("--threads", type=int, default=4)
    memory = sub.add_parser("memory")
    memory.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    {"ingest": cmd_ingest, "_ingest": _ingest_child, "memory": cmd_memory}[args.command](args)


if __name__ == "__main__":
    main()
