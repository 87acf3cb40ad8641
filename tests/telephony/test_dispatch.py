"""The shared number's dial dispatcher (telephony/dispatch.py): paced within the
calls-per-second limit across processes, fair between workspaces (a rep's single call
first), at most once across crashes, and never a campaign call without its rules."""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from accounts.models import Role
from core.db import Database
from telephony import calls, dispatch
from telephony.dispatch import DialRequest, DialStatus, Pacer
from telephony.models import Call, Contact
from telephony.provider import Telephony
from tests.accounts.helpers import Member, make_member
from tests.campaigns.helpers import private_database

from .helpers import NOON_NY, Recorder, add_contact, fund, recording_telephony

BRIEF = dispatch.brief_payload(purpose="the spring renewal")


@pytest.fixture(scope="module")
async def _private(pg_server_url: str) -> AsyncIterator[Database]:
    with private_database(pg_server_url, "klosesales_dispatch") as database:
        yield database
        await database.dispose()


@pytest.fixture
async def db(_private: Database) -> Database:
    """This module's own database (not the shared one): no other process's dispatcher
    takes turns in its dial queue."""
    return _private


@pytest.fixture(autouse=True)
async def _empty_queue(db: Database):
    """Rows left queued or claimed by another test would take turns in these claims."""
    await _cancel_all(db)
    yield
    await _cancel_all(db)


async def _cancel_all(db: Database) -> None:
    async with db.session() as session:
        await session.execute(
            text("UPDATE dial_queue SET status = 'canceled' WHERE status IN ('queued', 'dialing')")
        )
        await session.commit()


async def _queue(db: Database, actor, contact_id, n: int, *, interactive: bool = False):
    async with db.session() as session:
        ids = []
        for _ in range(n):
            req = await dispatch.enqueue(
                session, actor, contact_id, brief=BRIEF, interactive=interactive
            )
            ids.append(req.id)
        await session.commit()
    return ids


def test_the_pacer_counts_requests_in_flight_and_returned_within_the_window():
    pacer = Pacer(5, margin_s=0)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ms = timedelta(milliseconds=1)
    assert pacer.earliest([], t0) == t0
    # Four requests returned: a fifth may start half a slot after the newest.
    four = [(t0 + 100 * i * ms, t0 + (100 * i + 5) * ms) for i in range(4)]
    assert pacer.earliest(four, t0 + 301 * ms) == t0 + 400 * ms
    # Five returned: the next waits until the oldest *completion* is a second old.
    five = [(t0 + 100 * i * ms, t0 + (100 * i + 5) * ms) for i in range(5)]
    assert pacer.earliest(five, t0 + 401 * ms) == t0 + 1005 * ms
    # A request still in flight holds its place in the window, however old its slot.
    late = t0 + timedelta(seconds=3)
    recent = [(late - (400 - 100 * i) * ms, late - (395 - 100 * i) * ms) for i in range(4)]
    stuck = [(t0, None), *recent]
    assert pacer.earliest(stuck, late) > late
    assert pacer.earliest(recent, late) <= late  # without it, the slot is free
    # ... until its lease runs out (its process died or its request timed out).
    expired = t0 + pacer.lease + pacer.window + 2 * ms
    assert pacer.earliest([(t0, None)] * 5, expired) <= expired
    slow = Pacer(0.5, margin_s=0)  # one call every two seconds
    assert slow.earliest([(t0, t0)], t0) == t0 + timedelta(seconds=2)


async def test_dials_from_many_tasks_never_exceed_the_limit_in_any_second(db: Database):
    pacer = Pacer(10)
    stamps: list[datetime] = []

    async def taker() -> None:
        for _ in range(6):
            at = await pacer.take(db)
            stamps.append(at)
            await pacer.done(db, at)

    await asyncio.gather(*(taker() for _ in range(4)))
    stamps.sort()
    assert len(stamps) == 24
    # Any 11 consecutive dials span at least one second: no window holds more than 10.
    for i in range(len(stamps) - 10):
        assert stamps[i + 10] - stamps[i] >= timedelta(seconds=1)


class SlowCarrier(Recorder):
    """A carrier double that records when each request *reaches* it, after a network
    delay (every tenth request, the fifth of its group, is held 0.7 s on the way)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = 0
        self.arrivals: list[float] = []

    async def create_call(self, req):  # type: ignore[no-untyped-def]
        self.entered += 1
        if self.entered % 10 == 5:
            await asyncio.sleep(0.7)
        self.arrivals.append(time.monotonic())
        return await super().create_call(req)


def _most_in_one_second(times: list[float]) -> int:
    """The most arrivals in any sliding one-second window (start inclusive)."""
    times = sorted(times)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


async def test_two_pools_dialling_at_once_never_exceed_the_cps_at_the_carrier(db: Database):
    """Two dispatchers (two connection pools: two processes' view of the database),
    five lanes each, dial 24 queued calls against one carrier whose requests arrive
    late now and then. Counted at the carrier, by arrival time, no one-second window
    holds more than the CPS. (Spacing only the dispatchers' own stamps let a delayed
    request land in the next second's five: six in a second.)"""
    member = await make_member(db, Role.REP)
    await fund(db, member.actor.workspace_id, 20_000)
    async with db.session() as session:
        for _ in range(24):
            contact = await add_contact(db, member.actor, area="212")
            await dispatch.enqueue(
                session, member.actor, contact.id, brief=BRIEF, interactive=False
            )
        await session.commit()
    carrier = SlowCarrier()
    telephony = dataclasses.replace(recording_telephony(carrier), calls_per_second=5)
    other = Database(url=db.url, embedded=False)
    try:

        async def lane(database: Database, pacer: Pacer) -> None:
            while (request_id := await dispatch.claim_next(database, campaigns=False)) is not None:
                outcome = await dispatch.dial(database, telephony, pacer, request_id, now=NOON_NY)
                assert outcome.status is DialStatus.PLACED, outcome

        pacers = {id(db): Pacer(5), id(other): Pacer(5)}
        await asyncio.gather(*(lane(d, pacers[id(d)]) for d in [db, other] * 5))
    finally:
        await other.dispose()
    assert len(carrier.arrivals) == 24
    assert _most_in_one_second(carrier.arrivals) <= 5


class FirstSignal(Recorder):
    """A recording carrier that says when its first request has arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.first = asyncio.Event()

    async def create_call(self, req):  # type: ignore[no-untyped-def]
        placed = await super().create_call(req)
        self.first.set()
        return placed


async def test_a_reps_single_call_takes_the_next_slot_before_prepared_campaign_dials(
    db: Database,
):
    """At 1 call per second, six lanes hold prepared dials (gate passed, call rows
    written) waiting for slots; a rep's call queued from another process after the
    first dial goes out is the very next request the carrier sees."""
    member = await make_member(db, Role.REP)
    await fund(db, member.actor.workspace_id, 20_000)
    async with db.session() as session:
        for _ in range(8):
            contact = await add_contact(db, member.actor, area="212")
            await dispatch.enqueue(
                session, member.actor, contact.id, brief=BRIEF, interactive=False
            )
        await session.commit()
    rep_contact = await add_contact(db, member.actor, area="212")
    carrier = FirstSignal()
    telephony = dataclasses.replace(recording_telephony(carrier, 60), calls_per_second=1)
    pacer = Pacer(1)

    async def lane() -> None:
        while (request_id := await dispatch.claim_next(db, campaigns=False)) is not None:
            await dispatch.dial(db, telephony, pacer, request_id, now=NOON_NY)

    lanes = [asyncio.create_task(lane()) for _ in range(6)]
    other = Database(url=db.url, embedded=False)  # the web process queueing the rep's call
    try:
        await carrier.first.wait()
        async with other.session() as session:
            single = await dispatch.enqueue(
                session, member.actor, rep_contact.id, brief=BRIEF, interactive=True, claimed=True
            )
            await session.commit()
        call = await dispatch.dispatch_now(other, telephony, single.id, now=NOON_NY, claimed=True)
        await asyncio.gather(*lanes)
    finally:
        for task in lanes:
            task.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        await other.dispose()
    order = [req.status_callback_url for req in carrier.requests]
    assert len(order) == 9
    assert str(call.id) in order[1]  # the next slot, ahead of the prepared campaign dials


async def test_a_campaign_dial_waits_while_a_reps_claimed_call_has_no_slot(db: Database):
    """The line is free, but a rep's call is claimed and not yet given its slot: a
    campaign dial's slot request waits until the rep's call has taken its own."""
    member = await make_member(db, Role.REP)
    contact = await add_contact(db, member.actor, area="212")
    async with db.session() as session:
        single = await dispatch.enqueue(
            session, member.actor, contact.id, brief=BRIEF, interactive=True, claimed=True
        )
        await session.commit()
    order: list[str] = []
    campaign_pacer, rep_pacer = Pacer(5), Pacer(5)

    async def campaign() -> None:
        at = await campaign_pacer.take(db)
        order.append("campaign")
        await campaign_pacer.done(db, at)

    task = asyncio.create_task(campaign())
    await asyncio.sleep(0.3)  # the campaign's request reaches the pacer first
    at = await rep_pacer.take(db, dial=(single.id, single.call_id), interactive=True)
    order.append("rep")
    await rep_pacer.done(db, at)
    await task
    assert order == ["rep", "campaign"]


async def test_a_reps_single_call_goes_before_a_big_campaign_and_workspaces_take_turns(
    db: Database,
):
    big = await make_member(db, Role.REP)
    small = await make_member(db, Role.REP)
    rep = await make_member(db, Role.REP)
    big_contact = await add_contact(db, big.actor)
    small_contact = await add_contact(db, small.actor)
    rep_contact = await add_contact(db, rep.actor)
    await _queue(db, big.actor, big_contact.id, 12)
    await _queue(db, small.actor, small_contact.id, 3)
    single = await _queue(db, rep.actor, rep_contact.id, 1, interactive=True)

    order: list[uuid.UUID] = []
    claimed: list[int] = []
    for _ in range(8):
        request_id = await dispatch.claim_next(db, campaigns=True)
        assert request_id is not None
        claimed.append(request_id)
        async with db.session() as session:
            row = await session.get(DialRequest, request_id)
            assert row is not None
            assert row.status == DialStatus.DIALING.value
            order.append(row.workspace_id)
    assert claimed[0] == single[0]  # the rep's call first, despite 15 queued before it
    big_ws, small_ws = big.actor.workspace_id, small.actor.workspace_id
    # Then turns: the small workspace is served every other dial until it runs out.
    assert order[1:7].count(small_ws) == 3
    assert order[1:7].count(big_ws) == 3
    assert order[7] == big_ws


async def test_two_processes_claiming_at_once_never_claim_the_same_dial(db: Database):
    member = await make_member(db, Role.REP)
    contact = await add_contact(db, member.actor)
    queued = await _queue(db, member.actor, contact.id, 10)
    other = Database(url=db.url, embedded=False)  # a second engine: another process's pool
    try:
        got = await asyncio.gather(
            *(dispatch.claim_next(d, campaigns=True) for d in [db, other] * 5)
        )
    finally:
        await other.dispose()
    claimed = [g for g in got if g is not None]
    assert sorted(claimed) == sorted(queued)  # each one exactly once


async def test_a_dial_interrupted_after_its_slot_is_never_dialled_again(db: Database):
    member = await make_member(db, Role.REP)
    await fund(db, member.actor.workspace_id, 100)
    contact = await add_contact(db, member.actor, area="212")
    before_call, after_call = await _queue(db, member.actor, contact.id, 2)
    for request_id in (before_call, after_call):
        assert await dispatch.claim_one(db, request_id)
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    # `after_call` died after its slot was taken (the carrier may have been asked);
    # `before_call` died before anything was written.
    async with db.session() as session:
        row = await session.get(DialRequest, after_call)
        assert row is not None
        await calls.prepare_call(
            session,
            member.actor,
            contact,
            telephony,
            call_id=row.call_id,
            brief=BRIEF,
            when=NOON_NY,
        )
        row.dialed_at = datetime.now(UTC)
        await session.commit()
    await dispatch.recover(db, stale=timedelta(0))
    async with db.session() as session:
        first = await session.get(DialRequest, before_call)
        second = await session.get(DialRequest, after_call)
        assert first is not None
        assert second is not None
        assert first.status == DialStatus.QUEUED.value  # safe: never reached the carrier
        assert second.status == DialStatus.DIALING.value  # left to the call's reconciliation
    # A dispatcher claims only the first again.
    assert await dispatch.claim_next(db, campaigns=True) == before_call
    assert await dispatch.claim_next(db, campaigns=True) is None
    assert recorder.requests == []


async def test_a_slow_claimer_whose_claim_was_taken_back_still_dials_once(db: Database):
    """A rep's process slow (not dead) between its claim and its dial: `recover` queues
    the row again and another process claims it. The call is dialled once, by the
    first to prepare it; the other leaves it alone (its outcome is the row's)."""
    member = await make_member(db, Role.REP)
    await fund(db, member.actor.workspace_id, 100)
    contact = await add_contact(db, member.actor, area="212")
    async with db.session() as session:
        request = await dispatch.enqueue(
            session, member.actor, contact.id, brief=BRIEF, interactive=True, claimed=True
        )
        await session.commit()
    request_id = request.id
    assert await dispatch.recover(db, stale=timedelta(0)) == 1  # the claim looked stale
    assert await dispatch.claim_next(db, campaigns=True) == request_id  # another's now
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    pacer = dispatch.pacer_for(telephony)
    first = await dispatch.dial(db, telephony, pacer, request_id, now=NOON_NY)
    second = await dispatch.dial(db, telephony, pacer, request_id, now=NOON_NY)
    assert first.status is DialStatus.PLACED and first.call is not None
    assert (second.status, second.call, second.error) == (DialStatus.DIALING, None, None)
    assert len(recorder.requests) == 1


async def test_a_slow_reps_call_queued_again_is_taken_back_by_its_process(db: Database):
    """`recover` queued a rep's claimed call again before its process got to it: the
    process takes it back and dials it (the caller gets the call, no error)."""
    member = await make_member(db, Role.REP)
    await fund(db, member.actor.workspace_id, 100)
    contact = await add_contact(db, member.actor, area="212")
    async with db.session() as session:
        request = await dispatch.enqueue(
            session, member.actor, contact.id, brief=BRIEF, interactive=True, claimed=True
        )
        await session.commit()
    request_id = request.id
    assert await dispatch.recover(db, stale=timedelta(0)) == 1
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    call = await dispatch.dispatch_now(db, telephony, request_id, now=NOON_NY, claimed=True)
    assert call.twilio_sid is not None
    assert len(recorder.requests) == 1
    assert await dispatch.claim_next(db, campaigns=True) is None  # nothing left queued


async def test_place_call_is_queued_and_dialled_by_the_dispatcher(db: Database):
    member = await make_member(db, Role.REP)
    await fund(db, member.actor.workspace_id, 100)
    contact = await add_contact(db, member.actor, area="212")
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    call = await calls.place_call(
        db, member.actor, contact.id, telephony, purpose="the spring renewal", now=NOON_NY
    )
    async with db.session() as session:
        row = (
            await session.scalars(select(DialRequest).where(DialRequest.call_id == call.id))
        ).one()
        assert row.status == DialStatus.PLACED.value
        assert row.interactive
        assert row.dialed_at is not None  # the slot was taken before the carrier was asked
        assert row.result == call.twilio_sid
    assert len(recorder.requests) == 1


async def test_a_campaign_dial_is_never_made_without_the_campaign_rules(db: Database):
    member = await make_member(db, Role.REP)
    await fund(db, member.actor.workspace_id, 100)
    contact = await add_contact(db, member.actor, area="212")
    async with db.session() as session:
        await session.execute(
            text(
                "INSERT INTO campaigns (id, workspace_id, created_by, name, brief, selection, "
                "status, days, window_start, window_end, max_concurrent, retry_outcomes, "
                "retry_after_s, max_attempts, budget_mc) VALUES (:id, :ws, :u, 'c', '{}', "
                "'{}', 'active', '{0,1,2,3,4}', '10:00', '16:00', 1, '{}', 86400, 1, 60000)"
            ),
            {
                "id": (cid := uuid.uuid4()),
                "ws": member.actor.workspace_id,
                "u": member.actor.user_id,
            },
        )
        await dispatch.enqueue(
            session, member.actor, contact.id, brief=BRIEF, interactive=False, campaign_id=cid
        )
        await session.commit()
    recorder = Recorder()
    plain = dispatch.Dispatcher(db, recording_telephony(recorder))  # no campaign guard
    assert not await plain.step()
    assert recorder.requests == []
    async with db.session() as session:
        calls_made = await session.scalar(
            select(func.count()).select_from(Call).where(Call.contact_id == contact.id)
        )
    assert calls_made == 0


# --- claims are leases: a prepared dial whose claim lapsed is taken over --------------


class HeldPacer(Pacer):
    """A pacer whose slots are handed out only once the test releases them: a dial
    waits for its slot (prepared, call row written) until then."""

    def __init__(self, cps: float) -> None:
        super().__init__(cps)
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def take(self, db, *, dial=None, interactive=False):  # type: ignore[no-untyped-def]
        self.waiting.set()
        await self.release.wait()
        return await super().take(db, dial=dial, interactive=interactive)


async def _prepared(db: Database, request_id: int) -> tuple[uuid.UUID, Call]:
    """The row's call id and its call (written by a process that then waited)."""
    async with db.session() as session:
        row = await session.get(DialRequest, request_id, populate_existing=True)
        assert row is not None
        call = await session.get(Call, row.call_id)
        assert call is not None
        return row.call_id, call


async def _hold_status(db: Database, hold_id: int) -> str:
    async with db.session() as session:
        return str(
            await session.scalar(
                text("SELECT status FROM credit_holds WHERE id = :id"), {"id": hold_id}
            )
        )


@dataclasses.dataclass(frozen=True)
class ClaimedDial:
    """A rep's one queued dial, claimed by this worker; a carrier that records."""

    member: Member
    contact: Contact
    request_id: int
    recorder: Recorder
    telephony: Telephony


async def _claimed_dial(db: Database) -> ClaimedDial:
    member = await make_member(db, Role.REP)
    await fund(db, member.actor.workspace_id, 100)
    contact = await add_contact(db, member.actor, area="212")
    (request_id,) = await _queue(db, member.actor, contact.id, 1)
    assert await dispatch.claim_one(db, request_id)
    recorder = Recorder()
    return ClaimedDial(member, contact, request_id, recorder, recording_telephony(recorder))


async def test_a_killed_workers_prepared_dial_is_taken_over_and_dialled_once(db: Database):
    """A worker died after writing a dial's call row (gate passed, credits held) and
    before it got a slot. Once its claim lapses, another worker's `recover` fails that
    call at no cost (hold released, attempt uncounted) and queues the row again as a new
    call, which is dialled once. (Before, the row stayed `dialing` until the call
    reconciliation, holding its credits — a campaign at its budget stalled.)"""
    claimed = await _claimed_dial(db)
    member, contact, request_id = claimed.member, claimed.contact, claimed.request_id
    recorder, telephony = claimed.recorder, claimed.telephony
    async with db.session() as session:  # the dead worker's preparation
        row = await session.get(DialRequest, request_id)
        assert row is not None
        old = await calls.prepare_call(
            session,
            member.actor,
            contact,
            telephony,
            call_id=row.call_id,
            brief=BRIEF,
            when=NOON_NY,
        )
        await session.commit()
    assert old.hold_id is not None
    assert await dispatch.recover(db, stale=timedelta(0)) == 1
    async with db.session() as session:
        row = await session.get(DialRequest, request_id)
        voided = await session.get(Call, old.id)
        attempts = await session.scalar(
            text("SELECT count(*) FROM call_attempts WHERE phone_e164 = :p"),
            {"p": contact.phone_e164},
        )
    assert row is not None and voided is not None
    assert (row.status, row.dialed_at) == (DialStatus.QUEUED.value, None)
    assert row.call_id != old.id
    assert (voided.status, voided.cost_mc) == ("failed", 0)
    assert voided.settled_at is not None
    assert await _hold_status(db, old.hold_id) == "released"
    assert attempts == 0
    assert await dispatch.claim_next(db, campaigns=False) == request_id
    outcome = await dispatch.dial(db, telephony, Pacer(5), request_id, now=NOON_NY)
    assert outcome.status is DialStatus.PLACED and outcome.call is not None
    assert outcome.call.id == row.call_id
    assert [r.status_callback_url for r in recorder.requests] == [telephony.status_url(row.call_id)]


async def test_a_slow_dial_whose_claim_lapsed_gets_no_slot_and_is_dialled_once(db: Database):
    """A live worker's prepared dial waits for its slot so long (here: held, renewal
    off) that its claim lapses and another worker takes it over. When its slot frees
    up, the fence on the row refuses it the slot: it never reaches the carrier, and the
    call is dialled once, as the new call."""
    claimed = await _claimed_dial(db)
    request_id, recorder, telephony = claimed.request_id, claimed.recorder, claimed.telephony
    held = HeldPacer(5)
    slow = asyncio.create_task(
        dispatch.dial(db, telephony, held, request_id, now=NOON_NY, renew_every_s=3600)
    )
    await held.waiting.wait()
    old_call_id, _ = await _prepared(db, request_id)
    assert await dispatch.recover(db, stale=timedelta(0)) == 1  # its claim looked lapsed
    held.release.set()
    outcome = await slow
    assert (outcome.status, outcome.call, outcome.error) == (DialStatus.DIALING, None, None)
    assert recorder.requests == []  # no slot: the carrier was never asked
    assert await dispatch.claim_next(db, campaigns=False) == request_id
    again = await dispatch.dial(db, telephony, Pacer(5), request_id, now=NOON_NY)
    assert again.status is DialStatus.PLACED and again.call is not None
    assert again.call.id != old_call_id
    assert len(recorder.requests) == 1


async def test_a_dial_waiting_for_its_slot_renews_its_claim_and_keeps_it(db: Database):
    """While a prepared dial waits for its slot, its claim is renewed: `recover` with a
    one-minute lease leaves it alone even after its claim was an hour old, and the
    call goes out as it was prepared."""
    claimed = await _claimed_dial(db)
    request_id, recorder, telephony = claimed.request_id, claimed.recorder, claimed.telephony
    held = HeldPacer(5)
    waiting = asyncio.create_task(
        dispatch.dial(db, telephony, held, request_id, now=NOON_NY, renew_every_s=0.01)
    )
    await held.waiting.wait()
    call_id, _ = await _prepared(db, request_id)
    async with db.session() as session:
        await session.execute(
            text("UPDATE dial_queue SET claimed_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": request_id},
        )
        await session.commit()
    renewed = False
    for _ in range(500):  # until the renewal has run (a bound, not a timing assertion)
        async with db.session() as session:
            renewed = bool(
                await session.scalar(
                    text(
                        "SELECT claimed_at > now() - interval '1 minute' "
                        "FROM dial_queue WHERE id = :id"
                    ),
                    {"id": request_id},
                )
            )
        if renewed:
            break
        await asyncio.sleep(0.02)
    assert renewed
    assert await dispatch.recover(db, stale=timedelta(minutes=1)) == 0
    held.release.set()
    outcome = await waiting
    assert outcome.status is DialStatus.PLACED and outcome.call is not None
    assert outcome.call.id == call_id
    assert len(recorder.requests) == 1


async def test_recovery_skips_a_row_being_prepared_instead_of_waiting_for_it(db: Database):
    """A live lane preparing a dial holds its row's lock (for as long as the gate and
    the campaign guard take: seconds on a loaded machine). `recover` leaves that row to
    it and still puts the others right — it used to wait for the lock, holding up the
    recovery of a dead worker's dials behind one slow preparation."""
    member = await make_member(db, Role.REP)
    contact = await add_contact(db, member.actor, area="212")
    preparing, dead = await _queue(db, member.actor, contact.id, 2)
    for request_id in (preparing, dead):
        assert await dispatch.claim_one(db, request_id)
    other = Database(url=db.url, embedded=False)  # the preparing lane's process
    try:
        async with other.session() as lane:
            await lane.execute(
                text("SELECT 1 FROM dial_queue WHERE id = :id FOR UPDATE"), {"id": preparing}
            )
            recovered = await asyncio.wait_for(dispatch.recover(db, stale=timedelta(0)), 60)
            await lane.rollback()
    finally:
        await other.dispose()
    assert recovered == 1
    async with db.session() as session:
        rows = {
            r.id: r.status
            for r in (
                await session.scalars(
                    select(DialRequest).where(DialRequest.id.in_([preparing, dead]))
                )
            ).all()
        }
    assert rows == {preparing: DialStatus.DIALING.value, dead: DialStatus.QUEUED.value}
