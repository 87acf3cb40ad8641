"""Applying status callbacks on the real database: any order, any number of copies,
concurrently — one settlement of the right size, and a terminal status always wins."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from accounts.models import Role
from billing import ledger
from billing.models import LedgerEntry
from telephony import calls
from telephony.callbacks import apply_status, parse_status, reconcile
from telephony.models import Call, CallCallback
from telephony.provider import SIMULATED_FROM
from telephony.twiml import relay_url_of
from tests.accounts.helpers import make_member

from .helpers import NOON_NY, Recorder, add_contact, fund, recording_telephony


async def _placed(db, credits: float = 1000, max_call_seconds: int = 600, recorder=None):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, credits)
    contact = await add_contact(db, rep.actor)
    recorder = recorder or Recorder()
    call = await calls.place_call(
        db,
        rep.actor,
        contact.id,
        recording_telephony(recorder, max_call_seconds),
        purpose="a test call",
        now=NOON_NY,
    )
    return rep, call, recorder.requests[-1]


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
    assert req.twiml
    relay = relay_url_of(req.twiml)
    assert relay and relay.startswith(f"ws://127.0.0.1:9/voice/relay?call={call.id}&token=")


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


# --- reconciliation: the provider's record settles through the same function ------------


async def _reconcile(db, recorder: Recorder, call: Call, page: int = 100):
    later = call.created_at + timedelta(hours=1)
    return await reconcile(db, recorder, ring_timeout_s=30, grace_s=120, now=later, page=page)


async def _money(db, call: Call, workspace_id):
    async with db.session() as session:
        fresh = await session.get(Call, call.id, populate_existing=True)
        debits = (
            await session.scalars(
                select(LedgerEntry.amount_mc).where(
                    LedgerEntry.workspace_id == workspace_id, LedgerEntry.kind == "call"
                )
            )
        ).all()
        balance = await ledger.get_balance(session, workspace_id)
        stored = (
            await session.scalars(
                select(CallCallback.result)
                .where(CallCallback.call_id == call.id)
                .order_by(CallCallback.id)
            )
        ).all()
    return fresh, list(debits), balance, list(stored)


async def test_a_lost_final_callback_is_settled_from_the_carriers_record(db):
    recorder = Recorder()
    rep, call, _req = await _placed(db, recorder=recorder)
    await apply_status(db, str(call.id), _cb(call, "in-progress", 2))
    recorder.records[call.twilio_sid or ""] = {"status": "completed", "duration": "42"}
    done = await _reconcile(db, recorder, call)
    mine = [d for d in done if d.call_id == call.id]
    assert [(d.result, d.cost_mc) for d in mine] == [("reconciled", 42_000)]
    fresh, debits, balance, stored = await _money(db, call, rep.actor.workspace_id)
    assert fresh is not None
    assert (fresh.status, fresh.duration_s, fresh.cost_mc) == ("completed", 42, 42_000)
    assert fresh.end_reason == "settled by reconciliation" and fresh.settled_at is not None
    assert debits == [-42_000]
    assert (balance.balance_mc, balance.held_mc) == (1_000_000 - 42_000, 0)
    assert stored == ["applied", "reconciled"]
    # The final callback turns up after all: stored, and no money moves again.
    late = await apply_status(db, str(call.id), _cb(call, "completed", 3, 42))
    assert late.result == "after_terminal"
    # Nor does a second round.
    assert call.id not in [d.call_id for d in await _reconcile(db, recorder, call)]
    _fresh, debits, balance, _stored = await _money(db, call, rep.actor.workspace_id)
    assert debits == [-42_000] and balance.balance_mc == 1_000_000 - 42_000


async def test_calls_still_going_do_not_crowd_out_a_lost_final_callback(db):
    """Reconciliation looks at every overdue call, a page at a time: older calls the
    carrier still reports as going must not keep a newer ended one from being settled."""
    recorder = Recorder()
    placed = [(await _placed(db, recorder=recorder))[1] for _ in range(3)]
    *going, last = placed
    for call in going:
        recorder.records[call.twilio_sid or ""] = {"status": "in-progress", "duration": None}
    recorder.records[last.twilio_sid or ""] = {"status": "completed", "duration": "42"}
    done = await _reconcile(db, recorder, last, page=1)
    reconciled = {d.call_id for d in done}
    assert last.id in reconciled and not {c.id for c in going} & reconciled
    async with db.session() as session:
        settled = await session.get(Call, last.id)
        still = [await session.get(Call, c.id) for c in going]
    assert settled is not None and (settled.status, settled.cost_mc) == ("completed", 42_000)
    assert all(c is not None and c.settled_at is None for c in still)


async def test_a_reconciled_unanswered_call_costs_nothing(db):
    recorder = Recorder()
    rep, call, _req = await _placed(db, recorder=recorder)
    recorder.records[call.twilio_sid or ""] = {"status": "no-answer", "duration": "0"}
    done = await _reconcile(db, recorder, call)
    assert [(d.result, d.cost_mc) for d in done if d.call_id == call.id] == [("reconciled", 0)]
    fresh, debits, balance, _stored = await _money(db, call, rep.actor.workspace_id)
    assert fresh is not None and (fresh.status, fresh.outcome, fresh.cost_mc) == (
        "no-answer",
        "no_answer",
        0,
    )
    assert debits == [] and (balance.balance_mc, balance.held_mc) == (1_000_000, 0)


@pytest.mark.parametrize("seed", range(4))
async def test_reconciliation_racing_the_final_callback_settles_once(db, seed):
    recorder = Recorder()
    rep, call, _req = await _placed(db, recorder=recorder)
    recorder.records[call.twilio_sid or ""] = {"status": "completed", "duration": "30"}
    racers = [
        apply_status(db, str(call.id), _cb(call, "completed", 3, 30)),
        _reconcile(db, recorder, call),
    ]
    if seed % 2:
        racers.reverse()
    await asyncio.gather(*racers)
    fresh, debits, balance, stored = await _money(db, call, rep.actor.workspace_id)
    assert fresh is not None and (fresh.status, fresh.cost_mc) == ("completed", 30_000)
    assert debits == [-30_000]
    assert (balance.balance_mc, balance.held_mc) == (1_000_000 - 30_000, 0)
    assert sum(1 for r in stored if r in ("settled", "reconciled")) == 1


async def test_the_settling_function_refuses_an_unknown_source(db):
    rep, call, _req = await _placed(db)
    with pytest.raises(DBAPIError, match="p_source must be callback or reconcile"):
        async with db.session() as session:
            await session.execute(
                text(
                    "SELECT * FROM call_status_apply(CAST(:call AS uuid), :sid, 'completed',"
                    " 3, 10, NULL, :key, '{}'::jsonb, 'guess', NULL)"
                ),
                {"call": str(call.id), "sid": call.twilio_sid, "key": f"t:{call.id}"},
            )
    _fresh, debits, balance, _stored = await _money(db, call, rep.actor.workspace_id)
    assert debits == [] and balance.balance_mc == 1_000_000
