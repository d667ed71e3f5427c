"""The Responses API against the real demo model (llama.cpp's server), through the official SDK.

Beside tests/test_real_model.py, whose fixtures it uses. Toy model: structure is asserted, never wording.
"""

from __future__ import annotations

import json

import openai
import pytest

from tests.test_real_model import model_server, real_model  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(int(openai.__version__.split(".")[0]) < 2, reason="Responses helpers of openai>=2"),
]

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_it_answers_a_plain_response(sdk, real_model):  # noqa: F811
    response = sdk.responses.create(
        model="demo",
        instructions="Answer in one short sentence.",
        input="What is the capital of France?",
        max_output_tokens=64,
    )
    assert response.status in ("completed", "incomplete"), response.error
    assert response.output_text.strip()
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    with sdk.responses.stream(model="demo", input="Say hello.", max_output_tokens=32) as stream:
        final = stream.get_final_response()
    assert final.output_text.strip() and final.id.startswith("resp_")


def test_it_makes_a_function_call_and_answers_with_its_output(sdk, real_model):  # noqa: F811
    # tool_choice "required" is refused by this server: the provider quirk names the only tool instead.
    first = sdk.responses.create(
        model="demo",
        input="What is the weather in Paris?",
        tools=[WEATHER],
        tool_choice="required",
        max_output_tokens=128,
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert first.status == "completed" and calls, first.error
    assert all(call.name == "get_weather" and isinstance(json.loads(call.arguments), dict) for call in calls)
    second = sdk.responses.create(
        model="demo",
        previous_response_id=first.id,
        tools=[WEATHER],
        input=[
            {"type": "function_call_output", "call_id": call.call_id, "output": '{"temperature_c": 21}'}
            for call in calls
        ],
        max_output_tokens=64,
    )
    assert second.status in ("completed", "incomplete"), second.error
    assert second.output_text.strip()
