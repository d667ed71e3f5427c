"""client.beta.assistants, driven by the unchanged SDK over real HTTP."""

from __future__ import annotations

import openai
import pytest
from openai.types.beta import Assistant, AssistantDeleted, CodeInterpreterTool, FileSearchTool, FunctionTool
from openai.types.shared import ResponseFormatJSONObject, ResponseFormatJSONSchema, ResponseFormatText

from console.assistants.models import Assistant as AssistantRow
from tests.sdk.conftest import strictly

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


def test_it_creates_an_assistant_with_every_field(sdk, data_file):
    a = sdk.beta.assistants.create(
        model="gpt-4o",
        name="Math Tutor",
        description="Helps with math",
        instructions="You are a personal math tutor.",
        tools=[
            {"type": "code_interpreter"},
            {
                "type": "file_search",
                "file_search": {
                    "max_num_results": 5,
                    "ranking_options": {"ranker": "auto", "score_threshold": 0.5},
                },
            },
            WEATHER,
        ],
        tool_resources={
            "code_interpreter": {"file_ids": [data_file.id]},
            "file_search": {"vector_store_ids": []},
        },
        metadata={"team": "support", "tier": "gold"},
        temperature=0.2,
        top_p=0.9,
        response_format={"type": "json_object"},
    )
    assert isinstance(a, Assistant) and strictly(a) == a
    assert a.id.startswith("asst_") and a.object == "assistant" and a.created_at > 0
    assert (a.model, a.name, a.description) == ("gpt-4o", "Math Tutor", "Helps with math")
    assert a.instructions == "You are a personal math tutor."
    assert a.metadata == {"team": "support", "tier": "gold"}
    assert a.temperature == pytest.approx(0.2) and a.top_p == pytest.approx(0.9)

    code, search, function = a.tools
    assert isinstance(code, CodeInterpreterTool)
    assert isinstance(search, FileSearchTool)
    assert search.file_search is not None and search.file_search.max_num_results == 5
    assert search.file_search.ranking_options is not None
    assert search.file_search.ranking_options.ranker == "default_2024_08_21"
    assert search.file_search.ranking_options.score_threshold == 0.5
    assert isinstance(function, FunctionTool)
    assert function.function.name == "get_weather"
    assert function.function.parameters == WEATHER["function"]["parameters"]
    assert function.function.strict is True

    assert a.tool_resources is not None
    assert a.tool_resources.code_interpreter is not None
    assert a.tool_resources.code_interpreter.file_ids == [data_file.id]
    assert a.tool_resources.file_search is not None and a.tool_resources.file_search.vector_store_ids == []
    assert isinstance(a.response_format, ResponseFormatJSONObject)

    stored = AssistantRow.objects.get(pk=a.id)
    assert stored.name == "Math Tutor" and stored.tools[2]["function"]["strict"] is True


def test_it_fills_defaults_for_a_minimal_assistant(sdk):
    a = sdk.beta.assistants.create(model="gpt-4o-mini")
    assert a.tools == [] and a.metadata == {}
    assert a.name is None and a.description is None and a.instructions is None
    assert a.temperature == 1.0 and a.top_p == 1.0
    assert a.response_format == "auto"


@pytest.mark.parametrize(
    ("sent", "parsed_type"),
    [
        ("auto", str),
        ({"type": "text"}, ResponseFormatText),
        ({"type": "json_object"}, ResponseFormatJSONObject),
        (
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "answer",
                    "description": "A numeric answer",
                    "schema": {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]},
                    "strict": True,
                },
            },
            ResponseFormatJSONSchema,
        ),
    ],
    ids=["auto", "text", "json_object", "json_schema"],
)
def test_it_round_trips_each_response_format(sdk, sent, parsed_type):
    created = sdk.beta.assistants.create(model="gpt-4o", response_format=sent)
    fetched = sdk.beta.assistants.retrieve(created.id)
    for a in (created, fetched):
        assert strictly(a) == a
        assert isinstance(a.response_format, parsed_type)
        if sent == "auto":
            assert a.response_format == "auto"
        else:
            assert a.response_format.type == sent["type"]
    if parsed_type is ResponseFormatJSONSchema:
        schema = fetched.response_format.json_schema
        assert schema.name == "answer" and schema.description == "A numeric answer" and schema.strict is True
        # The SDK aliases the wire's "schema" to schema_.
        assert schema.schema_ == sent["json_schema"]["schema"]


def test_it_retrieves_an_assistant(sdk):
    created = sdk.beta.assistants.create(model="gpt-4o", name="Keeper", tools=[WEATHER])
    fetched = sdk.beta.assistants.retrieve(created.id)
    assert isinstance(fetched, Assistant)
    assert fetched.model_dump() == created.model_dump()


def test_it_updates_only_the_fields_sent(sdk):
    a = sdk.beta.assistants.create(
        model="gpt-4o",
        name="Before",
        instructions="Stay",
        tools=[{"type": "code_interpreter"}],
        metadata={"k": "v"},
    )
    updated = sdk.beta.assistants.update(
        a.id,
        name="After",
        model="gpt-4.1",
        tools=[WEATHER],
        metadata={"k": "w", "new": "1"},
        temperature=0.5,
        response_format={"type": "text"},
    )
    assert isinstance(updated, Assistant) and updated.id == a.id
    assert (updated.name, updated.model, updated.instructions) == ("After", "gpt-4.1", "Stay")
    assert [t.type for t in updated.tools] == ["function"]
    assert updated.metadata == {"k": "w", "new": "1"}
    assert updated.temperature == 0.5 and updated.top_p == 1.0
    assert isinstance(updated.response_format, ResponseFormatText)
    assert sdk.beta.assistants.retrieve(a.id).name == "After"
    assert AssistantRow.objects.get(pk=a.id).model == "gpt-4.1"


def test_it_deletes_an_assistant(sdk):
    a = sdk.beta.assistants.create(model="gpt-4o")
    deleted = sdk.beta.assistants.delete(a.id)
    assert isinstance(deleted, AssistantDeleted) and strictly(deleted) == deleted
    assert (deleted.id, deleted.object, deleted.deleted) == (a.id, "assistant.deleted", True)
    assert not AssistantRow.objects.filter(pk=a.id).exists()
    with pytest.raises(openai.NotFoundError):
        sdk.beta.assistants.retrieve(a.id)


def test_it_lists_assistants_newest_first_by_default(sdk):
    ids = [sdk.beta.assistants.create(model="gpt-4o", name=f"a{i}").id for i in range(3)]
    page = sdk.beta.assistants.list()
    assert [a.id for a in page.data] == ids[::-1]
    assert all(isinstance(a, Assistant) for a in page.data)
    assert all(strictly(item) == item for item in page.data)
    assert page.has_more is False and page.has_next_page() is False
    assert [a.id for a in sdk.beta.assistants.list(order="asc").data] == ids


def test_it_auto_paginates_over_several_pages(sdk):
    ids = [sdk.beta.assistants.create(model="gpt-4o", name=f"a{i}").id for i in range(5)]

    first = sdk.beta.assistants.list(limit=2)
    assert len(first.data) == 2 and first.has_more is True and first.has_next_page() is True
    assert [a.id for a in first] == ids[::-1]  # iterating a page walks every page after it
    assert [a.id for a in sdk.beta.assistants.list(limit=2, order="asc")] == ids

    pages = [first]
    while pages[-1].has_next_page():
        pages.append(pages[-1].get_next_page())
    assert [len(p.data) for p in pages] == [2, 2, 1]
    assert pages[-1].has_more is False and pages[-1].has_next_page() is False
    assert [a.id for p in pages for a in p.data] == ids[::-1]
    assert sum(len(p.data) for p in first.iter_pages()) == 5


def test_it_pages_with_after_and_before_cursors(sdk):
    ids = [sdk.beta.assistants.create(model="gpt-4o").id for _ in range(4)]
    after = sdk.beta.assistants.list(order="asc", after=ids[0], limit=2)
    assert [a.id for a in after.data] == ids[1:3] and after.has_more is True
    before = sdk.beta.assistants.list(order="asc", before=ids[3])
    assert [a.id for a in before.data] == ids[:3]


def test_it_keeps_reasoning_effort(sdk):
    a = sdk.beta.assistants.create(model="o3-mini", reasoning_effort="high")
    assert a.reasoning_effort == "high"
    assert sdk.beta.assistants.update(a.id, reasoning_effort="low").reasoning_effort == "low"
