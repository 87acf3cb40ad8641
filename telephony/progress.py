"""A call's progress in one line, as the chat shows it while the call goes on:
"Call with Dana Lee: ringing → connected → ended · 42 s · 42 credits · callback booked"."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from billing.money import credits_label
from core.markdown import md_escape
from telephony.models import Call, CallStatus, Contact

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
        parts.append(f"callback {call.callback_at:%a %b %d %H:%M} UTC")
    return " · ".join(parts)


async def call_progress(session: AsyncSession, call_id: uuid.UUID) -> tuple[str, bool, int] | None:
    """(the line, whether the call is over and settled, its time limit) or None."""
    call = await session.get(Call, call_id, populate_existing=True)
    if call is None:
        return None
    contact = await session.get(Contact, call.contact_id)
    line = progress_line(call, contact.name if contact else "the contact")
    return line, call.settled_at is not None, call.time_limit_s
