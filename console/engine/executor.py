"""The run executor: prompt, provider stream, tool calls, steps and messages, events.

One call executes a run from `queued` until it needs the client (requires_action) or ends. It runs
on the worker's engine loop (console/engine/loop.py), where one thread streams every run the
process holds; database work and tools run on the loop's thread pools. Text goes to the run's
event stream as it arrives: the first delta at once, later ones at most one per
RUN_STREAM_COALESCE_MS (holding what arrived meanwhile); rows are written at step boundaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console import tokens
from console.core.ids import new_id
from console.engine import code_tool, loop, partial, search_tool
from console.engine import prompt as prompts
from console.engine.annotations import Markers, StreamedText, find
from console.events import stream
from console.payloads import deltas
from console.payloads.objects import message_object, run_object, step_object
from console.providers.chat import ProviderError, ToolCallDelta, stream_chat
from console.runs import lifecycle
from console.runs.models import Run, RunStep
from console.threads.models import Message

log = logging.getLogger(__name__)

# A run that keeps calling server-side tools is stopped after this many model calls.
MAX_TURNS = 25
SERVER_TOOLS = {
    "file_search": {
        "description": "Search the files attached to this assistant or thread for passages relevant to a query.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
    "code_interpreter": {
        "description": "Run Python code in a sandbox and return its output.",
        "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
    },
}


class Cancelled(Exception):
    """The run is being cancelled."""


class Abandoned(Exception):
    """The run is no longer ours (reaped or expired meanwhile)."""


class EventsLost(Exception):
    """Some of the run's events could not be written: Redis was away past EVENTS_PUBLISH_TIMEOUT."""


EVENTS_LOST_MESSAGE = (
    "The run's events could not be delivered: the event store (Redis) was unavailable for too long."
)
DATABASE_AWAY_MESSAGE = "The database could not be reached for %g s while executing this run."


def execute(run_id: str) -> None:
    """Executes a run on the engine loop; returns when it is parked or over (a Celery task thread waits)."""
    loop.run(execute_async(run_id))


async def execute_async(run_id: str) -> None:
    claimed = await loop.db(_claim, run_id)
    if claimed is None:
        return  # already taken, finished or cancelled
    run, first_prompt = claimed
    with loop.watch(run.pk) as watch:
        executor = Executor(run, watch)
        try:
            await executor.run(first_prompt)
        except Cancelled:
            await loop.db(executor.stop, None, "")
        except (Abandoned, lifecycle.NotOwned):
            # Nothing more is written for it: not a row, not an event.
            log.info("run %s was taken away from this worker", run_id)
        except EventsLost:
            await loop.db(executor.stop, "server_error", executor.events_lost_message())
        except ProviderError as exc:
            await loop.db(executor.stop, exc.code, exc.message)
        except Exception as exc:
            if loop.database_away(exc):
                log.warning("run %s: the database stayed unreachable (%s)", run_id, exc)
                message = DATABASE_AWAY_MESSAGE % settings.DB_OUTAGE_SECONDS
            else:
                log.exception("run %s crashed", run_id)
                message = "The server had an error while executing this run."
            await loop.db(executor.stop, "server_error", message)


def _claim(run_id: str) -> tuple[Run, prompts.Prompt | None] | None:
    """Claims the run and builds its first prompt in one trip to the database threads."""
    run = lifecycle.claim(run_id)
    if run is None:
        return None
    try:
        return run, prompts.build(run)
    except Exception:
        return run, None  # built again by the executor, which reports the failure on the run


def chat_tools(run: Run) -> list[dict[str, Any]]:
    tools = []
    for tool in run.tools:
        if tool["type"] == "function":
            tools.append({"type": "function", "function": tool["function"]})
        else:
            spec = SERVER_TOOLS[tool["type"]]
            tools.append({"type": "function", "function": {"name": tool["type"], **spec}})
    return tools


def chat_tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") if choice["type"] == "function" else choice["type"]
        return {"type": "function", "function": {"name": name}}
    return choice


class Executor:
    def __init__(self, run: Run, watch: loop.Watch) -> None:
        self.run_row = run
        self.watch = watch
        self.usage = dict(run.usage or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
        self.message: Message | None = None
        self.message_step: RunStep | None = None
        self.text: list[str] = []
        # The message's text part: its index (after the images) and what its stream holds back.
        self.text_index = 0
        self.streamed = StreamedText({})
        # Text received but not yet published (coalescing), and when the last delta went out.
        self.unsent: list[str] = []
        self.sent_at = 0.0
        self.flush_timer: asyncio.TimerHandle | None = None
        # What code_interpreter made, for the next message: image_file parts and file_path citations.
        self.pending_images: list[str] = []
        self.written_files: dict[str, str] = {}
        # file_search: markers the model may cite, and how many searches this run made.
        self.citations: dict[str, str] = {}
        self.search_calls = 0
        # The model answered nothing (no text, no tool call) to the call just made: it is asked once more.
        self.answered_nothing = False

    # -- liveness and cancellation -------------------------------------------------------------

    async def check_owned(self) -> None:
        """check(), after asking the database whether the run is still ours if the lease ran out."""
        if self.watch.lease_expired():
            await loop.blocking(loop.confirm, [self.run_row.pk])
        self.check()

    def check(self) -> None:
        """Stops the run if the engine loop's monitor saw it cancelled or taken away."""
        if self.watch.cancelled:
            raise Cancelled
        if self.watch.abandoned:
            raise Abandoned
        if stream.lost(self.run_row.pk):
            raise EventsLost

    def events_lost_message(self) -> str:
        reason = stream.lost_reason(self.run_row.pk)
        if reason is None or reason == stream.LOST_UNAVAILABLE:
            return EVENTS_LOST_MESSAGE
        return f"The run's events could not be written: the event store (Redis) refused them ({reason})."

    def stop(self, code: str | None, message: str) -> None:
        """Ends a run that cannot go on: cancelled, or failed with code and message (cancelled if it was being cancelled)."""
        self.save_partial_text()
        if code is None:
            lifecycle.finish(self.run_row, "cancelled", from_statuses=lifecycle.WORKING)
        else:
            lifecycle.cancel_or_fail(self.run_row, code, message)

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, prompt: prompts.Prompt | None = None) -> None:
        run = self.run_row
        for _ in range(MAX_TURNS):
            await self.check_owned()
            if prompt is None:
                prompt = await loop.db(prompts.build, run)
            if prompt.too_long:
                await loop.db(self.end_incomplete, "max_prompt_tokens")
                return
            remaining = None
            if run.max_completion_tokens is not None:
                remaining = run.max_completion_tokens - self.usage["completion_tokens"]
                if remaining <= 0:
                    await loop.db(self.end_incomplete, "max_completion_tokens")
                    return
            if not await self.turn(self.request_body(prompt, remaining), prompt.after_tool_outputs):
                return
            prompt = None
        raise ProviderError("server_error", f"The run made {MAX_TURNS} model calls without finishing.")

    def end_incomplete(self, reason: str) -> None:
        lifecycle.finish(self.run_row, "incomplete", incomplete_details={"reason": reason}, usage=self.usage)

    def request_body(self, prompt: prompts.Prompt, remaining: int | None) -> dict[str, Any]:
        run = self.run_row
        body: dict[str, Any] = {"model": run.model, "messages": prompt.messages}
        tools = chat_tools(run)
        if tools:
            body["tools"] = tools
            choice = run.tool_choice
            if prompt.after_tool_outputs and (choice == "required" or isinstance(choice, dict)):
                # A forced tool is called once, then the model answers (as OpenAI's runs did);
                # forcing it again would loop until MAX_TURNS.
                choice = "auto"
            body["tool_choice"] = chat_tool_choice(choice)
            if run.tool_choice != "none":
                body["parallel_tool_calls"] = run.parallel_tool_calls
        if run.temperature is not None:
            body["temperature"] = run.temperature
        if run.top_p is not None:
            body["top_p"] = run.top_p
        if run.response_format not in (None, "auto"):
            body["response_format"] = run.response_format
        if remaining is not None:
            body["max_completion_tokens"] = remaining
        if run.reasoning_effort:
            body["reasoning_effort"] = run.reasoning_effort
        return body

    async def turn(self, body: dict[str, Any], after_tool_outputs: bool = False) -> bool:
        """One model call. True when the model must be called again (after server-side tools)."""
        calls: dict[int, dict[str, Any]] = {}
        tool_step: RunStep | None = None
        finish_reason: str | None = None
        turn_usage: dict[str, int] | None = None
        watch = self.watch
        output: list[str] = []  # what the model sent, to count when the provider reports no usage
        async with contextlib.aclosing(stream_chat(body, after_tool_outputs=after_tool_outputs)) as batches:
            try:
                watch.interruptible = True  # waiting on the model: a cancel may interrupt
                async for chunks in batches:
                    watch.interruptible = False
                    await self.check_owned()
                    text: list[str] = []
                    for chunk in chunks:
                        if chunk.content:
                            text.append(chunk.content)
                            output.append(chunk.content)
                        for delta in chunk.tool_calls:
                            output.append((delta.name or "") + delta.arguments)
                            if text:
                                await self.on_text("".join(text))
                                text = []
                            self.flush_text()
                            if tool_step is None:
                                tool_step = await loop.db(self.open_tool_step)
                            self.on_tool_call(tool_step, calls, delta)
                        finish_reason = chunk.finish_reason or finish_reason
                        turn_usage = chunk.usage or turn_usage
                    if text:
                        await self.on_text("".join(text))
                    watch.interruptible = True
            except asyncio.CancelledError:
                if not watch.interrupted:
                    raise
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                self.check()
                raise Cancelled from None
            finally:
                watch.interruptible = False
                self.flush_text()
        if not turn_usage or not turn_usage.get("total_tokens"):
            turn_usage = tokens.estimate_usage(body, "".join(output))
        if tool_step is not None:
            self.announce_unnamed(tool_step, calls)
        self.add_usage(turn_usage)
        if tool_step is None and self.message is None and finish_reason != "length":
            # An empty answer: a completed run still has its message (as OpenAI's always did), so
            # the model is asked once more, and if it answers nothing again the message stays empty.
            if not self.answered_nothing:
                self.answered_nothing = True
                log.info("run %s: the model answered nothing; asking once more", self.run_row.pk)
                return True
            await self.open_message("")
        self.answered_nothing = False
        step_usage = _usage(turn_usage)
        if await loop.db(self.end_turn, tool_step, finish_reason, step_usage):
            return False
        assert tool_step is not None
        ordered = sorted(calls.values(), key=lambda call: call["index"])
        for call in ordered:
            if call["type"] == "code_interpreter":
                await self.run_code_call(tool_step, call)
            elif call["type"] == "file_search":
                await self.run_search_call(call)
        return await loop.db(self.settle_tool_step, tool_step, ordered, step_usage)

    def end_turn(
        self, tool_step: RunStep | None, finish_reason: str | None, step_usage: dict[str, int] | None
    ) -> bool:
        """Completes the turn's message; True when that ends the run (no tool calls, or out of tokens).
        Safe to run again after a database error (loop.db): what was committed is not redone."""
        run = self.run_row
        with lifecycle.owned(run):
            if tool_step is None:
                self.complete_message(step_usage, truncated=finish_reason == "length")
            else:
                self.complete_message(None)
            if finish_reason == "length" and tool_step is not None:
                tool_step.usage = step_usage
                tool_step.save()
        if finish_reason == "length":
            self.end_incomplete("max_completion_tokens")
            return True
        if tool_step is None:
            lifecycle.finish(run, "completed", usage=self.usage)
            return True
        return False

    def settle_tool_step(
        self, tool_step: RunStep, ordered: list[dict[str, Any]], step_usage: dict[str, int] | None
    ) -> bool:
        """Completes a step of server-side calls (True: call the model again), or parks the run for the client's outputs."""
        tool_step.step_details = _tool_details(ordered)
        tool_step.usage = step_usage
        if any(call["type"] == "function" for call in ordered):
            self.require_action(tool_step, ordered)
            return False
        with lifecycle.owned(self.run_row):
            tool_step.status = "completed"
            tool_step.completed_at = timezone.now()
            tool_step.save()
            data = step_object(tool_step)
            transaction.on_commit(lambda: stream.publish(self.run_row.pk, "thread.run.step.completed", data))
        return True

    def open_tool_step(self) -> RunStep:
        with lifecycle.owned(self.run_row):
            self.complete_message(None)
            return self.open_step("tool_calls", {"type": "tool_calls", "tool_calls": []})

    # -- text -----------------------------------------------------------------------------------

    def open_step(self, kind: str, details: dict[str, Any]) -> RunStep:
        """Inside lifecycle.owned: its events go out once it is committed."""
        run = self.run_row
        step = RunStep(
            run=run,
            thread_id=run.thread_id,
            assistant_id=run.assistant_id,
            type=kind,
            status="in_progress",
            step_details=details,
        )
        step.save(force_insert=True)
        data = step_object(step)
        transaction.on_commit(
            lambda: stream.publish_many(
                run.pk, [("thread.run.step.created", data), ("thread.run.step.in_progress", data)]
            )
        )
        return step

    async def on_text(self, text: str) -> None:
        """Streams text. The first delta goes out at once; later ones at most one per
        RUN_STREAM_COALESCE_MS, holding what arrived meanwhile (like Nagle's algorithm)."""
        if self.message is None:
            await self.open_message(text)
            return
        self.text.append(text)
        partial.mark(self.message.id, self._text_content)
        # Fewer, larger events cost the worker, Redis, the web process and the client less.
        self.unsent.append(text)
        interval = settings.RUN_STREAM_COALESCE_MS / 1000.0
        now = time.monotonic()
        if now - self.sent_at >= interval:
            self.flush_text(final=False)
        elif self.flush_timer is None:
            self.flush_timer = asyncio.get_running_loop().call_later(
                self.sent_at + interval - now, self.flush_text, False
            )

    async def open_message(self, text: str) -> None:
        """The turn's message_creation step and message, with the first text (which may be "")."""
        run = self.run_row
        self.text.append(text)
        message_id = new_id("msg_")
        # The step is made first, as OpenAI did, so it sorts before the message it makes.
        step = RunStep(
            id=new_id("step_"),
            run=run,
            thread_id=run.thread_id,
            assistant_id=run.assistant_id,
            type="message_creation",
            status="in_progress",
            step_details={"type": "message_creation", "message_creation": {"message_id": message_id}},
        )
        message = Message(
            id=message_id,
            thread_id=run.thread_id,
            role="assistant",
            status="in_progress",
            content=[],
            assistant_id=run.assistant_id,
            run_id=run.pk,
        )
        step_data = step_object(step)
        message_data = message_object(message)
        # The images code_interpreter made come first, each part as its own delta; the text follows.
        self.text_index = len(self.pending_images)
        self.streamed = StreamedText(self.markers())
        parts = [deltas.image_file_part(i, file_id) for i, file_id in enumerate(self.pending_images)]
        # The first token goes out before the rows are written: the client never waits on the database.
        stream.publish_many(
            run.pk,
            [
                ("thread.run.step.created", step_data),
                ("thread.run.step.in_progress", step_data),
                ("thread.message.created", message_data),
                ("thread.message.in_progress", message_data),
                *[("thread.message.delta", deltas.message_delta(message_id, part)) for part in parts],
                *self.text_deltas(message_id, text, final=False),
            ],
        )
        self.message, self.message_step = message, step
        self.sent_at = time.monotonic()
        await loop.db(_insert_first, run, step, message)
        partial.mark(message_id, self._text_content)

    def flush_text(self, final: bool = True) -> None:
        """Publishes the text held back by coalescing; called before any other event of the run.
        Not final (the coalescing timer): text that may be the start of a citation stays back."""
        if self.flush_timer is not None:
            self.flush_timer.cancel()
            self.flush_timer = None
        if self.message is not None and (self.unsent or final):
            for event, data in self.text_deltas(self.message.id, "".join(self.unsent), final):
                stream.publish(self.run_row.pk, event, data)
                self.sent_at = time.monotonic()
        self.unsent = []

    def text_deltas(self, message_id: str, text: str, final: bool) -> list[tuple[str, Any]]:
        """The delta for text, carrying the annotations of the markers in it (none if all is held back)."""
        value, annotations = self.streamed.take(text, final)
        if not value:
            return []
        return [
            (
                "thread.message.delta",
                deltas.message_delta(message_id, deltas.text_part(self.text_index, value, annotations)),
            )
        ]

    def markers(self) -> Markers:
        """What the model may write that becomes an annotation: links to files the run wrote, citations."""
        return code_tool.file_path_markers(self.written_files) | search_tool.citation_markers(self.citations)

    def _text_content(self) -> list[dict[str, Any]]:
        value = "".join(self.text)
        images = [
            {"type": "image_file", "image_file": {"file_id": file_id}} for file_id in self.pending_images
        ]
        return [
            *images,
            {"type": "text", "text": {"value": value, "annotations": find(value, self.markers())}},
        ]

    def save_partial_text(self) -> None:
        """Keeps what was streamed before a stop; the lifecycle then marks the message incomplete."""
        if self.message is not None and self.text:
            partial.save_now(self.message.pk, self._text_content())

    def complete_message(self, usage: dict[str, int] | None, truncated: bool = False) -> None:
        """Inside lifecycle.owned: its events go out, and the executor moves on, once it is committed."""
        message, step = self.message, self.message_step
        if message is None or step is None:
            return
        partial.forget(message.pk)
        now = timezone.now()
        message.content = self._text_content()
        if truncated:
            message.status = "incomplete"
            message.incomplete_at = now
            message.incomplete_details = {"reason": "max_tokens"}
        else:
            message.status = "completed"
            message.completed_at = now
        message.save()
        step.status = "completed"
        step.completed_at = now
        step.usage = usage
        step.save()
        events = [
            (f"thread.message.{message.status}", message_object(message)),
            ("thread.run.step.completed", step_object(step)),
        ]

        def committed() -> None:
            stream.publish_many(self.run_row.pk, events)
            self.message, self.message_step, self.text = None, None, []
            self.pending_images = []

        transaction.on_commit(committed)

    # -- tool calls -----------------------------------------------------------------------------

    def on_tool_call(self, step: RunStep, calls: dict[int, dict[str, Any]], delta: ToolCallDelta) -> None:
        """Streams a tool call as OpenAI did: a first delta that announces it, then its arguments."""
        call = calls.get(delta.index)
        if call is None:
            call_id = delta.id if delta.id and delta.id.startswith("call_") else new_id("call_")
            call = {"id": call_id, "index": None, "name": "", "arguments": "", "type": "function", "sent": ""}
            calls[delta.index] = call
        call["name"] = call["name"] or delta.name or ""
        call["arguments"] += delta.arguments
        if call["index"] is None:
            if not call["name"]:
                return  # announced once its name arrives
            self.announce_call(step, calls, call)
        self.stream_arguments(step, call)

    def announce_call(self, step: RunStep, calls: dict[int, dict[str, Any]], call: dict[str, Any]) -> None:
        """The call's first delta: its position in the step, id, type and name, no arguments yet."""
        call["index"] = sum(1 for other in calls.values() if other["index"] is not None)
        call["type"] = self.call_type(call["name"])
        self.publish_step_delta(
            step, deltas.tool_call_head(call["index"], call["id"], call["type"], call["name"])
        )

    def stream_arguments(self, step: RunStep, call: dict[str, Any]) -> None:
        """The arguments (or code) that arrived since the call's last delta."""
        if call["type"] == "file_search":
            return  # the query is not streamed; the results come with the completed step
        if call["type"] == "code_interpreter":
            text = code_tool.partial_code(call["arguments"])
            payload = deltas.code_input(call["index"], text[len(call["sent"]) :])
        else:
            text = call["arguments"]
            payload = deltas.function_arguments(call["index"], text[len(call["sent"]) :])
        if len(text) > len(call["sent"]):
            call["sent"] = text
            self.publish_step_delta(step, payload)

    def announce_unnamed(self, step: RunStep, calls: dict[int, dict[str, Any]]) -> None:
        """Calls whose name never came are announced as functions at the end of the model's reply."""
        for key in sorted(calls):
            if calls[key]["index"] is None:
                self.announce_call(step, calls, calls[key])
                self.stream_arguments(step, calls[key])

    def publish_step_delta(self, step: RunStep, tool_call: dict[str, Any]) -> None:
        stream.publish(self.run_row.pk, "thread.run.step.delta", deltas.step_delta(step.pk, tool_call))

    def call_type(self, name: str) -> str:
        """A call of a tool the server runs, or a function the client runs."""
        if name in SERVER_TOOLS and any(tool["type"] == name for tool in self.run_row.tools):
            return name
        return "function"

    async def run_search_call(self, call: dict[str, Any]) -> None:
        self.check()
        result = await loop.tool(search_tool.run_search, self.run_row, call["arguments"], self.search_calls)
        self.search_calls += 1
        call["details"] = result.details
        self.citations.update(result.citations)

    async def run_code_call(self, step: RunStep, call: dict[str, Any]) -> None:
        self.check()
        code = code_tool.code_from_arguments(call["arguments"])
        call["input"] = code
        result = await loop.tool(code_tool.run_code, self.run_row, code)
        call["outputs"] = result.outputs
        self.pending_images += result.images
        self.written_files.update(result.files)
        self.publish_step_delta(step, deltas.code_outputs(call["index"], result.outputs))

    def require_action(self, step: RunStep, ordered: list[dict[str, Any]]) -> None:
        """Parks the run until the client submits the function calls' outputs; frees the worker."""
        run = self.run_row
        required = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in ordered
                    if c["type"] == "function"
                ]
            },
        }
        with lifecycle.owned(run):
            step.save()
            moved = Run.objects.filter(pk=run.pk, status="in_progress").update(
                status="requires_action", required_action=required, usage=self.usage
            )
            if not moved:
                raise Cancelled
        run.refresh_from_db()
        stream.publish(run.pk, "thread.run.requires_action", run_object(run))
        stream.end_segment(run.pk, final=False)

    def add_usage(self, usage: dict[str, int] | None) -> None:
        if not usage:
            return
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            self.usage[key] = self.usage.get(key, 0) + int(usage.get(key) or 0)


def _insert_first(run: Run, step: RunStep, message: Message) -> None:
    with lifecycle.owned(run):
        step.save(force_insert=True)
        message.save(force_insert=True)


def _tool_details(ordered: list[dict[str, Any]]) -> dict[str, Any]:
    details = []
    for call in ordered:
        if call["type"] == "file_search":
            details.append({"id": call["id"], "type": "file_search", "file_search": call.get("details", {})})
        elif call["type"] == "code_interpreter":
            details.append(
                {
                    "id": call["id"],
                    "type": "code_interpreter",
                    "code_interpreter": {"input": call.get("input", ""), "outputs": call.get("outputs", [])},
                }
            )
        else:
            details.append(
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"], "output": None},
                }
            )
    return {"type": "tool_calls", "tool_calls": details}


def _usage(usage: dict[str, int] | None) -> dict[str, int] | None:
    if not usage:
        return None
    return {k: int(usage.get(k) or 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
