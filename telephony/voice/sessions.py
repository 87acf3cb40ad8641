"""The relay conversations this process holds, by call id — and how an AMD result that
landed on any process reaches them.

Twilio's asynchronous answering-machine result arrives as a separate HTTP callback
while the call's websocket is open, and behind a load balancer that callback may land
on another process than the one holding the socket. The callback stores the result
and publishes the call id on `core.events.CALL_AMD` in the same transaction; every
process's listener hands it to `RelaySessions`, and the one holding the call reads
`calls.answered_by` from the table and tells the conversation. The table is the truth:
a conversation registered after the callback (or while the listener was reconnecting)
reads it on registering (and on every reconnect), so no result is missed; telling a
conversation twice is harmless (it acts on the first).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Protocol

from sqlalchemy import select

from core import events
from core.db import Database
from telephony.models import Call

log = logging.getLogger(__name__)


class LiveConversation(Protocol):
    def machine_detected(self, answered_by: str) -> None: ...


def is_machine(answered_by: str | None) -> bool:
    """Whether an AMD result means nobody is there to talk to."""
    return bool(answered_by) and (str(answered_by).startswith("machine") or answered_by == "fax")


class RelaySessions:
    """This process's live conversations; `attach` joins them to the event listener."""

    def __init__(self) -> None:
        self._live: dict[uuid.UUID, LiveConversation] = {}
        self._db: Database | None = None
        self._checks: set[asyncio.Task[None]] = set()

    def attach(self, listener: events.EventListener, db: Database) -> None:
        """Receive AMD results published by any process; re-read after a reconnect."""
        self._db = db
        listener.on(events.CALL_AMD, self._on_amd_event)
        listener.on_reconnect(self.resync)

    def register(self, call_id: uuid.UUID, conversation: LiveConversation) -> None:
        self._live[call_id] = conversation
        if self._db is not None:  # a result stored before the socket opened is read now
            task = asyncio.create_task(self._check(call_id), name=f"relay-amd-{call_id}")
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)

    def unregister(self, call_id: uuid.UUID, conversation: LiveConversation) -> None:
        if self._live.get(call_id) is conversation:
            del self._live[call_id]

    def holds(self, call_id: uuid.UUID) -> bool:
        return call_id in self._live

    def on_machine(self, call_id: uuid.UUID, answered_by: str) -> None:
        """Tell the call's conversation, if this process holds it."""
        conversation = self._live.get(call_id)
        if conversation is not None and is_machine(answered_by):
            conversation.machine_detected(answered_by)

    async def _on_amd_event(self, payload: str) -> None:
        call_id = events.parse_id(events.CALL_AMD, payload)
        if call_id is None:
            return
        if call_id not in self._live:
            log.debug("AMD event for call %s: not held by this process", call_id)
            return
        await self._check(call_id)

    async def _check(self, call_id: uuid.UUID) -> None:
        """Read the call's stored AMD result and tell its conversation if a machine."""
        if self._db is None:
            return
        try:
            async with self._db.session() as session:
                answered_by = await session.scalar(
                    select(Call.answered_by).where(Call.id == call_id)
                )
        except Exception:
            log.warning("could not read the AMD result of call %s", call_id, exc_info=True)
            return
        if answered_by is not None:
            self.on_machine(call_id, answered_by)

    async def resync(self) -> None:
        """After a reconnect: AMD results published while disconnected were lost."""
        for call_id in list(self._live):
            await self._check(call_id)
