"""Streamed-run scenarios shared by the golden event tests and the SDK stream-helper tests.

Each builder scripts the fake provider, creates what the run needs over the API and returns a
Scenario: how to start the run and how it ends. The tests then stream it their own way (raw SSE,
openai-python's AssistantEventHandler, the Node SDK's AssistantStream) and compare what they saw
with what a GET returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fakeprovider import Call, Drop, FakeProvider, Text, ToolCalls
from tests.vector_stores.conftest import upload, wait_store

REFUNDS = (
    b"Refund policy. Customers may return any product within 30 days for a full refund to the original card."
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
CITATION = "【0:0†refunds.md】"
PLOT_CODE = (
    "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nprint(6*7)\n"
    "open('/mnt/data/report.csv', 'w').write('a\\n1\\n')"
)


@dataclass
class Scenario:
    name: str
    assistant_id: str
    status: str  # how the run ends
    thread_id: str | None = None  # runs.stream on this thread...
    thread: dict[str, Any] | None = None  # ...or createAndRun with this new thread
    params: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] | None = None  # function name -> output, answered with submit_tool_outputs
    cancel: bool = False  # cancel the run after its first text delta

    def node_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"assistant_id": self.assistant_id, "params": self.params}
        if self.thread is not None:
            spec.update(mode="create_and_run", thread=self.thread)
        else:
            spec.update(mode="run", thread_id=self.thread_id)
        if self.outputs:
            spec["outputs"] = self.outputs
        if self.cancel:
            spec["cancel"] = True
        return spec


def _assistant(api: httpx.Client, **fields: Any) -> str:
    body = {"model": "fake-model", "instructions": "You are terse.", **fields}
    return str(api.post("assistants", json=body).json()["id"])


def _thread(api: httpx.Client, text: str) -> str:
    return str(api.post("threads", json={"messages": [{"role": "user", "content": text}]}).json()["id"])


def _refunds_store(api: httpx.Client) -> str:
    store = api.post(
        "vector_stores", json={"name": "policies", "file_ids": [upload(api, "refunds.md", REFUNDS)]}
    ).json()
    assert wait_store(api, store["id"])["file_counts"]["completed"] == 1
    return str(store["id"])


def plain_text(api: httpx.Client, provider: FakeProvider) -> Scenario:
    provider.script(Text("Hello there, friend.", usage=(12, 4), delay=0.01))
    return Scenario("plain_text", _assistant(api), "completed", thread_id=_thread(api, "Hello?"))


def citations(api: httpx.Client, provider: FakeProvider) -> Scenario:
    """The reply cites one source twice; the provider splits the first marker across chunks."""
    store_id = _refunds_store(api)
    provider.script(
        ToolCalls([Call("file_search", '{"query": "refund policy return days"}')]),
        Text(
            f"Returns within 30 days{CITATION}, to the card{CITATION}.",
            chunks=["Returns within 30 days【0:", "0†refunds", ".md】, to the card", CITATION, "."],
            delay=0.01,
        ),
    )
    assistant_id = _assistant(
        api, tools=[{"type": "file_search"}], tool_resources={"file_search": {"vector_store_ids": [store_id]}}
    )
    thread = {"messages": [{"role": "user", "content": "Refunds?"}]}
    return Scenario("citations", assistant_id, "completed", thread=thread)


def code_image(api: httpx.Client, provider: FakeProvider) -> Scenario:
    """code_interpreter prints, plots and writes a file; the reply (image first) links the file."""
    arguments = json.dumps({"code": PLOT_CODE})
    provider.script(
        ToolCalls([Call("code_interpreter", arguments)], head_arguments=len('{"code": "import mat')),
        Text(
            "Here is the chart and [the data](sandbox:/mnt/data/report.csv).",
            chunks=["Here is the chart and [the data](sand", "box:/mnt/data/rep", "ort.csv)."],
            delay=0.01,
        ),
    )
    assistant_id = _assistant(api, tools=[{"type": "code_interpreter"}])
    return Scenario("code_image", assistant_id, "completed", thread_id=_thread(api, "Plot it."))


def functions(api: httpx.Client, provider: FakeProvider) -> Scenario:
    """Two parallel calls, their first chunks carrying arguments; answered with submit_tool_outputs."""
    provider.script(
        ToolCalls(
            [Call("get_weather", '{"city": "Paris"}'), Call("get_time", "{}")],
            usage=(20, 10),
            head_arguments=5,
        ),
        Text("Sunny in Paris at noon.", usage=(40, 8), delay=0.01),
    )
    assistant_id = _assistant(api, tools=[WEATHER, TIME])
    outputs = {"get_weather": "sunny, 24C", "get_time": "12:00"}
    return Scenario("functions", assistant_id, "completed", thread_id=_thread(api, "Paris?"), outputs=outputs)


def file_search(api: httpx.Client, provider: FakeProvider) -> Scenario:
    store_id = _refunds_store(api)
    provider.script(ToolCalls([Call("file_search", '{"query": "refund"}')]), Text("Thirty days.", delay=0.01))
    assistant_id = _assistant(
        api, tools=[{"type": "file_search"}], tool_resources={"file_search": {"vector_store_ids": [store_id]}}
    )
    return Scenario("file_search", assistant_id, "completed", thread_id=_thread(api, "How long?"))


def incomplete(api: httpx.Client, provider: FakeProvider) -> Scenario:
    provider.script(Text("This answer runs out of", finish_reason="length", delay=0.01))
    return Scenario(
        "incomplete",
        _assistant(api),
        "incomplete",
        thread_id=_thread(api, "Talk."),
        params={"max_completion_tokens": 256},
    )


def cancelled(api: httpx.Client, provider: FakeProvider) -> Scenario:
    provider.script(Text("slow " * 100, delay=0.05))
    return Scenario("cancelled", _assistant(api), "cancelled", thread_id=_thread(api, "Go on."), cancel=True)


def failed(api: httpx.Client, provider: FakeProvider) -> Scenario:
    provider.script(Drop(after_chunks=3, text="partial answer that never ends"))
    return Scenario("failed", _assistant(api), "failed", thread_id=_thread(api, "Try."))


SCENARIOS: dict[str, Callable[[httpx.Client, FakeProvider], Scenario]] = {
    "plain_text": plain_text,
    "citations": citations,
    "code_image": code_image,
    "functions": functions,
    "file_search": file_search,
    "incomplete": incomplete,
    "cancelled": cancelled,
    "failed": failed,
}


@dataclass
class Stored:
    """What GETs return for a finished run."""

    run: dict[str, Any]
    messages: list[dict[str, Any]]
    steps: list[dict[str, Any]]


def stored(api: httpx.Client, thread_id: str, run_id: str) -> Stored:
    run = api.get(f"threads/{thread_id}/runs/{run_id}").json()
    messages = api.get(f"threads/{thread_id}/messages", params={"run_id": run_id, "order": "asc"}).json()[
        "data"
    ]
    steps = api.get(f"threads/{thread_id}/runs/{run_id}/steps", params={"order": "asc"}).json()["data"]
    return Stored(run, messages, steps)


def without_index(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Content parts as a stream helper rebuilds them, less the `index` the deltas carried."""
    parts = []
    for part in content:
        part = {k: v for k, v in part.items() if k != "index"}
        if part.get("type") == "text":
            text = dict(part["text"])
            text["annotations"] = [
                {k: v for k, v in a.items() if k != "index"} for a in text.get("annotations") or []
            ]
            part["text"] = text
        parts.append(part)
    return parts


def call_arguments(steps: list[dict[str, Any]]) -> dict[str, str]:
    """The streamed text of every stored tool call, by call id: a function's arguments, the code of a
    code_interpreter call, nothing for file_search (its query is not streamed)."""
    found = {}
    for step in steps:
        for call in step["step_details"].get("tool_calls", []):
            if call["type"] == "function":
                found[call["id"]] = call["function"]["arguments"]
            elif call["type"] == "code_interpreter":
                found[call["id"]] = call["code_interpreter"]["input"]
            else:
                found[call["id"]] = ""
    return found
