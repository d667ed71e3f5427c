"""Pass-through: /v1 paths this server does not implement go to the provider of the request's model."""

from __future__ import annotations

import hashlib
import socket
import threading

import httpx
import pytest

from console.passthrough.models import ForwardedUsage
from console.providers.routing import ProviderRoute
from tests.fakeprovider import Error, Text


def _usage_rows(owner) -> list[tuple[str, str, int, int, int]]:  # type: ignore[no-untyped-def]
    return list(
        ForwardedUsage.objects.filter(project=owner.project)
        .order_by("id")
        .values_list("path", "model", "prompt_tokens", "completion_tokens", "total_tokens")
    )


def test_it_forwards_chat_completions_with_the_servers_key(api, provider, owner):
    provider.script(Text("Hi there", usage=(4, 2)))
    r = api.post(
        "chat/completions", json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"] == "Hi there"
    assert provider.auth_headers == ["Bearer test-provider-key"]
    assert owner.key not in provider.auth_headers[0]
    assert provider.requests[0]["messages"] == [{"role": "user", "content": "hi"}]
    assert _usage_rows(owner) == [("/v1/chat/completions", "fake-model", 4, 2, 6)]
    today = api.get("usage", params={"days": 1}).json()["data"][0]
    assert (today["runs"], today["prompt_tokens"], today["completion_tokens"], today["total_tokens"]) == (
        0,
        4,
        2,
        6,
    )


def test_it_routes_by_model_and_renames_upstream(api, provider, owner, settings):
    settings.LLM_BASE_URL = ""
    settings.LLM_PROVIDERS = (
        ProviderRoute(match="local-*", base_url=provider.base_url, api_key="route-key", model="fake-model"),
    )
    r = api.post(
        "chat/completions", json={"model": "local-small", "messages": [{"role": "user", "content": "x"}]}
    )
    assert r.status_code == 200, r.text
    assert provider.requests[0]["model"] == "fake-model"
    assert provider.auth_headers == ["Bearer route-key"]
    r = api.post("chat/completions", json={"model": "elsewhere", "messages": []})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert len(provider.requests) == 1


def test_it_relays_a_stream_as_it_arrives_through_the_sdk(sdk, provider, owner):
    provider.script(Text("one two three four", usage=(3, 4)))
    stream = sdk.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    assert "".join(pieces) == "one two three four" and len(pieces) == 4
    assert usage is not None and usage.total_tokens == 7
    assert _usage_rows(owner) == [("/v1/chat/completions", "fake-model", 3, 4, 7)]


def test_it_relays_the_first_chunk_before_the_stream_ends(api, provider):
    gate = threading.Event()  # the provider sends nothing more until the client has the first chunk
    provider.script(Text("first second", gate=gate))
    try:
        with api.stream(
            "POST", "chat/completions", json={"model": "fake-model", "messages": [], "stream": True}
        ) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            first = next(line for line in lines if line.startswith("data:"))
            assert '"content":"first"' in first
            gate.set()
            rest = [line for line in lines if line.startswith("data:")]
    finally:
        gate.set()
    assert '" second"' in rest[0] and rest[-1] == "data: [DONE]"


def test_it_forwards_embeddings_through_the_sdk(sdk, provider, owner):
    result = sdk.embeddings.create(
        model="text-embedding-3-small", input=["a", "bbb"], encoding_format="float"
    )
    assert [d.embedding for d in sorted(result.data, key=lambda d: d.index)] == [
        [1.0, 1.0, 0.0],
        [3.0, 1.0, 0.0],
    ]
    [call] = provider.calls
    assert call["path"] == "/v1/embeddings" and call["auth"] == "Bearer test-provider-key"
    assert _usage_rows(owner) == [("/v1/embeddings", "text-embedding-3-small", 2, 0, 2)]


def test_it_streams_a_multipart_upload_to_the_provider(api, provider, owner):
    audio = bytes(range(256)) * (3 * 4096)  # 3 MB: more than Django keeps in memory
    upload = httpx.Request(
        "POST",
        "http://x",
        data={"model": "whisper-1", "language": "en"},
        files={"file": ("a.mp3", audio, "audio/mpeg")},
    )
    body = upload.read()
    r = api.post(
        "audio/transcriptions", content=body, headers={"Content-Type": upload.headers["content-type"]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "whisper-1"
    [call] = provider.calls
    assert call["content_type"] == upload.headers["content-type"]
    assert (call["size"], call["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    assert call["content_length"] == str(len(body)) and call["auth"] == "Bearer test-provider-key"
    assert _usage_rows(owner) == [("/v1/audio/transcriptions", "whisper-1", 7, 3, 10)]


def test_it_routes_a_multipart_upload_by_its_model_field(api, provider, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings.LLM_BASE_URL = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"  # the default is down
    settings.LLM_PROVIDERS = (
        ProviderRoute(match="whisper*", base_url=provider.base_url, api_key="audio-key"),
    )
    r = api.post(
        "audio/transcriptions",
        data={"model": "whisper-1"},
        files={"file": ("a.wav", b"RIFF" + b"\0" * 5000, "audio/wav")},
    )
    assert r.status_code == 200, r.text
    assert provider.calls[0]["auth"] == "Bearer audio-key"


def test_it_forwards_a_multipart_upload_through_the_sdk(sdk, provider):
    result = sdk.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF" + b"\0" * 1000))
    assert result.text.endswith(" bytes")
    assert provider.calls[0]["path"] == "/v1/audio/transcriptions"


def test_it_returns_provider_errors_with_their_status_and_body(api, provider, owner):
    provider.script(Error(400, "bad messages"))
    r = api.post("chat/completions", json={"model": "fake-model", "messages": "nope"})
    assert r.status_code == 400
    assert r.json() == {
        "error": {"message": "bad messages", "type": "invalid_request_error", "param": None, "code": None}
    }
    provider.script(Error(503, "Service Unavailable", plain=True))
    r = api.post("chat/completions", json={"model": "fake-model", "messages": []})
    assert r.status_code == 503  # a page that is not OpenAI's envelope comes back wrapped in one
    assert r.json()["error"] == {
        "message": "The model provider answered 503: Service Unavailable",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    r = api.get("fine_tuning/jobs")  # the fake provider has no such path
    assert r.status_code == 404 and r.json()["error"]["message"] == "Unknown path GET /v1/fine_tuning/jobs"
    assert _usage_rows(owner) == []


def test_it_requires_a_valid_project_key(anonymous_api, live_url, provider):
    r = anonymous_api.post("chat/completions", json={"model": "fake-model", "messages": []})
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(
        f"{live_url}/v1/chat/completions",
        headers={"Authorization": "Bearer test-provider-key"},
        json={"model": "fake-model", "messages": []},
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert provider.requests == []


def test_it_answers_502_when_the_provider_is_unreachable(api, provider, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings.LLM_BASE_URL = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    r = api.post("moderations", json={"model": "omni-moderation-latest", "input": "hi"})
    assert r.status_code == 502
    assert r.json()["error"]["type"] == "server_error" and r.json()["error"]["code"] == "provider_unreachable"


def test_it_forwards_requests_without_a_model_to_the_default_provider(api, provider):
    r = api.post("moderations", params={"x": "1 2"}, json={"input": "hi"})
    assert r.status_code == 200 and r.json()["results"][0]["flagged"] is False
    assert provider.calls[0]["path"] == "/v1/moderations" and provider.calls[0]["query"] == "x=1+2"


@pytest.mark.parametrize("path", ["chat/completions", "embeddings"])
def test_it_answers_404_when_passthrough_is_off(api, provider, settings, path):
    settings.PASSTHROUGH = False
    r = api.post(path, json={"model": "fake-model", "messages": [], "input": "x"})
    assert r.status_code == 404 and r.json()["error"]["message"] == f"Invalid URL (POST /v1/{path})"
    assert provider.requests == [] and provider.calls == []


def test_it_does_not_forward_unknown_paths_of_its_own_resources(api, provider):
    r = api.get("assistants/asst_x/extra")
    assert r.status_code == 404 and provider.calls == [] and provider.requests == []
