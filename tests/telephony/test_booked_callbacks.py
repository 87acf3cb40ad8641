"""Callbacks that happen: a callback a prospect booked becomes, as the workspace chose,
a call placed at its time (the compliance gate checked again then) or a reminder in the
rep's chat with "Call now" — each once, however many workers run."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from accounts.models import Role
from chat_app import notifications
from core.db import Database
from telephony import booked_callbacks
from telephony.call_settings import CallSettingsError, parse_mode, set_settings
from telephony.followup_models import BookedCallback, CallbackMode
from telephony.models import Call
from tests.accounts.helpers import make_member

from .helpers import NOON_NY, Recorder, add_contact, fund, recording_telephony

# 03:00 in New York: outside calling hours for a 212 number.
NIGHT_NY = datetime.fromisoformat("2026-11-18T08:00:00+00:00")


async def _setup(db: Database, mode: CallbackMode | None, *, contacts: int = 1):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 700 * contacts)  # a call holds up to 600
    if mode is not None:
        async with db.session() as session:
            await set_settings(session, rep.actor, callback_mode=mode)
            await session.commit()
    people = [await add_contact(db, rep.actor, area="212") for _ in range(contacts)]
    return rep, people


async def _book(db: Database, rep, contact, due: datetime) -> uuid.UUID:
    async with db.session() as session:
        booked = await booked_callbacks.book(
            session,
            workspace_id=rep.actor.workspace_id,
            contact_id=contact.id,
            rep_id=rep.actor.user_id,
            call_id=None,
            source="call",
            purpose="the spring renewal",
            due_at=due,
        )
        await session.commit()
    assert booked is not None
    return booked


async def _row(db: Database, callback_id: uuid.UUID) -> BookedCallback:
    async with db.session() as session:
        row = await session.get(BookedCallback, callback_id, populate_existing=True)
    assert row is not None
    return row


async def test_scheduled_call_is_placed_at_its_time(db) -> None:
    rep, [contact] = await _setup(db, CallbackMode.CALL)
    callback_id = await _book(db, rep, contact, NOON_NY)
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    early = await booked_callbacks.run_due(db, telephony, now=NOON_NY - timedelta(minutes=1))
    assert callback_id not in {r.callback_id for r in early}
    done = await booked_callbacks.run_due(db, telephony, now=NOON_NY)
    mine = [r for r in done if r.callback_id == callback_id]
    assert [r.status.value for r in mine] == ["called"]
    assert [r.to_e164 for r in recorder.requests] == [contact.phone_e164]
    row = await _row(db, callback_id)
    async with db.session() as session:
        call = await session.get(Call, row.placed_call_id)
    assert call is not None and call.placed_by == rep.actor.user_id
    assert call.brief["purpose"].startswith("the callback they asked for")
    # Once only: running again dials nobody.
    await booked_callbacks.run_due(db, telephony, now=NOON_NY + timedelta(minutes=5))
    assert len(recorder.requests) == 1


async def test_gate_is_checked_again_at_the_booked_time(db) -> None:
    """Bad input: a callback booked for 3 am the callee's time is not dialled: the gate
    refuses then, and the rep is reminded with the reason."""
    rep, [contact] = await _setup(db, CallbackMode.CALL)
    callback_id = await _book(db, rep, contact, NIGHT_NY)
    recorder = Recorder()
    done = await booked_callbacks.run_due(db, recording_telephony(recorder), now=NIGHT_NY)
    mine = [r for r in done if r.callback_id == callback_id]
    assert [r.status.value for r in mine] == ["refused"]
    assert "08:00 to 21:00" in mine[0].result
    assert recorder.requests == []
    async with db.session() as session:
        notices = await notifications.due_notices(
            session,
            user_id=rep.actor.user_id,
            workspace_id=rep.actor.workspace_id,
            since=NIGHT_NY,
            low_balance_mc=0,
            now=NIGHT_NY + timedelta(minutes=1),
        )
    reminder = [n for n in notices if n.call_now == callback_id]
    assert len(reminder) == 1 and "08:00 to 21:00" in reminder[0].text


async def test_reminder_mode_shows_call_now_once(db) -> None:
    rep, [contact] = await _setup(db, None)  # the default: a reminder
    callback_id = await _book(db, rep, contact, NOON_NY)
    recorder = Recorder()
    done = await booked_callbacks.run_due(db, recording_telephony(recorder), now=NOON_NY)
    assert [r.status.value for r in done if r.callback_id == callback_id] == ["reminded"]
    assert recorder.requests == []

    async def notices() -> list[notifications.Notice]:
        async with db.session() as session:
            return await notifications.due_notices(
                session,
                user_id=rep.actor.user_id,
                workspace_id=rep.actor.workspace_id,
                since=NOON_NY,
                low_balance_mc=0,
                now=NOON_NY + timedelta(minutes=1),
            )

    first = [n for n in await notices() if n.call_now == callback_id]
    assert len(first) == 1 and contact.name in first[0].text and "Call now" in first[0].text
    assert [n for n in await notices() if n.call_now == callback_id] == []


async def test_two_workers_carry_out_each_callback_once(db) -> None:
    rep, people = await _setup(db, CallbackMode.CALL, contacts=3)
    ids = {await _book(db, rep, person, NOON_NY) for person in people}
    recorder = Recorder()
    telephony = recording_telephony(recorder)
    a, b = await asyncio.gather(
        booked_callbacks.run_due(db, telephony, now=NOON_NY),
        booked_callbacks.run_due(db, telephony, now=NOON_NY),
    )
    ran = [r.callback_id for r in a + b if r.callback_id in ids]
    assert sorted(ran) == sorted(ids)
    assert sorted(r.to_e164 for r in recorder.requests) == sorted(p.phone_e164 for p in people)


async def test_a_callback_left_running_by_a_dead_worker_is_not_dialled_again(db) -> None:
    rep, [contact] = await _setup(db, CallbackMode.CALL)
    callback_id = await _book(db, rep, contact, NOON_NY)
    async with db.session() as session:
        await session.execute(
            update(BookedCallback)
            .where(BookedCallback.id == callback_id)
            .values(status="running", claimed_until=NOON_NY)
        )
        await session.commit()
    recorder = Recorder()
    await booked_callbacks.run_due(
        db, recording_telephony(recorder), now=NOON_NY + timedelta(minutes=1)
    )
    assert recorder.requests == []
    assert (await _row(db, callback_id)).status == "reminded"


async def test_one_callback_per_call(db) -> None:
    rep, [contact] = await _setup(db, None)
    recorder = Recorder()
    from telephony import calls

    call = await calls.place_call(
        db, rep.actor, contact.id, recording_telephony(recorder), purpose="renewal", now=NOON_NY
    )
    async with db.session() as session:
        kwargs = dict(
            workspace_id=rep.actor.workspace_id,
            contact_id=contact.id,
            rep_id=rep.actor.user_id,
            call_id=call.id,
            source="call",
            purpose="x",
            due_at=NOON_NY,
        )
        first = await booked_callbacks.book(session, **kwargs)
        again = await booked_callbacks.book(session, **kwargs)
        await session.commit()
        count = len(
            (
                await session.scalars(
                    select(BookedCallback).where(BookedCallback.call_id == call.id)
                )
            ).all()
        )
    assert first is not None and again is None and count == 1


def test_an_unknown_callback_mode_is_refused() -> None:
    assert parse_mode("call") is CallbackMode.CALL
    assert parse_mode("reminder") is CallbackMode.REMIND
    with pytest.raises(CallSettingsError):
        parse_mode("sometimes")
