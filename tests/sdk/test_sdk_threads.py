"""client.beta.threads, driven by the unchanged SDK over real HTTP."""

from __future__ import annotations

import openai
import pytest
from openai.types.beta import Thread, ThreadDeleted
from openai.types.beta.threads import ImageFileContentBlock, ImageURLContentBlock, Message, TextContentBlock

from console.threads.models import Message as MessageRow
from console.threads.models import Thread as ThreadRow
from tests.sdk.conftest import strictly

IMAGE_URL = "https://example.com/cat.png"


def test_it_creates_an_empty_thread(sdk):
    thread = sdk.beta.threads.create()
    assert isinstance(thread, Thread) and strictly(thread) == thread
    assert thread.id.startswith("thread_") and thread.object == "thread" and thread.created_at > 0
    assert thread.metadata == {}
    assert sdk.beta.threads.messages.list(thread.id).data == []


def test_it_creates_a_thread_with_messages_and_resources(sdk, image_file, data_file):
    thread = sdk.beta.threads.create(
        messages=[
            {"role": "user", "content": "Hello there", "metadata": {"n": "1"}},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these pictures?"},
                    {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "low"}},
                    {"type": "image_file", "image_file": {"file_id": image_file.id}},
                ],
                "attachments": [{"file_id": data_file.id, "tools": [{"type": "code_interpreter"}]}],
            },
            {"role": "assistant", "content": "Two cats."},
        ],
        tool_resources={"code_interpreter": {"file_ids": [data_file.id]}},
        metadata={"customer": "c-42"},
    )
    assert thread.metadata == {"customer": "c-42"}
    assert thread.tool_resources is not None and thread.tool_resources.code_interpreter is not None
    assert thread.tool_resources.code_interpreter.file_ids == [data_file.id]

    first, second, third = sdk.beta.threads.messages.list(thread.id, order="asc").data
    assert all(isinstance(m, Message) and m.thread_id == thread.id for m in (first, second, third))
    assert all(strictly(m) == m for m in (first, second, third))
    assert [m.role for m in (first, second, third)] == ["user", "user", "assistant"]

    assert isinstance(first.content[0], TextContentBlock)
    assert first.content[0].text.value == "Hello there" and first.content[0].text.annotations == []
    assert first.metadata == {"n": "1"}

    text, url, file = second.content
    assert isinstance(text, TextContentBlock) and text.text.value == "What is in these pictures?"
    assert isinstance(url, ImageURLContentBlock)
    assert url.image_url.url == IMAGE_URL and url.image_url.detail == "low"
    assert isinstance(file, ImageFileContentBlock)
    assert file.image_file.file_id == image_file.id and file.image_file.detail == "auto"
    assert second.attachments is not None and second.attachments[0].file_id == data_file.id
    assert (
        second.attachments[0].tools is not None and second.attachments[0].tools[0].type == "code_interpreter"
    )

    assert third.content[0].text.value == "Two cats."
    assert MessageRow.objects.filter(thread_id=thread.id).count() == 3


def test_it_retrieves_a_thread(sdk):
    created = sdk.beta.threads.create(metadata={"a": "b"})
    fetched = sdk.beta.threads.retrieve(created.id)
    assert isinstance(fetched, Thread)
    assert fetched.model_dump() == created.model_dump()


def test_it_updates_a_thread(sdk, data_file):
    thread = sdk.beta.threads.create(metadata={"a": "b"})
    updated = sdk.beta.threads.update(
        thread.id, metadata={"a": "c"}, tool_resources={"code_interpreter": {"file_ids": [data_file.id]}}
    )
    assert isinstance(updated, Thread) and updated.id == thread.id
    assert updated.metadata == {"a": "c"}
    assert updated.tool_resources.code_interpreter.file_ids == [data_file.id]
    assert ThreadRow.objects.get(pk=thread.id).metadata == {"a": "c"}


def test_it_deletes_a_thread_and_its_messages(sdk):
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "bye"}])
    deleted = sdk.beta.threads.delete(thread.id)
    assert isinstance(deleted, ThreadDeleted) and strictly(deleted) == deleted
    assert (deleted.id, deleted.object, deleted.deleted) == (thread.id, "thread.deleted", True)
    assert not MessageRow.objects.filter(thread_id=thread.id).exists()
    with pytest.raises(openai.NotFoundError):
        sdk.beta.threads.retrieve(thread.id)


def test_it_rejects_an_image_file_from_nowhere(sdk):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.beta.threads.create(
            messages=[
                {"role": "user", "content": [{"type": "image_file", "image_file": {"file_id": "file-nope"}}]}
            ]
        )
    assert caught.value.status_code == 400
    assert "file-nope" in caught.value.body["message"]
    assert caught.value.param == "messages[0].content"
