"""Markdown for instructor pages: rendered with markdown-it-py, cleaned with bleach.

Questions come from the lab's cells and answers from learners' notebooks, so
the HTML is sanitised on the server: an allow-list of tags and attributes,
no script, no style, no event handlers, links only to http(s), mailto and
in-page anchors, and no images (a notebook's attachments are not served).
"""

from __future__ import annotations

import bleach
from markdown_it import MarkdownIt

__all__ = ["render_markdown"]

_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
        "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
        "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_ATTRS = {"a": ["href", "title"], "abbr": ["title"], "th": ["align"], "td": ["align"]}
_MD = (
    MarkdownIt("commonmark", {"html": False, "linkify": False})
    .enable("table")
    .enable("strikethrough")
)


def _safe_links(attrs, new=False):
    attrs[(None, "rel")] = "noopener noreferrer"
    attrs[(None, "target")] = "_blank"
    return attrs


_CLEANER = bleach.sanitizer.Cleaner(
    tags=_TAGS,
    attributes=_ATTRS,
    protocols=["http", "https", "mailto"],
    strip=True,
    filters=[lambda source: bleach.linkifier.LinkifyFilter(source, callbacks=[_safe_links])],
)


def render_markdown(text):
    """Return safe HTML for a Markdown text (empty for none).

    Raw HTML in the Markdown is shown as text, never interpreted; what
    markdown-it makes is then cleaned by an allow-list.

    Parameters
    ----------
    text : str or list of str
        A cell's source.

    Returns
    -------
    str
    """
    if isinstance(text, list):
        text = "".join(text)
    if not text or not text.strip():
        return ""
    return _CLEANER.clean(_MD.render(text))
