"""Generating, regenerating and reading a call's stored insights, and who may read them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from core.db import Database
from core.errors import NotFound
from insights.jobs import register
from insights.models import CallInsight
from insights.service import describe, generate_insights, get_insights
from telephony.models import Call
from tests.accounts.helpers import make_member

from .helpers import make_contact, seed_call

AT = datetime(2026, 10, 14, 15, 0, tzinfo=UTC)
PRICE_CALL = (
    ("agent", "Hi Sam, this is an AI assistant calling on behalf of Dana Lee. Is now good?"),
    ("prospect", "Okay, I have a minute."),
    ("agent", "It cuts fuel costs by about 12 percent."),
    ("prospect", "Sounds expensive. We don't have much budget this year."),
    ("agent", "Understood. Would a short call with Dana help?"),
    ("prospect", "Alright, that makes sense."),
)


async def test_generate_stores_the_offline_insight_and_regenerating_replaces_it(
    db: Database,
) -> None:
    rep = await make_member(db, Role.REP)
    contact = await make_contact(db, rep.actor, company="Rivera Freight")
    call_id = await seed_call(
        db, contact, rep.actor.user_id, at=AT, duration_s=75, turns=PRICE_CALL
    )

    first = await generate_insights(db, call_id, openai=None)
    assert first.call_id == call_id and first.workspace_id == contact.workspace_id
    assert first.outcome == "interested"
    assert first.objections == ["price"]
    assert first.next_steps == ["Send pricing details", "Follow up to book a 15-minute demo"]
    assert first.sentiment == "positive"
    assert first.generator == "offline-rules-v1"
    assert "Sam Rivera of Rivera Freight" in first.summary

    # The voice agent later marks the call opted out: the rewrite replaces the row.
    async with db.session() as session:
        call = await session.get(Call, call_id)
        assert call is not None
        call.outcome = "opted_out"
        await session.commit()
    second = await generate_insights(db, call_id, openai=None)
    assert second.outcome == "opted_out"
    assert second.next_steps == ["Do not call again (the number is on the do-not-call list)"]
    assert second.updated_at >= first.updated_at
    async with db.session() as session:
        rows = await session.scalar(
            select(func.count()).select_from(CallInsight).where(CallInsight.call_id == call_id)
        )
    assert rows == 1


async def test_unknown_call_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await generate_insights(db, uuid.uuid4(), openai=None)


async def test_readers_see_insights_of_calls_they_may_see_only(db: Database) -> None:
    rep = await make_member(db, Role.REP)
    ws = rep.actor.workspace_id
    manager = await make_member(db, Role.MANAGER, workspace_id=ws)
    other_rep = await make_member(db, Role.REP, workspace_id=ws)
    stranger = await make_member(db, Role.MANAGER)  # another workspace
    contact = await make_contact(db, rep.actor)
    call_id = await seed_call(
        db, contact, rep.actor.user_id, at=AT, duration_s=75, turns=PRICE_CALL
    )

    async with db.session() as session:
        with pytest.raises(NotFound, match="no insights yet"):
            await get_insights(session, rep.actor, call_id)
    await generate_insights(db, call_id, openai=None)

    async with db.session() as session:
        for reader in (rep, manager):
            found = await get_insights(session, reader.actor, call_id)
            assert found.outcome == "interested"
        for outsider in (other_rep, stranger):
            with pytest.raises(NotFound, match="No such call"):
                await get_insights(session, outsider.actor, call_id)


async def test_describe_leads_with_the_ai_label(db: Database) -> None:
    rep = await make_member(db, Role.REP)
    contact = await make_contact(db, rep.actor)
    call_id = await seed_call(
        db, contact, rep.actor.user_id, at=AT, status="busy", duration_s=0, outcome="busy"
    )
    stored = await generate_insights(db, call_id, openai=None)
    text = describe(stored)
    assert text.startswith("AI-generated summary — may be inaccurate (offline rules).")
    assert (
        "Call to Sam Rivera of Acme about our new route planning tool: the line was busy." in text
    )
    assert "Outcome: no answer" in text
    assert "Objections: none" in text
    assert "Sentiment: neutral (+0.00)" in text
    assert text.endswith("Next steps:\n- Try again later")


async def test_the_job_writes_the_insights_and_drops_unknown_calls(db: Database) -> None:
    rep = await make_member(db, Role.REP)
    contact = await make_contact(db, rep.actor)
    call_id = await seed_call(
        db, contact, rep.actor.user_id, at=AT, duration_s=75, turns=PRICE_CALL
    )
    task = register(db, None).tasks["generate_call_insights"]
    await task(call_id=str(call_id))
    await task(call_id=str(uuid.uuid4()))  # logged and dropped, not raised
    await task(call_id="not-a-uuid")
    async with db.session() as session:
        stored = await get_insights(session, rep.actor, call_id)
    assert stored.outcome == "interested" and stored.generator == "offline-rules-v1"
