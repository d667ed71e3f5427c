"""openai-python's stream helpers on every run scenario (tests/scenarios.py): AssistantEventHandler
callbacks, get_final_messages() and get_final_run() must agree with what a GET returns. Runs under
openai 1.65.5 and 3.57.0."""

from __future__ import annotations

from typing import Any

import pytest
from openai import AssistantEventHandler
from typing_extensions import override

from tests.scenarios import SCENARIOS, Scenario, call_arguments, stored, without_index


class Recorder(AssistantEventHandler):
    """Keeps what the callbacks were given, as plain dicts."""

    def __init__(self, sdk: Any, cancel: bool) -> None:
        super().__init__()
        self.sdk = sdk
        self.cancel = cancel
        self.text_created = 0
        self.text_done: list[dict[str, Any]] = []
        self.image_done: list[dict[str, Any]] = []
        self.text_deltas = ""
        self.snapshots: dict[str, dict[str, Any]] = {}  # message id -> the helper's last delta snapshot
        self.calls_created: list[dict[str, Any]] = []
        self.call_deltas: dict[str, str] = {}  # call id -> argument or code text from its deltas

    @override
    def on_text_created(self, text) -> None:  # type: ignore[no-untyped-def]
        self.text_created += 1

    @override
    def on_text_delta(self, delta, snapshot) -> None:  # type: ignore[no-untyped-def]
        self.text_deltas += delta.value or ""
        if self.cancel and self.current_run is not None and self.current_run.status == "in_progress":
            self.cancel = False
            self.sdk.beta.threads.runs.cancel(
                thread_id=self.current_run.thread_id, run_id=self.current_run.id
            )

    @override
    def on_text_done(self, text) -> None:  # type: ignore[no-untyped-def]
        self.text_done.append(text.to_dict(mode="json"))

    @override
    def on_image_file_done(self, image_file) -> None:  # type: ignore[no-untyped-def]
        self.image_done.append(image_file.to_dict(mode="json"))

    @override
    def on_message_delta(self, delta, snapshot) -> None:  # type: ignore[no-untyped-def]
        self.snapshots[snapshot.id] = snapshot.to_dict(mode="json")

    @override
    def on_tool_call_created(self, tool_call) -> None:  # type: ignore[no-untyped-def]
        self.calls_created.append(tool_call.to_dict(mode="json"))
        self.call_deltas.setdefault(tool_call.id, "")

    @override
    def on_tool_call_delta(self, delta, snapshot) -> None:  # type: ignore[no-untyped-def]
        if delta.type == "function" and delta.function:
            piece = delta.function.arguments or ""
        elif delta.type == "code_interpreter" and delta.code_interpreter:
            piece = delta.code_interpreter.input or ""
        else:
            piece = ""
        self.call_deltas[snapshot.id] = self.call_deltas.get(snapshot.id, "") + piece


def _stream(sdk, scenario: Scenario, handler: Recorder):  # type: ignore[no-untyped-def]
    if scenario.thread is not None:
        return sdk.beta.threads.create_and_run_stream(
            assistant_id=scenario.assistant_id,
            thread=scenario.thread,
            event_handler=handler,
            **scenario.params,
        )
    return sdk.beta.threads.runs.stream(
        thread_id=scenario.thread_id,
        assistant_id=scenario.assistant_id,
        event_handler=handler,
        **scenario.params,
    )


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_it_streams_what_a_get_returns(sdk, api, provider, name):  # type: ignore[no-untyped-def]
    scenario = SCENARIOS[name](api, provider)
    handlers = [Recorder(sdk, scenario.cancel)]
    messages = []
    with _stream(sdk, scenario, handlers[0]) as stream:
        stream.until_done()
        run = stream.get_final_run()
        messages += (
            stream.get_final_messages() if handlers[0].snapshots else []
        )  # it raises when there are none
    while run.status == "requires_action" and scenario.outputs:
        outputs = [
            {"tool_call_id": call.id, "output": scenario.outputs[call.function.name]}
            for call in run.required_action.submit_tool_outputs.tool_calls
        ]
        handlers.append(Recorder(sdk, scenario.cancel))
        with sdk.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=run.thread_id, run_id=run.id, tool_outputs=outputs, event_handler=handlers[-1]
        ) as stream:
            stream.until_done()
            run = stream.get_final_run()
            messages += stream.get_final_messages()

    assert run.status == scenario.status
    expected = stored(api, run.thread_id, run.id)
    assert run.to_dict(mode="json") == expected.run
    assert [m.to_dict(mode="json") for m in messages] == expected.messages

    # The snapshots the helper built from the deltas alone hold what a GET holds.
    snapshots = {k: v for h in handlers for k, v in h.snapshots.items()}
    assert list(snapshots) == [m["id"] for m in expected.messages]
    for message in expected.messages:
        assert without_index(snapshots[message["id"]]["content"]) == message["content"]

    # on_text_done for every text part (with its annotations), on_image_file_done for every image.
    texts = [p["text"] for m in expected.messages for p in m["content"] if p["type"] == "text"]
    images = [p["image_file"] for m in expected.messages for p in m["content"] if p["type"] == "image_file"]
    done = [without_index([{"type": "text", "text": t}])[0]["text"] for h in handlers for t in h.text_done]
    assert done == texts
    assert [i for h in handlers for i in h.image_done] == images
    assert sum(h.text_created for h in handlers) == len(texts)
    assert "".join(h.text_deltas for h in handlers) == "".join(t["value"] for t in texts)

    # A tool call is created before its arguments, which its deltas then carry in full.
    arguments = call_arguments(expected.steps)
    created = [c for h in handlers for c in h.calls_created]
    assert sorted(c["id"] for c in created) == sorted(arguments)
    for call in created:
        if call["type"] == "function":
            assert call["function"]["name"] and call["function"]["arguments"] == ""
        elif call["type"] == "code_interpreter":
            assert call["code_interpreter"]["input"] == ""
    assert {k: v for h in handlers for k, v in h.call_deltas.items()} == arguments
