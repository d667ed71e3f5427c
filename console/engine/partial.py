"""The text a run is streaming, written to its stored message every RUN_PARTIAL_SAVE_SECONDS.

So a worker that dies mid-message loses at most that interval: the reaper then marks the message
incomplete and it keeps what was written. The executor marks a message dirty on each text delta (a
dict store, on the engine loop); the engine loop's monitor calls `save_dirty` at most once per
interval, which builds the contents on the loop and writes every dirty message of the process in one
transaction on a database thread, off the streaming path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import transaction

from console.threads.models import Message

Content = list[dict[str, Any]]

# message id -> how to build its current content (called on the engine loop only).
_dirty: dict[str, Callable[[], Content]] = {}
# Serialises partial writes with the executor's last one for a message, and remembers the messages
# so saved: a partial write taken before that one must not land after it.
_write_lock = threading.Lock()
_saved: set[str] = set()


def mark(message_id: str, content: Callable[[], Content]) -> None:
    _dirty[message_id] = content


def forget(message_id: str) -> None:
    _dirty.pop(message_id, None)


Taken = list[tuple[str, Callable[[], Content]]]


def take() -> Taken:
    """The dirty messages, no longer marked (on the engine loop)."""
    if not _dirty:
        return []
    items = list(_dirty.items())
    _dirty.clear()
    return items


def contents(taken: Taken) -> list[tuple[str, Content]]:
    """Their contents, built now (on the engine loop, where they are appended to)."""
    return [(message_id, build()) for message_id, build in taken]


def restore(taken: Taken) -> None:
    """Marks again messages whose write failed (the database away), unless marked meanwhile:
    the next write then stores everything streamed so far, so stored text catches up."""
    for message_id, build in taken:
        _dirty.setdefault(message_id, build)


def write(contents: list[tuple[str, Content]]) -> None:
    """On a database thread: stores the contents of messages still in progress."""
    if not contents:
        return
    with _write_lock, transaction.atomic():
        for message_id, content in contents:
            if message_id in _saved:
                continue
            Message.objects.filter(pk=message_id, status="in_progress").update(content=content)


def save_now(message_id: str, content: Content) -> None:
    """The executor's own write of a message's text when a run stops; no older partial write may land after it."""
    forget(message_id)
    with _write_lock:
        if len(_saved) > 10_000:  # a pending partial write is at most an interval old
            _saved.clear()
        _saved.add(message_id)
        Message.objects.filter(pk=message_id, status="in_progress").update(content=content)
