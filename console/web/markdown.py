"""Message text as safe HTML: markdown-it renders (raw HTML off), nh3 sanitizes what comes out.

Markdown images become links: a remote `![](https://…)` written by a model (or a user) must never
be fetched by the browser of whoever reads the thread, since its URL can carry data out. Images
stored as files are message parts of their own (`image_file`) and the thread page shows them.
"""

from __future__ import annotations

from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


def _image_as_link(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    label = f"Image: {alt}" if alt else f"Image: {src}"
    return f'<a href="{escapeHtml(src)}" class="remote-image">{escapeHtml(label)}</a>'


_md.add_render_rule("image", _image_as_link)

_TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
_ATTRIBUTES = {"a": {"href", "title", "class"}, "ol": {"start"}, "code": {"class"}}


def render(text: str) -> str:
    return nh3.clean(
        _md.render(text or ""),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
