"""Provider requests as OpenAI expects them, and as a provider with quirks (LLM_QUIRKS) takes them.

tests/test_real_model.py proves the llama-cpp-python quirks against the real server; here the
scripted fake provider shows exactly what is sent either way.
"""

from __future__ import annotations

import json

import pytest

from console.providers import quirks
from console.providers.routing import parse_routes
from tests.fakeprovider import Call, Text, ToolCalls
from tests.runs.helpers import names as event_names
from tests.runs.helpers import new_assistant, new_thread, read_events, wait_for_status

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
CITY_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "city",
        "strict": True,
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _call_and_answer(api, provider, tools, **run_fields):  # type: ignore[no-untyped-def]
    """A run that calls get_weather, gets its output and answers; returns the two provider requests."""
    provider.script(ToolCalls([Call("get_weather", '{"city": "Oslo"}')]), Text("Sunny."))
    assistant_id = new_assistant(api, tools=tools)
    thread_id = new_thread(api, "Weather in Oslo?")
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, **run_fields}).json()
    run = wait_for_status(api, thread_id, run["id"], {"requires_action", "failed"})
    assert run["status"] == "requires_action", run["last_error"]
    call_id = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    api.post(
        f"threads/{thread_id}/runs/{run['id']}/submit_tool_outputs",
        json={"tool_outputs": [{"tool_call_id": call_id, "output": "sunny"}]},
    )
    assert wait_for_status(api, thread_id, run["id"], {"completed", "failed"})["status"] == "completed"
    assert len(provider.requests) == 2
    return provider.requests


def test_it_forces_a_tool_once_then_lets_the_model_answer(api, provider, settings):
    settings.LLM_QUIRKS = frozenset()
    first, second = _call_and_answer(
        api, provider, [WEATHER, TIME], tool_choice="required", max_completion_tokens=300
    )
    assert first["tool_choice"] == "required"
    assert first["max_completion_tokens"] == 300
    # After the tool's output the model may answer: forcing again would loop until the turn limit.
    assert second["tool_choice"] == "auto"
    assert [t["function"]["name"] for t in second["tools"]] == ["get_weather", "get_time"]
    (assistant_turn,) = [m for m in second["messages"] if m.get("tool_calls")]
    assert assistant_turn["content"] == ""


def test_it_reshapes_requests_for_llama_cpp_python(api, provider, settings):
    settings.LLM_QUIRKS = quirks.parse("llama-cpp-python")
    first, second = _call_and_answer(
        api, provider, [WEATHER], tool_choice="required", max_completion_tokens=300
    )
    # "required" is refused there: the only tool is named instead.
    assert first["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert first["max_tokens"] == 300 and "max_completion_tokens" not in first
    # After tool outputs, no tools are offered: a weak model would call them again.
    assert "tools" not in second and "tool_choice" not in second and "parallel_tool_calls" not in second
    # Its chat template drops role "tool" messages: the output goes as a user message.
    assert not any(m["role"] == "tool" for m in second["messages"])
    assert second["messages"][-1] == {"role": "user", "content": "Output of get_weather:\nsunny"}


def test_it_asks_for_a_required_tool_among_several_in_words(api, provider, settings):
    settings.LLM_QUIRKS = quirks.parse("no_required_tool_choice")
    first, _ = _call_and_answer(api, provider, [WEATHER, TIME], tool_choice="required")
    assert first["tool_choice"] == "auto"
    assert first["messages"][0] == {
        "role": "system",
        "content": "You are terse.\n\nYou must answer by calling one of the tools.",
    }


def test_it_sends_a_json_schema_as_json_object_where_needed(api, provider, settings):
    for names, expected in (
        ("", CITY_FORMAT),
        ("json_object_schema", {"type": "json_object", "schema": CITY_FORMAT["json_schema"]["schema"]}),
    ):
        settings.LLM_QUIRKS = quirks.parse(names)
        provider.script(Text('{"city": "Rome"}'))
        assistant_id = new_assistant(api)
        thread_id = new_thread(api, "A city?")
        run = api.post(
            f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "response_format": CITY_FORMAT}
        )
        assert (
            wait_for_status(api, thread_id, run.json()["id"], {"completed", "failed"})["status"]
            == "completed"
        )
        assert provider.requests[-1]["response_format"] == expected


def test_it_refuses_an_unknown_quirk_at_start_up_with_a_clear_error():
    # Settings are parsed once at start-up (console/settings.py): a typo stops the process there.
    with pytest.raises(ValueError, match="no_such_quirk"):
        quirks.parse("no_such_quirk")
    with pytest.raises(ValueError, match="no_such_quirk"):
        parse_routes('[{"match": "*", "base_url": "http://x/v1", "quirks": ["no_such_quirk"]}]')


def test_it_escapes_raw_control_characters_in_json_answers_and_arguments(api, provider, settings):
    settings.LLM_QUIRKS = quirks.parse("json_control_chars")
    provider.script(ToolCalls([Call("get_weather", '{"city": "Os\nlo"}')]))
    thread_id = new_thread(api)
    run = api.post(
        f"threads/{thread_id}/runs", json={"assistant_id": new_assistant(api, tools=[WEATHER])}
    ).json()
    run = wait_for_status(api, thread_id, run["id"], {"requires_action", "failed"})
    arguments = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == {"city": "Os\nlo"}

    provider.script(Text('{"city": "Ro\nme"}\n'))
    thread_id = new_thread(api)
    run = api.post(
        f"threads/{thread_id}/runs", json={"assistant_id": new_assistant(api), "response_format": CITY_FORMAT}
    ).json()
    assert wait_for_status(api, thread_id, run["id"], {"completed", "failed"})["status"] == "completed"
    message = api.get(f"threads/{thread_id}/messages").json()["data"][0]
    assert json.loads(message["content"][0]["text"]["value"]) == {"city": "Ro\nme"}


def test_it_asks_without_streaming_when_tools_are_offered_under_auto(api, provider, settings):
    settings.LLM_QUIRKS = quirks.parse("no_streamed_auto_tools")
    first, second = _call_and_answer(api, provider, [WEATHER])
    # llama-cpp-python cannot stream a tool choice it makes itself: those calls go whole.
    for request in (first, second):
        assert request["stream"] is False and "stream_options" not in request
        assert request.get("tool_choice", "auto") == "auto"


def test_a_whole_answer_under_auto_still_reaches_the_stream_as_text(api, provider, settings):
    settings.LLM_QUIRKS = quirks.parse("no_streamed_auto_tools")
    provider.script(Text("It is sunny in Oslo."))
    thread_id = new_thread(api, "Weather in Oslo?")
    with api.stream(
        "POST",
        f"threads/{thread_id}/runs",
        json={"assistant_id": new_assistant(api, tools=[WEATHER]), "stream": True},
    ) as response:
        events = read_events(response)
    assert provider.requests[0]["stream"] is False
    text = "".join(
        part["text"]["value"]
        for name, data in events
        if name == "thread.message.delta"
        for part in data["delta"]["content"]
    )
    assert text == "It is sunny in Oslo."
    assert event_names(events)[-2:] == ["thread.run.completed", "done"]
    # Without tools (or with a forced one) the call streams as usual.
    provider.script(Text("Hi"))
    thread_id = new_thread(api)
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": new_assistant(api)}).json()
    assert wait_for_status(api, thread_id, run["id"], {"completed", "failed"})["status"] == "completed"
    assert provider.requests[-1]["stream"] is True


def test_the_demo_model_searches_for_the_question_first(api, provider, settings):
    settings.LLM_QUIRKS = quirks.parse("llama-cpp-python,search_first")
    provider.script(Text("25 days."))
    thread_id = new_thread(api, "How many holidays?")
    assistant_id = new_assistant(api, tools=[{"type": "file_search"}, WEATHER])
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    assert wait_for_status(api, thread_id, run["id"], {"completed", "failed"})["status"] == "completed"
    # The first call is answered without the model: a search for the user's question.
    (answer,) = provider.requests
    assert "tools" not in answer  # tools_once: it answers from the results
    steps = api.get(f"threads/{thread_id}/runs/{run['id']}/steps", params={"order": "asc"}).json()["data"]
    assert [s["type"] for s in steps] == ["tool_calls", "message_creation"]
    (call,) = steps[0]["step_details"]["tool_calls"]
    assert call["type"] == "file_search"
    # A run that chose otherwise is left alone, and the preset alone never searches first.
    for quirk_names, choice in (("llama-cpp-python,search_first", "none"), ("llama-cpp-python", None)):
        settings.LLM_QUIRKS = quirks.parse(quirk_names)
        provider.script(Text("Hello."))
        thread_id = new_thread(api)
        fields = {"assistant_id": assistant_id, **({"tool_choice": choice} if choice else {})}
        run = api.post(f"threads/{thread_id}/runs", json=fields).json()
        assert wait_for_status(api, thread_id, run["id"], {"completed", "failed"})["status"] == "completed"
        assert provider.requests[-1].get("tool_choice", "auto") == (choice or "auto")


def test_an_empty_text_choice_under_auto_is_asked_again_without_tools(api, provider, settings):
    # llama-cpp-python's auto mode answers a text choice with nothing at all.
    settings.LLM_QUIRKS = quirks.parse("no_streamed_auto_tools")
    provider.script(Text(""), Text("Hello there."))
    thread_id = new_thread(api, "Hello, who are you?")
    run = api.post(
        f"threads/{thread_id}/runs", json={"assistant_id": new_assistant(api, tools=[WEATHER])}
    ).json()
    run = wait_for_status(api, thread_id, run["id"], {"completed", "failed"})
    assert run["status"] == "completed", run["last_error"]
    choice, text = provider.requests
    assert choice["stream"] is False and choice["tools"]
    assert text["stream"] is True and "tools" not in text and "tool_choice" not in text
    message = api.get(f"threads/{thread_id}/messages").json()["data"][0]
    assert message["content"][0]["text"]["value"] == "Hello there."
