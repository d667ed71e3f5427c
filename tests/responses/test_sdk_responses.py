"""openai-python's Responses and Conversations helpers, unchanged but for base_url."""

from __future__ import annotations

import openai
import pytest
from pydantic import BaseModel

from tests.fakeprovider import Call, Text, ToolCalls
from tests.responses.helpers import WEATHER_TOOL

pytestmark = pytest.mark.skipif(
    int(openai.__version__.split(".")[0]) < 2, reason="Responses helpers of openai>=2"
)


def test_it_creates_and_retrieves(sdk, provider):
    provider.script(Text("Hello from the SDK."))
    created = sdk.responses.create(model="fake-model", input="Hi", instructions="Be nice.")
    assert created.status == "completed" and created.output_text == "Hello from the SDK."
    again = sdk.responses.retrieve(created.id)
    assert again.output_text == "Hello from the SDK." and again.id == created.id
    items = sdk.responses.input_items.list(created.id)
    assert [i.type for i in items.data] == ["message"]
    sdk.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(created.id)


def test_it_streams_with_the_helper(sdk, provider):
    provider.script(Text("Streamed through the helper."))
    deltas = []
    with sdk.responses.stream(model="fake-model", input="Hi") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == "Streamed through the helper."
    assert final.status == "completed" and final.output_text == "Streamed through the helper."
    assert sdk.responses.retrieve(final.id).output_text == final.output_text


def test_it_streams_with_create(sdk, provider):
    provider.script(Text("Raw stream."))
    events = list(sdk.responses.create(model="fake-model", input="Hi", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))


class Sum(BaseModel):
    answer: int


def test_it_parses_structured_output(sdk, provider):
    provider.script(Text('{"answer": 4}'))
    parsed = sdk.responses.parse(model="fake-model", input="2+2?", text_format=Sum)
    assert parsed.output_parsed == Sum(answer=4)
    sent = provider.requests[-1]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Sum"
    assert sent["json_schema"]["strict"] is True


def test_it_round_trips_a_function_call(sdk, provider):
    provider.script(ToolCalls([Call("get_weather", '{"city": "Lima"}')]), Text("Warm in Lima."))
    first = sdk.responses.create(model="fake-model", input="Lima?", tools=[WEATHER_TOOL])
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_weather"
    second = sdk.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        tools=[WEATHER_TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "28C"}],
    )
    assert second.output_text == "Warm in Lima."


def test_it_streams_a_background_response_and_resumes(sdk, provider):
    provider.script(Text("Background via SDK."))
    with sdk.responses.stream(model="fake-model", input="Hi", background=True) as stream:
        final = stream.get_final_response()
    assert final.background is True and final.output_text == "Background via SDK."
    resumed = list(sdk.responses.retrieve(final.id, stream=True, starting_after=2))
    assert resumed[0].sequence_number == 3 and resumed[-1].type == "response.completed"


def test_it_uses_conversations(sdk, provider):
    provider.script(Text("Noted."))
    conversation = sdk.conversations.create(
        items=[{"type": "message", "role": "user", "content": "I am Ada."}]
    )
    response = sdk.responses.create(model="fake-model", input="Who am I?", conversation=conversation.id)
    assert response.output_text == "Noted."
    items = sdk.conversations.items.list(conversation.id, order="asc")
    assert [i.role for i in items.data] == ["user", "user", "assistant"]
    item = sdk.conversations.items.retrieve(items.data[0].id, conversation_id=conversation.id)
    assert item.content[0].text == "I am Ada."
    sdk.conversations.update(conversation.id, metadata={"a": "b"})
    assert sdk.conversations.retrieve(conversation.id).metadata == {"a": "b"}
    assert sdk.conversations.delete(conversation.id).deleted is True
