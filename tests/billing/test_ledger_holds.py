"""Holds: sizing, settlement (exactly once), release, expiry, and what they block."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from billing import ledger
from tests.billing.helpers import assert_invariants, new_key, set_frozen, snapshot

LATER = timedelta(hours=1)


async def funded(session, make_workspace, amount_mc: int) -> Any:
    ws = await make_workspace()
    await ledger.grant(session, ws, amount_mc=amount_mc, idempotency_key=new_key("g"), source="t")
    await session.commit()
    return ws


async def hold(session, ws, *, max_mc, min_mc=1, expires_at=None) -> Any:
    result = await ledger.place_hold(
        session,
        ws,
        max_mc=max_mc,
        min_mc=min_mc,
        idempotency_key=new_key("h"),
        expires_at=expires_at or datetime.now(UTC) + LATER,
    )
    await session.commit()
    return result


# --- placing ---------------------------------------------------------------------------


async def test_hold_is_sized_to_what_is_available(session, make_workspace):
    ws = await funded(session, make_workspace, 1000)
    result = await hold(session, ws, max_mc=5000, min_mc=100)
    assert (result.status, result.amount_mc, result.held_mc) == ("ok", 1000, 1000)
    assert result.available_mc == 0
    snap = await assert_invariants(session, ws)
    assert (snap.balance_mc, snap.held_mc) == (1000, 1000)


async def test_hold_is_capped_by_max(session, make_workspace):
    ws = await funded(session, make_workspace, 1000)
    first = await hold(session, ws, max_mc=300, min_mc=100)
    second = await hold(session, ws, max_mc=5000, min_mc=700)  # exactly the rest
    assert (first.amount_mc, second.amount_mc) == (300, 700)
    snap = await assert_invariants(session, ws)
    assert (snap.balance_mc, snap.held_mc) == (1000, 1000)


async def test_hold_below_min_is_refused(session, make_workspace):
    ws = await funded(session, make_workspace, 1000)
    await hold(session, ws, max_mc=800)
    before = await snapshot(session, ws)
    with pytest.raises(ledger.InsufficientCredits) as info:
        await hold(session, ws, max_mc=1000, min_mc=300)
    assert (info.value.needed_mc, info.value.available_mc) == (300, 200)
    assert str(info.value) == "Not enough credits: this needs 0.3 credits, 0.2 credits available."
    assert await snapshot(session, ws) == before
    await assert_invariants(session, ws)


async def test_holds_reduce_available_so_a_debit_cannot_spend_them(session, make_workspace):
    ws = await funded(session, make_workspace, 1000)
    await hold(session, ws, max_mc=800)
    with pytest.raises(ledger.InsufficientCredits) as info:
        await ledger.debit(session, ws, amount_mc=300, idempotency_key=new_key("d"), kind="query")
    assert (info.value.needed_mc, info.value.available_mc) == (300, 200)
    await session.commit()
    ok = await ledger.debit(session, ws, amount_mc=200, idempotency_key=new_key("d"), kind="query")
    await session.commit()
    assert (ok.balance_mc, ok.held_mc, ok.available_mc) == (800, 800, 0)
    snap = await assert_invariants(session, ws)
    assert (snap.balance_mc, snap.held_mc) == (800, 800)
    balance = await ledger.get_balance(session, ws)
    assert balance.available_mc == 0


# --- settling --------------------------------------------------------------------------


async def test_settle_debits_actual_and_releases_the_rest(session, make_workspace):
    ws = await funded(session, make_workspace, 5000)
    h = await hold(session, ws, max_mc=2000)
    key = new_key("settle")
    result = await ledger.settle_hold(
        session, h.hold_id, actual_mc=1200, idempotency_key=key, kind="call"
    )
    await session.commit()
    assert (result.status, result.amount_mc, result.balance_mc, result.held_mc) == (
        "ok",
        -1200,
        3800,
        0,
    )
    entry = (await ledger.recent_entries(session, ws, limit=1))[0]
    assert (entry.id, entry.kind, entry.amount_mc, entry.hold_id) == (
        result.entry_id,
        "call",
        -1200,
        h.hold_id,
    )
    assert entry.idempotency_key == key
    snap = await assert_invariants(session, ws)
    assert snap.holds == ((h.hold_id, "settled", 2000, 1200),)
    assert (snap.balance_mc, snap.held_mc) == (3800, 0)


async def test_settle_twice_charges_once(session, make_workspace):
    ws = await funded(session, make_workspace, 5000)
    h = await hold(session, ws, max_mc=2000)
    key = new_key("settle")
    first = await ledger.settle_hold(
        session, h.hold_id, actual_mc=1500, idempotency_key=key, kind="call"
    )
    await session.commit()
    again_same_key = await ledger.settle_hold(
        session, h.hold_id, actual_mc=1500, idempotency_key=key, kind="call"
    )
    again_new_key = await ledger.settle_hold(
        session, h.hold_id, actual_mc=1900, idempotency_key=new_key("s"), kind="call"
    )
    released = await ledger.release_hold(session, h.hold_id)
    await session.commit()
    assert first.status == "ok"
    for later in (again_same_key, again_new_key, released):
        assert (later.status, later.duplicate) == ("already_resolved", True)
    assert again_same_key.entry_id == first.entry_id
    assert again_same_key.amount_mc == -1500
    snap = await assert_invariants(session, ws)
    assert (snap.balance_mc, snap.held_mc) == (3500, 0)
    assert len([e for e in snap.entries if e[2] < 0]) == 1
    assert snap.holds == ((h.hold_id, "settled", 2000, 1500),)


async def test_settle_concurrently_from_two_connections_charges_once(db, make_workspace):
    for same_key in (True, False):
        async with db.session() as s:
            ws = await funded(s, make_workspace, 5000)
            h = await hold(s, ws, max_mc=2000)
        shared = new_key("settle")

        async def settle(hold_id=h.hold_id, shared=shared, same_key=same_key) -> Any:
            async with db.session() as s:
                result = await ledger.settle_hold(
                    s,
                    hold_id,
                    actual_mc=1500,
                    idempotency_key=shared if same_key else new_key("s"),
                    kind="call",
                )
                await s.commit()
                return result

        results = await asyncio.gather(settle(), settle())
        assert sorted(r.status for r in results) == ["already_resolved", "ok"]
        async with db.session() as s:
            snap = await assert_invariants(s, ws)
        assert (snap.balance_mc, snap.held_mc) == (3500, 0)
        assert len([e for e in snap.entries if e[2] < 0]) == 1


async def test_settle_for_more_than_the_hold_charges_only_the_hold(session, make_workspace):
    ws = await funded(session, make_workspace, 5000)
    h = await hold(session, ws, max_mc=1000)
    result = await ledger.settle_hold(
        session, h.hold_id, actual_mc=4000, idempotency_key=new_key("s"), kind="call"
    )
    await session.commit()
    assert (result.amount_mc, result.balance_mc, result.held_mc) == (-1000, 4000, 0)
    entry = (await ledger.recent_entries(session, ws, limit=1))[0]
    assert entry.amount_mc == -1000
    assert entry.metadata_["hold_mc"] == 1000
    assert entry.metadata_["requested_mc"] == 4000
    snap = await assert_invariants(session, ws)
    assert snap.holds == ((h.hold_id, "settled", 1000, 1000),)


async def test_settle_with_zero_moves_nothing_and_writes_no_entry(session, make_workspace):
    ws = await funded(session, make_workspace, 5000)
    h = await hold(session, ws, max_mc=1000)
    before = await snapshot(session, ws)
    key = new_key("settle0")
    result = await ledger.settle_hold(
        session, h.hold_id, actual_mc=0, idempotency_key=key, kind="call"
    )
    await session.commit()
    assert (result.status, result.entry_id, result.amount_mc) == ("ok", None, 0)
    snap = await assert_invariants(session, ws)
    assert snap.entries == before.entries
    assert snap.grants_remaining == before.grants_remaining
    assert (snap.balance_mc, snap.held_mc) == (5000, 0)
    assert snap.holds == ((h.hold_id, "settled", 1000, 0),)
    count = await session.scalar(
        text("SELECT count(*) FROM ledger_entries WHERE idempotency_key = :k"), {"k": key}
    )
    assert count == 0


async def test_unknown_hold_is_not_found(session):
    with pytest.raises(ledger.HoldNotFound):
        await ledger.settle_hold(
            session, 2**62, actual_mc=10, idempotency_key=new_key("s"), kind="call"
        )
    with pytest.raises(ledger.HoldNotFound):
        await ledger.release_hold(session, 2**62)
    await session.rollback()


# --- releasing and expiring -------------------------------------------------------------


async def test_release_returns_the_credits_once(session, make_workspace):
    ws = await funded(session, make_workspace, 3000)
    h = await hold(session, ws, max_mc=2000)
    released = await ledger.release_hold(session, h.hold_id)
    await session.commit()
    assert (released.status, released.amount_mc, released.held_mc) == ("ok", 2000, 0)
    again = await ledger.release_hold(session, h.hold_id)
    settle = await ledger.settle_hold(
        session, h.hold_id, actual_mc=500, idempotency_key=new_key("s"), kind="call"
    )
    await session.commit()
    assert again.status == settle.status == "already_resolved"
    snap = await assert_invariants(session, ws)
    assert (snap.balance_mc, snap.held_mc) == (3000, 0)
    assert snap.holds == ((h.hold_id, "released", 2000, 0),)
    assert len(snap.entries) == 1  # just the grant


async def test_expire_holds_releases_only_holds_past_expiry(session, make_workspace):
    ws = await funded(session, make_workspace, 3000)
    t0 = datetime.now(UTC)
    soon = await hold(session, ws, max_mc=500, expires_at=t0 + timedelta(minutes=1))
    at_cutoff = await hold(session, ws, max_mc=400, expires_at=t0 + timedelta(minutes=10))
    late = await hold(session, ws, max_mc=700, expires_at=t0 + timedelta(hours=2))
    settled = await hold(session, ws, max_mc=300, expires_at=t0 + timedelta(minutes=1))
    await ledger.settle_hold(
        session, settled.hold_id, actual_mc=100, idempotency_key=new_key("s"), kind="call"
    )
    await session.commit()

    expired = await ledger.expire_holds(session, now=t0 + timedelta(minutes=10))
    await session.commit()
    mine = {soon.hold_id, at_cutoff.hold_id, late.hold_id, settled.hold_id}
    assert set(expired) & mine == {soon.hold_id, at_cutoff.hold_id}

    snap = await assert_invariants(session, ws)
    statuses = {hold_id: status for hold_id, status, _, _ in snap.holds}
    assert statuses == {
        soon.hold_id: "expired",
        at_cutoff.hold_id: "expired",
        late.hold_id: "open",
        settled.hold_id: "settled",
    }
    assert (snap.balance_mc, snap.held_mc) == (2900, 700)

    # Expiring again is a no-op for the already expired holds.
    again = await ledger.expire_holds(session, now=t0 + timedelta(minutes=10))
    await session.commit()
    assert not set(again) & mine
    assert (await assert_invariants(session, ws)).held_mc == 700


# --- frozen accounts -----------------------------------------------------------------------


async def test_frozen_account_refuses_debits_and_holds(session, make_workspace):
    ws = await funded(session, make_workspace, 3000)
    await set_frozen(session, ws)
    before = await snapshot(session, ws)
    with pytest.raises(ledger.AccountFrozen):
        await ledger.debit(session, ws, amount_mc=100, idempotency_key=new_key("d"), kind="query")
    with pytest.raises(ledger.AccountFrozen):
        await hold(session, ws, max_mc=100)
    await session.commit()
    assert await snapshot(session, ws) == before
    # Thawed, the same operations go through.
    await set_frozen(session, ws, frozen=False)
    await ledger.debit(session, ws, amount_mc=100, idempotency_key=new_key("d"), kind="query")
    await hold(session, ws, max_mc=100)
    snap = await assert_invariants(session, ws)
    assert (snap.balance_mc, snap.held_mc) == (2900, 100)
