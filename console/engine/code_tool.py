"""The code_interpreter tool: the model's code runs in the thread's sandbox session.

Files in: the code_interpreter files of the assistant, the thread and the thread's message
attachments appear under /mnt/data. Files out: images become image outputs (and image_file
content of the reply); other files become `assistants_output` files the reply can cite.

A thread's session lives in one worker process; a call made anywhere else is sent there
(console/sandbox/routing.py). When that process is gone, the call starts a new session here and the
output says the state was reset.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from console.assistants.models import Assistant
from console.core.text import storable
from console.engine.annotations import Markers
from console.files import storage
from console.files.models import File
from console.files.services import create_file
from console.runs.models import Run
from console.sandbox import routing
from console.threads.models import Message, Thread

log = logging.getLogger(__name__)

TOOL_NAME = "code_interpreter"
MAX_FILES = 20


@dataclass
class CodeResult:
    outputs: list[dict[str, Any]]  # the step's outputs: logs and images
    for_model: str  # what the model reads back
    images: list[str] = field(default_factory=list)  # file ids of images made
    files: dict[str, str] = field(default_factory=dict)  # "/mnt/data/name" -> file id, for citations


def code_from_arguments(arguments: str) -> str:
    """The code the model sent: JSON {"code": ...}, or raw code from models that skip the JSON."""
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        return arguments
    if isinstance(parsed, dict) and isinstance(parsed.get("code"), str):
        return parsed["code"]
    return arguments if not isinstance(parsed, str) else parsed


def partial_code(arguments: str) -> str:
    """The code decoded so far from a streaming `{"code": "...` fragment (for input deltas)."""
    marker = arguments.find('"code"')
    if marker < 0:
        return ""
    start = arguments.find('"', arguments.find(":", marker) + 1)
    if start < 0:
        return ""
    raw = arguments[start + 1 :]
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == '"':
            break
        if char == "\\":
            if i + 1 >= len(raw):
                break  # an escape cut in two: wait for the rest
            if raw[i + 1] == "u":
                if i + 6 > len(raw):
                    break
                out.append(json.loads(f'"{raw[i : i + 6]}"'))
                i += 6
                continue
            out.append(json.loads(f'"{raw[i : i + 2]}"'))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


RESET_NOTE = (
    "The code_interpreter session of this thread was lost (the worker holding it stopped) and a new "
    "one was started: variables and files from earlier calls are gone."
)


def session_files(run: Run) -> list[tuple[str, Path]]:
    """(name, local path) of the files this run's code may read."""
    ids: list[str] = []
    assistant = Assistant.objects.filter(pk=run.assistant_id).only("tool_resources").first()
    thread = Thread.objects.filter(pk=run.thread_id).only("tool_resources").first()
    for owner in (assistant, thread):
        if owner is not None:
            ids += (owner.tool_resources.get("code_interpreter") or {}).get("file_ids", [])
    for attachments in Message.objects.filter(thread_id=run.thread_id).values_list("attachments", flat=True):
        for attachment in attachments or []:
            if any(tool.get("type") == TOOL_NAME for tool in attachment.get("tools", [])):
                ids.append(attachment["file_id"])
    wanted = list(dict.fromkeys(ids))[:MAX_FILES]
    files = {f.pk: f for f in File.objects.filter(project_id=run.project_id, pk__in=wanted)}
    return [(files[i].filename, _local_copy(files[i])) for i in wanted if i in files]


def _local_copy(file: File) -> Path:
    """The file's bytes on this machine: the stored file itself, or a cached copy from object storage.

    Files never change, so a copy per file id is downloaded once and reused by later calls; a copy
    older than SANDBOX_OUTBOX_TTL is removed (and fetched again when needed). Its mtime is left
    alone: the sandbox re-copies an input into a session only when the source's mtime changes.
    """
    if storage.is_local():
        return Path(storage.storage().path(file.storage_name))
    cache = Path(settings.SANDBOX_ROOT) / "inputs"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / file.pk
    if target.exists():
        return target
    _prune(cache)
    handle = tempfile.NamedTemporaryFile(dir=cache, prefix=".download-", delete=False)
    try:
        with handle:
            for block in storage.blocks(file.storage_name, 1 << 20):
                handle.write(block)
        os.replace(handle.name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
    return target


def _prune(cache: Path) -> None:
    cutoff = time.time() - settings.SANDBOX_OUTBOX_TTL
    with contextlib.suppress(OSError):
        for entry in os.scandir(cache):
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)


def run_code(run: Run, code: str) -> CodeResult:
    """Runs the code in the thread's session, wherever it lives."""
    holder = routing.owner(run.thread_id)
    lost = False
    if holder is not None and holder != routing.own_queue():
        if routing.alive(holder):
            answer = routing.call(holder, run.pk, code, settings.CODE_INTERPRETER_TIMEOUT)
            if answer is not None:
                return CodeResult(**answer)
        routing.forget_owner(run.thread_id, holder)
        lost = True
    result = run_code_here(run, code)
    if lost:
        result.for_model = f"{RESET_NOTE}\n{result.for_model}"
        result.outputs.insert(0, {"type": "logs", "logs": RESET_NOTE})
    return result


def run_code_in_session(run_id: str, code: str) -> dict[str, Any]:
    """For a call sent here by another process: runs it in this process's session of the thread."""
    run = Run.objects.select_related("project").get(pk=run_id)
    return asdict(run_code_here(run, code))


def run_code_here(run: Run, code: str) -> CodeResult:
    from console.sandbox.service import SandboxError, get_manager

    try:
        result = get_manager().execute(
            run.thread_id, code, input_files=session_files(run), timeout=settings.CODE_INTERPRETER_TIMEOUT
        )
    except SandboxError as exc:
        log.error("sandbox unavailable: %s", exc)
        message = f"The code could not run: the sandbox is unavailable ({exc})."
        return CodeResult(outputs=[{"type": "logs", "logs": message}], for_model=message)
    routing.record_owner(run.thread_id)
    outputs: list[dict[str, Any]] = []
    logs = result.logs
    if result.error and result.error not in logs:
        logs = f"{logs}\n{result.error}".strip()
    logs = storable(logs)  # the code may print U+0000, which PostgreSQL cannot store
    if logs:
        outputs.append({"type": "logs", "logs": logs})
    code_result = CodeResult(outputs=outputs, for_model="")
    notes: list[str] = []
    for output in result.files:
        with open(output.path, "rb") as source:
            stored = create_file(
                run.project,
                source=source,
                # A private copy in the sandbox's outbox: storage may take it over.
                source_path=str(output.path),
                filename=output.name.rsplit("/", 1)[-1],
                purpose="assistants_output",
                size=output.path.stat().st_size,
            )
        if output.is_image:
            outputs.append({"type": "image", "image": {"file_id": stored.pk}})
            code_result.images.append(stored.pk)
            notes.append(f"/mnt/data/{output.name} (an image, shown to the user)")
        else:
            code_result.files[f"/mnt/data/{output.name}"] = stored.pk
            notes.append(f"/mnt/data/{output.name} (link it as sandbox:/mnt/data/{output.name})")
    text = logs or "(no output)"
    if result.killed:
        text += f"\nThe session was reset ({result.killed}); variables and files from earlier calls are gone."
    if notes:
        text += "\nFiles written: " + "; ".join(notes)
    code_result.for_model = text
    return code_result


def file_path_markers(files: dict[str, str]) -> Markers:
    """A `sandbox:/mnt/data/...` link to a file the run wrote becomes a file_path annotation."""
    return {f"sandbox:{path}": ("file_path", file_id) for path, file_id in files.items()}
