"""The ledger is append-only: raw UPDATE / DELETE / TRUNCATE on the entries (and on
their grant allocations) are refused by the triggers, and nothing changes."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from billing import ledger
from tests.billing.helpers import assert_invariants, new_key, snapshot


@pytest.fixture
async def ledger_with_entries(session, make_workspace):
    ws = await make_workspace()
    await ledger.grant(session, ws, amount_mc=1000, idempotency_key=new_key("g"), source="t")
    result = await ledger.debit(
        session, ws, amount_mc=300, idempotency_key=new_key("d"), kind="query"
    )
    await session.commit()
    return ws, result.entry_id


@pytest.mark.parametrize(
    ("table", "statement"),
    [
        ("ledger_entries", "UPDATE ledger_entries SET amount_mc = -1 WHERE workspace_id = :ws"),
        (
            "ledger_entries",
            "UPDATE ledger_entries SET description = 'edited' WHERE workspace_id = :ws",
        ),
        ("ledger_entries", "DELETE FROM ledger_entries WHERE workspace_id = :ws"),
        (
            "ledger_entry_grants",
            "UPDATE ledger_entry_grants SET amount_mc = 1"
            " WHERE entry_id IN (SELECT id FROM ledger_entries WHERE workspace_id = :ws)",
        ),
        (
            "ledger_entry_grants",
            "DELETE FROM ledger_entry_grants"
            " WHERE entry_id IN (SELECT id FROM ledger_entries WHERE workspace_id = :ws)",
        ),
    ],
)
async def test_update_or_delete_is_refused(session, ledger_with_entries, table, statement):
    ws, _ = ledger_with_entries
    before = await snapshot(session, ws)
    allocations_before = (
        await session.execute(
            text(
                "SELECT entry_id, grant_id, amount_mc FROM ledger_entry_grants"
                " WHERE entry_id IN (SELECT id FROM ledger_entries WHERE workspace_id = :ws)"
                " ORDER BY entry_id, grant_id"
            ),
            {"ws": ws},
        )
    ).all()
    assert allocations_before  # the statement has rows to hit
    with pytest.raises(DBAPIError, match=f"{table} is append-only") as info:
        await session.execute(text(statement), {"ws": ws})
    assert getattr(info.value.orig, "sqlstate", None) == "23001"  # restrict_violation
    await session.rollback()
    assert await snapshot(session, ws) == before
    allocations_after = (
        await session.execute(
            text(
                "SELECT entry_id, grant_id, amount_mc FROM ledger_entry_grants"
                " WHERE entry_id IN (SELECT id FROM ledger_entries WHERE workspace_id = :ws)"
                " ORDER BY entry_id, grant_id"
            ),
            {"ws": ws},
        )
    ).all()
    assert allocations_after == allocations_before
    await assert_invariants(session, ws)


async def test_truncate_is_refused(session, ledger_with_entries):
    """Run in a transaction that is rolled back whatever happens, so a missing trigger
    cannot wipe the shared test database."""
    ws, _ = ledger_with_entries
    try:
        with pytest.raises(DBAPIError, match="ledger_entries is append-only"):
            await session.execute(text("TRUNCATE ledger_entries CASCADE"))
    finally:
        await session.rollback()
    assert len((await snapshot(session, ws)).entries) == 2
    await assert_invariants(session, ws)
