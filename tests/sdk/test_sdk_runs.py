"""Runs through the SDK helpers apps rely on: create_and_poll, streams with an AssistantEventHandler,
submit_tool_outputs_*, create_and_run_*. Runs unchanged under openai 1.65.5 and 3.57.0."""

from __future__ import annotations

import json

from openai import AssistantEventHandler
from typing_extensions import override

from tests.fakeprovider import Call, Error, Text, ToolCalls
from tests.sdk.conftest import strictly

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.text = ""
        self.tool_calls: list[str] = []
        self.arguments = ""

    @override
    def on_event(self, event) -> None:  # type: ignore[no-untyped-def]
        self.events.append(event.event)

    @override
    def on_text_delta(self, delta, snapshot) -> None:  # type: ignore[no-untyped-def]
        self.text += delta.value

    @override
    def on_tool_call_created(self, tool_call) -> None:  # type: ignore[no-untyped-def]
        self.tool_calls.append(tool_call.function.name)

    @override
    def on_tool_call_delta(self, delta, snapshot) -> None:  # type: ignore[no-untyped-def]
        if delta.type == "function" and delta.function and delta.function.arguments:
            self.arguments += delta.function.arguments


def _assistant(sdk, **fields):  # type: ignore[no-untyped-def]
    return sdk.beta.assistants.create(model="fake-model", instructions="Be brief.", **fields)


def test_it_creates_and_polls(sdk, provider):
    provider.script(Text("Polled answer.", usage=(9, 3)))
    assistant = _assistant(sdk)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    strictly(run)
    assert run.status == "completed"
    assert run.usage.total_tokens == 12
    messages = sdk.beta.threads.messages.list(thread_id=thread.id)
    assert messages.data[0].content[0].text.value == "Polled answer."
    assert messages.data[0].run_id == run.id and messages.data[0].assistant_id == assistant.id
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id)
    assert [strictly(s).type for s in steps.data] == ["message_creation"]


def test_it_streams_with_an_event_handler(sdk, provider):
    provider.script(Text("Streaming works fine."))
    assistant = _assistant(sdk)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    handler = Recorder()
    with sdk.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        final = stream.get_final_run()
        final_messages = stream.get_final_messages()
    assert handler.text == "Streaming works fine."
    assert handler.events[0] == "thread.run.created"
    assert handler.events[-1] == "thread.run.completed"
    assert final.status == "completed"
    assert final_messages[0].content[0].text.value == "Streaming works fine."


def test_it_submits_tool_outputs_by_polling_and_by_streaming(sdk, provider):
    provider.script(
        ToolCalls([Call("get_weather", '{"city": "Rome"}')]),
        Text("Warm in Rome."),
        ToolCalls([Call("get_weather", '{"city": "Oslo"}')]),
        Text("Cold in Oslo."),
    )
    assistant = _assistant(sdk, tools=[WEATHER])
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Rome?"}])
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "requires_action"
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert call.id.startswith("call_") and json.loads(call.function.arguments) == {"city": "Rome"}
    run = sdk.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "25C"}],
        poll_interval_ms=50,
    )
    assert run.status == "completed"

    sdk.beta.threads.messages.create(thread_id=thread.id, role="user", content="Oslo?")
    handler = Recorder()
    with sdk.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        waiting = stream.current_run
    assert handler.tool_calls == ["get_weather"]
    assert json.loads(handler.arguments) == {"city": "Oslo"}
    assert waiting.status == "requires_action"
    call = waiting.required_action.submit_tool_outputs.tool_calls[0]
    resumed = Recorder()
    with sdk.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id,
        run_id=waiting.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "-3C"}],
        event_handler=resumed,
    ) as stream:
        stream.until_done()
    assert resumed.text == "Cold in Oslo."
    assert resumed.events[-1] == "thread.run.completed"


def test_it_creates_and_runs_threads(sdk, provider):
    provider.script(Text("First."), Text("Second."))
    assistant = _assistant(sdk)
    run = sdk.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "One"}]},
        poll_interval_ms=50,
    )
    assert run.status == "completed"
    handler = Recorder()
    with sdk.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Two"}]},
        event_handler=handler,
    ) as stream:
        stream.until_done()
    assert handler.events[0] == "thread.created"
    assert handler.text == "Second."


def test_it_reports_failures_and_cancels(sdk, provider):
    provider.script(Error(400, "bad prompt"))
    assistant = _assistant(sdk)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "failed"
    assert run.last_error.code == "invalid_prompt" and "bad prompt" in run.last_error.message

    provider.script(Text("slow " * 100, delay=0.05))
    run = sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    cancelled = sdk.beta.threads.runs.cancel(thread_id=thread.id, run_id=run.id)
    assert cancelled.status in ("cancelling", "cancelled")
    final = sdk.beta.threads.runs.poll(thread_id=thread.id, run_id=run.id, poll_interval_ms=50)
    assert final.status == "cancelled"
    listed = sdk.beta.threads.runs.list(thread_id=thread.id)
    assert [r.status for r in listed.data] == ["cancelled", "failed"]


def test_it_streams_a_failure_without_breaking_the_handler(sdk, provider):
    provider.script(Error(400, "refused"))
    assistant = _assistant(sdk)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    handler = Recorder()
    with sdk.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
    assert "thread.run.failed" in handler.events
    assert stream.current_run.status == "failed"
    assert stream.current_run.last_error.code == "invalid_prompt"
