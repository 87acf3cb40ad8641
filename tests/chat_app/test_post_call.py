"""After a call ends, the server's worker writes its insights and indexes its
transcript (queued by the status webhook); the sweep finds calls that still lack them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from accounts.models import Role
from chat_app.post_call import SWEEP_MIN_AGE, calls_missing_post_call_work
from insights.models import CallInsight
from retrieval.models import TranscriptChunk
from telephony import calls
from telephony.provider import SIMULATED_FROM, Telephony
from telephony.simulator.carrier import Plan, SimulatedCarrier
from tests.accounts.helpers import make_member
from tests.conftest import TWILIO_TEST_TOKEN
from tests.telephony.helpers import NOON_NY, add_contact, fund


async def test_a_finished_call_gets_its_insights_from_the_worker(db, live_server):
    carrier = SimulatedCarrier(auth_token=TWILIO_TEST_TOKEN, pace_s=0)
    phone = Telephony(
        provider=carrier,
        auth_token=TWILIO_TEST_TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=live_server,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    carrier.plan_next(contact.phone_e164, Plan(persona="price_objection"))
    try:
        call = await calls.place_call(
            db, rep.actor, contact.id, phone, purpose="the spring offer", now=NOON_NY
        )
        await carrier.wait(call.twilio_sid or "")
    finally:
        await phone.aclose()
    insight = None
    for _ in range(600):  # queued 3 s out, then the worker's turn (a loaded CI box is slow)
        async with db.session() as session:
            insight = await session.get(CallInsight, call.id, populate_existing=True)
        if insight is not None:
            break
        await asyncio.sleep(0.1)
    assert insight is not None, "no insights 60 s after the call ended"
    assert insight.outcome == "callback_booked"
    assert "price" in insight.objections
    assert contact.name.split()[0] in insight.summary
    chunks = 0
    for _ in range(600):  # the server's worker loads the embedding model on first use
        async with db.session() as session:
            chunks = (
                await session.scalar(
                    select(func.count())
                    .select_from(TranscriptChunk)
                    .where(TranscriptChunk.call_id == call.id)
                )
                or 0
            )
        if chunks:
            break
        await asyncio.sleep(0.1)
    assert chunks > 0, "the transcript was not indexed 60 s after the call ended"
    # Once both are done, the sweep no longer lists the call.
    later = datetime.now(UTC) + SWEEP_MIN_AGE + timedelta(seconds=1)
    assert call.id not in await calls_missing_post_call_work(db, later)
