"""Runs against a real model server: llama.cpp's (llama-cpp-python) serving the built-in demo model.

Everything else in the suite is answered by the scripted fake provider; this module proves the
product against a real OpenAI-compatible server, with its quirks, through the official SDK. The demo
model is toy quality, so the tests assert structure, never wording, and bound every answer with
max_completion_tokens.
"""

from __future__ import annotations

import json
import re
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import openai
import pytest
from openai import AssistantEventHandler
from typing_extensions import override

from console import demo_model
from console.launcher import find_redis_server, free_port, start_private_redis
from console.providers import quirks
from tests.launched import start_launcher

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
# maxLength bounds the demo model's strings (the grammar llama.cpp builds from the schema enforces it).
CITY = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 40},
        "country": {"type": "string", "maxLength": 40},
    },
    "required": ["city", "country"],
    "additionalProperties": False,
}
HANDBOOK = (
    b"Employee handbook. Holidays: every employee has 25 days of paid holiday a year. "
    b"Requests go to the team lead two weeks ahead.\n"
)
POLL = {"poll_interval_ms": 100}

# The demo model answers 256 tokens in about 3 s on 2 idle cores; on a loaded machine it can be 20x slower.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def model_server() -> Iterator[demo_model.DemoServer]:
    """The real llama.cpp server with the demo model, on a free loopback port, for this module."""
    assert demo_model.installed(), (
        "the demo model is not installed: python -m console.demo_model install --always (make test does it)"
    )
    server = demo_model.start(Path(tempfile.mkdtemp(prefix="demo-model-")) / "server.log")
    try:
        assert demo_model.wait_ready(server, timeout=60), "the llama.cpp server did not start"
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)


@pytest.fixture
def real_model(model_server, worker, settings):  # type: ignore[no-untyped-def]
    """Runs go to the real server, with the provider settings `make run` gives its processes."""
    env = model_server.provider_env()
    settings.LLM_BASE_URL = env["LLM_BASE_URL"]
    settings.LLM_API_KEY = env["LLM_API_KEY"]
    settings.LLM_QUIRKS = quirks.parse(env["LLM_QUIRKS"])
    settings.LLM_PROVIDERS = ()
    return model_server


def _assistant(sdk, **fields):  # type: ignore[no-untyped-def]
    return sdk.beta.assistants.create(
        model="demo", instructions="You are a helpful assistant. Answer in one short sentence.", **fields
    )


def _thread(sdk, text: str):  # type: ignore[no-untyped-def]
    return sdk.beta.threads.create(messages=[{"role": "user", "content": text}])


def _reply(sdk, thread_id: str, run_id: str) -> str:
    messages = sdk.beta.threads.messages.list(thread_id=thread_id, run_id=run_id)
    assert len(messages.data) == 1
    message = messages.data[0]
    assert message.role == "assistant" and message.status == "completed"
    return "".join(part.text.value for part in message.content if part.type == "text")


def _assert_usage(run) -> None:  # type: ignore[no-untyped-def]
    # llama.cpp's server reports no usage in streams: the server counts it.
    assert run.usage is not None
    assert run.usage.prompt_tokens > 0 and run.usage.completion_tokens > 0
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens


def test_it_lists_the_demo_model_by_name_never_by_its_path(sdk, real_model):
    ids = [model.id for model in sdk.models.list()]
    assert demo_model.MODEL_NAME in ids
    assert not any(".gguf" in name or "/" in name for name in ids), ids


def test_it_completes_a_plain_run(sdk, real_model):
    assistant = _assistant(sdk)
    thread = _thread(sdk, "What is the capital of France?")
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=256, **POLL
    )
    assert run.status == "completed", run.last_error
    assert _reply(sdk, thread.id, run.id).strip()
    _assert_usage(run)
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id)
    assert [step.type for step in steps.data] == ["message_creation"]
    assert steps.data[0].usage is not None and steps.data[0].usage.completion_tokens > 0


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.text = ""

    @override
    def on_event(self, event) -> None:  # type: ignore[no-untyped-def]
        self.events.append(event.event)

    @override
    def on_text_delta(self, delta, snapshot) -> None:  # type: ignore[no-untyped-def]
        self.text += delta.value


def test_it_streams_to_an_event_handler(sdk, real_model):
    assistant = _assistant(sdk)
    thread = _thread(sdk, "Name three colours.")
    handler = Recorder()
    with sdk.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=256, event_handler=handler
    ) as stream:
        stream.until_done()
        final = stream.get_final_run()
    assert final.status == "completed", final.last_error
    assert handler.events[0] == "thread.run.created"
    assert handler.events.count("thread.message.delta") >= 1
    assert handler.events[-1] == "thread.run.completed"
    assert handler.text.strip()
    assert handler.text == _reply(sdk, thread.id, final.id)
    _assert_usage(final)


def test_it_parks_a_required_function_call_and_finishes_with_its_output(sdk, real_model):
    # tool_choice "required" is refused by this server: the provider quirk names the only tool instead.
    assistant = _assistant(sdk, tools=[WEATHER])
    thread = _thread(sdk, "What is the weather in Paris?")
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        tool_choice="required",
        max_completion_tokens=256,
        **POLL,
    )
    assert run.status == "requires_action", run.last_error
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert calls and all(call.function.name == "get_weather" for call in calls)
    assert all(isinstance(json.loads(call.function.arguments), dict) for call in calls)

    run = sdk.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[
            {"tool_call_id": call.id, "output": '{"temperature_c": 21, "sky": "sunny"}'} for call in calls
        ],
        **POLL,
    )
    # The continuation sends the tool calls back ("" content beside them) and answers in text.
    assert run.status == "completed", run.last_error
    assert _reply(sdk, thread.id, run.id).strip()
    _assert_usage(run)
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc")
    assert [step.type for step in steps.data] == ["tool_calls", "message_creation"]
    outputs = [call.function.output for call in steps.data[0].step_details.tool_calls]
    assert outputs == ['{"temperature_c": 21, "sky": "sunny"}'] * len(calls)


def test_it_answers_in_the_json_schema_asked_for(sdk, real_model):
    assistant = _assistant(sdk)
    thread = _thread(sdk, "Give the capital city of Italy and its country.")
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "city", "schema": CITY, "strict": True},
        },
        max_completion_tokens=256,
        **POLL,
    )
    assert run.status == "completed", run.last_error
    answer = json.loads(_reply(sdk, thread.id, run.id))
    jsonschema.validate(answer, CITY)


def _handbook_question(sdk):  # type: ignore[no-untyped-def]
    """The handbook in a store, a file_search assistant on it, and a thread asking about it."""
    store = sdk.vector_stores.create(name="handbook")
    uploaded = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("handbook.txt", HANDBOOK), poll_interval_ms=100
    )
    assert uploaded.status == "completed", uploaded.last_error
    assistant = _assistant(
        sdk, tools=[{"type": "file_search"}], tool_resources={"file_search": {"vector_store_ids": [store.id]}}
    )
    return uploaded, assistant, _thread(sdk, "How many days of paid holiday do employees get?")


def test_it_runs_a_forced_file_search_and_keeps_its_results(sdk, real_model):
    uploaded, assistant, thread = _handbook_question(sdk)
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        tool_choice={"type": "file_search"},
        max_completion_tokens=256,
        **POLL,
    )
    assert run.status == "completed", run.last_error
    steps = sdk.beta.threads.runs.steps.list(
        thread_id=thread.id,
        run_id=run.id,
        order="asc",
        include=["step_details.tool_calls[*].file_search.results[*].content"],
    )
    assert [step.type for step in steps.data] == ["tool_calls", "message_creation"]
    (call,) = steps.data[0].step_details.tool_calls
    assert call.type == "file_search"
    results = call.file_search.results
    assert results and results[0].file_id == uploaded.id and results[0].file_name == "handbook.txt"
    assert results[0].content and results[0].content[0].text
    assert _reply(sdk, thread.id, run.id).strip()
    _assert_usage(run)


def test_it_runs_a_forced_code_interpreter_call(sdk, real_model):
    assistant = _assistant(sdk, tools=[{"type": "code_interpreter"}])
    thread = _thread(sdk, "Use Python to print the sum of 2 and 3.")
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        tool_choice={"type": "code_interpreter"},
        max_completion_tokens=400,  # the code and the answer after it
        **POLL,
    )
    assert run.status == "completed", run.last_error
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc")
    assert [step.type for step in steps.data] == ["tool_calls", "message_creation"]
    (call,) = steps.data[0].step_details.tool_calls
    assert call.type == "code_interpreter"
    assert call.code_interpreter.input.strip()
    # Whatever the demo model wrote ran in the sandbox: printed output or its traceback come back as logs.
    assert all(output.type in ("logs", "image") for output in call.code_interpreter.outputs)
    assert _reply(sdk, thread.id, run.id).strip()
    _assert_usage(run)


# -- tools under tool_choice "auto" (the default), plain and streamed ------------------------------
# llama-cpp-python cannot stream a tool choice it makes itself, and answers a text choice with
# nothing (the no_streamed_auto_tools quirk); the demo model searches first (search_first).
# Temperature 0 makes the toy model's choices repeatable.
AUTO = {"temperature": 0, "max_completion_tokens": 256}


def _run_auto(sdk, thread_id: str, assistant_id: str, streamed: bool):  # type: ignore[no-untyped-def]
    """A run with tool_choice left at auto, polled or streamed to an event handler; the run at its end."""
    if not streamed:
        return sdk.beta.threads.runs.create_and_poll(
            thread_id=thread_id, assistant_id=assistant_id, **AUTO, **POLL
        )
    handler = Recorder()
    with sdk.beta.threads.runs.stream(
        thread_id=thread_id, assistant_id=assistant_id, event_handler=handler, **AUTO
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert "thread.run.failed" not in handler.events
    if run.status == "completed":
        assert handler.text == _message_text(sdk, thread_id, run.id)
    return run


def _message_text(sdk, thread_id: str, run_id: str) -> str:  # type: ignore[no-untyped-def]
    """The run's one assistant message (a completed run always has it), text only."""
    (message,) = sdk.beta.threads.messages.list(thread_id=thread_id, run_id=run_id).data
    assert message.status == "completed"
    return "".join(part.text.value for part in message.content if part.type == "text")


@pytest.mark.parametrize("streamed", [False, True], ids=["polled", "streamed"])
def test_a_function_tool_under_auto_is_called_or_answered(sdk, real_model, streamed):
    assistant = _assistant(sdk, tools=[WEATHER])
    thread = _thread(sdk, "What is the weather in Paris?")
    run = _run_auto(sdk, thread.id, assistant.id, streamed)
    assert run.status in ("requires_action", "completed"), run.last_error
    if run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        assert calls and all(call.function.name == "get_weather" for call in calls)
        run = sdk.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=thread.id,
            run_id=run.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "sunny, 21 C"} for call in calls],
            **POLL,
        )
    assert run.status == "completed", run.last_error
    _message_text(sdk, thread.id, run.id)
    # A plain greeting to the same assistant is answered in text (the quirk asks for it again).
    thread = _thread(sdk, "Hello, who are you?")
    run = _run_auto(sdk, thread.id, assistant.id, streamed)
    assert run.status in ("requires_action", "completed"), run.last_error


@pytest.mark.parametrize("streamed", [False, True], ids=["polled", "streamed"])
def test_file_search_under_auto_answers_from_the_document_and_cites_it(sdk, real_model, streamed):
    uploaded, assistant, thread = _handbook_question(sdk)
    run = _run_auto(sdk, thread.id, assistant.id, streamed)
    assert run.status == "completed", run.last_error
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc")
    assert [step.type for step in steps.data] == ["tool_calls", "message_creation"]
    assert steps.data[0].step_details.tool_calls[0].type == "file_search"
    (message,) = sdk.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data
    annotations = [a for part in message.content if part.type == "text" for a in part.text.annotations]
    cited = [(a.type, a.file_citation.file_id) for a in annotations]
    assert cited == [("file_citation", uploaded.id)], message.content


@pytest.mark.parametrize("streamed", [False, True], ids=["polled", "streamed"])
def test_code_interpreter_under_auto_runs_code(sdk, real_model, streamed):
    assistant = _assistant(sdk, tools=[{"type": "code_interpreter"}])
    thread = _thread(sdk, "Compute 17 × 23 with Python.")
    run = _run_auto(sdk, thread.id, assistant.id, streamed)
    assert run.status == "completed", run.last_error
    steps = sdk.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc")
    assert [step.type for step in steps.data] == ["tool_calls", "message_creation"]
    (call,) = steps.data[0].step_details.tool_calls
    assert call.type == "code_interpreter" and call.code_interpreter.input.strip()
    # It ran in the sandbox: its printed output, or the traceback of the toy model's code.
    assert call.code_interpreter.outputs and call.code_interpreter.outputs[0].type == "logs"
    _message_text(sdk, thread.id, run.id)


def test_it_answers_out_of_the_box_when_no_provider_is_set(tmp_path):
    """`make run`'s launcher with no provider set starts the demo model and routes runs to it."""
    redis, redis_url = start_private_redis(find_redis_server(), tmp_path / "redis")
    port = free_port()
    # No provider set (the test process's own LLM_* settings are blanked), so the demo model serves.
    process = start_launcher(
        VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL="",
        PORT=str(port),
        REDIS_URL=redis_url,
        LLM_BASE_URL="",
        LLM_PROVIDERS="",
        EMBEDDED_MODEL="",
    )
    banner: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            banner.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(banner)
        (model_line,) = [line for line in banner if line.startswith("Model:")]
        assert (
            "built-in demo model" in model_line
            and "toy quality" in model_line
            and "LLM_BASE_URL" in model_line
        )
        key = re.search(r"API key \(project 'Default'\): (sk-proj-\S+)", text).group(1)  # type: ignore[union-attr]

        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0) as client:
            _wait_until_listening(client)
            assistant = client.beta.assistants.create(
                model="any-model-name", instructions="Answer in one short sentence."
            )
            thread = _thread(client, "What is the capital of France?")
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=256, **POLL
            )
            assert run.status == "completed", run.last_error
            assert _reply(client, thread.id, run.id).strip()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            redis.terminate()
            redis.wait(timeout=10)
    # The launcher stopped the model server it started.
    assert process.returncode == 0


def _wait_until_listening(client: openai.OpenAI, timeout: float = 30.0) -> None:
    """The banner comes as the web server starts; it listens a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.beta.assistants.list(limit=1)
            return
        except openai.APIConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
