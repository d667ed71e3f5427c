"""The only code that talks to model providers: OpenAI-compatible Chat Completions over httpx.

Streams chunks with tool-call deltas and usage (stream_options.include_usage), on the worker's
engine loop (console/engine/loop.py): one httpx.AsyncClient per event loop. Connect errors,
429 and 5xx are retried with bounded backoff until the first chunk arrives; after that a
dropped stream is an error, since output has already been shown.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from django.conf import settings

from console.providers import quirks
from console.providers.routing import NoProvider, route_for
from console.providers.transport import async_transport

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
BACKOFF_CAP = 8.0
TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=30.0)

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


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


def _http() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    found = _clients.get(loop)
    if found is None:
        found = httpx.AsyncClient(
            timeout=TIMEOUT,
            transport=async_transport(httpx.Limits(max_connections=2000, max_keepalive_connections=500)),
        )
        _clients[loop] = found
    return found


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


class _SSEData:
    """Splits an event stream's bytes into its `data:` payloads, by hand: httpx's aiter_lines
    costs more per token."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, piece: bytes) -> list[bytes]:
        buffer = self.buffer + piece
        found = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if line.startswith(b"data:"):
                found.append(line[5:].strip())
        self.buffer = buffer[start:]
        return found

    def rest(self) -> list[bytes]:
        return [self.buffer[5:].strip()] if self.buffer.startswith(b"data:") else []


async def _error_message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(await response.aread())
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


async def stream_chat(body: dict[str, Any], after_tool_outputs: bool = False) -> AsyncGenerator[list[Chunk], None]:
    """Streams a chat completion for body["model"]; raises ProviderError when it cannot.

    The request is reshaped for the provider's quirks (console/providers/quirks.py);
    after_tool_outputs says the run already had tool outputs back.

    Yields the chunks of each network read together: when several tokens are already waiting,
    the caller handles (and publishes) them as one.
    """
    try:
        route = route_for(body["model"])
    except (NoProvider, ValueError) as exc:  # ValueError: a provider setting that does not parse
        raise ProviderError("server_error", str(exc)) from None
    request = {**body, "model": route.model, "stream": True, "stream_options": {"include_usage": True}}
    request = quirks.adapt(request, route.quirks, after_tool_outputs)
    fixer = quirks.StreamFixer.for_request(request, route.quirks)
    headers = {"Content-Type": "application/json"}
    if route.api_key:
        headers["Authorization"] = f"Bearer {route.api_key}"
    url = f"{route.base_url}/chat/completions"
    content = orjson.dumps(request)

    for attempt in range(MAX_ATTEMPTS):
        last = attempt == MAX_ATTEMPTS - 1
        yielded = False
        try:
            async with _http().stream("POST", url, content=content, headers=headers) as response:
                if response.status_code >= 400:
                    message = await _error_message(response)
                    status = response.status_code
                    if (status == 429 or status >= 500) and not last:
                        log.warning("provider answered %s; retrying", status)
                        await asyncio.sleep(_delay(attempt, response))
                        continue
                    if status == 429:
                        raise ProviderError("rate_limit_exceeded", f"The model provider is rate limiting: {message}")
                    if status in (400, 404, 413, 422):
                        raise ProviderError("invalid_prompt", f"The model provider refused the request: {message}")
                    raise ProviderError("server_error", f"The model provider failed (HTTP {status}): {message}")
                lines = _SSEData()
                finished = False
                if fixer is not None:  # a retry starts the answer afresh
                    fixer = quirks.StreamFixer.for_request(request, route.quirks)
                async for piece in response.aiter_bytes():
                    chunks, finished = _chunks(lines.feed(piece))
                    if fixer is not None:
                        fixer.apply(chunks)
                    if chunks:
                        yielded = True
                        yield chunks
                    if finished:
                        break
                if not finished:
                    chunks, finished = _chunks(lines.rest())
                    if fixer is not None:
                        fixer.apply(chunks)
                    if chunks:
                        yield chunks
                if not finished:
                    raise ProviderError("server_error", "The model provider's stream ended before it was complete.")
                return
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            if last:
                raise ProviderError("server_error", f"Could not reach the model provider: {exc}") from None
            await asyncio.sleep(_delay(attempt))
        except (httpx.TransportError, orjson.JSONDecodeError) as exc:
            if yielded or last:
                raise ProviderError(
                    "server_error", f"The connection to the model provider failed mid-stream: {exc!r}"
                ) from None
            await asyncio.sleep(_delay(attempt))


def _chunks(payloads: list[bytes]) -> tuple[list[Chunk], bool]:
    """The parsed chunks among payloads, and whether the stream's [DONE] came."""
    chunks: list[Chunk] = []
    for data in payloads:
        if data == b"[DONE]":
            return chunks, True
        chunks.append(_parse_chunk(orjson.loads(data)))
    return chunks, False
