"""code_interpreter in runs: the model's code runs in the thread's sandbox, outputs come back."""

from __future__ import annotations

import json

import pytest

from console.files.models import File
from console.runs.models import RunStep
from tests.fakeprovider import Call, Text, ToolCalls
from tests.runs.helpers import collapse, names, new_assistant, read_events, wait_for_status

CODE_TOOLS = [{"type": "code_interpreter"}]


def code_call(code: str) -> ToolCalls:
    return ToolCalls([Call("code_interpreter", json.dumps({"code": code}))])


def _run(api, thread_id, assistant_id, **extra):  # type: ignore[no-untyped-def]
    run = api.post(f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, **extra}).json()
    return wait_for_status(
        api, thread_id, run["id"], {"completed", "failed", "incomplete", "requires_action"}, timeout=60
    )


def test_it_runs_code_on_thread_files_and_streams_input_and_outputs(api, provider):
    provider.script(
        code_call(
            "import pandas as pd\ndf = pd.read_csv('/mnt/data/numbers.csv')\nprint(int(df['a'].sum()))"
        ),
        Text("The sum is 6."),
    )
    file_id = api.post(
        "files", files={"file": ("numbers.csv", b"a,b\n1,2\n2,3\n3,4\n")}, data={"purpose": "assistants"}
    ).json()["id"]
    assistant_id = new_assistant(api, tools=CODE_TOOLS)
    thread_id = api.post(
        "threads",
        json={
            "messages": [{"role": "user", "content": "Sum column a."}],
            "tool_resources": {"code_interpreter": {"file_ids": [file_id]}},
        },
    ).json()["id"]
    with api.stream(
        "POST", f"threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    ) as r:
        events = read_events(r)
    sequence = collapse(names(events))
    assert sequence[:6] == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
    ]
    assert "thread.run.step.completed" in sequence and sequence[-2:] == ["thread.run.completed", "done"]
    deltas = [d["delta"]["step_details"]["tool_calls"][0] for n, d in events if n == "thread.run.step.delta"]
    streamed_input = "".join(d["code_interpreter"].get("input", "") for d in deltas)
    assert streamed_input.startswith("import pandas as pd")
    outputs = [o for d in deltas for o in d["code_interpreter"].get("outputs", [])]
    assert outputs == [{"index": 0, "type": "logs", "logs": "6\n"}]

    step = RunStep.objects.get(run__thread_id=thread_id, type="tool_calls")
    call = step.step_details["tool_calls"][0]
    assert call["type"] == "code_interpreter" and step.status == "completed"
    assert call["code_interpreter"]["outputs"] == [{"type": "logs", "logs": "6\n"}]
    # The model saw the output.
    tool_message = [m for m in provider.requests[1]["messages"] if m["role"] == "tool"][0]
    assert tool_message["content"] == "6\n"
    assert provider.requests[0]["tools"][0]["function"]["name"] == "code_interpreter"


def test_it_keeps_python_state_across_runs_of_a_thread(api, provider):
    provider.script(code_call("x = 41"), Text("Stored."), code_call("print(x + 1)"), Text("It is 42."))
    assistant_id = new_assistant(api, tools=CODE_TOOLS)
    thread_id = api.post("threads", json={"messages": [{"role": "user", "content": "store"}]}).json()["id"]
    assert _run(api, thread_id, assistant_id)["status"] == "completed"
    api.post(f"threads/{thread_id}/messages", json={"role": "user", "content": "use it"})
    assert _run(api, thread_id, assistant_id)["status"] == "completed"
    last = RunStep.objects.filter(run__thread_id=thread_id, type="tool_calls").order_by("-created_at").first()
    assert last.step_details["tool_calls"][0]["code_interpreter"]["outputs"] == [
        {"type": "logs", "logs": "42\n"}
    ]


def test_it_returns_images_and_cited_files(api, provider):
    provider.script(
        code_call(
            "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\n"
            "open('/mnt/data/report.csv', 'w').write('a\\n1\\n')"
        ),
        Text("Here is the chart and [the data](sandbox:/mnt/data/report.csv)."),
    )
    assistant_id = new_assistant(api, tools=CODE_TOOLS)
    thread_id = api.post("threads", json={"messages": [{"role": "user", "content": "plot"}]}).json()["id"]
    run = _run(api, thread_id, assistant_id)
    assert run["status"] == "completed", run
    step = RunStep.objects.get(run_id=run["id"], type="tool_calls")
    images = [
        o for o in step.step_details["tool_calls"][0]["code_interpreter"]["outputs"] if o["type"] == "image"
    ]
    assert len(images) == 1
    image_file = File.objects.get(pk=images[0]["image"]["file_id"])
    assert image_file.purpose == "assistants_output" and image_file.filename.endswith(".png")

    reply = api.get(f"threads/{thread_id}/messages", params={"limit": 1}).json()["data"][0]
    assert reply["content"][0] == {"type": "image_file", "image_file": {"file_id": image_file.pk}}
    text = reply["content"][1]["text"]
    annotation = text["annotations"][0]
    assert annotation["type"] == "file_path"
    assert (
        text["value"][annotation["start_index"] : annotation["end_index"]] == "sandbox:/mnt/data/report.csv"
    )
    download = api.get(f"files/{annotation['file_path']['file_id']}/content")
    assert download.content == b"a\n1\n"


@pytest.mark.timeout(120)
def test_a_runaway_kills_only_its_session_and_the_run_goes_on(api, provider, settings):
    settings.CODE_INTERPRETER_TIMEOUT = 2
    provider.script(code_call("while True:\n    pass"), Text("That took too long."))
    assistant_id = new_assistant(api, tools=CODE_TOOLS)
    thread_id = api.post("threads", json={"messages": [{"role": "user", "content": "loop"}]}).json()["id"]
    run = _run(api, thread_id, assistant_id)
    assert run["status"] == "completed"
    step = RunStep.objects.get(run_id=run["id"], type="tool_calls")
    logs = step.step_details["tool_calls"][0]["code_interpreter"]["outputs"][0]["logs"]
    assert "timed out" in logs.lower()
    tool_message = [m for m in provider.requests[1]["messages"] if m["role"] == "tool"][0]
    assert "reset" in tool_message["content"]
