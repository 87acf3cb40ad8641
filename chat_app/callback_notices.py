"""The rep's chat notices for booked callbacks (telephony/booked_callbacks.py): at the
booked time, a reminder with a "Call now" button (the workspace chose reminders, or the
scheduled call could not be placed: the reason is shown). Each is shown once per rep,
also when the chat was closed at the time (within `LOOKBACK`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User
from accounts.service import Actor
from chat_app.models import ChatNotification
from core.markdown import md_escape
from telephony.booked_callbacks import due_reminders
from telephony.numbers import format_phone

if TYPE_CHECKING:
    from chat_app.notifications import Notice

LOOKBACK: Final = timedelta(days=1)


def reminder_text(
    name: str, phone: str, purpose: str, due_at: datetime, zone: str, why: str | None
) -> str:
    local = due_at.astimezone(ZoneInfo(zone))
    lines = [
        f"📞 **Callback due**: {md_escape(name)} ({format_phone(phone)}) asked to be called "
        f"back at {local:%a %d %b %H:%M} ({zone}).",
    ]
    if purpose:
        lines.append(f"About: {md_escape(purpose)}")
    if why:
        lines.append(md_escape(why))
    lines.append("Press **Call now** to call them (the compliance check runs first).")
    return "\n\n".join(lines)


async def callback_reminders(
    session: AsyncSession, user_id: uuid.UUID, now: datetime
) -> list[Notice]:
    """Claim and return the rep's callback reminders not shown yet."""
    from chat_app.notifications import Notice

    rows = await due_reminders(session, user_id, now - LOOKBACK)
    if not rows:
        return []
    user = await session.get(User, user_id)
    zone = Actor.of(user).time_zone if user is not None else "UTC"
    notices = []
    for callback, contact in rows:
        key = f"callback:{callback.id}"
        claimed = await session.scalar(
            insert(ChatNotification)
            .values(user_id=user_id, key=key)
            .on_conflict_do_nothing()
            .returning(ChatNotification.key)
        )
        if claimed is None:
            continue
        why = callback.result if callback.status == "refused" else None
        text = reminder_text(
            contact.name, contact.phone_e164, callback.purpose, callback.due_at, zone, why
        )
        notices.append(Notice(key, text, call_now=callback.id))
    return notices
