"""A call's progress in one line, as the chat shows it while the call goes on:
"Call with Dana Lee: ringing → connected → ended · 42 s · 42 credits · callback booked".

`follow` keeps that line up to date for a chat. The status callbacks that move a call
on may land on any process: each publishes the call id on `core.events.CALL_PROGRESS`
(telephony/callbacks.py), and `follow` re-reads the call from the table when one
arrives — or every `resync_s` anyway, and every `POLL_S` without a listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from billing.money import credits_label
from core import events
from core.db import Database
from core.markdown import md_escape
from core.timezones import format_local
from telephony.models import Call, CallStatus, Contact
from telephony.numbers import phone_info

POLL_S: Final = 0.5  # without an event listener (a CLI, a test app): poll the table
FOLLOW_GRACE_S: Final = 60  # beyond ring + time limit, how long a call is followed

_STEPS = (CallStatus.RINGING, CallStatus.IN_PROGRESS, CallStatus.COMPLETED)


def progress_line(call: Call, contact_name: str) -> str:
    status = CallStatus(call.status)
    if status in (CallStatus.PENDING, CallStatus.QUEUED, CallStatus.INITIATED):
        path = status.label
    elif status.terminal and status is not CallStatus.COMPLETED:
        path = f"{CallStatus.RINGING.label} → {status.label}"
    else:
        reached = _STEPS.index(status) if status in _STEPS else 0
        path = " → ".join(step.label for step in _STEPS[: reached + 1])
    parts = [f"Call with {md_escape(contact_name)}: {path}"]
    if call.settled_at is not None:
        if call.duration_s:
            parts.append(f"{call.duration_s} s")
        parts.append(credits_label(call.cost_mc or 0))
    if call.outcome:
        parts.append(call.outcome.replace("_", " "))
    if call.callback_at:
        parts.append(f"callback {callback_in_callees_time(call)}")
    return " · ".join(parts)


def callback_in_callees_time(call: Call) -> str:
    """'Thu Dec 10, 2:00 PM PT (callee's time)': the callback as the callee agreed it, in
    their zone (the number's, when it has one), labelled so; UTC only when unknown."""
    assert call.callback_at is not None
    zones = set(phone_info(call.phone_e164).time_zones)
    if len(zones) == 1:
        return f"{format_local(call.callback_at, zones.pop())} (callee's time)"
    return format_local(call.callback_at, "UTC")


async def call_progress(session: AsyncSession, call_id: uuid.UUID) -> tuple[str, bool, int] | None:
    """(the line, whether the call is over and settled, its time limit) or None."""
    call = await session.get(Call, call_id, populate_existing=True)
    if call is None:
        return None
    contact = await session.get(Contact, call.contact_id)
    line = progress_line(call, contact.name if contact else "the contact")
    return line, call.settled_at is not None, call.time_limit_s


async def follow(
    db: Database,
    listener: events.EventListener | None,
    call_id: uuid.UUID,
    show: Callable[[str], Awaitable[None]],
    *,
    ring_timeout_s: int,
    resync_s: float,
) -> None:
    """Call `show(line)` with the call's progress line each time it changes, until the
    call is settled (or has outlived its ring time, time limit and a grace period)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ring_timeout_s + FOLLOW_GRACE_S
    shown = ""
    with contextlib.ExitStack() as stack:
        watch = (
            stack.enter_context(listener.watch((events.CALL_PROGRESS, call_id)))
            if listener is not None
            else None
        )
        while True:
            async with db.session() as session:
                progress = await call_progress(session, call_id)
            if progress is None:
                return
            line, done, limit_s = progress
            if line != shown:
                await show(line)
                shown = line
            if done or loop.time() > deadline + limit_s:
                return
            if watch is not None:
                await watch.wait(resync_s)
            else:
                await asyncio.sleep(POLL_S)
