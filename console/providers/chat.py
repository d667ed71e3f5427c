"""The only code that talks to model providers: OpenAI-compatible Chat Completions over httpx.

Streams chunks with tool-call deltas and usage (stream_options.include_usage). Connect errors,
429 and 5xx are retried with bounded backoff until the first chunk arrives; after that a
dropped stream is an error, since output has already been shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from django.conf import settings

from console.providers.routing import NoProvider, route_for

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
BACKOFF_CAP = 8.0
TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=30.0)

_client: httpx.Client | None = None
_client_lock = threading.Lock()


class ProviderError(Exception):
    """A provider call that failed for good. `code` is the run's last_error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class Chunk:
    content: str | None = None
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, int] | None = None


def _http() -> httpx.Client:
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                timeout=TIMEOUT,
                limits=httpx.Limits(max_connections=2000, max_keepalive_connections=500),
            )
        return _client


def _parse_chunk(payload: dict[str, Any]) -> Chunk:
    chunk = Chunk(usage=payload.get("usage"))
    for choice in payload.get("choices") or []:
        delta = choice.get("delta") or {}
        chunk.content = delta.get("content") or None
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            chunk.tool_calls.append(
                ToolCallDelta(
                    index=call.get("index", 0),
                    id=call.get("id"),
                    name=function.get("name"),
                    arguments=function.get("arguments") or "",
                )
            )
        chunk.finish_reason = choice.get("finish_reason")
    return chunk


def _sse_data(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The `data:` payloads of an event stream, split by hand: httpx's iter_lines costs more per token."""
    buffer = b""
    for piece in pieces:
        buffer += piece
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if line.startswith(b"data:"):
                yield line[5:].strip()
        buffer = buffer[start:]
    if buffer.startswith(b"data:"):
        yield buffer[5:].strip()


def _error_message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.read())
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    except (orjson.JSONDecodeError, httpx.HTTPError):
        pass
    return f"HTTP {response.status_code}"


def _delay(attempt: int, response: httpx.Response | None = None) -> float:
    if response is not None:
        retry_after = response.headers.get("retry-after")
        if retry_after and retry_after.replace(".", "", 1).isdigit():
            return min(float(retry_after), BACKOFF_CAP)
    return min(settings.PROVIDER_RETRY_BACKOFF * (2**attempt), BACKOFF_CAP)


def stream_chat(body: dict[str, Any]) -> Iterator[Chunk]:
    """Streams a chat completion for body["model"]; raises ProviderError when it cannot."""
    try:
        route = route_for(body["model"])
    except NoProvider as exc:
        raise ProviderError("server_error", str(exc)) from None
    request = {**body, "model": route.model, "stream": True, "stream_options": {"include_usage": True}}
    headers = {"Content-Type": "application/json"}
    if route.api_key:
        headers["Authorization"] = f"Bearer {route.api_key}"
    url = f"{route.base_url}/chat/completions"
    content = orjson.dumps(request)

    for attempt in range(MAX_ATTEMPTS):
        last = attempt == MAX_ATTEMPTS - 1
        yielded = False
        try:
            with _http().stream("POST", url, content=content, headers=headers) as response:
                if response.status_code >= 400:
                    message = _error_message(response)
                    status = response.status_code
                    if (status == 429 or status >= 500) and not last:
                        log.warning("provider answered %s; retrying", status)
                        time.sleep(_delay(attempt, response))
                        continue
                    if status == 429:
                        raise ProviderError("rate_limit_exceeded", f"The model provider is rate limiting: {message}")
                    if status in (400, 404, 413, 422):
                        raise ProviderError("invalid_prompt", f"The model provider refused the request: {message}")
                    raise ProviderError("server_error", f"The model provider failed (HTTP {status}): {message}")
                finished = False
                for data in _sse_data(response.iter_bytes()):
                    if data == b"[DONE]":
                        finished = True
                        break
                    yielded = True
                    yield _parse_chunk(orjson.loads(data))
                if not finished:
                    raise ProviderError("server_error", "The model provider's stream ended before it was complete.")
                return
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            if last:
                raise ProviderError("server_error", f"Could not reach the model provider: {exc}") from None
            time.sleep(_delay(attempt))
        except (httpx.TransportError, orjson.JSONDecodeError) as exc:
            if yielded or last:
                raise ProviderError(
                    "server_error", f"The connection to the model provider failed mid-stream: {exc!r}"
                ) from None
            time.sleep(_delay(attempt))
