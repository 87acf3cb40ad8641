"""Grants (lots) are consumed soonest-expiry-first, then oldest-first; grants without
an expiry last. Checked on `ledger_entry_grants` and `credit_grants.remaining_mc`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from billing import ledger
from tests.billing.helpers import assert_invariants, new_key


async def add_grant(session, ws, amount_mc, expires_at=None) -> int:
    """Grant in its own transaction (so created_at differs); returns the grant id."""
    result = await ledger.grant(
        session,
        ws,
        amount_mc=amount_mc,
        idempotency_key=new_key("g"),
        source="test",
        expires_at=expires_at,
    )
    await session.commit()
    return int(
        await session.scalar(
            text("SELECT id FROM credit_grants WHERE entry_id = :e"), {"e": result.entry_id}
        )
    )


async def allocations(session, entry_id) -> dict[int, int]:
    rows = await session.execute(
        text("SELECT grant_id, amount_mc FROM ledger_entry_grants WHERE entry_id = :e"),
        {"e": entry_id},
    )
    return {grant_id: amount for grant_id, amount in rows.all()}


async def remaining(session, ws: uuid.UUID) -> dict[int, int]:
    rows = await session.execute(
        text("SELECT id, remaining_mc FROM credit_grants WHERE workspace_id = :ws"), {"ws": ws}
    )
    return {grant_id: left for grant_id, left in rows.all()}


async def debit(session, ws, amount_mc) -> int:
    result = await ledger.debit(
        session, ws, amount_mc=amount_mc, idempotency_key=new_key("d"), kind="query"
    )
    await session.commit()
    assert result.entry_id is not None
    return result.entry_id


async def test_debits_consume_soonest_expiry_then_oldest_then_no_expiry(session, make_workspace):
    ws = await make_workspace()
    now = datetime.now(UTC)
    same_expiry = now + timedelta(days=1)
    # Created in an order that is NOT the consumption order.
    no_expiry_old = await add_grant(session, ws, 100)
    late = await add_grant(session, ws, 100, now + timedelta(days=30))
    soon_old = await add_grant(session, ws, 100, same_expiry)
    soon_new = await add_grant(session, ws, 100, same_expiry)
    no_expiry_new = await add_grant(session, ws, 100)
    soonest = await add_grant(session, ws, 100, now + timedelta(hours=1))

    first = await debit(session, ws, 250)
    assert await allocations(session, first) == {soonest: 100, soon_old: 100, soon_new: 50}
    assert await remaining(session, ws) == {
        soonest: 0,
        soon_old: 0,
        soon_new: 50,
        late: 100,
        no_expiry_old: 100,
        no_expiry_new: 100,
    }

    second = await debit(session, ws, 120)
    assert await allocations(session, second) == {soon_new: 50, late: 70}

    # A settled hold consumes grants in the same order.
    placed = await ledger.place_hold(
        session,
        ws,
        max_mc=200,
        min_mc=200,
        idempotency_key=new_key("h"),
        expires_at=now + timedelta(hours=1),
    )
    assert placed.hold_id is not None
    settled = await ledger.settle_hold(
        session, placed.hold_id, actual_mc=200, idempotency_key=new_key("s"), kind="call"
    )
    await session.commit()
    assert await allocations(session, settled.entry_id) == {
        late: 30,
        no_expiry_old: 100,
        no_expiry_new: 70,
    }

    last = await debit(session, ws, 30)
    assert await allocations(session, last) == {no_expiry_new: 30}
    assert set((await remaining(session, ws)).values()) == {0}
    snap = await assert_invariants(session, ws)
    assert snap.balance_mc == 0


async def test_same_expiry_is_consumed_oldest_first_by_creation_time(session, make_workspace):
    """The tie-break is created_at, not the id: backdate the newer grant (higher id)
    and it is consumed first."""
    ws = await make_workspace()
    expiry = datetime.now(UTC) + timedelta(days=7)
    lower_id = await add_grant(session, ws, 100, expiry)
    higher_id_but_older = await add_grant(session, ws, 100, expiry)
    lower_id_nx = await add_grant(session, ws, 100)
    higher_id_nx_but_older = await add_grant(session, ws, 100)
    await session.execute(
        text(
            "UPDATE credit_grants SET created_at = created_at - interval '1 day'"
            " WHERE id = ANY(:ids)"
        ),
        {"ids": [higher_id_but_older, higher_id_nx_but_older]},
    )
    await session.commit()

    first = await debit(session, ws, 150)
    assert await allocations(session, first) == {higher_id_but_older: 100, lower_id: 50}
    second = await debit(session, ws, 150)
    assert await allocations(session, second) == {lower_id: 50, higher_id_nx_but_older: 100}
    third = await debit(session, ws, 100)
    assert await allocations(session, third) == {lower_id_nx: 100}
    await assert_invariants(session, ws)


async def test_grants_in_one_transaction_are_consumed_in_id_order(session, make_workspace):
    ws = await make_workspace()
    entry_ids = []
    for _ in range(3):
        result = await ledger.grant(
            session, ws, amount_mc=100, idempotency_key=new_key("g"), source="t"
        )
        entry_ids.append(result.entry_id)
    await session.commit()
    grant_ids = [
        await session.scalar(text("SELECT id FROM credit_grants WHERE entry_id = :e"), {"e": e})
        for e in entry_ids
    ]
    entry = await debit(session, ws, 150)
    assert await allocations(session, entry) == {grant_ids[0]: 100, grant_ids[1]: 50}
    await assert_invariants(session, ws)


async def test_grant_records_the_lot(session, make_workspace):
    ws = await make_workspace()
    expires = datetime.now(UTC) + timedelta(days=5)
    result = await ledger.grant(
        session,
        ws,
        amount_mc=4321,
        idempotency_key=new_key("g"),
        source="purchase",
        expires_at=expires,
        description="Starter pack",
        metadata={"order": 17},
    )
    await session.commit()
    row = (
        await session.execute(
            text(
                "SELECT g.amount_mc, g.remaining_mc, g.source, g.expires_at, e.kind, e.amount_mc,"
                " e.balance_after_mc, e.description, e.metadata"
                " FROM credit_grants g JOIN ledger_entries e ON e.id = g.entry_id"
                " WHERE g.entry_id = :e"
            ),
            {"e": result.entry_id},
        )
    ).one()
    assert tuple(row) == (
        4321,
        4321,
        "purchase",
        expires,
        "grant",
        4321,
        4321,
        "Starter pack",
        {"order": 17},
    )
    await assert_invariants(session, ws)
