"""The deltas of a run's stream, as OpenAI sent them (the spec's MessageDeltaObject and RunStepDeltaObject).

Message content: every part is streamed in order as its own delta with its real `index`. A text
delta carries the file_citation and file_path annotations of the text it carries: each annotation
with its `index` in the part's annotations (so a client that merges deltas by index, as the SDKs'
stream helpers do, rebuilds the stored list) and `start_index`/`end_index` in the part's whole text.

Tool calls: the first delta of a call announces it (`id`, `type`, the function's `name` with empty
`arguments`, or code_interpreter's empty `input`); its arguments or code follow in later deltas.
"""

from __future__ import annotations

from typing import Any


def message_delta(message_id: str, part: dict[str, Any]) -> dict[str, Any]:
    return {"id": message_id, "object": "thread.message.delta", "delta": {"content": [part]}}


def text_part(index: int, value: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"index": index, "type": "text", "text": {"value": value, "annotations": annotations}}


def image_file_part(index: int, file_id: str) -> dict[str, Any]:
    return {"index": index, "type": "image_file", "image_file": {"file_id": file_id}}


def step_delta(step_id: str, tool_call: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": step_id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [tool_call]}},
    }


def tool_call_head(index: int, call_id: str, kind: str, name: str) -> dict[str, Any]:
    """The delta that announces a tool call, before any of its arguments."""
    if kind == "file_search":
        return {"index": index, "id": call_id, "type": "file_search", "file_search": {}}
    if kind == "code_interpreter":
        return {
            "index": index,
            "id": call_id,
            "type": "code_interpreter",
            "code_interpreter": {"input": "", "outputs": []},
        }
    return {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": "", "output": None},
    }


def function_arguments(index: int, text: str) -> dict[str, Any]:
    return {"index": index, "type": "function", "function": {"arguments": text}}


def code_input(index: int, text: str) -> dict[str, Any]:
    return {"index": index, "type": "code_interpreter", "code_interpreter": {"input": text}}


def code_outputs(index: int, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    indexed = [{"index": i, **output} for i, output in enumerate(outputs)]
    return {"index": index, "type": "code_interpreter", "code_interpreter": {"outputs": indexed}}
