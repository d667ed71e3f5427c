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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=1000, help="requests per measurement")
    parser.add_argument("--cprofile", help="operation to profile with cProfile instead of the layer table")
    parser.add_argument("--layer", default="asgi", help="layer to cProfile: asgi, asgi+pool, wsgi, view")
    parser.add_argument("--settings", default="console.settings")
    parser.add_argument("--experiments", action="store_true", help="time the candidate code changes instead")
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="bench-api-profile-"))
    admin_url = os.environ.get("DATABASE_URL", "")
    pg_name = None
    if admin_url.startswith(("postgres://", "postgresql://")):
        db_url, pg_name = create_postgres_db(admin_url)
    else:
        db_url = f"sqlite:///{var_dir / 'db.sqlite3'}"
    env = {
        **os.environ,
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": db_url,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
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
    from asgi_variants import ReusedRequestThreads  # type: ignore[import-not-found]
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from console.api.auth import authenticate
    from console.api.jsonresp import json_response
    from console.api.pagination import list_response, page_from_query, paginate
    from console.api.schemas.assistants import AssistantObject
    from console.api.views import assistants as assistant_views
    from console.api.views import threads as thread_views
    from console.asgi import application
    from console.assistants import services as assistant_services
    from console.payloads.objects import message_object
    from console.projects.models import Project
    from console.threads import services as thread_services

    project = Project.objects.get(name="bench")
    post_body = json.dumps(
        {"role": "user", "content": "What were the three biggest risks last quarter?"}
    ).encode()
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
                data = [message_object(r) for r in rows]
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
        "auth": lambda op: lambda: authenticate(factory.get("/v1/assistants")),
    }

    if args.experiments:
        experiments(args, key, ids, project, layers, view_caller)
        return

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
        for make in layers.values():
            fn = make(op)
            cells.append("–" if fn is None else f"{per_request_ms(fn, args.n):.3f}")
        print(f"| {op} | " + " | ".join(cells) + " |")
    print("\nThread hops per request through the full ASGI app (sync_to_async + async_to_sync calls):\n")
    from asgiref import sync

    counts = {"sync_to_async": 0, "async_to_sync": 0}
    originals = (sync.SyncToAsync.__call__, sync.AsyncToSync.__call__)

    async def counted_s2a(self: Any, *a: Any, **k: Any) -> Any:
        counts["sync_to_async"] += 1
        return await originals[0](self, *a, **k)

    def counted_a2s(self: Any, *a: Any, **k: Any) -> Any:
        counts["async_to_sync"] += 1
        return originals[1](self, *a, **k)

    sync.SyncToAsync.__call__ = counted_s2a  # type: ignore[method-assign]
    sync.AsyncToSync.__call__ = counted_a2s  # type: ignore[method-assign]
    try:
        for op in ops:
            fn = layers["asgi"](op)
            assert fn is not None
            fn()
            counts.update(sync_to_async=0, async_to_sync=0)
            for _ in range(10):
                fn()
            print(
                f"- {op}: {counts['sync_to_async'] / 10:g} sync_to_async, {counts['async_to_sync'] / 10:g} async_to_sync"
            )
    finally:
        sync.SyncToAsync.__call__, sync.AsyncToSync.__call__ = originals  # type: ignore[method-assign]


def experiments(args: argparse.Namespace, key: str, ids: dict[str, str], project: Any, layers: Any,
                view_caller: Any) -> None:  # fmt: skip
    """Candidate code changes, prototyped here (console/ untouched) and timed against the current code."""
    import orjson
    from django.db.models import TextField
    from django.db.models.functions import Cast
    from django.test import RequestFactory

    import console.api.endpoint as endpoint
    from console.api.auth import authenticate
    from console.threads.models import Message, Thread

    auth_request = RequestFactory(headers={"Authorization": f"Bearer {key}"}).get("/")
    thread_id = ids["list_thread"]
    fields = ("id", "created_at", "status", "completed_at", "incomplete_at", "role", "assistant_id", "run_id")

    def unix(value: Any) -> int | None:
        return int(value.timestamp()) if value is not None else None

    def list_values() -> bytes:
        # Same page, no model instances and no pydantic: dicts straight from values_list.
        project = authenticate(auth_request)
        if not Thread.objects.filter(project=project, pk=thread_id).exists():
            raise AssertionError
        rows = list(
            Message.objects.filter(thread_id=thread_id).order_by("-created_at", "-pk")
            .values_list(*fields, "incomplete_details", "content", "attachments", "metadata")[:101]
        )  # fmt: skip
        data = [
            {"id": r[0], "object": "thread.message", "created_at": int(r[1].timestamp()), "thread_id": thread_id,
             "status": r[2], "incomplete_details": r[8], "completed_at": unix(r[3]), "incomplete_at": unix(r[4]),
             "role": r[5], "content": r[9], "assistant_id": r[6], "run_id": r[7], "attachments": r[10],
             "metadata": r[11]}
            for r in rows[:100]
        ]  # fmt: skip
        return orjson.dumps({"object": "list", "data": data, "first_id": data[0]["id"], "last_id": data[-1]["id"],
                             "has_more": len(rows) > 100})  # fmt: skip

    def raw(value: str | None) -> Any:
        return None if value is None else orjson.Fragment(value)

    def list_fragments() -> bytes:
        # As list_values, and the stored JSON columns are copied into the response as text, never parsed.
        project = authenticate(auth_request)
        if not Thread.objects.filter(project=project, pk=thread_id).exists():
            raise AssertionError
        rows = list(
            Message.objects.filter(thread_id=thread_id).order_by("-created_at", "-pk")
            .annotate(d=Cast("incomplete_details", TextField()), c=Cast("content", TextField()),
                      a=Cast("attachments", TextField()), m=Cast("metadata", TextField()))
            .values_list(*fields, "d", "c", "a", "m")[:101]
        )  # fmt: skip
        data = [
            {"id": r[0], "object": "thread.message", "created_at": int(r[1].timestamp()), "thread_id": thread_id,
             "status": r[2], "incomplete_details": raw(r[8]), "completed_at": unix(r[3]),
             "incomplete_at": unix(r[4]), "role": r[5], "content": raw(r[9]), "assistant_id": r[6],
             "run_id": r[7], "attachments": raw(r[10]), "metadata": raw(r[11])}
            for r in rows[:100]
        ]  # fmt: skip
        return orjson.dumps({"object": "list", "data": data, "first_id": rows[0][0], "last_id": rows[99][0],
                             "has_more": len(rows) > 100})  # fmt: skip

    current = view_caller("list_messages")
    reference = None

    def capture() -> None:
        nonlocal reference
        request = RequestFactory(headers={"Authorization": f"Bearer {key}"}).get("/", {"limit": "100"})
        from console.api.views import threads as thread_views

        reference = orjson.loads(thread_views.messages(request, thread_id).content)

    capture()
    assert orjson.loads(list_values()) == reference, "list_values differs from the view's output"
    assert orjson.loads(list_fragments()) == reference, "list_fragments differs from the view's output"

    print(f"CPU ms per request, {args.n} sequential requests\n")
    print("| experiment | current | candidate | saved |")
    print("|---|---:|---:|---:|")

    def row(name: str, before: Callable[[], Any], after: Callable[[], Any]) -> None:
        a, b = per_request_ms(before, args.n), per_request_ms(after, args.n)
        print(f"| {name} | {a:.3f} | {b:.3f} | {a - b:.3f} ({100 * (a - b) / a:.0f}%) |")

    def list_current_body() -> None:
        current()

    row("list 100 messages: view -> values_list + plain dicts", list_current_body,
        list_values)  # fmt: skip
    row("list 100 messages: view -> values_list + orjson.Fragment for JSON columns", list_current_body,
        list_fragments)  # fmt: skip

    # An in-process cache of key -> project for a few seconds, instead of one query per request.
    original = endpoint.authenticate
    cache: dict[str, tuple[Any, float]] = {}

    def cached(request: Any) -> Any:
        header = request.headers.get("Authorization", "")
        now = time.monotonic()
        hit = cache.get(header)
        if hit is not None and hit[1] > now:
            return hit[0]
        project = original(request)
        cache[header] = (project, now + 5)
        return project

    get_view = view_caller("get_assistant")
    before = per_request_ms(get_view, args.n)
    endpoint.authenticate = cached
    try:
        after = per_request_ms(get_view, args.n)
        pooled_lean = layers["asgi+pool"]("get_assistant")
        with_cache = per_request_ms(pooled_lean, args.n)
    finally:
        endpoint.authenticate = original
    without_cache = per_request_ms(layers["asgi+pool"]("get_assistant"), args.n)
    print(f"| GET assistant view: API-key lookup cached 5 s | {before:.3f} | {after:.3f} | "
          f"{before - after:.3f} ({100 * (before - after) / before:.0f}%) |")  # fmt: skip
    print(f"| GET assistant, full ASGI app (threads reused, settings {args.settings}): key cached | "
          f"{without_cache:.3f} | {with_cache:.3f} | {without_cache - with_cache:.3f} "
          f"({100 * (without_cache - with_cache) / without_cache:.0f}%) |")  # fmt: skip


if __name__ == "__main__":
    main()
