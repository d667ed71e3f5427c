"""Template helpers every console page uses (a builtin library: no {% load %} needed).

`{{ run.status|status_word }}` reads a status as a word, `{{ run.last_error|plain_error }}` an error
as a sentence with its details behind a toggle, and `{% ident name id %}` shows a name first with
its id smaller beside it and a copy button.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from console.web import wording

register = template.Library()


@register.filter
def status_word(status: Any) -> str:
    return wording.status_word(status)


@register.filter
def plain_error(error: Any) -> wording.Plain | str:
    return wording.plain_error(error)


@register.simple_tag
def ident(name: Any, object_id: Any, fallback: str = "") -> SafeString:
    """A name, then its id (smaller) and a copy button; an unnamed object shows `fallback` or its id."""
    object_id = str(object_id or "")
    shown = str(name or "").strip() or fallback
    if not object_id:
        return format_html('<span class="name">{}</span>', shown)
    copy = format_html(
        '<button type="button" class="copy" data-copy="{}" title="Copy the id" aria-label="Copy the id {}">copy</button>',
        object_id,
        object_id,
    )
    if not shown:
        return format_html('<code class="oid">{}</code> {}', object_id, copy)
    return format_html(
        '<span class="name">{}</span> <small class="oid"><code>{}</code> {}</small>', shown, object_id, copy
    )
