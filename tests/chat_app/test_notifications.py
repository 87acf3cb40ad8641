"""Notices the chat shows unasked: a call's outcome and summary once it ended, and a
low balance — each once per user, whichever tab asks first."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from accounts.service import Actor
from billing import ledger
from chat_app.notifications import SUMMARY_WAIT, due_notices
from telephony.models import Call
from tests.chat_app.helpers import funded_rep
from tests.insights.helpers import make_contact, seed_call

LOW = 100_000  # 100 credits


async def _due(db, actor: Actor, since: datetime, now: datetime | None = None):
    async with db.session() as s:
        return await due_notices(
            s,
            user_id=actor.user_id,
            workspace_id=actor.workspace_id,
            since=since,
            low_balance_mc=LOW,
            now=now,
        )


async def _settle(db, call_id: uuid.UUID, at: datetime) -> None:
    async with db.session() as s:
        await s.execute(update(Call).where(Call.id == call_id).values(settled_at=at, ended_at=at))
        await s.commit()


async def test_an_ended_call_is_announced_once_with_its_summary(db):
    actor = await funded_rep(db, 500_000)
    opened = datetime.now(UTC) - timedelta(minutes=1)
    contact = await make_contact(db, actor, name="Dana Whitfield")
    call_id = await seed_call(
        db,
        contact,
        actor.user_id,
        at=opened,
        duration_s=42,
        outcome="interested",
        insight={
            "outcome": "interested",
            "summary": "Dana wants a demo next week.",
            "objections": ["price"],
            "next_steps": ["Send the pricing sheet"],
        },
    )
    assert await _due(db, actor, opened) == []  # not settled yet: nothing to say
    await _settle(db, call_id, datetime.now(UTC))
    first = await _due(db, actor, opened)
    assert [n.key for n in first] == [f"call-ended:{call_id}"]
    text = first[0].text
    assert "Call with Dana Whitfield" in text and "42 s" in text and "interested" in text
    assert "Dana wants a demo next week." in text and "AI-generated" in text
    assert "Objections: price" in text and "Send the pricing sheet" in text
    assert await _due(db, actor, opened) == []  # shown once


async def test_without_insights_the_outcome_alone_comes_after_the_wait(db):
    actor = await funded_rep(db, 500_000)
    opened = datetime.now(UTC) - timedelta(minutes=5)
    contact = await make_contact(db, actor)
    call_id = await seed_call(
        db, contact, actor.user_id, at=opened, status="no-answer", answered_by=None
    )
    ended = datetime.now(UTC)
    await _settle(db, call_id, ended)
    assert await _due(db, actor, opened, now=ended + timedelta(seconds=5)) == []
    later = await _due(db, actor, opened, now=ended + SUMMARY_WAIT + timedelta(seconds=1))
    assert len(later) == 1 and "no answer" in later[0].text
    assert "summary isn't ready yet" in later[0].text


async def test_calls_of_others_and_calls_ended_before_the_chat_opened_are_not_announced(db):
    actor = await funded_rep(db, 500_000)
    colleague = await funded_rep(db, 500_000)
    contact = await make_contact(db, colleague)
    before = datetime.now(UTC) - timedelta(minutes=10)
    old_call = await seed_call(
        db, contact, colleague.user_id, at=before, insight={"outcome": "interested"}
    )
    await _settle(db, old_call, before)
    opened = datetime.now(UTC) - timedelta(minutes=1)
    theirs = await seed_call(
        db, contact, colleague.user_id, at=opened, insight={"outcome": "interested"}
    )
    await _settle(db, theirs, datetime.now(UTC))
    assert await _due(db, actor, opened) == []
    assert [n.key for n in await _due(db, colleague, opened)] == [f"call-ended:{theirs}"]


async def test_two_tabs_polling_at_once_show_a_notice_once(db):
    actor = await funded_rep(db, 500_000)
    opened = datetime.now(UTC) - timedelta(minutes=1)
    contact = await make_contact(db, actor)
    call_id = await seed_call(
        db, contact, actor.user_id, at=opened, insight={"outcome": "voicemail"}
    )
    await _settle(db, call_id, datetime.now(UTC))
    results = await asyncio.gather(*[_due(db, actor, opened) for _ in range(6)])
    assert sum(len(r) for r in results) == 1


async def _top_up_and_spend(db, actor: Actor, *, top_up_mc: int = 0, spend_mc: int) -> None:
    tag = uuid.uuid4().hex[:8]
    async with db.session() as s:
        if top_up_mc:
            await ledger.grant(
                s,
                actor.workspace_id,
                amount_mc=top_up_mc,
                idempotency_key=f"g:{tag}",
                source="test",
            )
        await ledger.debit(
            s, actor.workspace_id, amount_mc=spend_mc, idempotency_key=f"d:{tag}", kind="call"
        )
        await s.commit()


async def test_low_balance_is_announced_once_and_again_after_a_top_up(db):
    actor = await funded_rep(db, 150_000)
    since = datetime.now(UTC)
    assert await _due(db, actor, since) == []  # 150 credits: above the line
    await _top_up_and_spend(db, actor, spend_mc=60_000)
    low = await _due(db, actor, since)
    assert len(low) == 1 and "Low balance: 90 credits available" in low[0].text
    assert "/billing/buy" in low[0].text
    assert await _due(db, actor, since) == []  # once
    await _top_up_and_spend(db, actor, top_up_mc=20_000, spend_mc=30_000)
    again = await _due(db, actor, since)
    assert len(again) == 1 and "80 credits available" in again[0].text
