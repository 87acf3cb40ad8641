"""What telephony tells the world when a call settles or a number opts out.

`on_settled(db, call_id)` runs once a call's final status is applied (by a Twilio
callback or by reconciliation; telephony/callbacks.py): it books the callback the
prospect agreed to (`telephony.booked_callbacks`) and emits `call.completed` to the
workspace's webhook receivers (`integrations.webhooks.emit`, de-duplicated on the call
id, so running it twice is harmless). A failure is logged and never fails the
callback: the money has moved already.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.money import MC_PER_CREDIT
from core.db import Database
from integrations.webhooks import emit
from telephony.booked_callbacks import book_from_call
from telephony.followup_models import CallHandoff
from telephony.models import Call, Contact

log = logging.getLogger(__name__)


def call_data(call: Call, handoff: CallHandoff | None) -> dict[str, Any]:
    return {
        "id": str(call.id),
        "contact_id": str(call.contact_id),
        "placed_by": str(call.placed_by),
        "status": call.status,
        "outcome": call.outcome,
        "duration_s": call.duration_s,
        "cost_credits": None if call.cost_mc is None else call.cost_mc / MC_PER_CREDIT,
        "started_at": call.created_at.isoformat() if call.created_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "callback_at": call.callback_at.isoformat() if call.callback_at else None,
        "handoff": None
        if handoff is None
        else {"status": handoff.status, "dial_status": handoff.dial_status},
    }


async def on_settled(db: Database, call_id: uuid.UUID | None) -> None:
    if call_id is None:
        return
    try:
        async with db.session() as session:
            call = await session.get(Call, call_id, populate_existing=True)
            if call is None or call.settled_at is None:
                return
            await book_from_call(session, call)
            handoff = await session.get(CallHandoff, call_id)
            await emit(
                session,
                call.workspace_id,
                "call.completed",
                call_data(call, handoff),
                dedupe_key=f"call.completed:{call.id}",
            )
            await session.commit()
    except Exception:
        log.exception("after-settlement work for call %s failed", call_id)


async def opted_out(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    phone_e164: str,
    *,
    source: str,
    reference: str | None,
    entry_id: int | uuid.UUID,
) -> None:
    """Emit `contact.opted_out` in the caller's transaction (once per do-not-call
    entry)."""
    contact_id = await session.scalar(
        select(Contact.id)
        .where(Contact.workspace_id == workspace_id, Contact.phone_e164 == phone_e164)
        .limit(1)
    )
    await emit(
        session,
        workspace_id,
        "contact.opted_out",
        {
            "id": None if contact_id is None else str(contact_id),
            "phone": phone_e164,
            "source": source,
            "reference": reference,
        },
        dedupe_key=f"contact.opted_out:{entry_id}",
    )
