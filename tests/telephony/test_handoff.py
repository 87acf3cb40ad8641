"""Warm hand-off end to end through the simulated carrier, which plays the prospect
and the rep's phone: the agent offers, the relay ends with hand-off data, the
`<Connect action>` answers `<Dial>` to the rep's verified mobile with a whisper, and
the call is billed once for its whole length (the bridged part included). A rep who
does not answer leaves the prospect a polite fallback and a booked callback; a rep with
no verified mobile is never offered."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from accounts.models import Role, User
from billing.models import LedgerEntry
from telephony import calls
from telephony.followup_models import BookedCallback, CallHandoff
from telephony.models import TranscriptSegment
from telephony.provider import Telephony
from telephony.simulator.carrier import Plan
from tests.accounts.helpers import make_member

from .helpers import NOON_NY, add_contact, carrier_of, fund, settled_call, simulated_telephony

PURPOSE = "follow up on the spring pricing webinar"


@pytest.fixture
async def telephony(live_server: str) -> AsyncIterator[Telephony]:
    phone = simulated_telephony(live_server, seed=11)
    yield phone
    await phone.aclose()


async def _hand_off_call(db, telephony, *, rep_phone: Plan | None, verified: bool = True):
    rep = await make_member(db, Role.REP)
    if not verified:
        async with db.session() as session:
            await session.execute(
                update(User).where(User.id == rep.actor.user_id).values(mobile_verified_at=None)
            )
            await session.commit()
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    carrier = carrier_of(telephony)
    carrier.plan_next(contact.phone_e164, Plan(persona="wants_a_person", seed=3))
    if rep_phone is not None:
        carrier.plan_next(rep.mobile, rep_phone)
    call = await calls.place_call(
        db, rep.actor, contact.id, telephony, purpose=PURPOSE, now=NOON_NY
    )
    assert call.twilio_sid is not None
    sim = await carrier.wait(call.twilio_sid)
    return rep, contact, sim, await settled_call(db, call.id, timeout_s=30)


async def _debits(db, call_id: uuid.UUID) -> list[LedgerEntry]:
    async with db.session() as session:
        rows = await session.scalars(
            select(LedgerEntry).where(LedgerEntry.idempotency_key.like(f"%{call_id}%"))
        )
        return [r for r in rows.all() if r.kind == "call"]


async def test_rep_answers_hears_whisper_and_call_is_billed_once(db, telephony) -> None:
    rep, contact, sim, call = await _hand_off_call(
        db, telephony, rep_phone=Plan(outcome="answered", talk_s=50)
    )
    assert sim.rep_legs == [(rep.mobile, "completed")]
    whisper = " ".join(sim.whispers)
    assert contact.name in whisper and "Acme" in whisper
    assert "asked to speak with you" in whisper and PURPOSE in whisper
    assert "real person" in whisper or "someone" in whisper or "human" in whisper
    async with db.session() as session:
        handoff = await session.get(CallHandoff, call.id)
    assert handoff is not None and handoff.status == "connected"
    assert handoff.rep_e164 == rep.mobile and handoff.dial_duration_s == 50
    # The parent call's duration covers the bridged 50 s; billed once, per second.
    assert call.duration_s is not None and call.duration_s > 50
    debits = await _debits(db, call.id)
    assert len(debits) == 1
    assert -debits[0].amount_mc == call.duration_s * 1000 == call.cost_mc


async def test_rep_does_not_answer_fallback_and_callback_booked(db, telephony) -> None:
    rep, contact, sim, call = await _hand_off_call(
        db, telephony, rep_phone=Plan(outcome="no-answer")
    )
    assert sim.rep_legs == [(rep.mobile, "no-answer")]
    heard = [text for who, text in sim.transcript if who == "agent"]
    assert any("couldn't pick up" in t and "call you back" in t for t in heard)
    async with db.session() as session:
        handoff = await session.get(CallHandoff, call.id)
        booked = await session.scalar(
            select(BookedCallback).where(BookedCallback.call_id == call.id)
        )
        lines = (
            await session.scalars(
                select(TranscriptSegment.text).where(TranscriptSegment.call_id == call.id)
            )
        ).all()
    assert handoff is not None and handoff.status == "missed"
    assert handoff.dial_status == "no-answer"
    assert booked is not None and booked.source == "handoff" and booked.status == "pending"
    assert booked.rep_id == rep.actor.user_id and booked.contact_id == contact.id
    assert handoff.callback_id == booked.id
    assert call.outcome == "callback_booked" and call.callback_at == booked.due_at
    assert any("couldn't pick up" in t for t in lines)
    debits = await _debits(db, call.id)
    assert len(debits) == 1 and -debits[0].amount_mc == call.duration_s * 1000


async def test_rep_without_verified_mobile_is_not_offered(db, telephony) -> None:
    """Bad input: a hand-off to a rep with no verified mobile — the agent says the rep
    can't take calls, asks for a time instead, and the callback is booked."""
    _rep, _contact, sim, call = await _hand_off_call(db, telephony, rep_phone=None, verified=False)
    said = " ".join(text for who, text in sim.transcript if who == "agent")
    assert "can't take calls by phone right now" in said
    assert "put you through" not in said and "Connecting you" not in said
    assert sim.rep_legs == []
    async with db.session() as session:
        handoff = await session.get(CallHandoff, call.id)
        booked = await session.scalar(
            select(BookedCallback).where(BookedCallback.call_id == call.id)
        )
    assert handoff is None
    assert call.outcome == "callback_booked"
    assert booked is not None and booked.source == "call" and booked.due_at == call.callback_at
