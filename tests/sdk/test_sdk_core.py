"""What every SDK call relies on: the pinned SDKs, errors as SDK exceptions, project isolation, raw
responses, and the async client."""

from __future__ import annotations

import asyncio

import openai
import pytest
from openai.types.beta import Assistant

from tests.sdk.conftest import SDK_MAJOR


def test_it_runs_under_a_pinned_sdk():
    assert openai.__version__ in ("1.65.5", "3.57.0")
    assert SDK_MAJOR in (1, 3)


def test_it_raises_not_found_for_missing_objects(sdk):
    calls = [
        ("assistant", "asst_missing", sdk.beta.assistants.retrieve),
        ("thread", "thread_missing", sdk.beta.threads.retrieve),
        ("file", "file-missing", sdk.files.retrieve),
    ]
    for kind, object_id, call in calls:
        with pytest.raises(openai.NotFoundError) as caught:
            call(object_id)
        error = caught.value
        assert error.status_code == 404 and error.type == "invalid_request_error"
        assert error.body["message"] == f"No {kind} found with id '{object_id}'."


def test_it_raises_authentication_error_for_a_bad_key(make_client, transactional_db):
    client = make_client("sk-proj-not-a-real-key")
    with pytest.raises(openai.AuthenticationError) as caught:
        client.beta.assistants.list()
    error = caught.value
    assert error.status_code == 401 and error.code == "invalid_api_key"
    assert "sk-proj-" in error.body["message"] and "not-a-real-key" not in error.body["message"]


def test_it_raises_bad_request_with_the_offending_param(sdk):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.beta.assistants.create(model="gpt-4o", temperature=2.5)
    error = caught.value
    assert error.status_code == 400 and error.param == "temperature"
    assert error.code == "decimal_above_max_value"
    assert error.body == {
        "message": error.body["message"],
        "type": "invalid_request_error",
        "param": "temperature",
        "code": error.code,
    }
    assert "temperature" in error.body["message"]


def test_it_raises_bad_request_for_a_nested_param(sdk):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "bad name!", "parameters": {}}}]
        )
    assert caught.value.param == "tools[0].function.name"


def test_it_raises_bad_request_for_an_unknown_argument(sdk):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.beta.assistants.create(model="gpt-4o", extra_body={"colour": "blue"})
    assert caught.value.param == "colour"
    assert caught.value.body["message"] == "Unrecognized request argument supplied: colour"


def test_it_raises_bad_request_for_a_missing_required_field(sdk):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.beta.threads.messages.create(sdk.beta.threads.create().id, role="user", content=[])
    assert caught.value.param == "content"


def test_it_hides_other_projects_objects(sdk, outsider_sdk, data_file):
    assistant = sdk.beta.assistants.create(model="gpt-4o")
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "private"}])
    message = sdk.beta.threads.messages.list(thread.id).data[0]

    calls = [
        lambda: outsider_sdk.beta.assistants.retrieve(assistant.id),
        lambda: outsider_sdk.beta.assistants.update(assistant.id, name="mine now"),
        lambda: outsider_sdk.beta.assistants.delete(assistant.id),
        lambda: outsider_sdk.beta.threads.retrieve(thread.id),
        lambda: outsider_sdk.beta.threads.update(thread.id, metadata={"x": "y"}),
        lambda: outsider_sdk.beta.threads.delete(thread.id),
        lambda: outsider_sdk.beta.threads.messages.list(thread.id),
        lambda: outsider_sdk.beta.threads.messages.create(thread.id, role="user", content="hi"),
        lambda: outsider_sdk.beta.threads.messages.retrieve(message.id, thread_id=thread.id),
        lambda: outsider_sdk.files.retrieve(data_file.id),
        lambda: outsider_sdk.files.content(data_file.id),
        lambda: outsider_sdk.files.delete(data_file.id),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError):
            call()
    assert outsider_sdk.beta.assistants.list().data == []
    assert outsider_sdk.files.list().data == []
    # Still there for their owner, unchanged.
    assert sdk.beta.assistants.retrieve(assistant.id).name is None
    assert sdk.beta.threads.retrieve(thread.id).metadata == {}
    assert sdk.files.content(data_file.id).read() == b"a,b\n1,2\n"


def test_it_rejects_another_projects_file_as_a_reference(sdk, outsider_sdk, data_file):
    with pytest.raises(openai.BadRequestError) as caught:
        outsider_sdk.beta.assistants.create(
            model="gpt-4o", tool_resources={"code_interpreter": {"file_ids": [data_file.id]}}
        )
    assert caught.value.param == "tool_resources.code_interpreter.file_ids"


def test_it_answers_json_with_a_parseable_raw_response(sdk):
    raw = sdk.beta.assistants.with_raw_response.create(model="gpt-4o", name="Raw")
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assistant = raw.parse()
    assert isinstance(assistant, Assistant) and assistant.name == "Raw"
    # The SDK sends the v2 beta header on every assistants call.
    assert raw.http_request.headers["OpenAI-Beta"] == "assistants=v2"


def test_it_serves_the_async_client(live_url, owner):
    async def scenario() -> list[str]:
        async with openai.AsyncOpenAI(base_url=f"{live_url}/v1", api_key=owner.key, max_retries=0) as client:
            made = [(await client.beta.assistants.create(model="gpt-4o", name=f"a{i}")).id for i in range(3)]
            seen = [a.id async for a in client.beta.assistants.list(limit=1, order="asc")]
            assert seen == made
            thread = await client.beta.threads.create(messages=[{"role": "user", "content": "async hello"}])
            messages = await client.beta.threads.messages.list(thread.id)
            assert messages.data[0].content[0].text.value == "async hello"
            with pytest.raises(openai.NotFoundError):
                await client.beta.assistants.retrieve("asst_missing")
            return made

    assert len(asyncio.run(scenario())) == 3
