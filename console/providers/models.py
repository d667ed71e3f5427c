"""GET /v1/models: the models of the configured providers, merged with the route names.

Each provider's own /models list is fetched with a short timeout (MODELS_TIMEOUT) and kept for
MODELS_CACHE_SECONDS; a provider that is down lists its routes' literal names only.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from console.providers.http import async_client, headers_for
from console.providers.routing import ProviderRoute, configured_routes

log = logging.getLogger(__name__)

STARTED = int(time.time())
_cache: dict[tuple[str, str], tuple[float, list[dict[str, Any]] | None]] = {}


def _literal(pattern: str) -> bool:
    return not any(c in pattern for c in "*?[")


async def _provider_models(route: ProviderRoute) -> list[dict[str, Any]] | None:
    """The provider's own list (id, created, owned_by), or None when it could not be had."""
    key = (route.base_url, route.api_key)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached and cached[0] > now:
        return cached[1]
    found: list[dict[str, Any]] | None = None
    try:
        response = await async_client().get(
            f"{route.base_url}/models",
            headers=headers_for(route.api_key, content_type=None),
            timeout=settings.MODELS_TIMEOUT,
        )
        if response.status_code == 200:
            data = response.json().get("data")
            if isinstance(data, list):
                found = [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
        else:
            log.warning("%s/models answered %s", route.base_url, response.status_code)
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        log.warning("could not list the models of %s: %r", route.base_url, exc)
    # A failure is kept briefly too, so a provider that is down does not slow every listing.
    keep = settings.MODELS_CACHE_SECONDS if found is not None else min(5.0, settings.MODELS_CACHE_SECONDS)
    _cache[key] = (now + keep, found)
    return found


def _entry(model_id: str, route: ProviderRoute, listed: dict[str, Any] | None = None) -> dict[str, Any]:
    listed = listed or {}
    created = listed.get("created")
    owned_by = listed.get("owned_by")
    return {
        "id": model_id,
        "object": "model",
        "created": created if isinstance(created, int) and not isinstance(created, bool) else STARTED,
        "owned_by": owned_by if isinstance(owned_by, str) and owned_by else urlsplit(route.base_url).netloc,
    }


async def list_models() -> list[dict[str, Any]]:
    """Every model name a client may ask for, each once, in route order."""
    routes = configured_routes()
    lists = await asyncio.gather(*(_provider_models(route) for route in routes))
    out: dict[str, dict[str, Any]] = {}

    def served_here(model_id: str, index: int) -> bool:
        return next((i for i, r in enumerate(routes) if fnmatch.fnmatchcase(model_id, r.match)), -1) == index

    for index, (route, listed) in enumerate(zip(routes, lists, strict=True)):
        by_id = {m["id"]: m for m in listed or []}
        if _literal(route.match):
            if route.match not in out and served_here(route.match, index):
                out[route.match] = _entry(route.match, route, by_id.get(route.model or route.match))
            continue
        for model_id, listed_model in by_id.items():
            if model_id not in out and served_here(model_id, index):
                out[model_id] = _entry(model_id, route, listed_model)
    return list(out.values())


async def get_model(model_id: str) -> dict[str, Any] | None:
    return next((m for m in await list_models() if m["id"] == model_id), None)
