"""Messages and runs as the console shows them: markdown rendered, citations numbered with a source
list, images from files, and each run's steps with their tool calls (code, output, results).

The thread page and the playground render through here, so both show the same thing.
"""

from __future__ import annotations

import json
from typing import Any

from console.web import markdown
from console.web.names import Names


def view_message(message: dict[str, Any], files: Names) -> dict[str, Any]:
    parts = []
    for part in message.get("content") or []:
        if part["type"] == "text":
            text = part["text"]["value"]
            citations = []
            for n, annotation in enumerate(part["text"].get("annotations") or [], start=1):
                kind = annotation["type"]
                if kind not in ("file_citation", "file_path"):
                    continue
                file_id = annotation[kind]["file_id"]
                citations.append(
                    {
                        "n": n,
                        "marker": annotation.get("text", ""),
                        "file_id": file_id,
                        "file_name": files.file(file_id),
                        "quote": annotation[kind].get("quote", "") if kind == "file_citation" else "",
                    }
                )
                # A citation's marker in the text (【4:0†file】) becomes its number.
                if kind == "file_citation" and annotation.get("text"):
                    text = text.replace(annotation["text"], f" [{n}]")
            parts.append({"type": "text", "html": markdown.render(text), "citations": citations})
        elif part["type"] == "image_file":
            parts.append({"type": "image_file", "file_id": part["image_file"]["file_id"]})
        elif part["type"] == "image_url":
            url = part["image_url"]["url"]
            parts.append({"type": "image_url", "url": url if url.startswith(("https://", "http://")) else ""})
    attachments = [
        {
            "file_id": a["file_id"],
            "name": files.file(a["file_id"]),
            "tools": ", ".join(t["type"] for t in a.get("tools") or []),
        }
        for a in message.get("attachments") or []
    ]
    return {**message, "parts": parts, "attachment_rows": attachments}


def _seconds(start: int | None, end: int | None) -> str:
    return f"{end - start} s" if start and end else ""


def view_run(run: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    end = run.get("completed_at") or run.get("failed_at") or run.get("cancelled_at")
    view_steps = []
    for step in steps:
        details = step.get("step_details") or {}
        calls = []
        for call in details.get("tool_calls") or []:
            kind = call["type"]
            body = call.get(kind) or {}
            if kind == "function":
                calls.append(
                    {
                        "type": kind,
                        "name": body.get("name"),
                        "arguments": _pretty(body.get("arguments")),
                        "output": _pretty(body.get("output")),
                    }
                )
            elif kind == "code_interpreter":
                outputs = "\n".join(
                    o.get("logs", "") for o in body.get("outputs") or [] if o.get("type") == "logs"
                )
                images = [
                    (o.get("image") or {}).get("file_id")
                    for o in body.get("outputs") or []
                    if o.get("type") == "image" and (o.get("image") or {}).get("file_id")
                ]
                calls.append(
                    {
                        "type": kind,
                        "name": "code_interpreter",
                        "arguments": body.get("input", ""),
                        "output": outputs,
                        "images": images,
                    }
                )
            else:
                results = body.get("results") or []
                calls.append(
                    {
                        "type": kind,
                        "name": kind,
                        "arguments": "",
                        "output": "\n".join(
                            f"{r.get('file_name') or r.get('file_id')} (score {float(r.get('score') or 0):.2f})"
                            for r in results
                        ),
                        "summary": f"{len(results)} passage{'s' if len(results) != 1 else ''} found",
                    }
                )
        view_steps.append(
            {
                **step,
                "calls": calls,
                "label": str(step.get("type", "")).replace("_", " "),
                "message_id": (details.get("message_creation") or {}).get("message_id"),
            }
        )
    return {
        **run,
        "steps_view": view_steps,
        "queued_for": _seconds(run.get("created_at"), run.get("started_at")),
        "duration": _seconds(run.get("started_at"), end),
    }


def _pretty(raw: Any) -> str:
    if raw is None:
        return ""
    try:
        return json.dumps(json.loads(raw), indent=2) if isinstance(raw, str) else json.dumps(raw, indent=2)
    except (ValueError, TypeError):
        return str(raw)
