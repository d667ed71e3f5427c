"""What the model receives: instructions, history, images, overrides."""

from __future__ import annotations

from tests.fakeprovider import Text
from tests.runs.helpers import new_assistant, wait_for_status

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082"
)


def test_it_sends_overrides_and_additional_messages(api, provider):
    provider.script(Text("ok"))
    assistant_id = new_assistant(
        api,
        temperature=0.3,
        top_p=0.8,
        response_format={"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}}},
    )
    thread_id = api.post("threads", json={"messages": [{"role": "user", "content": "first"}]}).json()["id"]
    run = api.post(
        f"threads/{thread_id}/runs",
        json={
            "assistant_id": assistant_id,
            "model": "other-model",
            "instructions": "Override.",
            "additional_instructions": "Also this.",
            "additional_messages": [{"role": "user", "content": "second"}],
            "temperature": 0.1,
        },
    ).json()
    # The run shows the instructions the model is given: the additional ones appended.
    assert run["model"] == "other-model" and run["instructions"] == "Override.\n\nAlso this."
    assert run["temperature"] == 0.1 and run["top_p"] == 0.8
    wait_for_status(api, thread_id, run["id"], {"completed"})
    sent = next(r for r in provider.requests if r["model"] == "other-model")
    assert sent["messages"] == [
        {"role": "system", "content": "Override.\n\nAlso this."},
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
    ]
    assert (
        api.get(f"threads/{thread_id}/runs/{run['id']}").json()["instructions"]
        == sent["messages"][0]["content"]
    )
    assert sent["temperature"] == 0.1 and sent["top_p"] == 0.8
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object"}},
    }
    assert "tools" not in sent


def test_it_sends_images_as_image_parts(api, provider):
    provider.script(Text("a pixel"))
    image_id = api.post(
        "files", files={"file": ("p.png", PNG, "image/png")}, data={"purpose": "vision"}
    ).json()["id"]
    thread_id = api.post(
        "threads",
        json={
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What are these?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
                        },
                        {"type": "image_file", "image_file": {"file_id": image_id}},
                    ],
                }
            ]
        },
    ).json()["id"]
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": new_assistant(api)}).json()
    wait_for_status(api, thread_id, run["id"], {"completed"})
    parts = provider.requests[-1]["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "What are these?"}
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
    }
    assert parts[2]["image_url"]["url"].startswith("data:image/png;base64,")


def test_it_includes_earlier_runs_replies(api, provider):
    provider.script(Text("Reply one."), Text("Reply two."))
    assistant_id = new_assistant(api)
    thread_id = api.post("threads", json={"messages": [{"role": "user", "content": "q1"}]}).json()["id"]
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    wait_for_status(api, thread_id, run["id"], {"completed"})
    api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": "q2"})
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    wait_for_status(api, thread_id, run["id"], {"completed"})
    assert [m["content"] for m in provider.requests[-1]["messages"][1:]] == ["q1", "Reply one.", "q2"]
