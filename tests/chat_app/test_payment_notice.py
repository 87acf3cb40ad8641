"""A payment that lands is announced in the open chat with the new balance (issue 18,
item 10): Paddle's signed webhook grants the credits and publishes on `ks_notices` in
the same transaction, so an open chat's watch — on any process, here one whose periodic
re-read is an hour away — wakes on the NOTIFY and says what was bought, by whom, and
the balance; each member is told once; the balance badge's JSON says the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from accounts.models import Role
from accounts.service import Actor
from chat_app import notifications
from chat_app.balance import BALANCE_PATH
from chat_app.balance import router as balance_router
from core import events
from core.db import Database
from core.supervisor import Backoff
from tests.accounts.helpers import client, make_member, sign_in
from tests.billing.paddle_helpers import apost, checkout, transaction_event
from tests.telephony.helpers import fund
from tests.web import InProcess

WAIT_S = 60  # a guard against a hang only: the wait ends on the notice
HOUR_S = 3600.0
FAST = Backoff(initial_s=0.05, max_s=0.2, jitter=0.0)


@pytest.fixture
async def warm(db: Database) -> None:
    """One checkout before the loop is watched (tests/stall.py): the first one in a
    process loads the simulated tax table, which blocks — not what is under test."""
    await checkout(db, (await make_member(db, Role.MANAGER)).actor)


async def _watch(db: Database, listener: events.EventListener, actor: Actor) -> tuple:
    got: asyncio.Queue[notifications.Notice] = asyncio.Queue()

    async def send(notice: notifications.Notice) -> None:
        await got.put(notice)

    task = asyncio.create_task(
        notifications.watch(
            db,
            listener,
            send,
            user_id=actor.user_id,
            workspace_id=actor.workspace_id,
            low_balance_mc=1_000,
            resync_s=HOUR_S,
        )
    )
    return task, got


async def test_a_payment_is_announced_in_the_open_chat_with_the_new_balance(
    db: Database, warm: None, web: InProcess
) -> None:
    buyer = await make_member(db, Role.MANAGER)
    teammate = await make_member(db, Role.REP, workspace_id=buyer.actor.workspace_id)
    await fund(db, buyer.actor.workspace_id, 0.5)  # low: the watch's first read says so
    listener = events.EventListener(db.libpq_url, backoff=FAST)
    listener.start()
    assert await listener.wait_connected(WAIT_S)
    task, got = await _watch(db, listener, buyer.actor)
    try:
        # Its first read: the low balance. Now it waits for an event (or an hour).
        first = await asyncio.wait_for(got.get(), WAIT_S)
        assert first.key.startswith("low-balance:")
        txn = await checkout(db, buyer.actor)
        paid = await apost(web, transaction_event(txn, "transaction.paid", "paid"))
        assert paid.status_code == 200
        notice = await asyncio.wait_for(got.get(), WAIT_S)
    finally:
        task.cancel()
        await listener.stop()
    assert notice.key.startswith("payment:")
    assert "**Payment received**: Starter — 500 credits added (bought by you)" in notice.text
    assert "Balance: **500.5 credits**." in notice.text

    async with db.session() as session:  # the buyer was told: not again
        again = await notifications.due_notices(
            session,
            user_id=buyer.actor.user_id,
            workspace_id=buyer.actor.workspace_id,
            since=datetime.now(UTC),
            low_balance_mc=0,
        )
        theirs = await notifications.due_notices(
            session,
            user_id=teammate.actor.user_id,
            workspace_id=buyer.actor.workspace_id,
            since=datetime.now(UTC),
            low_balance_mc=0,
        )
    assert again == []
    (told,) = theirs  # a teammate opening the chat later is told, by the buyer's name
    assert f"(bought by {buyer.actor.name})" in told.text and "500 credits added" in told.text


async def test_the_balance_badge_reads_the_callers_own_workspace(
    db: Database, warm: None, web: InProcess
) -> None:
    if not any(getattr(r, "path", None) == BALANCE_PATH for r in web.app.routes):
        web.app.include_router(balance_router)
    member = await make_member(db, Role.MANAGER)
    txn = await checkout(db, member.actor)
    assert (await apost(web, transaction_event(txn, "transaction.paid", "paid"))).status_code == 200
    async with client(web) as http:
        anonymous = await http.get(BALANCE_PATH)
        assert anonymous.status_code == 401
        await sign_in(http, db, member)
        mine = await http.get(BALANCE_PATH)
    assert mine.status_code == 200 and mine.headers["cache-control"] == "no-store"
    assert mine.json() == {
        "balance": "500",
        "available": "500",
        "held": "0",
        "frozen": False,
        "label": "Balance: 500 credits",
    }


async def test_a_workspace_never_funded_is_not_told_its_balance_is_low(db: Database) -> None:
    owner = await make_member(db, Role.MANAGER)
    async with db.session() as session:
        due = await notifications.due_notices(
            session,
            user_id=owner.actor.user_id,
            workspace_id=owner.actor.workspace_id,
            since=datetime.now(UTC),
            low_balance_mc=100_000,
        )
    assert due == []
