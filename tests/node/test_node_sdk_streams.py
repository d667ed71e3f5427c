"""The official Node SDK's stream helpers against this server: runs.stream(...) listeners,
finalMessages() and finalRun(), at openai 4.86.2 and 6.49.0 (the newest with beta.assistants that
runs on Node 20; 7.x needs Node 22). Each scenario's final messages and run must equal a GET.

Node and npm must be installed (.ci/run installs Debian's nodejs and npm); node_modules comes from
package-lock.json (`npm ci`, run here when it is missing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.scenarios import SCENARIOS, Scenario, call_arguments, stored, without_index

HERE = Path(__file__).resolve().parent
SDKS = ["openai4", "openai6"]


@pytest.fixture(scope="session")
def node() -> str:
    binary = shutil.which("node")
    assert binary, "Node.js must be installed (.ci/run installs Debian's nodejs and npm)"
    if not (HERE / "node_modules" / ".package-lock.json").exists():
        npm = shutil.which("npm")
        assert npm, "npm must be installed (.ci/run installs Debian's npm)"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600)
    return binary


def _drive(node: str, sdk: str, live_url: str, key: str, scenario: Scenario) -> dict[str, Any]:
    env = {**os.environ, "OPENAI_BASE_URL": f"{live_url}/v1", "OPENAI_API_KEY": key, "SDK": sdk}
    done = subprocess.run(
        [node, str(HERE / "stream_run.mjs"), json.dumps(scenario.node_spec())],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_it_streams_what_a_get_returns(node, sdk, name, api, provider, live_url, owner):  # type: ignore[no-untyped-def]
    scenario = SCENARIOS[name](api, provider)
    seen = _drive(node, sdk, live_url, owner.key, scenario)
    segments = seen["segments"]
    final = segments[-1]
    if sdk == "openai4" and scenario.status == "incomplete":
        # 4.86.2's helper does not take thread.run.incomplete as a final event (6.x does), so its
        # finalRun() rejects whatever the server sends; what it built up to there must still match.
        assert final["error"] == "Final run has not been received"
        run = final["currentRun"]
    else:
        assert [s["error"] for s in segments] == [None] * len(segments), segments[-1]
        run = final["finalRun"]
    assert run["status"] == scenario.status
    expected = stored(api, run["thread_id"], run["id"])
    assert run == expected.run

    # finalMessages() is built from message.created and the deltas alone: content in order, with
    # the annotations, as a GET returns it.
    messages = [m for s in segments for m in s["finalMessages"]]
    assert [m["id"] for m in messages] == [m["id"] for m in expected.messages]
    for message, get in zip(messages, expected.messages, strict=True):
        assert without_index(message["content"]) == get["content"]
        assert (message["role"], message["run_id"], message["assistant_id"]) == (
            "assistant",
            run["id"],
            get["assistant_id"],
        )

    # Every text part is done once, with the stored text; every image part too.
    texts = [p["text"] for m in expected.messages for p in m["content"] if p["type"] == "text"]
    images = [p["image_file"] for m in expected.messages for p in m["content"] if p["type"] == "image_file"]
    assert [
        without_index([{"type": "text", "text": t}])[0]["text"] for s in segments for t in s["textDone"]
    ] == texts
    assert [i for s in segments for i in s["imageFileDone"]] == images
    assert sum(s["textCreated"] for s in segments) == len(texts)

    # toolCallCreated sees a call before its arguments; toolCallDelta listeners see all of them.
    arguments = call_arguments(expected.steps)
    created = [c for s in segments for c in s["toolCallCreated"]]
    assert sorted(c["id"] for c in created) == sorted(arguments)
    for call in created:
        if call["type"] == "function":
            assert call["function"]["name"] and call["function"]["arguments"] == ""
        elif call["type"] == "code_interpreter":
            assert call["code_interpreter"]["input"] == ""
    for s in segments:
        for index, text in s["toolCallDeltas"].items():
            call = next(c for c in s["toolCallCreated"] if c["index"] == int(index))
            assert text == arguments[call["id"]]
