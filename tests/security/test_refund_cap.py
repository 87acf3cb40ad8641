"""Attack: take back more than a purchase granted (issue 15, item 5).

A second full refund of the same Paddle transaction used to take another purchase's
credits, and a refund followed by a chargeback took the purchase twice. Over all of a
transaction's adjustments (refund, chargeback, credit) what is taken back is at most
what the transaction granted; chargeback_reverse / credit_reverse give back only what
was taken. The ledger enforces it under the grant's row lock, so concurrent
take-backs cannot race past the cap either."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from billing import ledger, webhooks
from billing.paddle import events
from billing.paddle.signature import sign
from tests.billing.helpers import assert_invariants, new_key
from tests.billing.paddle_helpers import balance_mc, checkout, new_member, transaction_event

STARTER_MC = 500_000
SECRET = "refund-cap-test-secret"


async def _deliver(db, event: dict[str, Any]) -> webhooks.Receipt:
    """Paddle's webhook path minus HTTP: verify, store, apply."""
    body = events.dumps(event)
    return await webhooks.receive(
        db, body, sign(body, [SECRET], ts=int(time.time())), secret=SECRET, tolerance_s=300
    )


async def _bought(db, actor):
    txn = await checkout(db, actor)
    receipt = await _deliver(db, transaction_event(txn, "transaction.completed", "completed"))
    assert receipt.status_code == 200
    async with db.session() as session:
        from billing.models import PaddleTransaction

        found = await session.get(PaddleTransaction, txn.id)
        assert found is not None and found.grant_entry_id is not None
        return found


def _adjustment(txn, action: str, *, total: int | None = None) -> dict[str, Any]:
    return events.envelope(
        "adjustment.updated",
        events.adjustment_data(
            txn_id=txn.id,
            action=action,
            status="approved",
            currency=txn.currency,
            total_cents=total if total is not None else int(txn.estimate["total"]),
            full=total is None,
        ),
    )


async def _two_purchases(db):
    actor = await new_member(db)
    first = await _bought(db, actor)
    await _bought(db, actor)
    assert await balance_mc(db, actor) == 2 * STARTER_MC
    return actor, first


async def _taken_back(db, txn) -> tuple[int, int, int]:
    async with db.session() as session:
        row = (
            await session.execute(
                text(
                    "SELECT refunded_mc, charged_back_mc, credited_back_mc FROM credit_grants"
                    " WHERE entry_id = :e"
                ),
                {"e": txn.grant_entry_id},
            )
        ).one()
    return tuple(row)


async def _consistent(db, actor) -> None:
    async with db.session() as session:
        await assert_invariants(session, actor.workspace_id)


async def test_a_second_full_refund_takes_nothing_more(db):
    actor, first = await _two_purchases(db)
    assert (await _deliver(db, _adjustment(first, "refund"))).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC
    # A second, distinct refund adjustment for the same transaction.
    assert (await _deliver(db, _adjustment(first, "refund"))).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC  # the other purchase is untouched
    assert await _taken_back(db, first) == (STARTER_MC, 0, 0)
    await _consistent(db, actor)


async def test_refund_then_chargeback_takes_the_purchase_once(db):
    actor, first = await _two_purchases(db)
    assert (await _deliver(db, _adjustment(first, "refund"))).status_code == 200
    assert (await _deliver(db, _adjustment(first, "chargeback"))).status_code == 200
    async with db.session() as session:
        balance = await ledger.get_balance(session, actor.workspace_id)
    assert (balance.balance_mc, balance.frozen, balance.debt_mc) == (STARTER_MC, False, 0)
    assert await _taken_back(db, first) == (STARTER_MC, 0, 0)
    # Nothing was charged back, so a reversal gives nothing back.
    assert (await _deliver(db, _adjustment(first, "chargeback_reverse"))).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC
    await _consistent(db, actor)


async def test_partial_adjustments_add_up_to_the_purchase_at_most(db):
    actor, first = await _two_purchases(db)
    total = int(first.estimate["total"])
    most = total * 6 // 10
    for action in ("refund", "credit", "chargeback"):
        assert (await _deliver(db, _adjustment(first, action, total=most))).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC
    refunded, charged, credited = await _taken_back(db, first)
    assert refunded + charged + credited == STARTER_MC
    assert charged == 0  # the first two already took the whole purchase
    await _consistent(db, actor)


async def test_reversals_give_back_only_what_was_taken(db):
    actor, first = await _two_purchases(db)
    assert (await _deliver(db, _adjustment(first, "chargeback"))).status_code == 200
    assert (await _deliver(db, _adjustment(first, "credit"))).status_code == 200  # capped: 0
    assert await balance_mc(db, actor) == STARTER_MC
    assert (await _deliver(db, _adjustment(first, "credit_reverse"))).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC  # the credit took nothing
    for _ in range(2):  # two reversals of one chargeback: given back once
        assert (await _deliver(db, _adjustment(first, "chargeback_reverse"))).status_code == 200
    assert await balance_mc(db, actor) == 2 * STARTER_MC
    # Reversed, the purchase may be taken back again — once.
    for _ in range(2):
        assert (await _deliver(db, _adjustment(first, "refund"))).status_code == 200
    assert await balance_mc(db, actor) == STARTER_MC
    assert await _taken_back(db, first) == (STARTER_MC, 0, 0)
    await _consistent(db, actor)


async def test_concurrent_take_backs_cannot_race_past_the_cap(db):
    """Eight full take-backs of one grant at once, each in its own transaction."""
    actor = await new_member(db)
    ws = actor.workspace_id
    async with db.session() as session:
        lots = []
        for _ in range(3):
            lot = await ledger.grant(
                session,
                ws,
                amount_mc=STARTER_MC,
                idempotency_key=new_key("buy"),
                source="purchase",
            )
            lots.append(lot)
        await session.commit()
    target = lots[0].entry_id
    assert target is not None

    async def take(kind: str) -> int:
        async with db.session() as session:
            result = await ledger.claw_back(
                session,
                ws,
                amount_mc=STARTER_MC,
                idempotency_key=new_key(kind),
                kind=kind,
                from_grant_entry=target,  # type: ignore[arg-type]
            )
            await session.commit()
            return -result.amount_mc

    kinds = ["refund", "chargeback", "credit_note", "refund"] * 2
    taken = await asyncio.gather(*(take(kind) for kind in kinds))
    assert sum(taken) == STARTER_MC, taken
    assert await balance_mc(db, actor) == 2 * STARTER_MC
    async with db.session() as session:
        await assert_invariants(session, ws)


async def test_the_database_refuses_a_grant_losing_more_than_it_granted(db):
    """The cap is a CHECK on the grant, not only a rule in the functions."""
    actor = await new_member(db)
    async with db.session() as session:
        lot = await ledger.grant(
            session,
            actor.workspace_id,
            amount_mc=1000,
            idempotency_key=new_key("buy"),
            source="purchase",
        )
        await session.commit()
        with pytest.raises(DBAPIError, match="ck_credit_grants_taken_back"):
            await session.execute(
                text(
                    "UPDATE credit_grants SET refunded_mc = 600, charged_back_mc = 401"
                    " WHERE entry_id = :e"
                ),
                {"e": lot.entry_id},
            )
        await session.rollback()


async def test_a_reversal_cannot_bypass_the_grant(db):
    """ledger_credit no longer mints a chargeback_reverse lot unconnected to a grant."""
    actor = await new_member(db)
    async with db.session() as session:
        with pytest.raises(DBAPIError, match="ledger_credit only grants"):
            await session.execute(
                text(
                    "SELECT * FROM ledger_credit(:ws, :key, 'chargeback_reverse', 5000,"
                    " 'chargeback_reverse', NULL, '', '{}'::jsonb)"
                ),
                {"ws": actor.workspace_id, "key": new_key("cbr")},
            )
        await session.rollback()
    assert await balance_mc(db, actor) == 0
