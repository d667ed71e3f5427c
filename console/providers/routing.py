"""Which provider serves a model: LLM_PROVIDERS routes by model name, LLM_BASE_URL is the default.

LLM_PROVIDERS is JSON, inline or in a file it names: a list of routes, first match wins:
  [{"match": "llama*", "base_url": "http://127.0.0.1:11434/v1", "api_key": "", "model": "llama3.1:8b"}]
`match` is a shell-style pattern on the requested model name; `model` (optional) is the name sent upstream;
`quirks` (optional) names the provider's departures from OpenAI (console/providers/quirks.py), as LLM_QUIRKS
does for LLM_BASE_URL.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass
from pathlib import Path

from console.providers import quirks


@dataclass(frozen=True)
class Route:
    base_url: str
    api_key: str
    model: str
    quirks: frozenset[str] = frozenset()


class NoProvider(Exception):
    pass


def _routes() -> list[dict[str, str]]:
    raw = os.environ.get("LLM_PROVIDERS", "").strip()
    if not raw:
        return []
    if not raw.startswith("["):
        raw = Path(raw).read_text()
    routes = json.loads(raw)
    if not isinstance(routes, list):
        raise ValueError("LLM_PROVIDERS must be a JSON list of routes")
    return routes


def route_for(model: str) -> Route:
    for entry in _routes():
        if fnmatch.fnmatchcase(model, entry.get("match", "*")):
            return Route(
                base_url=entry["base_url"].rstrip("/"),
                api_key=entry.get("api_key", ""),
                model=entry.get("model") or model,
                quirks=quirks.parse(entry.get("quirks")),
            )
    base_url = os.environ.get("LLM_BASE_URL", "").strip()
    if not base_url:
        raise NoProvider(
            f"No model provider is configured for model '{model}'. Set LLM_BASE_URL (and LLM_API_KEY), "
            "or add a route to LLM_PROVIDERS."
        )
    return Route(
        base_url=base_url.rstrip("/"),
        api_key=os.environ.get("LLM_API_KEY", ""),
        model=model,
        quirks=quirks.parse(os.environ.get("LLM_QUIRKS")),
    )
