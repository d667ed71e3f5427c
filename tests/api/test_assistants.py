from __future__ import annotations

import pytest

from console.assistants.models import Assistant

FULL = {
    "model": "gpt-4o",
    "name": "Math Tutor",
    "description": "Helps with math",
    "instructions": "You are a personal math tutor.",
    "tools": [
        {"type": "code_interpreter"},
        {
            "type": "file_search",
            "file_search": {
                "max_num_results": 5,
                "ranking_options": {"ranker": "auto", "score_threshold": 0.5},
            },
        },
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
                "strict": True,
            },
        },
    ],
    "metadata": {"team": "support"},
    "temperature": 0.2,
    "top_p": 0.9,
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
    },
}


def test_it_creates_an_assistant_with_every_field(api):
    r = api.post("assistants", json=FULL)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("asst_") and len(body["id"]) >= 29
    assert body["object"] == "assistant"
    assert body["name"] == "Math Tutor"
    assert body["tools"][1] == {
        "type": "file_search",
        "file_search": {
            "max_num_results": 5,
            "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.5},
        },
    }
    assert body["tools"][2]["function"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}
    stored = Assistant.objects.get(pk=body["id"])
    assert stored.temperature == 0.2 and stored.metadata == {"team": "support"}


def test_it_fills_openai_defaults(api):
    body = api.post("assistants", json={"model": "gpt-4o"}).json()
    assert body["temperature"] == 1.0 and body["top_p"] == 1.0
    assert body["response_format"] == "auto"
    assert body["tools"] == [] and body["tool_resources"] == {} and body["metadata"] == {}
    assert body["name"] is None and body["instructions"] is None


def test_it_retrieves_modifies_and_deletes(api):
    created = api.post("assistants", json=FULL).json()
    assert api.get(f"assistants/{created['id']}").json() == created

    r = api.post(f"assistants/{created['id']}", json={"name": "Renamed", "tools": [], "metadata": {"v": "2"}})
    assert r.status_code == 200
    updated = r.json()
    assert updated["name"] == "Renamed" and updated["tools"] == [] and updated["metadata"] == {"v": "2"}
    assert updated["instructions"] == FULL["instructions"]  # untouched fields stay

    r = api.delete(f"assistants/{created['id']}")
    assert r.json() == {"id": created["id"], "object": "assistant.deleted", "deleted": True}
    assert not Assistant.objects.filter(pk=created["id"]).exists()
    assert api.get(f"assistants/{created['id']}").status_code == 404


def test_it_answers_404_for_a_missing_assistant(api):
    r = api.get("assistants/asst_nope")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "No assistant found with id 'asst_nope'."


def test_it_keeps_code_interpreter_files(api):
    file_id = api.post(
        "files", files={"file": ("a.csv", b"x,y\n1,2\n")}, data={"purpose": "assistants"}
    ).json()["id"]
    body = api.post(
        "assistants",
        json={
            "model": "m",
            "tools": [{"type": "code_interpreter"}],
            "tool_resources": {"code_interpreter": {"file_ids": [file_id]}},
        },
    ).json()
    assert body["tool_resources"] == {"code_interpreter": {"file_ids": [file_id]}}


@pytest.mark.parametrize(
    ("payload", "param", "fragment"),
    [
        ({}, "model", "Missing required parameter: 'model'."),
        ({"model": 5}, "model", "expected a string"),
        ({"model": "m", "bogus": 1}, "bogus", "Unrecognized request argument supplied: bogus"),
        ({"model": "m", "name": "x" * 257}, "name", "string too long"),
        ({"model": "m", "description": "x" * 513}, "description", "maximum length 512"),
        ({"model": "m", "instructions": "x" * 256001}, "instructions", "maximum length 256000"),
        ({"model": "m", "temperature": 2.5}, "temperature", "above maximum value"),
        ({"model": "m", "temperature": "hot"}, "temperature", "expected a decimal"),
        ({"model": "m", "top_p": -0.1}, "top_p", "below minimum value"),
        ({"model": "m", "tools": [{"type": "browser"}]}, "tools[0].type", "Invalid value: 'browser'"),
        ({"model": "m", "tools": [{}]}, "tools[0].type", "Missing required parameter"),
        ({"model": "m", "tools": [{"type": "code_interpreter"}] * 129}, "tools", "array too long"),
        ({"model": "m", "tools": [{"type": "function"}]}, "tools[0].function", "Missing required parameter"),
        (
            {"model": "m", "tools": [{"type": "function", "function": {"name": "bad name!"}}]},
            "tools[0].function.name",
            "does not match pattern",
        ),
        (
            {
                "model": "m",
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}],
            },
            "tools[0].function.parameters",
            "Invalid schema",
        ),
        (
            {
                "model": "m",
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"required": "x"}}}],
            },
            "tools[0].function.parameters",
            "Invalid schema",
        ),
        (
            {"model": "m", "tools": [{"type": "file_search", "file_search": {"max_num_results": 51}}]},
            "tools[0].file_search.max_num_results",
            "above maximum value",
        ),
        (
            {
                "model": "m",
                "tools": [{"type": "file_search", "file_search": {"ranking_options": {"ranker": "auto"}}}],
            },
            "tools[0].file_search.ranking_options.score_threshold",
            "Missing required parameter",
        ),
        ({"model": "m", "response_format": "yaml"}, "response_format", "Invalid value"),
        (
            {"model": "m", "response_format": {"type": "json_schema"}},
            "response_format.json_schema",
            "Missing required",
        ),
        (
            {
                "model": "m",
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "a", "schema": {"type": 1}},
                },
            },
            "response_format.json_schema.schema",
            "Invalid schema",
        ),
        ({"model": "m", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "too many properties"),
        ({"model": "m", "metadata": {"k" * 65: "v"}}, "metadata", "too long"),
        ({"model": "m", "metadata": {"k": "v" * 513}}, "metadata", "string too long"),
        ({"model": "m", "metadata": {"k": 1}}, "metadata.k", "expected a string"),
        (
            {"model": "m", "tool_resources": {"code_interpreter": {"file_ids": ["file-missing"]}}},
            "tool_resources.code_interpreter.file_ids",
            "no file found with id 'file-missing'",
        ),
        (
            {
                "model": "m",
                "tool_resources": {"code_interpreter": {"file_ids": [f"f{i}" for i in range(21)]}},
            },
            "tool_resources.code_interpreter.file_ids",
            "array too long",
        ),
        (
            {"model": "m", "tool_resources": {"file_search": {"vector_store_ids": ["vs_a", "vs_b"]}}},
            "tool_resources.file_search.vector_store_ids",
            "array too long",
        ),
        ({"model": "m", "reasoning_effort": "extreme"}, "reasoning_effort", "Invalid value"),
    ],
)
def test_it_rejects_invalid_fields(api, payload, param, fragment):
    r = api.post("assistants", json=payload)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fragment in error["message"]
    assert Assistant.objects.count() == 0


def test_it_validates_modifications_too(api):
    created = api.post("assistants", json={"model": "m"}).json()
    r = api.post(f"assistants/{created['id']}", json={"temperature": 9})
    assert r.status_code == 400 and r.json()["error"]["param"] == "temperature"
    assert Assistant.objects.get(pk=created["id"]).temperature == 1.0
