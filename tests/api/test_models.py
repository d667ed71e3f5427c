"""GET /v1/models and GET /v1/models/{model}: the providers' own lists merged with the route names."""

from __future__ import annotations

import socket

import pytest

from console.providers.routing import ProviderRoute


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.fixture
def fresh(settings):  # type: ignore[no-untyped-def]
    settings.MODELS_CACHE_SECONDS = 0
    settings.MODELS_TIMEOUT = 2
    return settings


def test_it_lists_the_default_providers_models(api, provider, fresh):
    r = api.get("models")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["fake-model", "gpt-4o-mini", "gpt-4o"]
    assert body["data"][0] == {
        "id": "fake-model",
        "object": "model",
        "created": 1700000000,
        "owned_by": "fakeprovider",
    }


def test_it_merges_route_names_and_keeps_a_downed_providers_names(api, provider, fresh):
    down = _closed_port_url()
    fresh.LLM_PROVIDERS = (
        ProviderRoute(match="llama-local", base_url=down, model="llama3.1:8b"),
        ProviderRoute(match="qwen*", base_url=down),
        ProviderRoute(match="gpt-4o", base_url=provider.base_url, api_key="k2"),
    )
    ids = [m["id"] for m in api.get("models").json()["data"]]
    # The literal route name stays listed though its provider is down; its wildcard route lists nothing.
    assert ids == ["llama-local", "gpt-4o", "fake-model", "gpt-4o-mini"]
    llama = api.get("models/llama-local").json()
    assert llama["object"] == "model" and llama["owned_by"] == down.split("/")[2]


def test_it_lists_models_of_a_wildcard_route(api, provider, fresh):
    provider.models = ["fake-model", "llama-3-8b", "llama-3-70b"]
    fresh.LLM_BASE_URL = ""
    fresh.LLM_PROVIDERS = (ProviderRoute(match="llama*", base_url=provider.base_url, api_key="k"),)
    ids = [m["id"] for m in api.get("models").json()["data"]]
    assert ids == ["llama-3-8b", "llama-3-70b"]


def test_it_caches_provider_lists_briefly(api, provider, settings):
    settings.MODELS_CACHE_SECONDS = 60
    settings.LLM_API_KEY = "cache-test-key"  # another cache entry than other tests'
    assert "gpt-4o" in [m["id"] for m in api.get("models").json()["data"]]
    provider.models = ["only-new"]
    assert "gpt-4o" in [m["id"] for m in api.get("models").json()["data"]]


def test_it_retrieves_one_model(api, provider, fresh):
    r = api.get("models/gpt-4o-mini")
    assert r.status_code == 200
    assert r.json()["id"] == "gpt-4o-mini" and r.json()["object"] == "model"


def test_it_answers_an_unknown_model_with_404(api, provider, fresh):
    r = api.get("models/no-such-model")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found"


def test_it_requires_a_project_key(anonymous_api, provider):
    r = anonymous_api.get("models")
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"


def test_it_lists_through_the_sdk(sdk, provider, fresh):
    ids = [m.id for m in sdk.models.list()]
    assert ids == ["fake-model", "gpt-4o-mini", "gpt-4o"]
    assert sdk.models.retrieve("gpt-4o").owned_by == "fakeprovider"
