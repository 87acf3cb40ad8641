"""Files the user attached to the message being answered (a CSV, in chat).

The chat (chat_app/uploads.py) reads an upload while it answers the message and puts
it here with `attached(...)`, a context manager around the turn; a tool of that turn
reads it with `current()`. The value lives in a `ContextVar`: it belongs to the task
answering this one message (and the tasks it starts), never to another user's turn,
and is gone when the turn ends. Nothing is written to disk.

A file is handed to a tool only through here; what a write tool needs of it later (a
confirmation answered after a reload, in another process) goes in its proposal's
payload.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Attachment:
    """One attached file: its name as uploaded, its MIME type and its bytes."""

    name: str
    mime: str
    data: bytes


_ATTACHED: ContextVar[tuple[Attachment, ...]] = ContextVar("klosesales_attached", default=())


def current() -> tuple[Attachment, ...]:
    """The files attached to the message being answered (none outside a turn)."""
    return _ATTACHED.get()


@contextmanager
def attached(files: tuple[Attachment, ...]) -> Iterator[None]:
    """Within the block (one turn), `current()` returns `files`."""
    token = _ATTACHED.set(files)
    try:
        yield
    finally:
        _ATTACHED.reset(token)
