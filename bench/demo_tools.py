"""What a newcomer sees from the demo model's tools, out of the box: how often each works.

.venv/bin/python bench/demo_tools.py [--tries 3]

Starts the product as `make run` does with no provider (the built-in demo model, a private Redis,
a fresh VAR_DIR), then through the official SDK, at the default temperature and tool_choice "auto":
- file_search: a handbook in a vector store, "How many days of paid holiday do employees get?";
  counts the answers that cite the handbook (a file_citation annotation);
- code_interpreter: "Compute 17 × 23 with Python."; counts the runs that ran code in the sandbox,
  and those whose output is 391;
- a function tool: "What is the weather in Paris?"; counts requires_action or a text answer.
Every run must end completed (or requires_action for the function); a failed run is counted and
printed. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parents[1]
HANDBOOK = (
    b"Employee handbook. Holidays: every employee has 25 days of paid holiday a year. "
    b"Requests go to the team lead two weeks ahead.\n"
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
INSTRUCTIONS = "You are a helpful assistant. Answer in one short sentence."


def start_product(var_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "DJANGO_", "REDIS_URL"))}
    env.update(VAR_DIR=str(var_dir), PORT=str(port), PRIVATE_REDIS="1", DATABASE_URL="", PYTHONUNBUFFERED="1")
    log = var_dir / "product.log"  # a file, not a pipe: a full pipe would stall the product's logging
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "console.launcher"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 600  # a first start may build nothing, but migrates and loads the model
    while "Press Ctrl-C" not in log.read_text():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    found = re.search(r"API key \(project 'Default'\): (sk-proj-\S+)", log.read_text())
    assert found, log.read_text()[-3000:]
    print(f"product log: {log}")
    return process, found.group(1)


def wait_listening(client: openai.OpenAI) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            client.beta.assistants.list(limit=1)
            return
        except openai.APIConnectionError:
            assert time.monotonic() < deadline, "the product did not listen"
            time.sleep(0.2)


def run(client: openai.OpenAI, assistant_id: str, question: str):  # type: ignore[no-untyped-def]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": question}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id, max_completion_tokens=256, poll_interval_ms=200
    )
    return thread.id, run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="bench-demo-tools-"))
    process, key = start_product(var_dir, args.port)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{args.port}/v1", api_key=key, max_retries=0)
        wait_listening(client)
        store = client.vector_stores.create(name="handbook")
        handbook = client.vector_stores.files.upload_and_poll(
            vector_store_id=store.id, file=("handbook.txt", HANDBOOK), poll_interval_ms=200
        )
        searcher = client.beta.assistants.create(
            model="gpt-4o",
            instructions=INSTRUCTIONS,
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        coder = client.beta.assistants.create(
            model="gpt-4o", instructions=INSTRUCTIONS, tools=[{"type": "code_interpreter"}]
        )
        caller = client.beta.assistants.create(model="gpt-4o", instructions=INSTRUCTIONS, tools=[WEATHER])
        counts = {"cited": 0, "ran code": 0, "printed 391": 0, "function or answer": 0, "failed": 0}
        started = time.monotonic()
        for attempt in range(args.tries):
            thread_id, done = run(client, searcher.id, "How many days of paid holiday do employees get?")
            if done.status != "completed":
                counts["failed"] += 1
                print("file_search run", done.status, done.last_error)
            else:
                (message,) = client.beta.threads.messages.list(thread_id=thread_id, run_id=done.id).data
                text = "".join(p.text.value for p in message.content if p.type == "text")
                cited = any(
                    a.type == "file_citation" and a.file_citation.file_id == handbook.id
                    for p in message.content
                    if p.type == "text"
                    for a in p.text.annotations
                )
                counts["cited"] += cited
                print(f"file_search {attempt + 1}: cited={cited} {text[:120]!r}")

            thread_id, done = run(client, coder.id, "Compute 17 × 23 with Python.")
            steps = client.beta.threads.runs.steps.list(thread_id=thread_id, run_id=done.id).data
            calls = [
                c
                for s in steps
                if s.type == "tool_calls"
                for c in s.step_details.tool_calls
                if c.type == "code_interpreter"
            ]
            if done.status != "completed":
                counts["failed"] += 1
                print("code_interpreter run", done.status, done.last_error)
            logs = " ".join(o.logs for c in calls for o in c.code_interpreter.outputs if o.type == "logs")
            counts["ran code"] += bool(calls)
            counts["printed 391"] += "391" in logs
            code = calls[0].code_interpreter.input if calls else ""
            print(f"code_interpreter {attempt + 1}: code={code[:60]!r} logs={logs[:60]!r}")

            thread_id, done = run(client, caller.id, "What is the weather in Paris?")
            ok = done.status in ("requires_action", "completed")
            counts["function or answer"] += ok
            counts["failed"] += done.status == "failed"
            if done.status == "requires_action":
                client.beta.threads.runs.cancel(thread_id=thread_id, run_id=done.id)
            print(f"function {attempt + 1}: {done.status}")
        elapsed = time.monotonic() - started
        print(f"\n{args.tries} tries each, {elapsed:.0f} s:")
        for name, count in counts.items():
            print(f"  {name}: {count} of {args.tries}")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


if __name__ == "__main__":
    main()
