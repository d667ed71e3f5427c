"""LLM_PROVIDERS and LLM_BASE_URL: parsed once by console/settings.py, read from Django settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.providers.routing import NoProvider, ProviderRoute, parse_routes, route_for

ROOT = Path(__file__).resolve().parent.parent


def test_it_parses_inline_json_and_files(tmp_path):
    routes = [{"match": "llama*", "base_url": "http://127.0.0.1:11434/v1/", "model": "llama3.1:8b"}]
    expected = (
        ProviderRoute(match="llama*", base_url="http://127.0.0.1:11434/v1", api_key="", model="llama3.1:8b"),
    )
    assert parse_routes(json.dumps(routes)) == expected
    path = tmp_path / "routes.json"
    path.write_text(json.dumps(routes))
    assert parse_routes(str(path)) == expected
    assert parse_routes("  ") == ()


@pytest.mark.parametrize("raw", ['{"match": "x"}', '[{"match": "x"}]', "[not json"])
def test_it_refuses_malformed_routes(raw):
    with pytest.raises(ValueError, match="LLM_PROVIDERS"):
        parse_routes(raw)


def test_it_routes_first_match_then_the_default(settings):
    settings.LLM_BASE_URL = "http://default.test/v1"
    settings.LLM_API_KEY = "sk-default"
    settings.LLM_PROVIDERS = (
        ProviderRoute(match="llama*", base_url="http://ollama.test/v1", model="llama3.1:8b"),
        ProviderRoute(match="llama-big", base_url="http://never.test/v1"),
    )
    assert route_for("llama-big").base_url == "http://ollama.test/v1"
    assert route_for("llama-big").model == "llama3.1:8b"
    chosen = route_for("gpt-4o")
    assert (chosen.base_url, chosen.api_key, chosen.model) == (
        "http://default.test/v1",
        "sk-default",
        "gpt-4o",
    )
    assert route_for(None).base_url == "http://default.test/v1"
    settings.LLM_BASE_URL = ""
    with pytest.raises(NoProvider, match="LLM_BASE_URL"):
        route_for("gpt-4o")


def test_it_reads_the_environment_once_at_start_up(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.LLM_PROVIDERS[0].match, settings.EMBEDDINGS_DIMENSIONS, settings.EMBEDDINGS_LOCAL, "
        "settings.PASSTHROUGH)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "LLM_PROVIDERS": '[{"match": "qwen*", "base_url": "http://q.test/v1"}]',
        "EMBEDDINGS_DIMENSIONS": "256",
        "EMBEDDINGS_LOCAL": "1",
        "PASSTHROUGH": "0",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["qwen*", "256", "True", "False"]
