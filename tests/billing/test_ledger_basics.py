"""Smoke test of the ledger through its service API on real PostgreSQL."""

from billing import ledger


async def test_grant_then_debit_updates_balance(session, make_workspace):
    ws = await make_workspace()
    await ledger.grant(session, ws, amount_mc=2000, idempotency_key=f"g:{ws}", source="test")
    result = await ledger.debit(session, ws, amount_mc=500, idempotency_key=f"q:{ws}", kind="query")
    await session.commit()
    assert (result.status, result.balance_mc) == ("ok", 1500)
    audit = await ledger.audit(session, ws)
    assert audit.consistent, audit
