"""Where a /v1 request's time goes, measured in-process (no network, no load generator).

    .venv/bin/python bench/profile_api_core.py                 # layer table for the three operations
    .venv/bin/python bench/profile_api_core.py --cprofile get_assistant   # top functions by own time

Builds its own SQLite database under a temporary VAR_DIR (or uses DATABASE_URL=postgresql://..., a fresh
database is created and dropped), seeds it like bench/api_core.py, then times each operation peeled
layer by layer, in CPU time per request (time.process_time, all threads of this process):

  asgi       the full ASGI app (BodyLimitMiddleware + Django's ASGIHandler, middleware, view), as a server calls it
  asgi+pool  the same behind bench.asgi_variants.ReusedRequestThreads (threads and DB connections reused)
  wsgi       Django's sync handler (WSGIHandler) with the same middleware and view: no thread hops
  view       the view function alone on a prepared request (auth query + service + rendering)
  service    the service call only (ORM queries, no rendering); skipped for the POST
  render     rendering only, from rows already loaded (pydantic model_construct + model_dump + orjson)
  auth       authenticate() only: the API-key query
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_core import create_postgres_db, drop_postgres_db, prepare  # noqa: E402


def per_request_ms(fn: Callable[[], Any], n: int) -> float:
    for _ in range(min(50, n)):
        fn()
    t0 = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t0) * 1000 / n


def asgi_caller(app: Any, method: str, path: str, key: str, body: bytes) -> Callable[[], Any]:
    raw_path, _, query = path.partition("?")
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {key}".encode())]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    loop = asyncio.new_event_loop()

    async def one() -> int:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": raw_path, "raw_path": raw_path.encode(), "query_string": query.encode(),
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        assert status == 200, status
        return status

    return lambda: loop.run_until_complete(one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000, help="requests per measurement")
    parser.add_argument("--cprofile", help="operation to profile with cProfile instead of the layer table")
    parser.add_argument("--layer", default="asgi", help="layer to cProfile: asgi, asgi+pool, wsgi, view")
    parser.add_argument("--settings", default="console.settings")
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="bench-api-profile-"))
    admin_url = os.environ.get("DATABASE_URL", "")
    pg_name = None
    if admin_url.startswith(("postgres://", "postgresql://")):
        db_url, pg_name = create_postgres_db(admin_url)
    else:
        db_url = f"sqlite:///{var_dir / 'db.sqlite3'}"
    env = {**os.environ, "VAR_DIR": str(var_dir), "DATABASE_URL": db_url, "DEBUG": "0", "LOG_LEVEL": "WARNING"}
    env["DJANGO_SETTINGS_MODULE"] = "console.settings"
    try:
        key, ids = prepare(env, 10_000)
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
        run(args, key, ids)
    finally:
        from django.db import connections

        connections.close_all()
        if pg_name:
            drop_postgres_db(admin_url, pg_name)
        shutil.rmtree(var_dir, ignore_errors=True)


def run(args: argparse.Namespace, key: str, ids: dict[str, str]) -> None:
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from asgi_variants import ReusedRequestThreads  # type: ignore[import-not-found]
    from console.api.auth import authenticate
    from console.api.jsonresp import json_response
    from console.api.pagination import list_response, page_from_query, paginate
    from console.api.schemas.assistants import AssistantObject
    from console.api.schemas.messages import MessageObject
    from console.api.views import assistants as assistant_views
    from console.api.views import threads as thread_views
    from console.asgi import application
    from console.assistants import services as assistant_services
    from console.projects.models import Project
    from console.threads import services as thread_services

    project = Project.objects.get(name="bench")
    post_body = json.dumps({"role": "user", "content": "What were the three biggest risks last quarter?"}).encode()
    ops: dict[str, tuple[str, str, bytes]] = {
        "get_assistant": ("GET", f"/v1/assistants/{ids['assistant']}", b""),
        "post_message": ("POST", f"/v1/threads/{ids['post_thread']}/messages", post_body),
        "list_messages": ("GET", f"/v1/threads/{ids['list_thread']}/messages?limit=100", b""),
    }
    factory = RequestFactory(headers={"Authorization": f"Bearer {key}"}, HTTP_HOST="127.0.0.1")
    wsgi = WSGIHandler()
    pooled = ReusedRequestThreads(application)

    def wsgi_caller(method: str, path: str, body: bytes) -> Callable[[], Any]:
        def call() -> None:
            if method == "GET":
                request = factory.get(path)
            else:
                request = factory.post(path, data=body, content_type="application/json")
            environ = request.environ
            environ["wsgi.input"] = io.BytesIO(body)

            def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
                assert status.startswith("200"), status

            response = wsgi(environ, start_response)
            response.close()

        return call

    def view_caller(op: str) -> Callable[[], Any]:
        method, path, body = ops[op]

        def call() -> None:
            if method == "GET":
                request = factory.get(path)
            else:
                request = factory.post(path, data=body, content_type="application/json")
            if op == "get_assistant":
                response = assistant_views.assistant(request, ids["assistant"])
            elif op == "post_message":
                response = thread_views.messages(request, ids["post_thread"])
            else:
                response = thread_views.messages(request, ids["list_thread"])
            assert response.status_code == 200, response.content

        return call

    def service_caller(op: str) -> Callable[[], Any] | None:
        if op == "get_assistant":
            return lambda: assistant_services.get_assistant(project, ids["assistant"])
        if op == "list_messages":
            page = page_from_query({"limit": "100"})
            return lambda: paginate(thread_services.list_messages(project, ids["list_thread"]), page)
        return None

    def render_caller(op: str) -> Callable[[], Any] | None:
        if op == "get_assistant":
            row = assistant_services.get_assistant(project, ids["assistant"])
            return lambda: json_response(AssistantObject.of(row).model_dump(mode="json"))
        if op == "list_messages":
            page = page_from_query({"limit": "100"})
            rows, more = paginate(thread_services.list_messages(project, ids["list_thread"]), page)

            class Preloaded:  # list_response paginates; hand it the loaded rows instead
                pass

            def render() -> None:
                data = [MessageObject.of(r).model_dump(mode="json") for r in rows]
                json_response({"object": "list", "data": data, "first_id": data[0]["id"],
                               "last_id": data[-1]["id"], "has_more": more})  # fmt: skip

            return render
        return None

    del list_response
    layers: dict[str, Callable[[str], Callable[[], Any] | None]] = {
        "asgi": lambda op: asgi_caller(application, *ops[op][:2], key, ops[op][2]),
        "asgi+pool": lambda op: asgi_caller(pooled, *ops[op][:2], key, ops[op][2]),
        "wsgi": lambda op: wsgi_caller(*ops[op]),
        "view": view_caller,
        "service": service_caller,
        "render": render_caller,
        "auth": lambda op: (lambda: authenticate(factory.get("/v1/assistants"))),
    }

    if args.cprofile:
        fn = layers[args.layer](args.cprofile)
        assert fn is not None
        for _ in range(50):
            fn()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.n):
            fn()
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(45)
        print(out.getvalue())
        return

    print(f"CPU ms per request, {args.n} sequential requests, settings {args.settings}, "
          f"{os.environ['DATABASE_URL'].split(':')[0]}\n")  # fmt: skip
    header = "| operation | " + " | ".join(layers) + " |"
    print(header)
    print("|---|" + "---:|" * len(layers))
    for op in ops:
        cells = []
        for name, make in layers.items():
            fn = make(op)
            cells.append("–" if fn is None else f"{per_request_ms(fn, args.n):.3f}")
        print(f"| {op} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
