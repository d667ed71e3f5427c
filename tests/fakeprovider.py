"""A fake model provider: a real HTTP server on loopback that speaks OpenAI Chat Completions.

The model is the only faked part of the test suite (it is the paid, external dependency);
everything else runs for real. Each test scripts the replies it wants, in order:

    provider = FakeProvider()
    provider.script(Text("Hello"), ToolCalls([Call("get_weather", '{"city":"Paris"}')]), Error(429))
    ... point the server under test at provider.base_url ...
    provider.requests  # the request bodies the server sent, parsed
    provider.calls     # every request to the other endpoints: method, path, auth, size, sha256

Besides Chat Completions it serves GET /models (provider.models), POST /embeddings, POST
/responses (streamed too), POST /moderations and a multipart POST /audio/transcriptions that
reports the size and SHA-256 of the body it received; a scripted Error answers those too.

The server is uvicorn running a raw ASGI app on its own event loop in a daemon thread, so
hundreds of concurrent streams cost no threads. For benchmarks it also runs standalone:

    python -m tests.fakeprovider --port 9100 --tokens 200 --interval-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import random
import re
import socket
import string
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_ALNUM = string.ascii_letters + string.digits
_TOKEN = re.compile(r"\s*\S+")
_WORD = re.compile(r"\S+")


def _rand(n: int) -> str:
    return "".join(random.choices(_ALNUM, k=n))


def _split(text: str) -> list[str]:
    return _TOKEN.findall(text) or ([text] if text else [])


@dataclass
class Text:
    """A plain assistant message, streamed one chunk per element of `chunks`."""

    text: str
    chunks: list[str] | None = None
    delay: float = 0.0
    usage: tuple[int, int] | None = None
    finish_reason: str = "stop"
    # When given, the stream holds after its first chunk until this is set (10 s at most).
    gate: threading.Event | None = None
    _deltas: list[bytes] | None = field(default=None, init=False, repr=False, compare=False)

    def pieces(self) -> list[str]:
        return self.chunks if self.chunks is not None else _split(self.text)

    def deltas(self) -> list[bytes]:
        """Serialised `delta` objects, cached: replaying the same Text costs no JSON encoding."""
        if self._deltas is None:
            self._deltas = _content_deltas(self.pieces(), first=True) or [
                orjson.dumps({"role": "assistant", "content": ""})
            ]
        return self._deltas


@dataclass
class Call:
    name: str
    arguments: str
    id: str | None = None

    def __post_init__(self) -> None:
        if self.id is None:
            self.id = "call_" + _rand(24)


@dataclass
class ToolCalls:
    """One or more (parallel) tool calls, optionally preceded by text content."""

    calls: list[Call]
    text: str | None = None
    usage: tuple[int, int] | None = None
    # Argument characters sent in each call's first chunk, with its id and name (OpenAI sent none;
    # some servers send a call whole in one chunk).
    head_arguments: int = 0
    # The name comes in each call's second chunk, not with its id (as some servers send it).
    name_late: bool = False

    def deltas(self) -> list[bytes]:
        out = _content_deltas(_split(self.text), first=True) if self.text else []
        for index, call in enumerate(self.calls):
            head: dict[str, Any] = {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments[: self.head_arguments]},
                    }
                ]
            }
            if self.name_late:
                del head["tool_calls"][0]["function"]["name"]
            if not out:
                head = {"role": "assistant", "content": None, **head}
            out.append(orjson.dumps(head))
            if self.name_late:
                out.append(orjson.dumps({"tool_calls": [{"index": index, "function": {"name": call.name}}]}))
            args = call.arguments[self.head_arguments :]
            size = max(1, math.ceil(len(args) / 3))
            for start in range(0, len(args), size):
                piece = {
                    "tool_calls": [{"index": index, "function": {"arguments": args[start : start + size]}}]
                }
                out.append(orjson.dumps(piece))
        return out


@dataclass
class Error:
    """An HTTP error with an OpenAI-style body, answered to `times` consecutive requests."""

    status: int
    message: str = "error"
    times: int = 1
    plain: bool = False  # answer the message as text/plain, as a proxy or a bare server would


@dataclass
class Drop:
    """Streams `after_chunks` chunks, then closes the connection without finishing the response."""

    after_chunks: int = 2
    text: str = "partial answer that never ends"


@dataclass
class Stall:
    """A provider that stops sending and keeps the connection open (until the client leaves).

    - "response": no response at all (no status line, no headers);
    - "headers": the response headers, then nothing;
    - "comments": the headers, then only SSE comments (`: keep-alive`) every `comment_every` s;
    - "midstream": `after_chunks` content chunks, then nothing.

    Chat Completions takes every mode; embeddings and the other endpoints take "response" and
    "headers". `times` consecutive requests get it.
    """

    mode: str = "response"
    after_chunks: int = 3
    comment_every: float = 0.5
    text: str = "words before the silence"
    times: int = 1


Answer = Text | ToolCalls | Drop
Reply = Answer | Error | Stall

_OTHER_PATHS = ("/v1/embeddings", "/v1/responses", "/v1/moderations", "/v1/audio/transcriptions")

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def _content_deltas(pieces: list[str], first: bool) -> list[bytes]:
    out = [orjson.dumps({"content": p}) for p in pieces]
    if out and first:
        out[0] = orjson.dumps({"role": "assistant", "content": pieces[0]})
    return out


def _prompt_tokens(body: dict[str, Any]) -> int:
    count = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            count += len(_WORD.findall(content))
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    count += len(_WORD.findall(part["text"]))
    return max(1, count)


def _usage(given: tuple[int, int] | None, body: dict[str, Any], chunks: int) -> dict[str, int]:
    prompt, completion = given if given is not None else (_prompt_tokens(body), chunks)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class FakeProvider:
    """A scripted Chat Completions server on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default: Reply | None = None,
        record: bool = True,
        start: bool = True,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ) -> None:
        self.default: Reply = default or Text("Hello from the fake model.")
        self.record = record
        self.requests: list[dict[str, Any]] = []
        self.request_times: list[float] = []
        self.auth_headers: list[str] = []
        self.first_token_times: list[float] = []
        self.calls: list[dict[str, Any]] = []
        self.models = ["fake-model", "gpt-4o-mini", "gpt-4o"]
        self._script: list[list[Any]] = []  # [reply, remaining uses]
        self._lock = threading.Lock()
        self._closing = False
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self.ssl = {"ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile} if ssl_certfile else {}
        self.base_url = f"{'https' if ssl_certfile else 'http'}://{host}:{self.port}/v1"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    # ----------------------------------------------------------------- control

    def script(self, *replies: Reply) -> None:
        with self._lock:
            for reply in replies:
                self._script.append([reply, reply.times if isinstance(reply, Error | Stall) else 1])

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.request_times.clear()
            self.auth_headers.clear()
            self.first_token_times.clear()
            self.calls.clear()
            self.models = ["fake-model", "gpt-4o-mini", "gpt-4o"]

    def _server_for(self, loop: str) -> uvicorn.Server:
        config = uvicorn.Config(
            self,
            loop=loop,
            lifespan="off",
            access_log=False,
            log_config=None,  # leave the host process's logging configuration alone
            log_level="warning",
            timeout_graceful_shutdown=2,
            backlog=4096,
            **self.ssl,
        )
        server = uvicorn.Server(config)
        self._server = server
        return server

    def start(self) -> None:
        server = self._server_for("auto")  # uvicorn skips signal handlers off the main thread
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._sock]}, name="fakeprovider", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake provider did not start")
            time.sleep(0.005)

    def serve_forever(self) -> None:
        """Serve in the calling (main) thread until interrupted; used by the command line."""
        self._server_for("auto").run(sockets=[self._sock])

    def close(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._sock.close()

    def __enter__(self) -> FakeProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next(self) -> Reply:
        with self._lock:
            if not self._script:
                return self.default
            entry = self._script[0]
            entry[1] -= 1
            if entry[1] <= 0:
                self._script.pop(0)
            reply: Reply = entry[0]
            return reply

    def _next_error(self) -> Error | Stall | None:
        """The scripted Error (or Stall) due now, if the next scripted reply is one."""
        with self._lock:
            if not self._script or not isinstance(self._script[0][0], Error | Stall):
                return None
        reply = self._next()
        return reply if isinstance(reply, Error | Stall) else None

    async def _stall(self, reply: Stall, receive: Receive, send: Send, stream: bool) -> None:
        """Holds the request as `reply` says, until the client goes away or the server closes."""
        gone = asyncio.ensure_future(receive())
        try:
            if reply.mode != "response":
                kind = b"text/event-stream" if stream else b"application/json"
                await _start(send, 200, [(b"content-type", kind), (b"cache-control", b"no-cache")])
            if reply.mode == "midstream":
                prefix = b'data: {"id":"chatcmpl-stall","object":"chat.completion.chunk","created":%d,' % int(
                    time.time()
                )
                pieces = _split(reply.text) or ["..."]
                pieces = (pieces * (reply.after_chunks // len(pieces) + 1))[: reply.after_chunks]
                for delta in _content_deltas(pieces, first=True):
                    await _body(
                        send,
                        prefix
                        + b'"model":"fake-model","choices":[{"index":0,"delta":'
                        + delta
                        + b',"finish_reason":null}]}\n\n',
                        more=True,
                    )
            deadline = time.monotonic() + 600
            while not gone.done() and not self._closing and time.monotonic() < deadline:
                wait = reply.comment_every if reply.mode == "comments" else 0.2
                await asyncio.wait([gone], timeout=wait)
                if reply.mode == "comments" and not gone.done():
                    await _body(send, b": keep-alive\n\n", more=True)
        finally:
            gone.cancel()

    # -------------------------------------------------------------------- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        arrived = time.monotonic()
        path = scope["path"].rstrip("/")
        method = scope["method"]
        auth = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value.decode("latin-1")
        if path not in ("/v1/chat/completions", "/v1/models", *_OTHER_PATHS):
            return await _json(send, 404, _error_body(404, f"Unknown path {method} {path}"))
        if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
            return await _json(send, 401, _error_body(401, "Missing bearer token in Authorization header"))
        if path == "/v1/models" and method == "GET":
            models = [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "fakeprovider"}
                for m in self.models
            ]
            return await _json(send, 200, {"object": "list", "data": models})
        if method == "POST" and path in _OTHER_PATHS:
            return await self._other(scope, path, auth, receive, send)
        if method != "POST" or path != "/v1/chat/completions":
            return await _json(send, 404, _error_body(404, f"Unknown path {method} {path}"))
        raw = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            body = orjson.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as exc:
            return await _json(send, 400, _error_body(400, f"Invalid JSON body: {exc}"))
        if self.record:
            with self._lock:
                self.requests.append(body)
                self.request_times.append(arrived)
                self.auth_headers.append(auth)
        reply = self._next()
        if isinstance(reply, Error):
            return await _error(send, reply)
        if isinstance(reply, Stall):
            return await self._stall(reply, receive, send, stream=bool(body.get("stream")))
        if body.get("stream"):
            await self._stream(body, reply, receive, send)
        else:
            await self._complete(body, reply, send)

    async def _other(self, scope: Scope, path: str, auth: str, receive: Receive, send: Send) -> None:
        """Embeddings, Responses, moderations and a multipart upload echo (see the module docstring)."""
        digest, size, raw = hashlib.sha256(), 0, bytearray()
        multipart = path == "/v1/audio/transcriptions"
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            piece = message.get("body", b"")
            digest.update(piece)
            size += len(piece)
            if not multipart or len(raw) < 65536:
                raw += piece
            if not message.get("more_body"):
                break
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        call = {
            "method": scope["method"],
            "path": path,
            "query": scope.get("query_string", b"").decode(),
            "auth": auth,
            "content_type": headers.get("content-type", ""),
            "content_length": headers.get("content-length"),
            "size": size,
            "sha256": digest.hexdigest(),
            "body": None,
        }
        with self._lock:
            self.calls.append(call)
        error = self._next_error()
        if isinstance(error, Stall):
            return await self._stall(error, receive, send, stream=False)
        if error is not None:
            return await _error(send, error)
        if multipart:
            found = re.search(rb'name="model"\r\n\r\n([^\r]*)\r\n', bytes(raw))
            model = found.group(1).decode() if found else None
            usage = {"type": "tokens", "input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
            return await _json(
                send,
                200,
                {
                    "text": f"{size} bytes",
                    "model": model,
                    "size": size,
                    "sha256": call["sha256"],
                    "usage": usage,
                },
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return await _json(send, 400, _error_body(400, f"Invalid JSON body: {exc}"))
        call["body"] = body
        if path == "/v1/embeddings":
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else list(texts or [])
            data = [
                {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0]}
                for i, t in enumerate(texts)
            ]
            tokens = sum(len(_WORD.findall(t)) for t in texts)
            usage = {"prompt_tokens": tokens, "total_tokens": tokens}
            answer = {
                "object": "list",
                "data": list(reversed(data)),
                "model": body.get("model"),
                "usage": usage,
            }
            return await _json(send, 200, answer)
        if path == "/v1/moderations":
            return await _json(
                send,
                200,
                {
                    "id": "modr-" + _rand(8),
                    "model": body.get("model"),
                    "results": [{"flagged": False, "categories": {}, "category_scores": {}}],
                },
            )
        words = ["Hello", " from", " responses."]
        usage = {"input_tokens": 5, "output_tokens": len(words), "total_tokens": 5 + len(words)}
        response = {
            "id": "resp_" + _rand(12),
            "object": "response",
            "status": "completed",
            "model": body.get("model"),
            "output_text": "".join(words),
            "usage": usage,
        }
        if not body.get("stream"):
            return await _json(send, 200, response)
        await _start(send, 200, [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")])
        events = [
            {"type": "response.created", "response": {**response, "status": "in_progress", "usage": None}}
        ]
        events += [{"type": "response.output_text.delta", "delta": w} for w in words]
        events.append({"type": "response.completed", "response": response})
        for event in events:
            await _body(
                send, b"event: %s\ndata: %s\n\n" % (event["type"].encode(), orjson.dumps(event)), more=True
            )
        await _body(send, b"")

    async def _complete(self, body: dict[str, Any], reply: Answer, send: Send) -> None:
        if isinstance(reply, Drop):
            await _start(send, 200, [(b"content-type", b"application/json")])
            await _body(send, b'{"id":"chatcmpl-', more=True)
            return  # uvicorn closes the socket mid-body
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if isinstance(reply, Text):
            message["content"] = reply.text
            finish, usage = reply.finish_reason, _usage(reply.usage, body, len(reply.pieces()))
        else:
            message["content"] = reply.text
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in reply.calls
            ]
            finish, usage = "tool_calls", _usage(reply.usage, body, len(reply.deltas()))
        result = {
            "id": "chatcmpl-" + _rand(29),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "system_fingerprint": None,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage,
        }
        await _json(send, 200, result)

    async def _stream(self, body: dict[str, Any], reply: Answer, receive: Receive, send: Send) -> None:
        head = b'"id":"chatcmpl-%s","object":"chat.completion.chunk","created":%d,"model":%s' % (
            _rand(29).encode(),
            int(time.time()),
            orjson.dumps(body.get("model", "fake-model")),
        )
        prefix = b"data: {" + head + b',"system_fingerprint":null,"choices":[{"index":0,"delta":'
        middle = b',"logprobs":null,"finish_reason":null}]}\n\n'
        delay = 0.0
        if isinstance(reply, Text):
            deltas, finish, given = reply.deltas(), reply.finish_reason, reply.usage
            delay = reply.delay
        elif isinstance(reply, ToolCalls):
            deltas, finish, given = reply.deltas(), "tool_calls", reply.usage
        else:
            pieces = _split(reply.text) or ["..."]
            pieces = (pieces * (reply.after_chunks // len(pieces) + 1))[: reply.after_chunks]
            deltas, finish, given = _content_deltas(pieces, first=True), "", None
        await _start(send, 200, [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")])
        # Finishes as soon as the client goes away, so abandoned streams stop costing CPU.
        gone = asyncio.ensure_future(receive())
        try:
            due = time.monotonic()
            for i, delta in enumerate(deltas):
                if delay:  # paced against a schedule, so per-chunk overhead does not add up
                    due += delay
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                if gone.done() or self._closing:
                    return
                await _body(send, prefix + delta + middle, more=True)
                if i == 0 and self.record:
                    self.first_token_times.append(time.monotonic())
                if i == 0 and isinstance(reply, Text) and reply.gate is not None:
                    await asyncio.get_running_loop().run_in_executor(None, reply.gate.wait, 10)
            if isinstance(reply, Drop):
                return  # returning mid-response makes uvicorn close the connection
            tail = [prefix + b'{},"logprobs":null,"finish_reason":"%s"}]}\n\n' % finish.encode()]
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = orjson.dumps(_usage(given, body, len(deltas)))
                tail.append(
                    b"data: {" + head + b',"system_fingerprint":null,"choices":[],"usage":' + usage + b"}\n\n"
                )
            tail.append(b"data: [DONE]\n\n")
            await _body(send, b"".join(tail))
        finally:
            gone.cancel()


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind, code = _ERROR_TYPES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


async def _error(send: Send, error: Error) -> None:
    headers = [(b"retry-after", b"0")] if error.status == 429 else []
    if error.plain:
        data = error.message.encode()
        await _start(send, error.status, [(b"content-type", b"text/plain"), *headers])
        return await _body(send, data)
    await _json(send, error.status, _error_body(error.status, error.message), headers)


async def _json(
    send: Send, status: int, payload: object, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = orjson.dumps(payload)
    base = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await _start(send, status, base + (headers or []))
    await _body(send, data)


# Like OpenAI's, every answer names itself (pass-through relays it as x-upstream-request-id).
UPSTREAM_REQUEST_ID = "req_fakeprovider"


async def _start(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"x-request-id", UPSTREAM_REQUEST_ID.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _body(send: Send, data: bytes, more: bool = False) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fixed streamed Chat Completions reply forever.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--tokens", type=int, default=200, help="content chunks per reply")
    parser.add_argument("--interval-ms", type=float, default=20.0, help="delay before each chunk")
    args = parser.parse_args(argv)
    chunks = [f" tok{i}" for i in range(args.tokens)]
    reply = Text("".join(chunks), chunks=chunks, delay=args.interval_ms / 1000.0)
    provider = FakeProvider(host=args.host, port=args.port, default=reply, record=False, start=False)
    print(f"fake provider serving {provider.base_url}", flush=True)
    provider.serve_forever()


if __name__ == "__main__":
    main()
