"""client.beta.threads.messages, driven by the unchanged SDK over real HTTP."""

from __future__ import annotations

import openai
import pytest
from openai.types.beta.threads import ImageURLContentBlock, Message, MessageDeleted, TextContentBlock

from console.threads.models import Message as MessageRow
from tests.sdk.conftest import strictly


@pytest.fixture
def thread(sdk):  # type: ignore[no-untyped-def]
    return sdk.beta.threads.create()


def test_it_creates_a_message_from_a_string(sdk, thread):
    m = sdk.beta.threads.messages.create(thread.id, role="user", content="How do I solve 3x + 11 = 14?")
    assert isinstance(m, Message) and strictly(m) == m
    assert m.id.startswith("msg_") and m.object == "thread.message" and m.thread_id == thread.id
    assert m.role == "user" and m.status == "completed"
    assert m.assistant_id is None and m.run_id is None and m.incomplete_details is None
    assert m.attachments == [] and m.metadata == {}
    assert len(m.content) == 1 and isinstance(m.content[0], TextContentBlock)
    assert m.content[0].type == "text"
    assert m.content[0].text.value == "How do I solve 3x + 11 = 14?"
    assert m.content[0].text.annotations == []
    assert MessageRow.objects.get(pk=m.id).content[0]["text"]["value"] == "How do I solve 3x + 11 = 14?"


def test_it_creates_a_message_from_parts(sdk, thread, image_file, data_file):
    m = sdk.beta.threads.messages.create(
        thread.id,
        role="user",
        content=[
            {"type": "text", "text": "Compare"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}},
            {"type": "image_file", "image_file": {"file_id": image_file.id, "detail": "low"}},
        ],
        attachments=[
            {"file_id": data_file.id, "tools": [{"type": "file_search"}, {"type": "code_interpreter"}]}
        ],
        metadata={"source": "sdk"},
    )
    assert strictly(m) == m
    assert [part.type for part in m.content] == ["text", "image_url", "image_file"]
    assert isinstance(m.content[1], ImageURLContentBlock) and m.content[1].image_url.detail == "high"
    assert m.content[2].image_file.file_id == image_file.id and m.content[2].image_file.detail == "low"
    assert [t.type for t in m.attachments[0].tools] == ["file_search", "code_interpreter"]
    assert m.metadata == {"source": "sdk"}


def test_it_retrieves_a_message(sdk, thread):
    created = sdk.beta.threads.messages.create(thread.id, role="assistant", content="Hi")
    fetched = sdk.beta.threads.messages.retrieve(created.id, thread_id=thread.id)
    assert isinstance(fetched, Message)
    assert fetched.model_dump() == created.model_dump()


def test_it_updates_a_messages_metadata(sdk, thread):
    m = sdk.beta.threads.messages.create(thread.id, role="user", content="x", metadata={"a": "1"})
    updated = sdk.beta.threads.messages.update(m.id, thread_id=thread.id, metadata={"a": "2", "b": "3"})
    assert isinstance(updated, Message)
    assert updated.metadata == {"a": "2", "b": "3"} and updated.content[0].text.value == "x"
    assert MessageRow.objects.get(pk=m.id).metadata == {"a": "2", "b": "3"}


def test_it_deletes_a_message(sdk, thread):
    m = sdk.beta.threads.messages.create(thread.id, role="user", content="gone")
    deleted = sdk.beta.threads.messages.delete(m.id, thread_id=thread.id)
    assert isinstance(deleted, MessageDeleted) and strictly(deleted) == deleted
    assert (deleted.id, deleted.object, deleted.deleted) == (m.id, "thread.message.deleted", True)
    assert not MessageRow.objects.filter(pk=m.id).exists()
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.beta.threads.messages.retrieve(m.id, thread_id=thread.id)
    assert caught.value.body["message"] == f"No message found with id '{m.id}'."


def test_it_lists_messages_in_order_with_a_limit(sdk, thread):
    ids = [sdk.beta.threads.messages.create(thread.id, role="user", content=f"m{i}").id for i in range(5)]
    page = sdk.beta.threads.messages.list(thread.id)
    assert [m.id for m in page.data] == ids[::-1]
    assert all(isinstance(m, Message) for m in page.data)
    assert all(strictly(item) == item for item in page.data)
    assert [m.content[0].text.value for m in sdk.beta.threads.messages.list(thread.id, order="asc")] == [
        f"m{i}" for i in range(5)
    ]

    limited = sdk.beta.threads.messages.list(thread.id, limit=2, order="asc")
    assert [m.id for m in limited.data] == ids[:2]
    assert limited.has_more is True and limited.has_next_page() is True
    assert [m.id for m in limited] == ids  # auto-pagination
    assert [m.id for m in sdk.beta.threads.messages.list(thread.id, order="asc", after=ids[1])] == ids[2:]
    assert [m.id for m in sdk.beta.threads.messages.list(thread.id, order="asc", before=ids[2]).data] == ids[
        :2
    ]


def test_it_filters_messages_by_run_id(sdk, thread):
    ids = [
        sdk.beta.threads.messages.create(thread.id, role="assistant", content=f"m{i}").id for i in range(3)
    ]
    # Runs arrive in a later issue; until then a run's messages are marked in the database.
    MessageRow.objects.filter(pk__in=ids[1:]).update(run_id="run_abcdefghijklmnopqrstuvwx")
    by_run = sdk.beta.threads.messages.list(thread.id, run_id="run_abcdefghijklmnopqrstuvwx", order="asc")
    assert [m.id for m in by_run.data] == ids[1:]
    assert all(m.run_id == "run_abcdefghijklmnopqrstuvwx" for m in by_run.data)
    assert sdk.beta.threads.messages.list(thread.id, run_id="run_other").data == []


def test_it_keeps_messages_inside_their_thread(sdk, thread):
    other = sdk.beta.threads.create()
    m = sdk.beta.threads.messages.create(other.id, role="user", content="elsewhere")
    with pytest.raises(openai.NotFoundError):
        sdk.beta.threads.messages.retrieve(m.id, thread_id=thread.id)
    assert sdk.beta.threads.messages.list(thread.id).data == []


def test_it_rejects_a_message_in_a_missing_thread(sdk):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.beta.threads.messages.create("thread_missing", role="user", content="x")
    assert caught.value.status_code == 404
    assert caught.value.body["message"] == "No thread found with id 'thread_missing'."
