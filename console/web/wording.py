"""The API's words as people read them: statuses as words, errors as sentences, with the API's own
code and message kept behind a "details" toggle.

The API's messages follow OpenAI's wording ("Invalid 'temperature': decimal above maximum value.
Expected a value <= 2.0, but got 3.0 instead."), which names parameters, not form fields. Pages show
`plain(...)` instead: a sentence about the field as the form labels it, and the original message for
whoever needs to report it.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString

STATUS_WORDS = {
    "queued": "Queued",
    "in_progress": "Running",
    "requires_action": "Waiting for the app",
    "cancelling": "Cancelling",
    "cancelled": "Cancelled",
    "failed": "Failed",
    "completed": "Done",
    "incomplete": "Stopped early",
    "expired": "Expired",
    "finalizing": "Finishing",
    "active": "Active",
}

# Form labels and ranges of the fields the API names in its errors.
LABELS = {
    "temperature": "Temperature",
    "top_p": "Top P",
    "name": "Name",
    "description": "Description",
    "instructions": "Instructions",
    "model": "Model",
    "metadata": "Metadata",
    "tools": "Tools",
    "tool_resources": "The documents",
    "response_format": "The response format",
    "content": "The message",
    "max_prompt_tokens": "Max prompt tokens",
    "max_completion_tokens": "Max completion tokens",
    "file": "The file",
    "expires_after": "Expiry",
}
RANGES = {"temperature": ("0", "2"), "top_p": ("0", "1")}

# Run and file errors by their code (last_error.code), for when the message is not worth reading.
CODE_SENTENCES = {
    "rate_limit_exceeded": "The model provider is limiting requests right now; try again in a minute.",
    "server_error": "Something went wrong while the assistant was answering; try again.",
    "invalid_prompt": "The model provider refused this conversation.",
    "unsupported_file": "This kind of file cannot be searched; upload PDF, Word, text, Markdown or HTML.",
    "invalid_file": "The file could not be read; it may be damaged, empty or protected by a password.",
    "file_not_found": "The file is gone; it was deleted before it could be used.",
    "model_not_found": "No model provider serves this model name; pick another model.",
    "max_completion_tokens": "The answer was cut off: it reached the assistant's limit on answer length.",
    "max_prompt_tokens": "The conversation was too long for the assistant's limit on prompt length.",
    "content_filter": "The model provider's content filter stopped the answer.",
}

_RANGE = re.compile(
    r"^Invalid '(?P<param>[\w.\[\]]+)': (?:decimal|integer|number) (?P<side>above maximum|below minimum) value\. Expected a value (?:<=|>=) (?P<bound>[-\d.]+)"
)
_TOO_LONG = re.compile(
    r"^Invalid '(?P<param>[\w.\[\]]+)': string too long\. Expected a string with maximum length (?P<max>\d+)"
)
_TYPE = re.compile(
    r"^Invalid type for '(?P<param>[\w.\[\]]+)': expected (?P<kind>[\w ,]+?)(?:, but| instead|\.|$)"
)
_BLOCKED = re.compile(r"^Can't add messages to \S+ while a run \S+ is active\.")
_NO_OBJECT = re.compile(r"^No (?P<kind>[\w ]+) found with id '[^']+'\.")
_PROVIDER = re.compile(r"^No model provider is configured for model '(?P<model>[^']*)'")


class Plain(str):
    """A sentence for people that renders with the API's code and message behind a "details" toggle."""

    details: str

    def __new__(cls, sentence: str, details: str = "") -> Plain:
        made = super().__new__(cls, sentence)
        made.details = details if details and details != sentence else ""
        return made

    def prefixed(self, prefix: str) -> Plain:
        """The same error after a sentence saying what failed ("Could not cancel the run.")."""
        return Plain(f"{prefix} {self}", self.details or str(self))

    def __html__(self) -> SafeString:
        if not self.details:
            return format_html("{}", str(self))
        return format_html(
            '{} <button type="button" class="link details-toggle" data-details aria-expanded="false">details</button>'
            '<code class="api-details" hidden>{}</code>',
            str(self),
            self.details,
        )


def _label(param: str) -> str:
    base = param.split("[")[0].split(".")[0]
    return LABELS.get(base, base.replace("_", " ").capitalize())


def sentence(message: str, code: str | None = None, param: str | None = None) -> str:
    """The plain sentence for one API error (its message, code and param)."""
    if match := _RANGE.match(message):
        name = match["param"].split("[")[0].split(".")[0]
        if name in RANGES:
            low, high = RANGES[name]
            return f"{_label(name)} must be between {low} and {high}."
        side = "at most" if match["side"] == "above maximum" else "at least"
        return f"{_label(name)} must be {side} {match['bound'].removesuffix('.0')}."
    if match := _TOO_LONG.match(message):
        return f"{_label(match['param'])} is too long: at most {int(match['max']):,} characters."
    if match := _TYPE.match(message):
        return f"{_label(match['param'])} must be {match['kind'].replace('an integer', 'a whole number')}."
    if _BLOCKED.match(message):
        return "The assistant is still busy with this conversation. Wait for it to finish, or cancel its run."
    if match := _NO_OBJECT.match(message):
        return f"That {match['kind']} no longer exists; it may have been deleted."
    if match := _PROVIDER.match(message):
        return f"No model provider serves the model “{match['model']}”; pick another model."
    if code and code in CODE_SENTENCES:
        return CODE_SENTENCES[code]
    if message.startswith("File too large"):
        return message
    if message.startswith(("Invalid ", "Unrecognized ")) and param:
        return f"{_label(param)} is not valid."
    return message


def plain(message: str, code: str | None = None, param: str | None = None) -> Plain:
    details = f"{code}: {message}" if code else message
    return Plain(sentence(message, code, param), details)


def plain_error(error: Any) -> Plain | str:
    """A run's or file's `last_error` ({"code", "message"}), or a stored string, as a Plain sentence."""
    if not error:
        return ""
    if isinstance(error, dict):
        return plain(str(error.get("message") or ""), error.get("code"))
    text = str(error)
    code, sep, rest = text.partition(": ")
    if sep and re.fullmatch(r"[a-z_]+", code):
        return plain(rest, code)
    return plain(text)


def status_word(status: Any) -> str:
    value = str(status or "")
    return STATUS_WORDS.get(value, value.replace("_", " ").capitalize())
