"""Refunds, chargebacks and their reversal in the ledger (migration 0006).

A refund takes back at most what is available, from the purchase's own lot first;
a chargeback takes it all, may leave a debt, and freezes the account; a reversal
pays the debt and unfreezes. The ledger invariants hold after every step."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from billing import ledger
from tests.billing.helpers import assert_invariants, new_key


async def _grant(session, ws, amount: int) -> int:
    result = await ledger.grant(
        session, ws, amount_mc=amount, idempotency_key=new_key("g"), source="purchase"
    )
    assert result.entry_id is not None
    return result.entry_id


async def _remaining(session, entry_id: int) -> int:
    return int(
        await session.scalar(
            text("SELECT remaining_mc FROM credit_grants WHERE entry_id = :e"), {"e": entry_id}
        )
    )


async def test_refund_takes_the_purchases_own_lot_first(session, make_workspace):
    ws = await make_workspace()
    first = await _grant(session, ws, 5000)
    second = await _grant(session, ws, 3000)
    result = await ledger.claw_back(
        session,
        ws,
        amount_mc=3000,
        idempotency_key=new_key("refund"),
        kind="refund",
        from_grant_entry=second,
    )
    await session.commit()
    assert (result.status, result.amount_mc, result.balance_mc) == ("ok", -3000, 5000)
    assert (await _remaining(session, first), await _remaining(session, second)) == (5000, 0)
    await assert_invariants(session, ws)


async def test_refund_of_spent_credits_takes_what_is_left_and_reports_it(session, make_workspace):
    ws = await make_workspace()
    bought = await _grant(session, ws, 5000)
    await ledger.debit(session, ws, amount_mc=3500, idempotency_key=new_key("d"), kind="call")
    result = await ledger.claw_back(
        session,
        ws,
        amount_mc=5000,
        idempotency_key=new_key("refund"),
        kind="refund",
        from_grant_entry=bought,
    )
    await session.commit()
    assert (result.amount_mc, result.balance_mc) == (-1500, 0)
    balance = await ledger.get_balance(session, ws)
    assert (balance.balance_mc, balance.frozen, balance.debt_mc) == (0, False, 0)
    await assert_invariants(session, ws)


async def test_refund_never_touches_credits_on_hold(session, make_workspace):
    ws = await make_workspace()
    bought = await _grant(session, ws, 5000)
    await ledger.place_hold(
        session,
        ws,
        max_mc=4000,
        min_mc=1000,
        idempotency_key=new_key("h"),
        expires_at=datetime(2099, 1, 1, tzinfo=UTC),
    )
    result = await ledger.claw_back(
        session,
        ws,
        amount_mc=5000,
        idempotency_key=new_key("r"),
        kind="refund",
        from_grant_entry=bought,
    )
    await session.commit()
    assert (result.amount_mc, result.balance_mc, result.held_mc) == (-1000, 4000, 4000)
    await assert_invariants(session, ws)


async def test_refund_with_nothing_available_moves_nothing(session, make_workspace):
    ws = await make_workspace()
    bought = await _grant(session, ws, 1000)
    await ledger.debit(session, ws, amount_mc=1000, idempotency_key=new_key("d"), kind="query")
    result = await ledger.claw_back(
        session,
        ws,
        amount_mc=1000,
        idempotency_key=new_key("r"),
        kind="refund",
        from_grant_entry=bought,
    )
    await session.commit()
    assert (result.status, result.entry_id, result.amount_mc) == ("ok", None, 0)
    await assert_invariants(session, ws)


async def test_the_same_refund_key_moves_money_once(session, make_workspace):
    ws = await make_workspace()
    bought = await _grant(session, ws, 5000)
    key = new_key("refund")
    for _ in range(3):
        result = await ledger.claw_back(
            session,
            ws,
            amount_mc=2000,
            idempotency_key=key,
            kind="refund",
            from_grant_entry=bought,
        )
    await session.commit()
    assert (result.status, result.amount_mc) == ("duplicate", -2000)
    assert (await ledger.get_balance(session, ws)).balance_mc == 3000


async def test_chargeback_goes_below_zero_freezes_and_is_paid_back_by_a_reversal(
    session, make_workspace
):
    ws = await make_workspace()
    bought = await _grant(session, ws, 5000)
    await ledger.debit(session, ws, amount_mc=4000, idempotency_key=new_key("d"), kind="call")
    cb = await ledger.claw_back(
        session,
        ws,
        amount_mc=5000,
        idempotency_key=new_key("cb"),
        kind="chargeback",
        from_grant_entry=bought,
    )
    await session.commit()
    assert (cb.amount_mc, cb.balance_mc) == (-5000, -4000)
    balance = await ledger.get_balance(session, ws)
    assert (balance.frozen, balance.debt_mc) == (True, 4000)
    await assert_invariants(session, ws)

    with pytest.raises(ledger.AccountFrozen):
        await ledger.debit(session, ws, amount_mc=1, idempotency_key=new_key("d"), kind="query")
    await session.rollback()

    back = await ledger.reverse_clawback(
        session,
        ws,
        amount_mc=5000,
        idempotency_key=new_key("cbr"),
        kind="chargeback_reverse",
        of_grant_entry=bought,
    )
    await session.commit()
    assert back.balance_mc == 1000
    balance = await ledger.get_balance(session, ws)
    assert (balance.balance_mc, balance.frozen, balance.debt_mc) == (1000, False, 0)
    await assert_invariants(session, ws)
    # Spending works again.
    await ledger.debit(session, ws, amount_mc=1000, idempotency_key=new_key("d"), kind="query")
    await session.commit()
    await assert_invariants(session, ws)


async def test_a_purchase_during_a_debt_pays_it_first_and_stays_frozen_until_positive(
    session, make_workspace
):
    ws = await make_workspace()
    bought = await _grant(session, ws, 5000)
    await ledger.debit(session, ws, amount_mc=5000, idempotency_key=new_key("d"), kind="call")
    await ledger.claw_back(
        session,
        ws,
        amount_mc=5000,
        idempotency_key=new_key("cb"),
        kind="chargeback",
        from_grant_entry=bought,
    )
    await _grant(session, ws, 2000)  # not enough to clear the 5000 debt
    await session.commit()
    balance = await ledger.get_balance(session, ws)
    assert (balance.balance_mc, balance.debt_mc, balance.frozen) == (-3000, 3000, True)
    await assert_invariants(session, ws)
    await _grant(session, ws, 3500)
    await session.commit()
    balance = await ledger.get_balance(session, ws)
    assert (balance.balance_mc, balance.debt_mc, balance.frozen) == (500, 0, False)
    await assert_invariants(session, ws)


async def test_chargeback_with_credits_left_does_not_freeze(session, make_workspace):
    ws = await make_workspace()
    await _grant(session, ws, 9000)
    bought = await _grant(session, ws, 5000)
    await ledger.claw_back(
        session,
        ws,
        amount_mc=5000,
        idempotency_key=new_key("cb"),
        kind="chargeback",
        from_grant_entry=bought,
    )
    await session.commit()
    balance = await ledger.get_balance(session, ws)
    assert (balance.balance_mc, balance.frozen) == (9000, False)
    assert await _remaining(session, bought) == 0
    await assert_invariants(session, ws)


@pytest.mark.parametrize(
    ("amount", "kind"), [(0, "refund"), (-5, "refund"), (1.5, "refund"), (100, "debit")]
)
async def test_bad_clawback_arguments_are_refused_before_the_database(
    session, make_workspace, amount, kind
):
    ws = await make_workspace()
    with pytest.raises(ledger.InvalidLedgerArgument):
        await ledger.claw_back(
            session, ws, amount_mc=amount, idempotency_key="k", kind=kind, from_grant_entry=1
        )
    assert (await ledger.get_balance(session, ws)).balance_mc == 0
