"""User-supplied text inside the Markdown the chat renders.

The chat renders assistant answers as Markdown, and those answers interpolate text
that came from users or from the database: contact names, companies, notes,
transcripts, summaries, search hits, rep names. Such text must reach the reader as
the characters it is, never as markup: a contact named ``![x](http://evil/pixel)``
would otherwise make every viewer's browser fetch that URL, and ``[pay here](…)``
would be a link the app never wrote.

`md_escape` is the one way to put such text into Markdown. It returns an `Md`, a
`str` marking text that is already safe Markdown: escaping an `Md` again returns it
unchanged, so a value escaped where it is read (e.g. a contact's label) can be
interpolated again without doubled backslashes.
"""

from __future__ import annotations

import re

# Inline markup: escapes, code spans, emphasis, strikethrough, links and images,
# autolinks and raw HTML, table cells, entity references, and "/" so that
# "http://…" is not turned into a link by GFM's autolink literals.
_INLINE = frozenset("\\`*_[]()!<>|~&/")
# What makes a line a heading, quote, list item, rule, setext underline or table.
_BLOCK_START = re.compile(r"^(#|>|[-+=]|\d{1,9}[.)])")
_WHITESPACE = re.compile(r"\s+")


class Md(str):
    """Text that is safe to place in Markdown as it is (already escaped, or ours)."""

    __slots__ = ()


def md_escape(value: object) -> Md:
    """`value` as Markdown that renders as its plain text.

    Contract: the result renders (CommonMark + GFM) as exactly the characters of
    `str(value)` with runs of whitespace (line breaks included) folded into one space,
    and it contains no markup: no image, link, autolink, HTML, emphasis, code, table
    cell break, and no block (heading, quote, list, rule) even when it starts a line.
    `None` gives an empty string; an `Md` is returned unchanged."""
    if isinstance(value, Md):
        return value
    if value is None:
        return Md("")
    text = _WHITESPACE.sub(" ", str(value)).strip()
    escaped = "".join("\\" + ch if ch in _INLINE else ch for ch in text)
    return Md(_BLOCK_START.sub(lambda m: _escape_block(m.group(0)), escaped, count=1))


def _escape_block(marker: str) -> str:
    """`#`, `>`, `-`… → `\\#`…; "12." → "12\\." (the digits stay as they are)."""
    return marker[:-1] + "\\" + marker[-1]
