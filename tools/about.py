"""What a tool's answer was about: the contact and the call it resolved, recorded so the
conversation can refer back to them ("call them again", "summarize that call").

While a declared tool runs (tools.actions), a `Subject` is open in a context variable;
`resolve_contact` / `resolve_call` (and a tool that creates a call) note what they
found in it. The tool's result then carries it as the `ToolMessage`'s artifact,
`{"about": {"contact": name, "contact_id": uuid, "call": 8-hex id, "call_id": uuid}}`
(keys present only when known), which is stored with the thread in PostgreSQL and read
back by chat_app.llm.followups — after a reload and from `klosesales ask --thread` too.

Outside a tool run noting is a no-op. The last thing noted wins (a tool that looks up a
contact and then its call ends "about" both).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from telephony.models import Call, Contact


@dataclass
class Subject:
    """The contact and call one tool run was about (None: not known)."""

    contact: str | None = None
    contact_id: str | None = None
    call: str | None = None
    call_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The JSON shape stored in the thread: only the keys that are known."""
        found = {
            "contact": self.contact,
            "contact_id": self.contact_id,
            "call": self.call,
            "call_id": self.call_id,
        }
        return {key: value for key, value in found.items() if value}

    def artifact(self) -> dict[str, Any] | None:
        """The ToolMessage artifact: `{"about": {...}}`, or None when nothing was noted."""
        about = self.as_dict()
        return {"about": about} if about else None


_CURRENT: ContextVar[Subject | None] = ContextVar("klosesales_tool_subject", default=None)


@contextmanager
def recording() -> Iterator[Subject]:
    """Open a Subject for one tool run (or reuse the one already open: an action carried
    out inside the tool call that proposed it adds to that call's subject)."""
    open_now = _CURRENT.get()
    if open_now is not None:
        yield open_now
        return
    subject = Subject()
    token = _CURRENT.set(subject)
    try:
        yield subject
    finally:
        _CURRENT.reset(token)


def note_contact(contact: Contact) -> None:
    """The tool is about `contact` (a different contact forgets the call noted before)."""
    subject = _CURRENT.get()
    if subject is None:
        return
    if subject.contact_id != str(contact.id):
        subject.call = subject.call_id = None
    subject.contact, subject.contact_id = contact.name, str(contact.id)


def note_call_of(call_id: uuid.UUID, contact: Contact) -> None:
    """The tool is about the call `call_id` with `contact`."""
    if _CURRENT.get() is None:
        return
    note_contact(contact)
    subject = _CURRENT.get()
    assert subject is not None
    subject.call, subject.call_id = str(call_id)[:8], str(call_id)


async def note_call(session: AsyncSession, call: Call) -> None:
    """The tool is about `call` (its contact is read only while a Subject is open)."""
    if _CURRENT.get() is None:
        return
    contact = await session.get(Contact, call.contact_id)
    if contact is not None:
        note_call_of(call.id, contact)
