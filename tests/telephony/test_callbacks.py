"""Applying status callbacks on the real database: any order, any number of copies,
concurrently — one settlement of the right size, and a terminal status always wins."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select

from accounts.models import Role
from billing import ledger
from billing.models import LedgerEntry
from telephony import calls
from telephony.callbacks import apply_status, parse_status
from telephony.models import Call
from telephony.provider import SIMULATED_FROM
from tests.accounts.helpers import make_member

from .helpers import NOON_NY, Recorder, add_contact, fund, recording_telephony


async def _placed(db, credits: float = 1000, max_call_seconds: int = 600):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, credits)
    contact = await add_contact(db, rep.actor)
    recorder = Recorder()
    call = await calls.place_call(
        db, rep.actor, contact.id, recording_telephony(recorder, max_call_seconds),
        purpose="a test call", now=NOON_NY,
    )  # fmt: skip
    return rep, call, recorder.requests[0]


def _cb(call: Call, status: str, seq: int, duration: int | None = None):
    params = {"CallSid": call.twilio_sid or "", "CallStatus": status, "SequenceNumber": str(seq)}
    if duration is not None:
        params["CallDuration"] = str(duration)
    return parse_status(params)


async def test_the_twilio_request_asks_for_everything_the_flow_needs(db):
    _rep, call, req = await _placed(db, credits=90, max_call_seconds=600)
    # The hold took all that was available (90 s), under the 600 s cap: TimeLimit = 90.
    assert req.time_limit_s == call.time_limit_s == 90
    assert req.from_e164 == SIMULATED_FROM and req.to_e164 == call.phone_e164
    assert req.status_callback_url.endswith(f"/webhooks/twilio/status?call={call.id}")
    assert req.amd_callback_url and req.amd_callback_url.endswith(f"amd?call={call.id}")
    assert req.recording_callback_url and "recording" in req.recording_callback_url
    assert req.machine_detection == "DetectMessageEnd" and req.record
    assert req.twiml and '<ConversationRelay url="ws://127.0.0.1:9/voice/relay?call=' in req.twiml


async def test_the_cap_bounds_the_hold(db):
    _rep, call, req = await _placed(db, credits=5000, max_call_seconds=300)
    assert req.time_limit_s == call.time_limit_s == 300


@pytest.mark.parametrize("seed", range(6))
async def test_shuffled_concurrent_copies_settle_once(db, seed):
    rep, call, _req = await _placed(db)
    duration = 37 + seed
    events = [
        _cb(call, "initiated", 0),
        _cb(call, "ringing", 1),
        _cb(call, "in-progress", 2),
        _cb(call, "completed", 3, duration),
    ] * 3
    random.Random(seed).shuffle(events)
    results = await asyncio.gather(*(apply_status(db, str(call.id), e) for e in events))
    assert sorted(r.result for r in results).count("settled") == 1
    assert sum(1 for r in results if r.result == "duplicate") == 8
    async with db.session() as session:
        fresh = await session.get(Call, call.id)
        debits = (
            await session.scalars(
                select(LedgerEntry.amount_mc).where(
                    LedgerEntry.workspace_id == rep.actor.workspace_id, LedgerEntry.kind == "call"
                )
            )
        ).all()
        balance = await ledger.get_balance(session, rep.actor.workspace_id)
    assert fresh is not None
    assert (fresh.status, fresh.duration_s, fresh.cost_mc) == (
        "completed",
        duration,
        duration * 1000,
    )
    assert list(debits) == [-duration * 1000]
    assert (balance.balance_mc, balance.held_mc) == (1_000_000 - duration * 1000, 0)


async def test_a_duration_beyond_the_hold_is_capped_at_the_hold(db):
    rep, call, _req = await _placed(db, credits=60)
    result = await apply_status(db, str(call.id), _cb(call, "completed", 3, 600))
    assert result.result == "settled" and result.cost_mc == 60_000
    async with db.session() as session:
        balance = await ledger.get_balance(session, rep.actor.workspace_id)
    assert (balance.balance_mc, balance.held_mc) == (0, 0)


async def test_an_older_status_does_not_step_back(db):
    _rep, call, _req = await _placed(db)
    assert (await apply_status(db, str(call.id), _cb(call, "in-progress", 2))).result == "applied"
    assert (await apply_status(db, str(call.id), _cb(call, "ringing", 1))).result == "stale"
    assert (await apply_status(db, str(call.id), _cb(call, "initiated", 0))).result == "stale"
    async with db.session() as session:
        fresh = await session.get(Call, call.id)
    assert fresh is not None and fresh.status == "in-progress" and fresh.answered_at is not None
