"""The official Node SDK's responses.create and responses.stream (finalResponse) against this server.

openai 6.49.0 of tests/node (4.86.2 predates the Responses API). Node and the packages come as for
tests/node/test_node_sdk_streams.py.
"""

from __future__ import annotations

import json
import os
import subprocess

from tests.fakeprovider import Text
from tests.node.test_node_sdk_streams import HERE, node  # noqa: F401  (the fixture)


def test_it_creates_and_streams_responses(node, api, provider, live_url, owner):  # type: ignore[no-untyped-def]  # noqa: F811
    provider.script(Text("Created from Node."), Text("Streamed to Node."))
    env = {**os.environ, "OPENAI_BASE_URL": f"{live_url}/v1", "OPENAI_API_KEY": owner.key, "SDK": "openai6"}
    done = subprocess.run(
        [node, str(HERE / "stream_response.mjs"), json.dumps({"model": "fake-model", "input": "Hi"})],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["created"]["status"] == "completed"
    assert seen["created"]["output_text"] == "Created from Node."
    streamed = seen["streamed"]
    assert streamed["status"] == "completed" and streamed["output_text"] == "Streamed to Node."
    assert streamed["deltas"] == "Streamed to Node."
    assert [n for _, n in streamed["events"]] == list(range(len(streamed["events"])))
    assert (
        streamed["events"][0][0] == "response.created" and streamed["events"][-1][0] == "response.completed"
    )
    assert (
        api.get(f"responses/{streamed['id']}").json()["output"][0]["content"][0]["text"]
        == "Streamed to Node."
    )
