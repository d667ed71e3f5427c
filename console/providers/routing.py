"""Which provider serves a model: LLM_PROVIDERS routes by model name, LLM_BASE_URL is the default.

LLM_PROVIDERS is JSON, inline or in a file it names: a list of routes, first match wins:
  [{"match": "llama*", "base_url": "http://127.0.0.1:11434/v1", "api_key": "", "model": "llama3.1:8b"}]
`match` is a shell-style pattern on the requested model name; `model` (optional) is the name sent upstream;
`quirks` (optional) names the provider's departures from OpenAI (console/providers/quirks.py), as LLM_QUIRKS
does for LLM_BASE_URL.

The environment is parsed once, by console/settings.py (parse_routes, default_route); this module
reads the typed values from django.conf.settings.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from console.providers import quirks


@dataclass(frozen=True)
class ProviderRoute:
    """One configured provider: which model names it serves (`match`), where, and with which key."""

    match: str
    base_url: str
    api_key: str = ""
    model: str = ""  # the upstream name for every match; empty: the requested name
    quirks: frozenset[str] = frozenset()  # its departures from OpenAI (console/providers/quirks.py)


@dataclass(frozen=True)
class Route:
    """Where one request for one model goes."""

    base_url: str
    api_key: str
    model: str
    quirks: frozenset[str] = frozenset()


class NoProvider(Exception):
    pass


def parse_routes(raw: str) -> tuple[ProviderRoute, ...]:
    """LLM_PROVIDERS' JSON (or the path of a file holding it) as routes; ValueError when malformed."""
    raw = raw.strip()
    if not raw:
        return ()
    if not raw.startswith(("[", "{")):
        raw = Path(raw).read_text()
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"LLM_PROVIDERS is not valid JSON: {exc}") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("base_url") for e in entries):
        raise ValueError("LLM_PROVIDERS must be a JSON list of routes, each with a base_url")
    return tuple(
        ProviderRoute(
            match=str(e.get("match", "*")),
            base_url=str(e["base_url"]).rstrip("/"),
            api_key=str(e.get("api_key") or ""),
            model=str(e.get("model") or ""),
            quirks=quirks.parse(e.get("quirks")),
        )
        for e in entries
    )


def default_route(
    base_url: str, api_key: str, route_quirks: frozenset[str] = frozenset()
) -> ProviderRoute | None:
    """LLM_BASE_URL (+ LLM_API_KEY, LLM_QUIRKS) as the catch-all route, or None when unset."""
    base_url = base_url.strip()
    if not base_url:
        return None
    return ProviderRoute(
        match="*", base_url=base_url.rstrip("/"), api_key=api_key.strip(), quirks=route_quirks
    )


def configured_routes() -> tuple[ProviderRoute, ...]:
    """Every configured route in matching order, the default (LLM_BASE_URL) last."""
    routes: tuple[ProviderRoute, ...] = tuple(settings.LLM_PROVIDERS)
    fallback = default_route(settings.LLM_BASE_URL, settings.LLM_API_KEY, settings.LLM_QUIRKS)
    return (*routes, fallback) if fallback else routes


def route_for(model: str | None) -> Route:
    """The provider for `model`; None or "" picks the default provider (the catch-all, else the first)."""
    routes = configured_routes()
    if not model:
        chosen = next((r for r in routes if r.match == "*"), routes[0] if routes else None)
    else:
        chosen = next((r for r in routes if fnmatch.fnmatchcase(model, r.match)), None)
    if chosen is None:
        raise NoProvider(
            f"No model provider is configured for model '{model or ''}'. Set LLM_BASE_URL (and LLM_API_KEY), "
            "or add a route to LLM_PROVIDERS."
        )
    return Route(
        base_url=chosen.base_url,
        api_key=chosen.api_key,
        model=chosen.model or model or "",
        quirks=chosen.quirks,
    )
