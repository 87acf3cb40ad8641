"""Idempotency: one key moves money once, sequentially and under concurrency; a key
reused for something else is refused with IdempotencyConflict and moves nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing import ledger
from tests.billing.helpers import (
    assert_invariants,
    count_entries_with_key,
    new_key,
    race,
    snapshot,
)

LATER = timedelta(hours=1)


# --- sequential -----------------------------------------------------------------------


async def test_grant_applied_twice_moves_money_once(session, make_workspace):
    ws = await make_workspace()
    key = new_key("grant")
    first = await ledger.grant(session, ws, amount_mc=3000, idempotency_key=key, source="t")
    await session.commit()
    second = await ledger.grant(session, ws, amount_mc=3000, idempotency_key=key, source="t")
    await session.commit()

    assert (first.status, first.balance_mc) == ("ok", 3000)
    assert (second.status, second.duplicate) == ("duplicate", True)
    assert second.entry_id == first.entry_id
    assert second.balance_mc == 3000
    assert await count_entries_with_key(session, key) == 1
    snap = await assert_invariants(session, ws)
    assert snap.balance_mc == 3000
    assert len(snap.grants_remaining) == 1


async def test_debit_applied_twice_moves_money_once(session, make_workspace):
    ws = await make_workspace()
    await ledger.grant(session, ws, amount_mc=2000, idempotency_key=new_key("g"), source="t")
    key = new_key("debit")
    first = await ledger.debit(session, ws, amount_mc=500, idempotency_key=key, kind="query")
    await session.commit()
    # Even in the same transaction as another attempt, and after the balance changed.
    await ledger.debit(session, ws, amount_mc=700, idempotency_key=new_key("d"), kind="call")
    second = await ledger.debit(session, ws, amount_mc=500, idempotency_key=key, kind="query")
    third = await ledger.debit(session, ws, amount_mc=500, idempotency_key=key, kind="query")
    await session.commit()

    assert (first.status, first.balance_mc) == ("ok", 1500)
    assert second.status == third.status == "duplicate"
    assert second.entry_id == third.entry_id == first.entry_id
    assert second.amount_mc == -500
    assert await count_entries_with_key(session, key) == 1
    snap = await assert_invariants(session, ws)
    assert snap.balance_mc == 2000 - 500 - 700


async def test_duplicate_debit_is_reported_even_when_balance_is_now_too_low(
    session, make_workspace
):
    """The key is checked before the balance: a retry of a debit that went through is
    a duplicate, not an InsufficientCredits."""
    ws = await make_workspace()
    await ledger.grant(session, ws, amount_mc=500, idempotency_key=new_key("g"), source="t")
    key = new_key("debit")
    await ledger.debit(session, ws, amount_mc=500, idempotency_key=key, kind="query")
    await session.commit()
    retry = await ledger.debit(session, ws, amount_mc=500, idempotency_key=key, kind="query")
    await session.commit()
    assert retry.status == "duplicate"
    assert (await assert_invariants(session, ws)).balance_mc == 0


async def test_hold_placed_twice_reserves_once(session, make_workspace):
    ws = await make_workspace()
    await ledger.grant(session, ws, amount_mc=5000, idempotency_key=new_key("g"), source="t")
    key = new_key("hold")
    expires = datetime.now(UTC) + LATER
    first = await ledger.place_hold(
        session, ws, max_mc=2000, min_mc=100, idempotency_key=key, expires_at=expires
    )
    await session.commit()
    second = await ledger.place_hold(
        session, ws, max_mc=2000, min_mc=100, idempotency_key=key, expires_at=expires
    )
    await session.commit()
    assert (first.status, second.status) == ("ok", "duplicate")
    assert (second.hold_id, second.amount_mc) == (first.hold_id, 2000)
    snap = await assert_invariants(session, ws)
    assert (snap.balance_mc, snap.held_mc) == (5000, 2000)
    assert len(snap.holds) == 1


async def test_failed_debit_does_not_burn_its_key(session, make_workspace):
    """An InsufficientCredits debit writes nothing, so the same key works once funded."""
    ws = await make_workspace()
    key = new_key("debit")
    with pytest.raises(ledger.InsufficientCredits):
        await ledger.debit(session, ws, amount_mc=500, idempotency_key=key, kind="query")
    await session.commit()
    assert await count_entries_with_key(session, key) == 0
    await ledger.grant(session, ws, amount_mc=500, idempotency_key=new_key("g"), source="t")
    result = await ledger.debit(session, ws, amount_mc=500, idempotency_key=key, kind="query")
    await session.commit()
    assert result.status == "ok"
    assert (await assert_invariants(session, ws)).balance_mc == 0


# --- conflicts ------------------------------------------------------------------------


async def test_key_reused_for_different_operation_or_amount_conflicts(session, make_workspace):
    ws = await make_workspace()
    other_ws = await make_workspace()
    grant_key, debit_key = new_key("grant"), new_key("debit")
    await ledger.grant(session, ws, amount_mc=3000, idempotency_key=grant_key, source="t")
    await ledger.debit(session, ws, amount_mc=500, idempotency_key=debit_key, kind="query")
    await session.commit()
    before = await snapshot(session, ws)
    other_before = await snapshot(session, other_ws)

    attempts: list[Callable[[], Awaitable[object]]] = [
        # same key, different amount
        lambda: ledger.grant(session, ws, amount_mc=3001, idempotency_key=grant_key, source="t"),
        lambda: ledger.debit(session, ws, amount_mc=501, idempotency_key=debit_key, kind="query"),
        # same key, different operation / kind
        lambda: ledger.debit(session, ws, amount_mc=3000, idempotency_key=grant_key, kind="debit"),
        lambda: ledger.grant(session, ws, amount_mc=500, idempotency_key=debit_key, source="t"),
        lambda: ledger.debit(session, ws, amount_mc=500, idempotency_key=debit_key, kind="call"),
        # same key, different workspace
        lambda: ledger.grant(
            session, other_ws, amount_mc=3000, idempotency_key=grant_key, source="t"
        ),
        lambda: ledger.debit(
            session, other_ws, amount_mc=500, idempotency_key=debit_key, kind="query"
        ),
    ]
    for attempt in attempts:
        with pytest.raises(ledger.IdempotencyConflict) as info:
            await attempt()
        assert info.value.key in (grant_key, debit_key)
        assert "already used" in str(info.value)
    await session.commit()

    assert await snapshot(session, ws) == before
    assert await snapshot(session, other_ws) == other_before
    assert await count_entries_with_key(session, grant_key) == 1
    assert await count_entries_with_key(session, debit_key) == 1
    await assert_invariants(session, ws)


async def test_settle_with_a_used_key_conflicts_and_leaves_the_hold_open(session, make_workspace):
    ws = await make_workspace()
    await ledger.grant(session, ws, amount_mc=3000, idempotency_key=new_key("g"), source="t")
    used = new_key("debit")
    await ledger.debit(session, ws, amount_mc=100, idempotency_key=used, kind="query")
    hold = await ledger.place_hold(
        session,
        ws,
        max_mc=1000,
        min_mc=1,
        idempotency_key=new_key("h"),
        expires_at=datetime.now(UTC) + LATER,
    )
    await session.commit()
    before = await snapshot(session, ws)
    assert hold.hold_id is not None
    with pytest.raises(ledger.IdempotencyConflict):
        await ledger.settle_hold(
            session, hold.hold_id, actual_mc=400, idempotency_key=used, kind="call"
        )
    await session.commit()
    assert await snapshot(session, ws) == before
    # The hold is still open and can be settled with a fresh key.
    ok = await ledger.settle_hold(
        session, hold.hold_id, actual_mc=400, idempotency_key=new_key("s"), kind="call"
    )
    await session.commit()
    assert ok.status == "ok"
    snap = await assert_invariants(session, ws)
    assert (snap.balance_mc, snap.held_mc) == (3000 - 100 - 400, 0)


async def test_hold_key_reused_in_another_workspace_conflicts(session, make_workspace):
    ws, other = await make_workspace(), await make_workspace()
    for w in (ws, other):
        await ledger.grant(session, w, amount_mc=1000, idempotency_key=new_key("g"), source="t")
    key = new_key("hold")
    expires = datetime.now(UTC) + LATER
    await ledger.place_hold(
        session, ws, max_mc=500, min_mc=1, idempotency_key=key, expires_at=expires
    )
    await session.commit()
    with pytest.raises(ledger.IdempotencyConflict):
        await ledger.place_hold(
            session, other, max_mc=500, min_mc=1, idempotency_key=key, expires_at=expires
        )
    await session.commit()
    snap = await assert_invariants(session, other)
    assert (snap.balance_mc, snap.held_mc, snap.holds) == (1000, 0, ())


# --- concurrent: two connections at the same moment ------------------------------------


@pytest.mark.parametrize("fresh_account", [True, False], ids=["new-account", "existing-account"])
async def test_same_grant_key_from_two_connections_at_once(db, make_workspace, fresh_account):
    """asyncio.gather over two sessions, i.e. two pooled connections. With a new
    account both calls also race to create the credit_accounts row."""
    for _ in range(5):
        ws = await make_workspace()
        if not fresh_account:
            async with db.session() as s:
                await ledger.grant(s, ws, amount_mc=1, idempotency_key=new_key("seed"), source="t")
                await s.commit()
        key = new_key("grant")

        async def attempt(ws=ws, key=key) -> Any:
            async with db.session() as s:
                result = await ledger.grant(s, ws, amount_mc=2500, idempotency_key=key, source="t")
                await s.commit()
                return result

        results = await asyncio.gather(attempt(), attempt())
        assert sorted(r.status for r in results) == ["duplicate", "ok"]
        assert results[0].entry_id == results[1].entry_id
        async with db.session() as s:
            assert await count_entries_with_key(s, key) == 1
            snap = await assert_invariants(s, ws)
            assert snap.balance_mc == 2500 + (0 if fresh_account else 1)


async def test_same_debit_key_from_two_connections_at_once(db, make_workspace):
    for _ in range(5):
        ws = await make_workspace()
        async with db.session() as s:
            await ledger.grant(s, ws, amount_mc=1000, idempotency_key=new_key("g"), source="t")
            await s.commit()
        key = new_key("debit")

        async def attempt(ws=ws, key=key) -> Any:
            async with db.session() as s:
                result = await ledger.debit(s, ws, amount_mc=600, idempotency_key=key, kind="call")
                await s.commit()
                return result

        results = await asyncio.gather(attempt(), attempt())
        assert sorted(r.status for r in results) == ["duplicate", "ok"]
        async with db.session() as s:
            assert await count_entries_with_key(s, key) == 1
            assert (await assert_invariants(s, ws)).balance_mc == 400


@pytest.mark.parametrize("operation", ["grant", "debit", "hold"])
async def test_same_key_from_many_threads_blocked_together(db, make_workspace, operation):
    """Eight OS threads, each with its own loop, engine and connection, all provably
    inside the database waiting on the account at the same moment, apply one key.
    Exactly one moves money; the others are duplicates."""
    ws = await make_workspace()
    async with db.session() as s:
        await ledger.grant(s, ws, amount_mc=10_000, idempotency_key=new_key("g"), source="t")
        await s.commit()
    key = new_key(operation)
    expires = datetime.now(UTC) + LATER

    async def op(s, _i):
        if operation == "grant":
            return await ledger.grant(s, ws, amount_mc=700, idempotency_key=key, source="t")
        if operation == "debit":
            return await ledger.debit(s, ws, amount_mc=700, idempotency_key=key, kind="call")
        return await ledger.place_hold(
            s, ws, max_mc=700, min_mc=700, idempotency_key=key, expires_at=expires
        )

    results, blocked = await race(db, 8, op, gate_ws=ws)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.status for r in results) == ["duplicate"] * 7 + ["ok"]
    assert blocked == 8, "the eight workers were not all in flight together"
    async with db.session() as s:
        snap = await assert_invariants(s, ws)
    expected = {
        "grant": (10_700, 0),
        "debit": (9_300, 0),
        "hold": (10_000, 700),
    }[operation]
    assert (snap.balance_mc, snap.held_mc) == expected
    assert len(snap.holds) == (1 if operation == "hold" else 0)


async def test_same_key_in_two_workspaces_at_once_one_wins(db, make_workspace):
    """Different workspaces do not share a row lock, so only the unique key decides:
    one grant goes through, the other is a conflict that moved nothing."""
    for _ in range(5):
        ws_a, ws_b = await make_workspace(), await make_workspace()
        key = new_key("grant")

        async def attempt(ws, key=key) -> Any:
            async with db.session() as s:
                try:
                    result = await ledger.grant(
                        s, ws, amount_mc=900, idempotency_key=key, source="t"
                    )
                except ledger.IdempotencyConflict as exc:
                    await s.rollback()
                    return exc
                await s.commit()
                return result

        results = await asyncio.gather(attempt(ws_a), attempt(ws_b))
        conflicts = [r for r in results if isinstance(r, ledger.IdempotencyConflict)]
        oks = [r for r in results if not isinstance(r, Exception) and r.status == "ok"]
        assert (len(oks), len(conflicts)) == (1, 1), results
        async with db.session() as s:
            balances = sorted(
                [
                    (await assert_invariants(s, ws_a)).balance_mc,
                    (await assert_invariants(s, ws_b)).balance_mc,
                ]
            )
            assert balances == [0, 900]
            assert await count_entries_with_key(s, key) == 1
