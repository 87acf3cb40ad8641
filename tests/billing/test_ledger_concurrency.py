"""No debit (or hold) takes the balance below zero, however many connections race.

The workers are real OS threads, each with its own event loop, engine and database
connection (`tests.billing.helpers.race`). In the gated runs the test holds the
account's row lock until all sixteen are inside PostgreSQL waiting on it, so they
are provably in flight at the same moment; the ungated runs just start together at
a barrier and race freely.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing import ledger
from tests.billing.helpers import assert_invariants, new_key, race

WORKERS = 16
PRICE_MC = 500
AFFORDABLE = 10  # the account can pay for exactly this many debits


@pytest.mark.parametrize("gated", [True, False], ids=["all-blocked-together", "free-race"])
async def test_sixteen_workers_cannot_overdraw(db, make_workspace, gated):
    ws = await make_workspace()
    async with db.session() as s:
        # Two grants, so the debits also have to split across lots correctly.
        await ledger.grant(s, ws, amount_mc=3 * PRICE_MC, idempotency_key=new_key("g"), source="t")
        await ledger.grant(
            s,
            ws,
            amount_mc=(AFFORDABLE - 3) * PRICE_MC,
            idempotency_key=new_key("g"),
            source="t",
            expires_at=datetime.now(UTC) + timedelta(days=30),
        )
        await s.commit()
    keys = [new_key(f"debit{i}") for i in range(WORKERS)]

    async def op(s, i):
        return await ledger.debit(s, ws, amount_mc=PRICE_MC, idempotency_key=keys[i], kind="query")

    results, blocked = await race(db, WORKERS, op, gate_ws=ws if gated else None)

    successes = [r for r in results if isinstance(r, ledger.LedgerResult)]
    refusals = [r for r in results if isinstance(r, ledger.InsufficientCredits)]
    others = [r for r in results if r not in successes and r not in refusals]
    assert others == [], others
    assert len(successes) == AFFORDABLE
    assert len(refusals) == WORKERS - AFFORDABLE
    assert all(r.status == "ok" and r.amount_mc == -PRICE_MC for r in successes)
    # Serialised: the balances after the successful debits are each value exactly once.
    assert sorted(r.balance_mc for r in successes) == [PRICE_MC * k for k in range(AFFORDABLE)]
    for refusal in refusals:
        assert (refusal.needed_mc, refusal.available_mc) == (PRICE_MC, 0)
        assert str(refusal) == "Not enough credits: this needs 0.5 credits, 0 credits available."

    async with db.session() as s:
        snap = await assert_invariants(s, ws)
        assert (snap.balance_mc, snap.held_mc) == (0, 0)
        debits = [e for e in snap.entries if e[2] < 0]
        assert len(debits) == AFFORDABLE
        assert all(remaining == 0 for _, remaining in snap.grants_remaining)
    if gated:
        assert blocked == WORKERS, f"only {blocked} of {WORKERS} workers were in flight together"


async def test_sixteen_workers_on_a_brand_new_account(db, make_workspace):
    """The very first operations on a workspace race to create its account row; all of
    them find no money and none of them errors any other way."""
    ws = await make_workspace()

    async def op(s, i):
        return await ledger.debit(
            s, ws, amount_mc=PRICE_MC, idempotency_key=new_key(f"d{i}"), kind="query"
        )

    results, _ = await race(db, WORKERS, op)
    assert all(isinstance(r, ledger.InsufficientCredits) for r in results), results
    async with db.session() as s:
        snap = await assert_invariants(s, ws)
        assert (snap.balance_mc, snap.entries) == (0, ())


async def test_concurrent_holds_and_debits_share_the_available_credits(db, make_workspace):
    """Eight workers place fixed-size holds while eight debit, all blocked together on
    an account that covers exactly ten of them: ten succeed, available stays >= 0."""
    ws = await make_workspace()
    async with db.session() as s:
        await ledger.grant(
            s, ws, amount_mc=AFFORDABLE * PRICE_MC, idempotency_key=new_key("g"), source="t"
        )
        await s.commit()
    expires = datetime.now(UTC) + timedelta(hours=1)

    async def op(s, i):
        if i % 2:
            return await ledger.place_hold(
                s,
                ws,
                max_mc=PRICE_MC,
                min_mc=PRICE_MC,
                idempotency_key=new_key(f"h{i}"),
                expires_at=expires,
            )
        return await ledger.debit(
            s, ws, amount_mc=PRICE_MC, idempotency_key=new_key(f"d{i}"), kind="call"
        )

    results, blocked = await race(db, WORKERS, op, gate_ws=ws)
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, ledger.InsufficientCredits)]
    assert (len(ok), len(refused)) == (AFFORDABLE, WORKERS - AFFORDABLE), results
    holds = [r for r in ok if isinstance(r, ledger.HoldResult)]
    debits = [r for r in ok if isinstance(r, ledger.LedgerResult)]
    async with db.session() as s:
        snap = await assert_invariants(s, ws)
    assert snap.held_mc == PRICE_MC * len(holds)
    assert snap.balance_mc == AFFORDABLE * PRICE_MC - PRICE_MC * len(debits)
    assert snap.available_mc == 0
    assert blocked == WORKERS


async def test_concurrent_settle_and_release_of_one_hold(db, make_workspace):
    """Two connections settle, one releases, one settles again — all at the same
    moment, against the same hold. Exactly one of them resolves it."""
    ws = await make_workspace()
    async with db.session() as s:
        await ledger.grant(s, ws, amount_mc=5000, idempotency_key=new_key("g"), source="t")
        hold = await ledger.place_hold(
            s,
            ws,
            max_mc=2000,
            min_mc=2000,
            idempotency_key=new_key("h"),
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
        await s.commit()
    hold_id = hold.hold_id
    assert hold_id is not None

    async def op(s, i):
        if i == 2:
            return await ledger.release_hold(s, hold_id)
        return await ledger.settle_hold(
            s, hold_id, actual_mc=1200, idempotency_key=new_key(f"s{i}"), kind="call"
        )

    results, blocked = await race(db, 4, op, gate_ws=ws)
    assert not [r for r in results if isinstance(r, Exception)], results
    statuses = sorted(r.status for r in results)
    assert statuses == ["already_resolved"] * 3 + ["ok"]
    winner = next(i for i, r in enumerate(results) if r.status == "ok")
    async with db.session() as s:
        snap = await assert_invariants(s, ws)
    assert snap.held_mc == 0
    if winner == 2:  # the release won: nothing charged
        assert snap.balance_mc == 5000
        assert snap.holds[0][1:] == ("released", 2000, 0)
    else:
        assert snap.balance_mc == 5000 - 1200
        assert snap.holds[0][1:] == ("settled", 2000, 1200)
        assert len([e for e in snap.entries if e[2] < 0]) == 1
    assert blocked == 4
