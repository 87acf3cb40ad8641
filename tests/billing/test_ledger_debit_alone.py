"""`ledger.debit_alone`: the debit as its own transaction keeps every guarantee of
`ledger.debit` — one movement per key, never below zero, invariants intact — and is
committed as it returns, with no session and no COMMIT of the caller's."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from billing import ledger
from core.db import Database
from tests.billing.helpers import assert_invariants, new_key

PRICE_MC = 500
AFFORDABLE = 10


async def _funded(db: Database, make_workspace, amount_mc: int):
    ws = await make_workspace()
    async with db.session() as s:
        await ledger.grant(s, ws, amount_mc=amount_mc, idempotency_key=new_key("g"), source="t")
        await s.commit()
    return ws


async def test_a_debit_alone_is_committed_as_it_returns(db, make_workspace):
    ws = await _funded(db, make_workspace, 2_000)
    res = await ledger.debit_alone(
        db, ws, amount_mc=PRICE_MC, idempotency_key=new_key("d"), kind="query"
    )
    assert (res.status, res.amount_mc, res.balance_mc, res.held_mc) == ("ok", -PRICE_MC, 1_500, 0)
    async with db.session() as s:  # another connection sees it at once
        snap = await assert_invariants(s, ws)
    assert snap.balance_mc == 1_500
    assert [e[1:] for e in snap.entries] == [("grant", 2_000), ("query", -PRICE_MC)]


async def test_sixteen_concurrent_debits_alone_cannot_overdraw(db, make_workspace):
    ws = await _funded(db, make_workspace, AFFORDABLE * PRICE_MC)
    keys = [new_key(f"d{i}") for i in range(16)]
    results = await asyncio.gather(
        *(
            ledger.debit_alone(db, ws, amount_mc=PRICE_MC, idempotency_key=k, kind="query")
            for k in keys
        ),
        return_exceptions=True,
    )
    ok = [r for r in results if isinstance(r, ledger.LedgerResult)]
    refused = [r for r in results if isinstance(r, ledger.InsufficientCredits)]
    assert len(ok) == AFFORDABLE and len(refused) == 16 - AFFORDABLE, results
    assert sorted(r.balance_mc for r in ok) == [PRICE_MC * k for k in range(AFFORDABLE)]
    async with db.session() as s:
        snap = await assert_invariants(s, ws)
    assert (snap.balance_mc, snap.held_mc) == (0, 0)


async def test_one_key_sent_eight_times_at_once_moves_money_once(db, make_workspace):
    ws = await _funded(db, make_workspace, 5_000)
    key = new_key("same")
    results = await asyncio.gather(
        *(
            ledger.debit_alone(db, ws, amount_mc=PRICE_MC, idempotency_key=key, kind="query")
            for _ in range(8)
        )
    )
    assert sorted(r.status for r in results) == ["duplicate"] * 7 + ["ok"]
    assert len({r.entry_id for r in results}) == 1
    async with db.session() as s:
        snap = await assert_invariants(s, ws)
    assert snap.balance_mc == 5_000 - PRICE_MC


async def test_a_key_reused_for_another_amount_is_a_conflict(db, make_workspace):
    ws = await _funded(db, make_workspace, 5_000)
    key = new_key("reused")
    await ledger.debit_alone(db, ws, amount_mc=PRICE_MC, idempotency_key=key, kind="query")
    with pytest.raises(ledger.IdempotencyConflict):
        await ledger.debit_alone(db, ws, amount_mc=2 * PRICE_MC, idempotency_key=key, kind="query")


async def test_a_frozen_account_refuses_a_debit_alone(db, make_workspace):
    ws = await _funded(db, make_workspace, 5_000)
    async with db.session() as s:
        await s.execute(
            text("UPDATE credit_accounts SET frozen = true WHERE workspace_id = :ws"), {"ws": ws}
        )
        await s.commit()
    with pytest.raises(ledger.AccountFrozen):
        await ledger.debit_alone(
            db, ws, amount_mc=PRICE_MC, idempotency_key=new_key("f"), kind="query"
        )
    async with db.session() as s:
        assert (await assert_invariants(s, ws)).balance_mc == 5_000


@pytest.mark.parametrize("amount", [-500, 0, 2.5, "500", True])
async def test_a_bad_amount_is_refused_before_the_database_is_touched(make_workspace, amount):
    # Nothing listens on port 1: touching this database would fail otherwise.
    nowhere = Database(url=make_url("postgresql+psycopg://nobody@127.0.0.1:1/none"), embedded=False)
    with pytest.raises(ledger.InvalidLedgerArgument):
        await ledger.debit_alone(
            nowhere,
            await make_workspace(),
            amount_mc=amount,
            idempotency_key=new_key("bad"),
            kind="query",
        )
    assert nowhere._functions is None  # no pool was even opened
