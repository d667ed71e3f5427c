"""Every /v1 path this server does not implement, forwarded to the provider of the request's model.

chat/completions, completions, embeddings, responses, audio, images, moderations...: the client
presents its project key here, the provider gets the server's key for that model's route
(LLM_PROVIDERS / LLM_BASE_URL); the default provider when the request names no model. Bodies are
streamed from the spooled request to the provider, answers relayed as they arrive, and the usage
an answer reports is recorded for the project. PASSTHROUGH=0: 404, as for any unknown URL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from console.api.endpoint import ApiRequest, async_api_view
from console.api.errors import error_response
from console.passthrough.services import normalise_usage, record_usage
from console.providers.passthrough import (
    MODEL_SCAN_BYTES,
    ProviderUnreachable,
    StreamUsage,
    data_pieces,
    multipart_model,
    open_stream,
    relayed_headers,
    stall_event,
    upstream_body,
    usage_in,
)
from console.providers.routing import NoProvider, route_for

log = logging.getLogger(__name__)

# Resources this server implements itself: their unknown sub-paths are 404 here, never forwarded.
# The last event of a chat/completions stream, and of a Responses stream.
_STREAM_ENDS = re.compile(rb"data: \[DONE\]|response\.completed")
OWN_PREFIXES = (
    "assistants",
    "threads",
    "files",
    "vector_stores",
    "usage",
    "models",
    "runs",
    "file_batches",
    "responses",
    "conversations",
)
# Paths under those that are not served here, and still go to the provider.
FORWARDED_PATHS = ("/responses/compact",)
READ_SIZE = 256 * 1024


def _not_found(request: ApiRequest) -> HttpResponse:
    return error_response(404, f"Invalid URL ({request.method} {request.path})")


async def _rest(request: ApiRequest, head: bytes) -> AsyncIterator[bytes]:
    """The request body, from the spooled file Django received it into, in pieces."""
    if head:
        yield head
    while piece := request.read(READ_SIZE):
        yield piece


@async_api_view("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS")
async def passthrough(request: ApiRequest) -> HttpResponseBase:
    path = request.path[len("/v1") :]
    own = path.strip("/").split("/", 1)[0] in OWN_PREFIXES and path.rstrip("/") not in FORWARDED_PATHS
    if not settings.PASSTHROUGH or own:
        return _not_found(request)
    client_headers = {name.lower(): value for name, value in request.headers.items()}
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    model: str | None = None
    content: bytes | AsyncIterator[bytes] | None = None
    parsed: Any = None
    if request.content_type == "multipart/form-data":
        head = b""
        scan = min(length, MODEL_SCAN_BYTES) if length else MODEL_SCAN_BYTES  # 0: a chunked body
        while model is None and len(head) < scan:
            piece = request.read(64 * 1024)
            if not piece:
                break
            head += piece
            model = multipart_model(head)
        content = _rest(request, head)
    elif length:
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return error_response(413, "Request too large.")
        raw = request.read()
        content = raw
        if request.content_type == "application/json":
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return error_response(400, "We could not parse the JSON body of your request.")
            if isinstance(parsed, dict) and isinstance(parsed.get("model"), str):
                model = parsed["model"]
    else:
        model = request.GET.get("model") or None
    try:
        route = route_for(model)
    except NoProvider as exc:
        if model:
            return error_response(404, str(exc), param="model", code="model_not_found")
        return error_response(503, str(exc), type="server_error", code="provider_unavailable")
    if parsed is not None and model is not None:
        renamed = upstream_body(parsed, model, route)
        if renamed is not parsed:
            content = orjson.dumps(renamed)
            client_headers["content-length"] = str(len(content))
    try:
        response = await open_stream(
            route,
            request.method or "GET",
            path,
            request.META.get("QUERY_STRING", ""),
            client_headers,
            content,
        )
    except ProviderUnreachable as exc:
        log.warning("%s %s: %s", request.method, request.path, exc)
        return error_response(
            502, "Could not reach the model provider.", type="server_error", code="provider_unreachable"
        )
    return await _relay(request, response, model or "")


async def _relay(request: ApiRequest, response: httpx.Response, model: str) -> HttpResponseBase:
    headers = relayed_headers(response)
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/event-stream") and (
        content_type.startswith("application/json") or response.status_code >= 400
    ):
        try:
            body = await response.aread()
        except httpx.HTTPError as exc:
            return error_response(502, f"The model provider's answer broke off: {exc!r}", type="server_error")
        finally:
            await response.aclose()
        if response.status_code < 400 and content_type.startswith("application/json"):
            try:
                await _record(request, model, usage_in(orjson.loads(body)))
            except orjson.JSONDecodeError:
                pass
        elif response.status_code >= 400 and not content_type.startswith("application/json"):
            # Not OpenAI's envelope (a proxy's or a server's HTML or text page): wrapped in one.
            text = body[:300].decode("utf-8", "replace").strip()
            kind = "server_error" if response.status_code >= 500 else "invalid_request_error"
            return error_response(
                response.status_code, f"The model provider answered {response.status_code}: {text}", type=kind
            )
        relayed = HttpResponse(body, status=response.status_code)
        for name, value in headers.items():
            relayed[name] = value
        return relayed

    scan = StreamUsage() if content_type.startswith("text/event-stream") else None

    async def relay() -> AsyncIterator[bytes]:
        recorded = scan is None or response.status_code >= 400
        idle = settings.PROVIDER_READ_TIMEOUT
        pieces = data_pieces(response, idle) if scan is not None else response.aiter_bytes()
        try:
            async for piece in pieces:
                if not recorded and scan is not None:
                    scan.feed(piece)
                    # Recorded before the client gets the stream's end, so a client that has read to
                    # the end finds the usage counted. (Some providers repeat a running usage in
                    # every chunk: the last one, at the end, is the total.)
                    if _STREAM_ENDS.search(piece) and scan.usage is not None:
                        await _record(request, model, scan.usage)
                        recorded = True
                yield piece
            if not recorded and scan is not None and scan.usage is not None:
                await _record(request, model, scan.usage)
        except (httpx.ReadTimeout, TimeoutError):
            log.warning("%s %s: the provider's stream stalled past %g s", request.method, request.path, idle)
            if scan is not None:
                yield stall_event(idle)
        except httpx.HTTPError as exc:
            log.warning("%s %s: the provider's stream broke off: %r", request.method, request.path, exc)
        finally:
            await response.aclose()

    streamed = StreamingHttpResponse(relay(), status=response.status_code)
    for name, value in headers.items():
        streamed[name] = value
    if scan is not None:
        streamed["X-Accel-Buffering"] = "no"
    return streamed


async def _record(request: ApiRequest, model: str, usage: Any) -> None:
    counted = normalise_usage(usage)
    if counted:
        await sync_to_async(record_usage)(request.project, request.path, model, counted)
