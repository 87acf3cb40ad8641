"""Generating, storing and reading each call's insights (DESIGN.md §6 step 6).

`generate_insights` reads the call, its contact and transcript, asks the model when one
is configured (else, or when it fails, the offline rules) and stores the result as the
call's one `CallInsight` row, replacing any earlier one. `get_insights` is what a user
may read: the same visibility as the call itself. Everything shown carries the label
that it is AI-generated and may be inaccurate (`describe`).
"""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.service import Actor
from core import events
from core.db import Database
from core.errors import NotFound
from core.markdown import md_escape
from insights.extract import (
    LABEL,
    OBJECTION_LABELS,
    OUTCOME_LABELS,
    UTC_ZONE,
    CallFacts,
    Insight,
    Turn,
    extract,
)
from insights.llm import extract_with_openai
from insights.models import CallInsight
from telephony.calls import get_call
from telephony.models import Call, Contact, TranscriptSegment
from telephony.voice.agent import OpenAIConfig


def _zone(contact: Contact) -> ZoneInfo:
    try:
        return ZoneInfo(contact.time_zones[0]) if contact.time_zones else UTC_ZONE
    except (ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


def call_facts(call: Call, contact: Contact) -> CallFacts:
    """The facts of a call the extractors read."""
    brief = call.brief or {}
    return CallFacts(
        contact_name=contact.name,
        contact_company=contact.company,
        status=call.status,
        purpose=str(brief.get("purpose") or ""),
        goal=str(brief.get("goal") or ""),
        duration_s=call.duration_s,
        answered_by=call.answered_by,
        outcome=call.outcome,
        callback_at=call.callback_at,
        tz=_zone(contact),
    )


async def _read_call(session: AsyncSession, call_id: uuid.UUID) -> tuple[Call, Contact, list[Turn]]:
    call = await session.get(Call, call_id, populate_existing=True)
    contact = await session.get(Contact, call.contact_id) if call is not None else None
    if call is None or contact is None:
        raise NotFound("No such call.")
    segments = await session.scalars(
        select(TranscriptSegment)
        .where(TranscriptSegment.call_id == call_id)
        .order_by(TranscriptSegment.seq)
    )
    turns = [Turn(s.speaker, s.text, s.started_at) for s in segments]
    return call, contact, turns


async def generate_insights(
    db: Database, call_id: uuid.UUID, *, openai: OpenAIConfig | None
) -> CallInsight:
    """Write (or rewrite) the insights of a call and return the stored row. The model
    is asked outside any transaction; NotFound if there is no such call."""
    async with db.session() as session:
        call, contact, turns = await _read_call(session, call_id)
        facts, workspace_id = call_facts(call, contact), call.workspace_id
    insight: Insight
    if openai is not None:
        insight = await extract_with_openai(facts, turns, openai)
    else:
        insight = extract(facts, turns)
    values = {
        "summary": insight.summary,
        "outcome": insight.outcome,
        "objections": list(insight.objections),
        "next_steps": list(insight.next_steps),
        "sentiment": insight.sentiment,
        "sentiment_score": insight.sentiment_score,
        "generator": insight.generator,
    }
    async with db.session() as session:
        await session.execute(
            insert(CallInsight)
            .values(call_id=call_id, workspace_id=workspace_id, **values)
            .on_conflict_do_update(
                index_elements=[CallInsight.call_id],
                set_={**values, "updated_at": func.now()},
            )
        )
        # The call-ended notice (with this summary) is due: tell the workspace's open
        # chats, on whichever process they are (core/events.py).
        await events.publish(session, events.NOTICES, workspace_id)
        await session.commit()
        stored = await session.get(CallInsight, call_id, populate_existing=True)
    assert stored is not None
    return stored


async def get_insights(session: AsyncSession, actor: Actor, call_id: uuid.UUID) -> CallInsight:
    """The call's insights, if `actor` may see the call; NotFound otherwise (a call of
    another rep or workspace is not disclosed) or when none are written yet."""
    await get_call(session, actor, call_id)
    found = await session.get(CallInsight, call_id, populate_existing=True)
    if found is None:
        raise NotFound("This call has no insights yet; they are written when it ends.")
    return found


def describe(insight: CallInsight) -> str:
    """The insights as the rep reads them, led by the AI-generated label."""
    source = (
        "offline rules"
        if insight.generator.startswith("offline")
        else insight.generator.replace("openai:", "model ")
    )
    objections = ", ".join(OBJECTION_LABELS.get(o, o) for o in insight.objections) or "none"
    steps = "\n".join(f"- {md_escape(s)}" for s in insight.next_steps) or "- none"
    return (
        f"{LABEL} ({source}).\n\n"
        f"{md_escape(insight.summary)}\n\n"
        f"Outcome: {OUTCOME_LABELS.get(insight.outcome, insight.outcome)}\n"
        f"Objections: {objections}\n"
        f"Sentiment: {insight.sentiment} ({insight.sentiment_score:+.2f})\n"
        f"Next steps:\n{steps}"
    )
