"""Whether the built-in demo model answers a model name, as the console shows it.

Only this server knows where its model names go: against another upstream nothing is labelled.
The model suggestion list shows names, never the file paths a llama.cpp server lists as its ids.
"""

from __future__ import annotations

import re

from console import demo_model
from console.web.upstream import Connection

LABEL = "built-in demo model (toy quality)"
_PATHLIKE = re.compile(r"^(?:/|~|\.{1,2}/|[A-Za-z]:[\\/])|\.(?:gguf|bin|safetensors)$", re.IGNORECASE)


def answers(connection: Connection, model: str | None) -> bool:
    return connection.is_self and demo_model.serves(model)


def model_names(ids: list[str]) -> list[str]:
    """Model ids fit for the suggestion list: names only, never paths on the server's disk."""
    return [name for name in ids if not _PATHLIKE.search(name)]
