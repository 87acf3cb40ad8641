"""Shared helpers for the ledger guarantee tests.

The invariant checks here deliberately re-derive every figure with raw SQL instead
of trusting `ledger.audit`, so a bug in the audit code cannot hide a bug in the
ledger (and `audit(...).consistent` is asserted as well).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from billing import ledger
from core.db import Database


def new_key(tag: str) -> str:
    """A globally unique idempotency key (keys are unique across all workspaces)."""
    return f"test:{tag}:{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Snapshot:
    """Everything about one workspace's money that an operation could move."""

    balance_mc: int
    held_mc: int
    frozen: bool
    entries: tuple[tuple[int, str, int], ...]  # (id, kind, amount_mc)
    grants_remaining: tuple[tuple[int, int], ...]  # (grant id, remaining_mc)
    holds: tuple[tuple[int, str, int, int | None], ...]  # (id, status, amount, settled)
    # Set by assert_invariants: what ledger.audit (and so ledger.get_balance) said.
    audit: ledger.LedgerAudit | None = field(default=None, compare=False)

    @property
    def available_mc(self) -> int:
        return self.balance_mc - self.held_mc


_SNAPSHOT_SQL = text(
    """
    SELECT
      (SELECT json_build_array(balance_mc, held_mc, frozen)
         FROM credit_accounts WHERE workspace_id = :ws) AS account,
      (SELECT coalesce(json_agg(json_build_array(id, kind, amount_mc) ORDER BY id), '[]')
         FROM ledger_entries WHERE workspace_id = :ws) AS entries,
      (SELECT coalesce(json_agg(json_build_array(id, remaining_mc) ORDER BY id), '[]')
         FROM credit_grants WHERE workspace_id = :ws) AS grants,
      (SELECT coalesce(
                json_agg(json_build_array(id, status, amount_mc, settled_mc) ORDER BY id), '[]')
         FROM credit_holds WHERE workspace_id = :ws) AS holds
    """
)


async def snapshot(session: AsyncSession, ws: uuid.UUID) -> Snapshot:
    """Read straight from the tables, in one round trip."""
    row = (await session.execute(_SNAPSHOT_SQL, {"ws": ws})).one()
    balance, held, frozen = row.account if row.account is not None else (0, 0, False)
    return Snapshot(
        balance_mc=balance,
        held_mc=held,
        frozen=frozen,
        entries=tuple(tuple(e) for e in row.entries),
        grants_remaining=tuple(tuple(g) for g in row.grants),
        holds=tuple(tuple(h) for h in row.holds),
    )


async def assert_invariants(session: AsyncSession, ws: uuid.UUID) -> Snapshot:
    """balance = sum(entries) = sum(grants remaining); held = sum(open holds);
    available >= 0; every debit's grant allocations add up to the debit."""
    audit = await ledger.audit(session, ws)
    assert audit.consistent, audit
    snap = await snapshot(session, ws)
    assert (audit.balance_mc, audit.held_mc) == (snap.balance_mc, snap.held_mc), (audit, snap)
    entries_sum = sum(amount for _, _, amount in snap.entries)
    grants_sum = sum(remaining for _, remaining in snap.grants_remaining)
    open_holds = sum(amount for _, status, amount, _ in snap.holds if status == "open")
    debt = audit.debt_mc
    assert snap.balance_mc == entries_sum == grants_sum - debt, (
        snap.balance_mc,
        entries_sum,
        grants_sum,
    )
    assert snap.held_mc == open_holds, (snap.held_mc, open_holds)
    assert snap.held_mc >= 0
    assert snap.available_mc >= 0 or snap.frozen, snap
    assert all(remaining >= 0 for _, remaining in snap.grants_remaining), snap
    # In one round trip: every negative entry is backed by exactly its amount of grant
    # allocations; every grant's consumption equals what the allocations say it gave;
    # balance_after_mc is the running total of the entries in id order.
    problems = (
        await session.execute(
            text(
                """
                WITH alloc AS (
                    SELECT eg.entry_id, eg.grant_id, eg.amount_mc
                      FROM ledger_entry_grants eg
                      JOIN ledger_entries e ON e.id = eg.entry_id
                     WHERE e.workspace_id = :ws
                ), entries AS (
                    SELECT id, kind, amount_mc, balance_after_mc,
                           sum(amount_mc) OVER (ORDER BY id) AS running
                      FROM ledger_entries WHERE workspace_id = :ws
                )
                SELECT
                  (SELECT count(*) FROM entries e
                    WHERE e.amount_mc < 0 AND e.kind <> 'chargeback' AND -e.amount_mc <> coalesce(
                          (SELECT sum(a.amount_mc) FROM alloc a WHERE a.entry_id = e.id), 0))
                    AS unbacked_debits,
                  -- only a chargeback may be partly unbacked: by exactly the debt
                  (SELECT coalesce(sum(-e.amount_mc - coalesce(
                          (SELECT sum(a.amount_mc) FROM alloc a WHERE a.entry_id = e.id), 0)), 0)
                     FROM entries e WHERE e.kind = 'chargeback') - :debt
                    AS debt_mismatch,
                  (SELECT count(*) FROM entries e
                    WHERE e.amount_mc > 0
                      AND EXISTS (SELECT 1 FROM alloc a WHERE a.entry_id = e.id))
                    AS allocated_credits,
                  (SELECT count(*) FROM credit_grants g
                    WHERE g.workspace_id = :ws AND g.amount_mc - g.remaining_mc <> coalesce(
                          (SELECT sum(a.amount_mc) FROM alloc a WHERE a.grant_id = g.id), 0))
                    AS misbooked_grants,
                  (SELECT count(*) FROM entries WHERE balance_after_mc <> running)
                    AS wrong_running_balances
                """
            ),
            {"ws": ws, "debt": debt},
        )
    ).one()
    assert tuple(problems) == (0, 0, 0, 0, 0), problems._asdict()
    return replace(snap, audit=audit)


async def count_entries_with_key(session: AsyncSession, key: str) -> int:
    return int(
        await session.scalar(
            text("SELECT count(*) FROM ledger_entries WHERE idempotency_key = :k"), {"k": key}
        )
        or 0
    )


async def set_frozen(session: AsyncSession, ws: uuid.UUID, frozen: bool = True) -> None:
    await session.execute(
        text(
            "UPDATE credit_accounts SET frozen = :f, frozen_reason = 'test'"
            " WHERE workspace_id = :ws"
        ),
        {"f": frozen, "ws": ws},
    )
    await session.commit()


# --- real parallelism ----------------------------------------------------------------

Op = Callable[[AsyncSession, int], Awaitable[Any]]


def _run_workers_in_threads(url: URL, n: int, op: Op) -> list[Any]:
    """Run `op(session, i)` for i in range(n) in n OS threads, each with its own event
    loop, engine and connection. Every worker connects first, then all wait at a
    barrier so the operations start together. Returns each result or the exception."""
    barrier = threading.Barrier(n)

    def worker(i: int) -> Any:
        async def go() -> Any:
            database = Database(url=url, embedded=False)
            try:
                async with database.session() as s:
                    await s.execute(text("SELECT 1"))  # connected before the start line
                    barrier.wait(timeout=30)
                    try:
                        result = await op(s, i)
                        await s.commit()
                        return result
                    except Exception as exc:
                        await s.rollback()
                        return exc
            finally:
                await database.dispose()

        return asyncio.run(go())

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(worker, range(n)))


async def _blocked_backends(db: Database, pattern: str) -> int:
    async with db.session() as s:
        return int(
            await s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    " AND query LIKE :pattern"
                ),
                {"pattern": f"%{pattern}%"},
            )
            or 0
        )


async def race(
    db: Database,
    n: int,
    op: Op,
    *,
    gate_ws: uuid.UUID | None = None,
    sql_function: str = "ledger_",
) -> tuple[list[Any], int]:
    """Run n workers in parallel threads (see `_run_workers_in_threads`).

    With `gate_ws`, the test first takes the account's row lock itself and only
    lets go once all n workers are inside the database blocked on it, so all n are
    provably in flight at the same moment. Returns (results, how many were seen
    blocked together) — the count is 0 without a gate.
    """
    if gate_ws is None:
        return await asyncio.to_thread(_run_workers_in_threads, db.url, n, op), 0
    async with db.session() as gate:
        locked = await gate.scalar(
            text("SELECT 1 FROM credit_accounts WHERE workspace_id = :ws FOR UPDATE"),
            {"ws": gate_ws},
        )
        assert locked == 1, "the gate needs an existing account"
        task = asyncio.ensure_future(asyncio.to_thread(_run_workers_in_threads, db.url, n, op))
        blocked = 0
        for _ in range(300):  # up to ~15 s
            blocked = await _blocked_backends(db, sql_function)
            if blocked >= n or task.done():
                break
            await asyncio.sleep(0.05)
        await gate.commit()
    return await task, blocked
