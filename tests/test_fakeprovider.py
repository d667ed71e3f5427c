"""The fake model provider speaks Chat Completions well enough for raw HTTP clients and the openai SDK."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.fakeprovider import Call, Drop, Error, FakeProvider, Text, ToolCalls

AUTH = {"Authorization": "Bearer sk-test"}
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Say hello to me"},
]


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    yield provider
    provider.close()


@pytest.fixture
def provider(shared: FakeProvider) -> Iterator[FakeProvider]:
    shared.reset()
    yield shared
    shared.reset()


def stream_chunks(provider: FakeProvider, **extra: Any) -> tuple[httpx.Response, list[Any]]:
    """POST a streaming request and return the response and its decoded SSE payloads."""
    body = {"model": "fake-model", "messages": MESSAGES, "stream": True, **extra}
    events: list[Any] = []
    with httpx.stream("POST", provider.base_url + "/chat/completions", json=body, headers=AUTH) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                events.append(data if data == "[DONE]" else json.loads(data))
            else:
                assert line == "", line
    return response, events


def sdk(provider: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=provider.base_url, api_key="sk-sdk", max_retries=0)


# --------------------------------------------------------------------------- raw HTTP


def test_streamed_text_wire_format(provider: FakeProvider) -> None:
    provider.script(Text("Hello there, friend"))
    response, events = stream_chunks(provider, model="my-model")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "my-model"
        assert isinstance(chunk["created"], int)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["delta"]["content"] for c in chunks[:-1]] == ["Hello", " there,", " friend"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert "usage" not in chunks[-1]
    assert provider.requests[0]["messages"] == MESSAGES
    assert provider.auth_headers == ["Bearer sk-test"]
    assert len(provider.request_times) == len(provider.first_token_times) == 1
    assert provider.request_times[0] <= provider.first_token_times[0]


def test_usage_chunk_computed_and_given(provider: FakeProvider) -> None:
    provider.script(Text("one two three"), Text("x", usage=(11, 7), finish_reason="length"))
    _, events = stream_chunks(provider, stream_options={"include_usage": True})
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {
        "prompt_tokens": 6,
        "completion_tokens": 3,
        "total_tokens": 9,
    }  # words, chunks
    _, events = stream_chunks(provider, stream_options={"include_usage": True})
    assert events[-3]["choices"][0]["finish_reason"] == "length"
    assert events[-2]["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def test_explicit_chunks_and_slow_stream(provider: FakeProvider) -> None:
    provider.script(Text("abc", chunks=["a", "b", "c"], delay=0.1))
    started = time.monotonic()
    _, events = stream_chunks(provider)
    elapsed = time.monotonic() - started
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1]) == "abc"
    assert len(events) == 5  # three content chunks, the finish chunk, [DONE]
    assert provider.first_token_times[0] - provider.request_times[0] >= 0.09
    assert elapsed >= 0.29


def test_streamed_parallel_tool_calls(provider: FakeProvider) -> None:
    weather = Call("get_weather", '{"city":"Paris"}')
    clock = Call("get_time", "{}", id="call_fixed")
    provider.script(ToolCalls([weather, clock], text="Checking"))
    _, events = stream_chunks(provider)
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Checking"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks[1:-1]:
        (delta,) = chunk["choices"][0]["delta"]["tool_calls"]
        if "id" in delta:
            assert delta["type"] == "function" and delta["function"]["arguments"] == ""
            calls[delta["index"]] = {"id": delta["id"], "name": delta["function"]["name"], "arguments": ""}
        else:
            calls[delta["index"]]["arguments"] += delta["function"]["arguments"]
    assert calls == {
        0: {"id": weather.id, "name": "get_weather", "arguments": '{"city":"Paris"}'},
        1: {"id": "call_fixed", "name": "get_time", "arguments": "{}"},
    }
    assert weather.id is not None and re.fullmatch(r"call_[A-Za-z0-9]{24}", weather.id)
    fragments = [c for c in chunks if c["choices"][0]["delta"].get("tool_calls", [{}])[0].get("index") == 0]
    assert len(fragments) == 4  # the head, then the arguments in three pieces


def test_tool_calls_without_text_carry_the_role(provider: FakeProvider) -> None:
    provider.script(ToolCalls([Call("lookup", '{"q":1}')]))
    _, events = stream_chunks(provider)
    first = events[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and first["tool_calls"][0]["function"]["name"] == "lookup"


def test_non_streamed_replies(provider: FakeProvider) -> None:
    provider.script(Text("Plain answer"), ToolCalls([Call("f", '{"a":1}', id="call_1")], usage=(3, 4)))
    url = provider.base_url + "/chat/completions"
    body = {"model": "fake-model", "messages": MESSAGES}
    completion = httpx.post(url, json=body, headers=AUTH).json()
    assert completion["object"] == "chat.completion"
    choice = completion["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"] == "Plain answer"
    assert choice["finish_reason"] == "stop"
    assert completion["usage"] == {"prompt_tokens": 6, "completion_tokens": 2, "total_tokens": 8}
    completion = httpx.post(url, json=body, headers=AUTH).json()
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    ]
    assert completion["usage"]["total_tokens"] == 7
    assert provider.first_token_times == []


def test_errors_answer_consecutive_requests(provider: FakeProvider) -> None:
    provider.script(Error(500, "boom", times=2), Error(429, "slow down"), Text("finally"))
    url = provider.base_url + "/chat/completions"
    body = {"model": "fake-model", "messages": MESSAGES, "stream": True}
    statuses = []
    for _ in range(4):
        response = httpx.post(url, json=body, headers=AUTH)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["retry-after"] == "0"
            assert response.json() == {
                "error": {
                    "message": "slow down",
                    "type": "rate_limit_error",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            }
        elif response.status_code == 500:
            assert response.json()["error"]["message"] == "boom"
            assert "retry-after" not in response.headers
    assert statuses == [500, 500, 429, 200]
    assert "finally" in response.text
    assert len(provider.requests) == 4


def test_drop_breaks_the_connection(provider: FakeProvider) -> None:
    provider.script(Drop(after_chunks=3), Drop())
    body = {"model": "fake-model", "messages": MESSAGES, "stream": True}
    lines: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        with httpx.stream(
            "POST", provider.base_url + "/chat/completions", json=body, headers=AUTH
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line:
                    lines.append(line)
    assert len(lines) == 3
    assert "[DONE]" not in "".join(lines) and '"finish_reason":null' in lines[-1]
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(provider.base_url + "/chat/completions", json={**body, "stream": False}, headers=AUTH)


def test_empty_script_uses_default_reply(provider: FakeProvider) -> None:
    _, events = stream_chunks(provider)
    assert (
        "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1])
        == "Hello from the fake model."
    )


def test_auth_models_unknown_paths_and_bad_json(provider: FakeProvider) -> None:
    provider.script(Text("kept"))
    url = provider.base_url + "/chat/completions"
    response = httpx.post(url, json={"model": "m", "messages": MESSAGES})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(provider.base_url + "/models").status_code == 401
    models = httpx.get(provider.base_url + "/models", headers=AUTH).json()
    assert models["object"] == "list" and "fake-model" in [m["id"] for m in models["data"]]
    for method, path in [("GET", "/v1/nothing"), ("GET", "/v1/chat/completions"), ("POST", "/elsewhere")]:
        response = httpx.request(method, provider.base_url.removesuffix("/v1") + path, headers=AUTH)
        assert response.status_code == 404 and "error" in response.json()
    response = httpx.post(url, content=b"{not json", headers=AUTH)
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    assert provider.requests == []
    assert (
        httpx.post(url, json={"model": "m", "messages": MESSAGES}, headers=AUTH).json()["choices"][0][
            "message"
        ]["content"]
        == "kept"
    )


def test_reset_clears_script_and_records(provider: FakeProvider) -> None:
    provider.script(Text("first"), Text("second"))
    stream_chunks(provider)
    provider.reset()
    assert (provider.requests, provider.request_times, provider.auth_headers, provider.first_token_times) == (
        [],
        [],
        [],
        [],
    )
    _, events = stream_chunks(provider)
    assert events[0]["choices"][0]["delta"]["content"] == "Hello"  # default reply, not "second"


def test_two_hundred_concurrent_streams(provider: FakeProvider) -> None:
    count, pieces = 200, 10
    provider.script(*[Text("x", chunks=[f" t{i}" for i in range(pieces)], delay=0.2)] * count)
    body = {"model": "fake-model", "messages": MESSAGES, "stream": True}

    async def one(client: httpx.AsyncClient) -> tuple[int, float]:
        content = 0
        async with client.stream("POST", provider.base_url + "/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                content += '"content"' in line
        return content, time.monotonic()

    async def many() -> list[tuple[int, float]]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with httpx.AsyncClient(headers=AUTH, limits=limits, timeout=60) as client:
            return await asyncio.gather(*(one(client) for _ in range(count)))

    results = asyncio.run(many())
    assert [content for content, _ in results] == [pieces] * count
    # Every stream was open at once: the last request arrived before the first stream ended.
    assert max(provider.request_times) < min(end for _, end in results)


# --------------------------------------------------------------------------- openai SDK


def test_sdk_streams_text_with_usage(provider: FakeProvider) -> None:
    provider.script(Text("Bonjour tout le monde", usage=(9, 4)))
    stream = sdk(provider).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Bonjour tout le monde"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 13
    assert provider.auth_headers == ["Bearer sk-sdk"]
    assert provider.requests[0]["model"] == "gpt-4o-mini" and provider.requests[0]["stream"] is True


def test_sdk_streams_parallel_tool_calls(provider: FakeProvider) -> None:
    provider.script(ToolCalls([Call("get_weather", '{"city":"Paris"}'), Call("get_time", "{}")]))
    stream = sdk(provider).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    calls: dict[int, list[str]] = {}
    finish = None
    for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            entry = calls.setdefault(delta.index, ["", "", ""])
            assert delta.function is not None
            entry[0] = delta.id or entry[0]
            entry[1] = delta.function.name or entry[1]
            entry[2] += delta.function.arguments or ""
    assert finish == "tool_calls"
    assert [(name, args) for _, name, args in calls.values()] == [
        ("get_weather", '{"city":"Paris"}'),
        ("get_time", "{}"),
    ]
    assert all(call_id.startswith("call_") for call_id, _, _ in calls.values())


def test_sdk_stream_helper_accumulates(provider: FakeProvider) -> None:
    provider.script(ToolCalls([Call("f", '{"x": [1, 2, 3]}', id="call_abc")], text="Let me check."))
    client = sdk(provider)
    with client.chat.completions.stream(model="m", messages=MESSAGES) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Let me check."
    assert message.tool_calls is not None
    assert message.tool_calls[0].id == "call_abc"
    assert message.tool_calls[0].function.arguments == '{"x": [1, 2, 3]}'


def test_sdk_non_streamed_and_errors(provider: FakeProvider) -> None:
    provider.script(ToolCalls([Call("f", "{}", id="call_z")]), Error(429, "slow down"), Error(400, "bad"))
    client = sdk(provider)
    completion = client.chat.completions.create(model="m", messages=MESSAGES)
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.choices[0].message.tool_calls is not None
    assert completion.choices[0].message.tool_calls[0].id == "call_z"
    assert completion.usage is not None and completion.usage.completion_tokens == 3  # head + 2 fragments
    with pytest.raises(openai.RateLimitError) as rate:
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert rate.value.status_code == 429 and "slow down" in str(rate.value)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert [m.id for m in client.models.list()][0] == "fake-model"


def test_sdk_sees_dropped_stream(provider: FakeProvider) -> None:
    provider.script(Drop(after_chunks=2))
    stream = sdk(provider).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    seen: list[str] = []
    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")
    assert seen == ["partial", " answer"]


# --------------------------------------------------------------------------- command line


def test_command_line_serves_a_fixed_stream() -> None:
    probe = FakeProvider(start=False)  # reserve a free port, then hand it to the child
    port = probe.port
    probe.close()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [
        sys.executable,
        "-m",
        "tests.fakeprovider",
        "--port",
        str(port),
        "--tokens",
        "5",
        "--interval-ms",
        "1",
    ]
    child = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(base + "/models", headers=AUTH).raise_for_status()
                break
            except httpx.TransportError:
                assert child.poll() is None and time.monotonic() < deadline, "fake provider did not start"
                time.sleep(0.05)
        for _ in range(2):  # the same reply, again and again
            client = openai.OpenAI(base_url=base, api_key="sk-bench", max_retries=0)
            stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            pieces = [c.choices[0].delta.content for c in stream if c.choices[0].delta.content]
            assert pieces == [" tok0", " tok1", " tok2", " tok3", " tok4"]
    finally:
        child.terminate()
        child.wait(timeout=10)
