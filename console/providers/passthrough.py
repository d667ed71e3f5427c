"""Forwarding a /v1 request this server does not implement to the provider of its model.

The request goes out with the provider's key (never the client's); its body is streamed, and so
is the answer. The caller (console/api/views/passthrough.py) relays the answer as it arrives.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from console.providers.http import async_client, headers_for, timeout, until_idle
from console.providers.routing import Route

# Client headers passed on; everything else (the client's key, cookies, hop-by-hop headers) is not.
FORWARDED_HEADERS = ("content-type", "content-length", "accept", "openai-beta", "idempotency-key")
# Provider headers passed back.
RELAYED_HEADERS = re.compile(
    r"^(content-type|cache-control|content-disposition|openai-processing-ms|openai-version|"
    r"x-ratelimit-[a-z-]+|retry-after)$"
)
# Multipart fields are small and come first (the SDKs send fields before files); the model field
# is looked for in this much of the body at most.
MODEL_SCAN_BYTES = 1024 * 1024
_MULTIPART_MODEL = re.compile(rb'name="model"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n')


class ProviderUnreachable(Exception):
    pass


async def data_pieces(response: httpx.Response, idle: float) -> AsyncIterator[bytes]:
    """The body of an event stream as it comes; TimeoutError after `idle` seconds without data."""
    async for piece in until_idle(response.aiter_bytes(), idle):
        yield piece


def stall_event(idle: float) -> bytes:
    """What a relayed stream ends with when its provider stalled: an error the SDKs raise on."""
    error = {
        "message": f"The model provider sent no data for {idle:g} s (PROVIDER_READ_TIMEOUT).",
        "type": "server_error",
        "param": None,
        "code": "provider_timeout",
    }
    return b"data: " + orjson.dumps({"error": error}) + b"\n\n"


def multipart_model(head: bytes) -> str | None:
    """The `model` field of a multipart/form-data body, from its first bytes."""
    found = _MULTIPART_MODEL.search(head)
    return found.group(1).decode("utf-8", "replace") if found else None


def upstream_body(body: Any, model: str, route: Route) -> Any:
    """A JSON body with the model renamed when its route sends another name upstream."""
    if isinstance(body, dict) and route.model and route.model != model and "model" in body:
        return {**body, "model": route.model}
    return body


async def open_stream(
    route: Route,
    method: str,
    path: str,
    query: str,
    client_headers: dict[str, str],
    content: bytes | AsyncIterator[bytes] | None,
) -> httpx.Response:
    """The provider's response to the forwarded request, headers read and body not yet read.

    `path` is the part after /v1 (e.g. "/chat/completions"). Raises ProviderUnreachable when no
    answer came. The caller must aclose() the response.
    """
    headers = headers_for(route.api_key, content_type=None)
    for name in FORWARDED_HEADERS:
        if name in client_headers:
            headers[name] = client_headers[name]
    url = f"{route.base_url}{path}" + (f"?{query}" if query else "")
    client = async_client()
    request = client.build_request(method, url, headers=headers, content=content, timeout=timeout())
    try:
        return await client.send(request, stream=True)
    except httpx.TransportError as exc:
        raise ProviderUnreachable(f"Could not reach the model provider: {exc!r}") from None


def relayed_headers(response: httpx.Response) -> dict[str, str]:
    """The provider's headers to pass back; its request id as x-upstream-request-id, since our own
    x-request-id names the request here (console/api/request_id.py)."""
    relayed = {}
    for name, value in response.headers.items():
        lowered = name.lower()
        if lowered == "x-request-id":
            relayed["x-upstream-request-id"] = value
        elif RELAYED_HEADERS.match(lowered):
            relayed[name] = value
    return relayed


def usage_in(payload: Any) -> Any:
    """The `usage` object of a JSON answer or stream event (Responses events nest it)."""
    if not isinstance(payload, dict):
        return None
    if payload.get("usage"):
        return payload["usage"]
    inner = payload.get("response")
    return inner.get("usage") if isinstance(inner, dict) else None


class StreamUsage:
    """Finds the usage reported in an event stream, reading only the lines that mention it."""

    def __init__(self) -> None:
        self.buffer = b""
        self.usage: Any = None

    def feed(self, piece: bytes) -> None:
        if b"\n" not in piece:
            self.buffer += piece
            return
        lines = (self.buffer + piece).split(b"\n")
        self.buffer = lines.pop()
        for line in lines:
            if line.startswith(b"data:") and b'"usage"' in line:
                try:
                    found = usage_in(orjson.loads(line[5:]))
                except orjson.JSONDecodeError:
                    continue
                if found:
                    self.usage = found
