"""The response executor: prompt, provider stream, output items, Responses events.

Beside the run executor (console/engine/executor.py) and on the same engine loop, providers,
quirks, retries and event log. A response is claimed from `queued`, streams its model call, and
ends completed, incomplete, failed or cancelled: function calls are output items the client
answers with a next response (previous_response_id or conversation), so nothing parks here.

Liveness is the run's: while it works, a response's heartbeat_at moves every
RUN_HEARTBEAT_SECONDS (the reaper fails it when it stops) and its cancel flag is read every
CANCEL_CHECK_SECONDS; a cancel interrupts the wait on the model at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction

from console import tokens
from console.conversations import items as conversation_items
from console.core.ids import new_id
from console.engine import loop
from console.engine import response_prompt as prompts
from console.events import stream
from console.providers.chat import Chunk, ProviderError, ToolCallDelta, stream_chat
from console.responses import lifecycle, services
from console.responses.models import Response
from console.responses.objects import response_object
from console.threads.models import Thread

log = logging.getLogger(__name__)


class Stop(Exception):
    """The response is no longer ours: cancelled, reaped or deleted meanwhile."""


def execute(response_id: str) -> None:
    loop.run(execute_async(response_id))


async def execute_async(response_id: str) -> None:
    response = await loop.blocking(lifecycle.claim, response_id)
    if response is None:
        return  # already taken, finished or cancelled
    task = asyncio.current_task()
    assert task is not None
    executor = ResponseExecutor(response, task)
    _hold(executor)
    try:
        await executor.run()
    except asyncio.CancelledError:
        if not executor.stopping:
            raise
        task.uncancel()
        executor.cancel_timer()
        await loop.blocking(executor.stop)
    except Stop:
        executor.cancel_timer()
        await loop.blocking(executor.stop)
    except ProviderError as exc:
        executor.cancel_timer()
        await loop.blocking(executor.fail, exc.code, exc.message)
    except Exception:
        log.exception("response %s crashed", response_id)
        executor.cancel_timer()
        await loop.blocking(
            executor.fail, "server_error", "The server had an error while processing this response."
        )
    finally:
        _held.pop(response_id, None)


# -- liveness: one monitor for every response this process holds, as the runs' (console/engine/loop.py)

_held: dict[str, ResponseExecutor] = {}
_monitor: asyncio.Task[None] | None = None


def _hold(executor: ResponseExecutor) -> None:
    global _monitor
    _held[executor.row.pk] = executor
    if _monitor is None or _monitor.done():
        _monitor = asyncio.get_running_loop().create_task(_monitor_loop())


def _stop(response_id: str) -> None:
    executor = _held.get(response_id)
    if executor is None or executor.stopping:
        return
    executor.stopping = True
    if executor.interruptible:
        executor.task.cancel()


async def _monitor_loop() -> None:
    """Every CANCEL_CHECK_SECONDS one Redis round trip reads every held response's cancel flag;
    every RUN_HEARTBEAT_SECONDS one UPDATE marks them alive and reads back their statuses."""
    next_heartbeat = time.monotonic() + settings.RUN_HEARTBEAT_SECONDS
    while _held:
        await asyncio.sleep(loop.CANCEL_CHECK_SECONDS)
        ids = list(_held)
        if not ids:
            break
        try:
            for response_id in await loop.blocking(stream.cancel_requested_many, ids):
                _stop(response_id)
        except Exception as exc:
            log.warning("response cancel check failed; retrying (%r)", exc)
        if time.monotonic() >= next_heartbeat:
            next_heartbeat = time.monotonic() + settings.RUN_HEARTBEAT_SECONDS
            try:
                statuses = await loop.blocking(lifecycle.heartbeat_many, ids)
            except Exception:
                log.exception("response heartbeat failed; retrying")
            else:
                for response_id in ids:
                    if statuses.get(response_id) != "in_progress":
                        _stop(response_id)


def chat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for tool in tools:
        function = {"name": tool["name"]}
        for key in ("description", "parameters", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        found.append({"type": "function", "function": function})
    return found


def chat_tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def response_format(text: dict[str, Any]) -> dict[str, Any] | None:
    spec = (text or {}).get("format") or {}
    if spec.get("type") == "json_object":
        return {"type": "json_object"}
    if spec.get("type") == "json_schema":
        schema = {"name": spec["name"], "schema": spec.get("schema") or {}}
        for key in ("description", "strict"):
            if spec.get(key) is not None:
                schema[key] = spec[key]
        return {"type": "json_schema", "json_schema": schema}
    return None


class ResponseExecutor:
    def __init__(self, response: Response, task: asyncio.Task[Any]) -> None:
        self.row = response
        self.task = task
        self.sequence = lifecycle.first_sequence(response.background)
        self.output: list[dict[str, Any]] = []
        self.usage = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        # The message being streamed (its item and text), and the function calls by chat index.
        self.message: dict[str, Any] | None = None
        self.text: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.open_call: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        # Set by the monitor: cancelled, reaped or deleted; the wait on the model is interrupted.
        self.stopping = False
        self.interruptible = False
        self.sent = 0
        self.sent_at = 0.0
        self.flush_timer: asyncio.TimerHandle | None = None

    def check(self) -> None:
        if self.stopping:
            raise Stop

    # -- events ---------------------------------------------------------------------------------

    def publish(self, kind: str, **fields: Any) -> None:
        stream.publish(self.row.pk, kind, {"type": kind, "sequence_number": self.sequence, **fields})
        self.sequence += 1

    def snapshot(self, status: str) -> dict[str, Any]:
        data = response_object(self.row, status=status)
        data["output"] = [*self.output]
        return data

    # -- the model call -------------------------------------------------------------------------

    async def run(self) -> None:
        self.publish("response.in_progress", response=self.snapshot("in_progress"))
        messages, too_long = await loop.blocking(self.prompt)
        if too_long:
            raise ProviderError("invalid_prompt", lifecycle.CONTEXT_MESSAGE)
        self.check()
        body = self.request_body(messages)
        self.interruptible = True
        try:
            # The quirks of some servers differ once tool outputs are in the prompt (as a run's continuation).
            after_outputs = any(item["type"] == "function_call_output" for item in self.row.input)
            async for chunks in stream_chat(body, after_outputs):
                for chunk in chunks:
                    self.on_chunk(chunk)
                self.pace_text()
        finally:
            self.interruptible = False
        self.check()
        if not self.usage["total_tokens"]:
            # Some servers (llama.cpp's) report no usage in streams: counted here, as for runs.
            produced = "".join(self.text) + "".join(c["arguments"] for c in self.calls.values())
            counted = tokens.estimate_usage(body, produced)
            self.usage = {
                "input_tokens": counted["prompt_tokens"],
                "output_tokens": counted["completion_tokens"],
                "total_tokens": counted["total_tokens"],
            }
        self.cancel_timer()
        await loop.blocking(self.complete)

    def prompt(self) -> tuple[list[dict[str, Any]], bool]:
        items = services.history(self.row) + self.row.input
        return prompts.build(self.row.instructions, items, self.row.truncation)

    def request_body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        row = self.row
        body: dict[str, Any] = {"model": row.model, "messages": messages}
        tools = chat_tools(row.tools)
        if tools:
            body["tools"] = tools
            body["tool_choice"] = chat_tool_choice(row.tool_choice)
            if row.tool_choice != "none":
                body["parallel_tool_calls"] = row.parallel_tool_calls
        if row.temperature is not None:
            body["temperature"] = row.temperature
        if row.top_p is not None:
            body["top_p"] = row.top_p
        if row.max_output_tokens is not None:
            body["max_completion_tokens"] = row.max_output_tokens
        found = response_format(row.text)
        if found:
            body["response_format"] = found
        if row.reasoning and row.reasoning.get("effort"):
            body["reasoning_effort"] = row.reasoning["effort"]
        if row.user:
            body["user"] = row.user
        return body

    def on_chunk(self, chunk: Chunk) -> None:
        if chunk.content:
            if self.message is None:
                self.close_call()
                self.open_message()
            self.text.append(chunk.content)
        for delta in chunk.tool_calls:
            self.on_tool_call(delta)
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
        if chunk.usage:
            self.usage["input_tokens"] += int(chunk.usage.get("prompt_tokens") or 0)
            self.usage["output_tokens"] += int(chunk.usage.get("completion_tokens") or 0)
            self.usage["total_tokens"] = self.usage["input_tokens"] + self.usage["output_tokens"]

    # -- messages -------------------------------------------------------------------------------

    def open_message(self) -> None:
        item = {
            "id": new_id("msg_"),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self.message = item
        self.text = []
        self.sent = 0
        self.output.append(item)
        index = len(self.output) - 1
        self.publish("response.output_item.added", output_index=index, item={**item, "content": []})
        self.publish(
            "response.content_part.added",
            item_id=item["id"],
            output_index=index,
            content_index=0,
            part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
        )

    def pace_text(self) -> None:
        """The first delta goes out at once, later ones at most one per RUN_STREAM_COALESCE_MS
        (holding what arrived meanwhile), as a run's do: fewer events for Redis and the readers."""
        if self.message is None:
            return
        interval = settings.RUN_STREAM_COALESCE_MS / 1000.0
        now = time.monotonic()
        if now - self.sent_at >= interval:
            self.flush_text()
        elif self.flush_timer is None:
            self.flush_timer = asyncio.get_running_loop().call_later(
                self.sent_at + interval - now, self.flush_text
            )

    def cancel_timer(self) -> None:
        """On the loop, before anything runs off it: the timer must not publish meanwhile."""
        if self.flush_timer is not None:
            self.flush_timer.cancel()
            self.flush_timer = None

    def flush_text(self) -> None:
        """Publishes the text that arrived since the last delta."""
        self.flush_timer = None
        if self.message is None:
            return
        text = "".join(self.text)
        if len(text) > self.sent:
            self.publish(
                "response.output_text.delta",
                item_id=self.message["id"],
                output_index=self.output.index(self.message),
                content_index=0,
                delta=text[self.sent :],
                logprobs=[],
            )
            self.sent = len(text)
            self.sent_at = time.monotonic()

    def close_message(self, status: str = "completed") -> None:
        item = self.message
        if item is None:
            return
        self.cancel_timer()  # on the loop (or already cancelled there)
        self.flush_text()
        index = self.output.index(item)
        text = "".join(self.text)
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        self.publish(
            "response.output_text.done",
            item_id=item["id"],
            output_index=index,
            content_index=0,
            text=text,
            logprobs=[],
        )
        self.publish(
            "response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=part
        )
        item["content"] = [part]
        item["status"] = status
        self.publish("response.output_item.done", output_index=index, item=item)
        self.message = None

    # -- function calls -------------------------------------------------------------------------

    def on_tool_call(self, delta: ToolCallDelta) -> None:
        call = self.calls.get(delta.index)
        if call is None:
            self.close_message()
            call_id = delta.id if delta.id else new_id("call_")
            call = {"item": None, "call_id": call_id, "name": "", "arguments": "", "sent": 0}
            self.calls[delta.index] = call
        call["name"] = call["name"] or delta.name or ""
        call["arguments"] += delta.arguments
        if call["item"] is None:
            if not call["name"]:
                return  # announced once its name arrives
            self.announce(call)
        self.stream_arguments(call)

    def announce(self, call: dict[str, Any]) -> None:
        self.close_call()
        item = {
            "id": new_id("fc_"),
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": call["call_id"],
            "name": call["name"],
        }
        call["item"] = item
        self.output.append(item)
        self.open_call = call
        self.publish("response.output_item.added", output_index=len(self.output) - 1, item={**item})

    def stream_arguments(self, call: dict[str, Any]) -> None:
        if len(call["arguments"]) > call["sent"] and call is self.open_call:
            self.publish(
                "response.function_call_arguments.delta",
                item_id=call["item"]["id"],
                output_index=self.output.index(call["item"]),
                delta=call["arguments"][call["sent"] :],
            )
            call["sent"] = len(call["arguments"])

    def close_call(self) -> None:
        call = self.open_call
        if call is None:
            return
        self.stream_arguments(call)
        item = call["item"]
        index = self.output.index(item)
        item["arguments"] = call["arguments"]
        item["status"] = "completed"
        self.publish(
            "response.function_call_arguments.done",
            item_id=item["id"],
            output_index=index,
            name=item["name"],
            arguments=call["arguments"],
        )
        self.publish("response.output_item.done", output_index=index, item=item)
        self.open_call = None

    def close_calls(self) -> None:
        """Calls whose name never came are announced as they stand; then every call is done."""
        for key in sorted(self.calls):
            call = self.calls[key]
            if call["item"] is None:
                call["name"] = call["name"] or "unknown"
                self.announce(call)
            elif call is not self.open_call and call["item"]["status"] != "completed":
                # A call whose arguments went on after another one started.
                self.open_call = call
            self.close_call()

    # -- endings --------------------------------------------------------------------------------

    def complete(self) -> None:
        truncated = self.finish_reason == "length"
        self.close_message("incomplete" if truncated else "completed")
        self.close_calls()
        row = self.row
        status = "incomplete" if truncated else "completed"
        fields: dict[str, Any] = {"output": self.output, "usage": self.usage}
        if truncated:
            fields["incomplete_details"] = {"reason": "max_output_tokens"}
        with transaction.atomic():
            if not lifecycle.finish(row, status, **fields):
                raise Stop
            if row.conversation_id:
                thread = Thread.objects.filter(pk=row.conversation_id).first()
                if thread is not None:
                    conversation_items.append(thread, self.output, row.id)
        lifecycle.record_usage(row)
        self.end_with("response.incomplete" if truncated else "response.completed")

    def end(self) -> None:
        """After the outcome is written: store=false keeps nothing (gone before its last event is
        sent, so a client that read it finds nothing), then the stream's final `done`."""
        if not self.row.store:
            Response.objects.filter(pk=self.row.pk).delete()
        stream.end_segment(self.row.pk, final=True)

    def end_with(self, kind: str) -> None:
        data = response_object(self.row)
        if not self.row.store:
            Response.objects.filter(pk=self.row.pk).delete()
        self.publish(kind, response=data)
        self.end()

    def fail(self, code: str, message: str) -> None:
        row = self.row
        error = lifecycle.error_object(code, message)
        if lifecycle.finish(row, "cancelled", from_statuses=("cancelling",)):
            self.end()
            return
        if not lifecycle.finish(row, "failed", error=error, output=self.output, usage=self.usage):
            return
        log.info("response %s failed: %s", row.pk, message)
        lifecycle.record_usage(row)
        self.end_with("response.failed")

    def stop(self) -> None:
        """Cancelled (or taken away): what streamed so far is kept as incomplete output."""
        if self.message is not None:
            self.message["content"] = [
                {"type": "output_text", "text": "".join(self.text), "annotations": [], "logprobs": []}
            ]
            self.message["status"] = "incomplete"
        if lifecycle.finish(
            self.row, "cancelled", from_statuses=("cancelling",), output=self.output, usage=self.usage
        ):
            lifecycle.record_usage(self.row)
            self.end()
