"""Gaps in a run's event stream, as a reader sees them.

Each publisher numbers the entries it writes for a run 1, 2, 3... in their `p` field
(`<pid>.<token>.<n>`, console/events/stream.py). A reader that finds a number missing knows an
entry never made it into Redis (refused at maxmemory, dropped after an outage): its stream must
end with `error`, never with a `[DONE]` that says it is complete.
"""

from __future__ import annotations

from typing import Any

import orjson

GAP_ERROR = orjson.dumps(
    {
        "message": "Some of the run's events were lost (the event store refused or dropped them); "
        "the stream is incomplete. The stored run, steps and messages hold the outcome.",
        "type": "server_error",
        "param": None,
        "code": "events_lost",
    }
)


class Gaps:
    """Follows the entries one reader receives, in order."""

    def __init__(self, *, from_start: bool) -> None:
        # A reader from the stream's start must see each publisher's entry 1 first.
        self.from_start = from_start
        self.last: dict[bytes, int] = {}

    def follows(self, fields: dict[bytes, Any]) -> bool:
        """False when entries of this entry's publisher are missing before it."""
        tag = fields.get(b"p")
        if not tag:
            return True  # written by an API request (publish_now): not numbered
        token, _, number = bytes(tag).rpartition(b".")
        try:
            n = int(number)
        except ValueError:
            return True
        last = self.last.get(token)
        self.last[token] = n
        if last is None:
            return n == 1 or not self.from_start
        return n == last + 1
