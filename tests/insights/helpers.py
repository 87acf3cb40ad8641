"""Seeding for insights tests: call rows with their whole foreign-key chain (contact,
compliance decision), chosen timestamps and figures, transcripts and insight rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from accounts.service import Actor
from core.db import Database
from insights.models import CallInsight
from telephony import contacts
from telephony.models import Call, ComplianceDecisionRecord, Contact, TranscriptSegment
from tests.telephony.helpers import number_in

BRIEF = {
    "rep_name": "Dana Lee",
    "company_name": "Acme Logistics",
    "contact_name": "Sam Rivera",
    "purpose": "Our new route planning tool",
    "goal": "book a 15-minute demo",
}


async def make_contact(
    db: Database, actor: Actor, *, name: str = "Sam Rivera", company: str | None = "Acme"
) -> Contact:
    """A contact owned by `actor`, in New York (area code 212)."""
    async with db.session() as session:
        contact = await contacts.add_contact(
            session, actor, name=name, phone=number_in("212"), company=company
        )
        await session.commit()
        return contact


async def seed_call(
    db: Database,
    contact: Contact,
    placed_by: uuid.UUID,
    *,
    at: datetime,
    status: str = "completed",
    duration_s: int | None = None,
    cost_mc: int | None = None,
    answered_by: str | None = "human",
    outcome: str | None = None,
    callback_at: datetime | None = None,
    turns: Sequence[tuple[str, str]] = (),
    insight: dict[str, Any] | None = None,
) -> uuid.UUID:
    """A call placed at `at` with the given figures, its transcript (one turn every 5 s
    from `at`) and, if given, its insight row (outcome, objections … as keyword values)."""
    async with db.session() as session:
        decision = ComplianceDecisionRecord(
            workspace_id=contact.workspace_id,
            contact_id=contact.id,
            phone_e164=contact.phone_e164,
            actor_id=placed_by,
            decided_at=at,
            allowed=True,
        )
        session.add(decision)
        await session.flush()
        call = Call(
            workspace_id=contact.workspace_id,
            contact_id=contact.id,
            placed_by=placed_by,
            phone_e164=contact.phone_e164,
            from_e164="+15005550006",
            decision_id=decision.id,
            time_limit_s=600,
            brief={**BRIEF, "contact_name": contact.name},
            status=status,
            answered_by=answered_by,
            duration_s=duration_s,
            cost_mc=cost_mc if cost_mc is not None else (duration_s or 0) * 1000,
            outcome=outcome,
            callback_at=callback_at,
            created_at=at,
        )
        session.add(call)
        await session.flush()
        for seq, (speaker, text) in enumerate(turns):
            when = at + timedelta(seconds=5 * seq)
            session.add(
                TranscriptSegment(
                    call_id=call.id,
                    workspace_id=contact.workspace_id,
                    seq=seq,
                    speaker=speaker,
                    text=text,
                    started_at=when,
                    ended_at=when + timedelta(seconds=4),
                )
            )
        if insight is not None:
            session.add(
                CallInsight(
                    call_id=call.id,
                    workspace_id=contact.workspace_id,
                    summary=insight.get("summary", "Seeded."),
                    outcome=insight["outcome"],
                    objections=list(insight.get("objections", [])),
                    next_steps=list(insight.get("next_steps", [])),
                    sentiment=insight.get("sentiment", "neutral"),
                    sentiment_score=insight.get("sentiment_score", 0.0),
                    generator="test",
                )
            )
        await session.commit()
        return call.id
