"""U+0000 and other control characters in model output, tool-call arguments and code output: a run
never fails on them, on either database. A U+0000 character is stored and returned as U+FFFD (PostgreSQL
cannot store it; both databases behave alike); every other control character comes back as it was."""

from __future__ import annotations

import json

from console.runs.models import RunStep
from console.threads.models import Message
from tests.fakeprovider import Call, Text, ToolCalls
from tests.runs.helpers import new_assistant, new_thread, stream_new_run, wait_for_status

CONTROLS = "".join(chr(c) for c in range(1, 32)) + "\x7f"
FUNCTION = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}


def _run(api, thread_id, assistant_id):  # type: ignore[no-untyped-def]
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id}).json()
    return wait_for_status(api, thread_id, run["id"], {"completed", "failed", "requires_action"}, timeout=60)


def test_it_keeps_a_reply_with_nul_and_control_characters(api, provider):
    provider.script(
        Text(f"before\x00after {CONTROLS} end", chunks=["before\x00", f"after {CONTROLS}", " end"])
    )
    thread_id, events = stream_new_run(api)
    assert events[-2][0] == "thread.run.completed", events[-3:]
    expected = f"before\ufffdafter {CONTROLS} end"
    streamed = "".join(
        part["text"]["value"]
        for name, data in events
        if name == "thread.message.delta"
        for part in data["delta"]["content"]
    )
    assert streamed == expected
    reply = api.get(f"threads/{thread_id}/messages", params={"limit": 1}).json()["data"][0]
    assert reply["content"][0]["text"]["value"] == expected
    stored = Message.objects.filter(thread_id=thread_id, role="assistant").get()
    assert stored.content[0]["text"]["value"] == expected


def test_it_keeps_tool_call_arguments_with_nul_and_control_characters(api, provider):
    # Arguments are JSON text: a NUL escaped in it (\u0000, six characters) is kept as it is; a raw
    # NUL character in that text (invalid JSON, but a provider may send it) becomes U+FFFD.
    escaped = json.dumps({"q": f"a\x00b{CONTROLS}"})
    raw = '{"q": "c\x00d"}'
    provider.script(ToolCalls([Call("lookup", escaped), Call("lookup", raw)]))
    assistant_id = new_assistant(api, tools=[FUNCTION])
    thread_id = new_thread(api)
    run = _run(api, thread_id, assistant_id)
    assert run["status"] == "requires_action", run
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert calls[0]["function"]["arguments"] == escaped
    assert json.loads(calls[0]["function"]["arguments"]) == {"q": f"a\x00b{CONTROLS}"}
    assert calls[1]["function"]["arguments"] == '{"q": "c\ufffdd"}'
    step = RunStep.objects.get(run_id=run["id"], type="tool_calls")
    stored = [call["function"]["arguments"] for call in step.step_details["tool_calls"]]
    assert stored == [escaped, '{"q": "c\ufffdd"}']


def test_it_keeps_code_output_with_nul_and_control_characters(api, provider):
    code = "import sys\n_ = sys.stdout.write('x\\x00y' + ''.join(map(chr, range(1, 32))) + '\\x7f')"
    provider.script(ToolCalls([Call("code_interpreter", json.dumps({"code": code}))]), Text("Done."))
    assistant_id = new_assistant(api, tools=[{"type": "code_interpreter"}])
    thread_id = new_thread(api)
    run = _run(api, thread_id, assistant_id)
    assert run["status"] == "completed", run
    steps = api.get(f"threads/{thread_id}/runs/{run['id']}/steps").json()["data"]
    call = next(s for s in steps if s["type"] == "tool_calls")["step_details"]["tool_calls"][0]
    assert call["code_interpreter"]["outputs"] == [{"type": "logs", "logs": f"x\ufffdy{CONTROLS}"}]
    tool_message = [m for m in provider.requests[1]["messages"] if m["role"] == "tool"][0]
    assert tool_message["content"] == f"x\ufffdy{CONTROLS}"
