"""What browser journeys start from, made through the app's own services (run them with
`tests.e2e.browser.on_database`)."""

from __future__ import annotations

import asyncio

from accounts.models import Role
from core.db import Database
from telephony import calls
from telephony.models import Call
from telephony.provider import SIMULATED_FROM, Telephony
from telephony.simulator.carrier import Plan, SimulatedCarrier
from tests.accounts.helpers import Member, make_member
from tests.conftest import TWILIO_TEST_TOKEN
from tests.telephony.helpers import add_contact, fund, number_callable_now


async def rep_with_a_recorded_call(db: Database, base: str) -> tuple[Member, Call]:
    """A rep (Pacific) whose last call, to Dana Whitfield, was answered, recorded and
    summarised by a simulated carrier calling back the server at `base`. The number is
    inside calling hours right now and the gate judges by the real clock: whichever
    dispatcher dials the queued request (this one, or the server's after a stale claim),
    the call is allowed at any time of day the test runs."""
    carrier = SimulatedCarrier(auth_token=TWILIO_TEST_TOKEN, pace_s=0, seed=5)
    telephony = Telephony(
        provider=carrier,
        auth_token=TWILIO_TEST_TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=base,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )
    try:
        rep = await make_member(db, Role.REP)
        await fund(db, rep.actor.workspace_id, 1000)
        contact = await add_contact(
            db, rep.actor, name="Dana Whitfield", phone=number_callable_now()
        )
        carrier.plan_next(contact.phone_e164, Plan(persona="interested"))
        placed = await calls.place_call(db, rep.actor, contact.id, telephony, purpose="the renewal")
        assert placed.twilio_sid is not None
        await carrier.wait(placed.twilio_sid)
        for _ in range(200):
            async with db.session() as session:
                call = await session.get(Call, placed.id, populate_existing=True)
                assert call is not None
                if call.settled_at is not None and call.recording_url:
                    return rep, call
            await asyncio.sleep(0.1)
        raise AssertionError("the call's recording never arrived")
    finally:
        await telephony.aclose()
