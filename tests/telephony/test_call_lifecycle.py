"""Whole calls through the simulated carrier: it dials from this process, talks to the
running server's `/voice/relay` over a real websocket as ConversationRelay would, and
posts signed Twilio-format callbacks to the server's webhooks over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from billing import ledger
from billing.models import CreditHold, LedgerEntry
from telephony import calls
from telephony.compliance import Reason
from telephony.models import (
    Call,
    CallAttempt,
    CallCallback,
    ConsentRecord,
    DncEntry,
    TranscriptSegment,
)
from telephony.provider import Telephony
from telephony.simulator.carrier import Plan
from telephony.twilio import CallRequest, PlacedCall, TelephonyError
from tests.accounts.helpers import make_member

from .helpers import (
    NOON_NY,
    Recorder,
    add_contact,
    carrier_of,
    fund,
    recording_telephony,
    settled_call,
    simulated_telephony,
)

PURPOSE = "follow up on the spring pricing webinar"


@pytest.fixture
async def telephony(live_server: str) -> AsyncIterator[Telephony]:
    phone = simulated_telephony(live_server, seed=7)
    yield phone
    await phone.aclose()


async def _call(db, telephony, plan: Plan, *, credits: float = 1000, voicemail: str = "leave"):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, credits)
    contact = await add_contact(db, rep.actor)
    carrier_of(telephony).plan_next(contact.phone_e164, plan)
    call = await calls.place_call(
        db,
        rep.actor,
        contact.id,
        telephony,
        purpose=PURPOSE,
        talking_points=["webinar attendees get 20% off the first year"],
        voicemail_message="Please call us back about the webinar offer.",
        on_voicemail=voicemail,
        now=NOON_NY,
    )
    assert call.twilio_sid is not None
    await carrier_of(telephony).wait(call.twilio_sid)
    return rep, contact, await settled_call(db, call.id)


async def _segments(db, call_id) -> list[TranscriptSegment]:
    # Segments are written in the background as the call goes; give the last one a moment.
    await asyncio.sleep(0.2)
    async with db.session() as session:
        rows = await session.scalars(
            select(TranscriptSegment)
            .where(TranscriptSegment.call_id == call_id)
            .order_by(TranscriptSegment.seq)
        )
        return list(rows.all())


async def _call_debits(db, workspace_id) -> list[LedgerEntry]:
    async with db.session() as session:
        rows = await session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.workspace_id == workspace_id, LedgerEntry.kind == "call"
            )
        )
        return list(rows.all())


async def test_an_answered_call_is_transcribed_and_billed_per_second(db, telephony):
    rep, _contact, call = await _call(db, telephony, Plan(persona="interested"))
    sim = carrier_of(telephony).calls[call.twilio_sid or ""]
    assert call.status == "completed"
    assert call.duration_s == sim.duration_s and call.duration_s and call.duration_s > 5
    assert call.cost_mc == call.duration_s * 1000
    assert call.answered_at is not None and call.answered_by == "human"
    assert call.outcome == "callback_booked" and call.callback_at is not None
    assert call.recording_sid and call.recording_sid.startswith("RE")
    balance = await _balance(db, rep.actor.workspace_id)
    assert (balance.balance_mc, balance.held_mc) == (1_000_000 - call.cost_mc, 0)
    debits = await _call_debits(db, rep.actor.workspace_id)
    assert [d.amount_mc for d in debits] == [-call.cost_mc]

    segments = await _segments(db, call.id)
    first = segments[0]
    assert first.speaker == "agent"
    for words in ("AI", "recorded", rep.actor.name.split()[0], "Dana"):
        assert words in first.text, first.text
    speakers = {s.speaker for s in segments}
    assert {"agent", "prospect"} <= speakers
    assert all(s.ended_at >= s.started_at for s in segments)
    # What the prospect heard and said is what was stored, in order.
    heard = [text for who, text in sim.transcript if who in ("agent", "prospect")]
    assert [s.text for s in segments if s.speaker != "system"] == heard


async def test_callbacks_delivered_three_times_and_shuffled_bill_once(db, telephony):
    rep, _contact, call = await _call(
        db, telephony, Plan(persona="price_objection", copies=3, shuffle=True)
    )
    assert call.status == "completed"
    assert call.duration_s and call.cost_mc == call.duration_s * 1000
    debits = await _call_debits(db, rep.actor.workspace_id)
    assert [d.amount_mc for d in debits] == [-call.cost_mc]
    async with db.session() as session:
        stored = (
            await session.execute(
                select(CallCallback.kind, CallCallback.result).where(
                    CallCallback.call_id == call.id
                )
            )
        ).all()
        hold = await session.get(CreditHold, call.hold_id)
    # Each distinct callback is stored once, however often it came.
    assert sorted(k for k, _ in stored) == ["amd", "recording"] + ["status"] * 4
    assert sum(1 for _, r in stored if r == "settled") == 1
    assert hold is not None and (hold.status, hold.settled_mc) == ("settled", call.cost_mc)
    # Whatever the order, the terminal status won.
    assert call.last_sequence == 3


async def test_opt_out_mid_call_puts_the_number_on_do_not_call(db, telephony):
    rep, contact, call = await _call(db, telephony, Plan(persona="opt_out"))
    assert call.outcome == "opted_out"
    async with db.session() as session:
        entry = await session.scalar(
            select(DncEntry).where(
                DncEntry.workspace_id == rep.actor.workspace_id,
                DncEntry.phone_e164 == contact.phone_e164,
            )
        )
        consent = await session.scalar(
            select(ConsentRecord).where(ConsentRecord.contact_id == contact.id)
        )
    assert entry is not None and entry.source == "opt_out_call"
    assert entry.reference == call.twilio_sid
    assert consent is not None and consent.revoked_at is not None
    segments = await _segments(db, call.id)
    assert "stop calling" in " ".join(s.text for s in segments if s.speaker == "prospect").lower()
    # The agent said goodbye last.
    assert segments[-1].speaker == "agent"
    async with db.session() as session:
        plan = await calls.plan_call(session, rep.actor, contact.id, telephony, now=NOON_NY)
    assert Reason.DNC_WORKSPACE in plan.decision.codes


async def test_keypad_nine_opts_out(db, telephony):
    _rep, contact, call = await _call(db, telephony, Plan(persona="opt_out_keypad"))
    assert call.outcome == "opted_out"
    async with db.session() as session:
        listed = await session.scalar(
            select(func.count())
            .select_from(DncEntry)
            .where(DncEntry.phone_e164 == contact.phone_e164)
        )
    assert listed == 1


async def test_a_call_that_reaches_its_time_limit_costs_no_more_than_its_hold(db, telephony):
    rep, _contact, call = await _call(db, telephony, Plan(persona="rambler"), credits=45)
    assert call.time_limit_s == 45
    assert call.duration_s == 45
    assert call.cost_mc == 45_000
    balance = await _balance(db, rep.actor.workspace_id)
    assert (balance.balance_mc, balance.held_mc) == (0, 0)


@pytest.mark.parametrize("outcome", ["busy", "no-answer", "failed"])
async def test_unanswered_calls_cost_nothing(db, telephony, outcome):
    rep, _contact, call = await _call(db, telephony, Plan(outcome=outcome))  # type: ignore[arg-type]
    assert (call.status, call.cost_mc, call.duration_s) == (outcome, 0, 0)
    assert call.outcome == {"busy": "busy", "no-answer": "no_answer", "failed": "failed"}[outcome]
    balance = await _balance(db, rep.actor.workspace_id)
    assert (balance.balance_mc, balance.held_mc) == (1_000_000, 0)
    assert await _call_debits(db, rep.actor.workspace_id) == []


async def test_a_machine_gets_the_briefs_voicemail(db, telephony):
    _rep, _contact, call = await _call(db, telephony, Plan(outcome="voicemail"))
    assert call.answered_by == "machine_end_beep"
    assert call.outcome == "voicemail"
    assert call.cost_mc == (call.duration_s or 0) * 1000
    segments = await _segments(db, call.id)
    assert "call us back about the webinar offer" in segments[-1].text


async def test_a_machine_is_hung_up_on_when_the_brief_says_so(db, telephony):
    _rep, _contact, call = await _call(
        db, telephony, Plan(outcome="voicemail"), voicemail="hang_up"
    )
    assert call.outcome == "voicemail"
    segments = await _segments(db, call.id)
    assert not any("call us back" in s.text for s in segments)


async def test_hanging_up_a_call_in_progress_bills_what_was_used(db, telephony):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    carrier = carrier_of(telephony)
    carrier.pace_s = 0.05
    carrier.plan_next(contact.phone_e164, Plan(persona="rambler"))
    call = await calls.place_call(
        db, rep.actor, contact.id, telephony, purpose=PURPOSE, now=NOON_NY
    )
    for _ in range(100):
        async with db.session() as session:
            current = await session.get(Call, call.id, populate_existing=True)
            assert current is not None
            if current.status == "in-progress":
                break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    ended = await calls.end_call(db, rep.actor, call.id, telephony)
    assert ended.end_reason and rep.actor.email in ended.end_reason
    await carrier.wait(call.twilio_sid or "")
    settled = await settled_call(db, call.id)
    assert settled.status == "completed"
    assert settled.duration_s is not None and 0 < settled.duration_s < settled.time_limit_s
    assert settled.cost_mc == settled.duration_s * 1000


async def test_the_gate_refusing_places_no_call_and_holds_nothing(db, telephony):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor, consent=None)
    with pytest.raises(calls.CallRefused) as refused:
        await calls.place_call(db, rep.actor, contact.id, telephony, purpose=PURPOSE, now=NOON_NY)
    assert Reason.NO_CONSENT in refused.value.decision.codes
    assert "consent" in str(refused.value).lower()
    balance = await _balance(db, rep.actor.workspace_id)
    assert balance.held_mc == 0
    async with db.session() as session:
        n_calls = await session.scalar(
            select(func.count()).select_from(Call).where(Call.contact_id == contact.id)
        )
        n_attempts = await session.scalar(
            select(func.count())
            .select_from(CallAttempt)
            .where(CallAttempt.phone_e164 == contact.phone_e164)
        )
    assert (n_calls, n_attempts) == (0, 0)
    assert carrier_of(telephony).calls == {} or all(
        c.request.to_e164 != contact.phone_e164 for c in carrier_of(telephony).calls.values()
    )


async def test_too_few_credits_for_a_minimum_call_is_refused(db, telephony):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 10)
    contact = await add_contact(db, rep.actor)
    with pytest.raises(calls.CallRefused) as refused:
        await calls.place_call(db, rep.actor, contact.id, telephony, purpose=PURPOSE, now=NOON_NY)
    assert Reason.INSUFFICIENT_CREDITS in refused.value.decision.codes


async def _balance(db, workspace_id) -> ledger.Balance:
    async with db.session() as session:
        return await ledger.get_balance(session, workspace_id)


async def test_suspending_a_workspace_hangs_up_its_calls(db, telephony):
    from accounts import suspension

    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    carrier = carrier_of(telephony)
    carrier.pace_s = 0.05
    carrier.plan_next(contact.phone_e164, Plan(persona="rambler"))
    hook = suspension.register_suspend_hook(calls.suspension_hook(telephony))
    try:
        call = await calls.place_call(
            db, rep.actor, contact.id, telephony, purpose=PURPOSE, now=NOON_NY
        )
        for _ in range(100):
            async with db.session() as session:
                current = await session.get(Call, call.id, populate_existing=True)
                assert current is not None
                if current.status == "in-progress":
                    break
            await asyncio.sleep(0.05)
        async with db.session() as session:
            await suspension.suspend(
                session, rep.actor.workspace_id, reason="test: abusive calling", by_label="test"
            )
            await session.commit()
    finally:
        suspension.on_suspend.remove(hook)
    await carrier.wait(call.twilio_sid or "")
    settled = await settled_call(db, call.id)
    assert settled.status == "completed"
    assert settled.duration_s is not None and settled.duration_s < settled.time_limit_s
    assert settled.end_reason == "workspace suspended"


class _RefusingCarrier(Recorder):
    """Twilio answering every call request with 21211 (an invalid `To`)."""

    async def create_call(self, req: CallRequest) -> PlacedCall:
        raise TelephonyError("The number to call is not a valid phone number.", code=21211)


async def test_a_call_the_carrier_refuses_is_failed_at_no_cost_and_not_counted(db):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 1000)
    contact = await add_contact(db, rep.actor)
    telephony = recording_telephony(_RefusingCarrier())
    with pytest.raises(calls.CallNotPlaced, match="not a valid phone number"):
        await calls.place_call(db, rep.actor, contact.id, telephony, purpose=PURPOSE, now=NOON_NY)
    balance = await _balance(db, rep.actor.workspace_id)
    assert (balance.held_mc, balance.available_mc) == (0, 1_000_000)
    async with db.session() as session:
        call = await session.scalar(select(Call).where(Call.contact_id == contact.id))
        attempts = await session.scalar(
            select(func.count())
            .select_from(CallAttempt)
            .where(CallAttempt.phone_e164 == contact.phone_e164)
        )
    assert call is not None and call.settled_at is not None and call.ended_at is not None
    assert (call.status, call.outcome, call.cost_mc) == ("failed", "failed", 0)
    assert call.error == "The number to call is not a valid phone number."
    assert call.attempt_id is None and call.hold_id is not None and attempts == 0
