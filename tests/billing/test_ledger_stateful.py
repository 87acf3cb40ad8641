"""A hypothesis state machine against the real ledger.

Each machine instance owns a workspace, a private event loop and a private engine
(state machines are synchronous; the ledger API is async). It interleaves grants
(with and without expiry), debits, replays of used keys, key conflicts, hold
placements and replays, settlements (partial, zero, more than the hold, twice),
releases and expiries, tracking a plain Python model: balance, each grant's
remaining amount (consumed soonest-expiry-first, then oldest, no-expiry last) and
each hold's state. After every step the database must match the model exactly,
`audit(...).consistent` must hold and available must be >= 0.

One rule picks the operation from a weighted list. (With one rule per operation,
hypothesis' per-example rule switching plus only 25 examples left the hold
operations rare; this way every example mixes all of them.)
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from sqlalchemy.engine import URL

from accounts.models import Workspace
from billing import ledger
from core.db import Database
from tests.billing.helpers import Snapshot, assert_invariants, new_key

_DB_URL: URL | None = None

KINDS: tuple[ledger.DebitKind, ...] = ("query", "call", "debit")
GRANT_EXPIRY_DAYS = (None, 1, 2, 7)  # few values, so equal expiries (ties) happen
HOLD_EXPIRY_MINUTES = (1, 5, 60)
EXPIRE_AT_MINUTES = (0, 1, 2, 5, 60, 90)  # includes the exact hold expiries
# The operations and their weights (repeats), for the one `step` rule.
OPERATIONS = (
    ["debit"] * 3
    + ["grant"] * 2
    + ["replay_used_key", "reuse_key_for_something_else"]
    + ["place_hold"] * 3
    + ["replay_hold_key"]
    + ["settle"] * 2
    + ["settle_zero", "settle_over", "release", "expire"]
)


@dataclass
class ModelGrant:
    grant_id: int
    seq: int
    expires_at: datetime | None
    remaining: int


@dataclass
class ModelHold:
    hold_id: int
    key: str
    amount: int
    min_mc: int
    max_mc: int
    expires_at: datetime
    status: str = "open"
    settled: int | None = None


@dataclass(frozen=True)
class EntryOp:
    """A write that created a ledger entry, enough to replay it exactly."""

    op: str  # grant | debit
    key: str
    amount: int
    kind: ledger.DebitKind = "debit"  # unused for grants
    expires_at: datetime | None = None


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert _DB_URL is not None, "run through test_ledger_state_machine"
        self.loop = asyncio.new_event_loop()
        self.db = Database(url=_DB_URL, embedded=False)
        self.base = datetime.now(UTC)
        self.ws = self.run(self._make_workspace())
        self.balance = 0
        self.entries = 0
        self.grants: list[ModelGrant] = []
        self.holds: dict[int, ModelHold] = {}
        self.entry_ops: list[EntryOp] = []

    # --- plumbing --------------------------------------------------------------------------

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _make_workspace(self) -> uuid.UUID:
        async with self.db.session() as s:
            ws = Workspace(name=f"Stateful {uuid.uuid4().hex[:6]}")
            s.add(ws)
            await s.commit()
            return ws.id

    def write(self, fn: Any) -> Any:
        """Run `fn(session)` in its own transaction and commit; exceptions propagate
        (after a rollback)."""

        async def go() -> Any:
            async with self.db.session() as s:
                try:
                    result = await fn(s)
                except BaseException:
                    await s.rollback()
                    raise
                await s.commit()
                return result

        return self.run(go())

    def teardown(self) -> None:
        try:
            self.run(self.db.dispose())
        finally:
            self.loop.close()

    # --- the model -------------------------------------------------------------------------

    @property
    def held(self) -> int:
        return sum(h.amount for h in self.holds.values() if h.status == "open")

    @property
    def available(self) -> int:
        return self.balance - self.held

    def consume(self, amount: int) -> None:
        """Take `amount` from the model's grants: soonest expiry, then oldest; no expiry last."""
        order = sorted(
            (g for g in self.grants if g.remaining > 0),
            key=lambda g: (g.expires_at is None, g.expires_at or self.base, g.seq),
        )
        for g in order:
            take = min(g.remaining, amount)
            g.remaining -= take
            amount -= take
            if amount == 0:
                return
        raise AssertionError("model: grants short")

    def assert_result_matches_model(self, result: Any) -> None:
        assert (result.balance_mc, result.held_mc) == (self.balance, self.held), result

    # --- steps -----------------------------------------------------------------------------

    @initialize(data=st.data())
    def opening_grant(self, data: st.DataObject) -> None:
        """Start funded, so that debits and holds mostly go through."""
        self.do_grant(data, st.integers(1, 20_000))

    @rule(op=st.sampled_from(OPERATIONS), data=st.data())
    def step(self, op: str, data: st.DataObject) -> None:
        getattr(self, f"do_{op}")(data)

    def do_grant(self, data: st.DataObject, amounts: Any = None) -> None:
        amount = data.draw(
            amounts if amounts is not None else st.integers(1, 5000), label="grant amount"
        )
        expiry_days = data.draw(st.sampled_from(GRANT_EXPIRY_DAYS), label="expires in days")
        key = new_key("sm-grant")
        expires = None if expiry_days is None else self.base + timedelta(days=expiry_days)

        async def op(s):
            result = await ledger.grant(
                s, self.ws, amount_mc=amount, idempotency_key=key, source="sm", expires_at=expires
            )
            grant_id = await s.scalar(
                text("SELECT id FROM credit_grants WHERE entry_id = :e"), {"e": result.entry_id}
            )
            return result, grant_id

        result, grant_id = self.write(op)
        assert result.status == "ok"
        self.balance += amount
        self.entries += 1
        self.grants.append(ModelGrant(grant_id, len(self.grants), expires, amount))
        self.entry_ops.append(EntryOp("grant", key, amount, expires_at=expires))
        self.assert_result_matches_model(result)

    def do_debit(self, data: st.DataObject) -> None:
        amount = data.draw(st.integers(1, 3000), label="debit amount")
        kind = data.draw(st.sampled_from(KINDS), label="kind")
        key = new_key("sm-debit")

        async def op(s):
            return await ledger.debit(s, self.ws, amount_mc=amount, idempotency_key=key, kind=kind)

        if amount > self.available:
            with pytest.raises(ledger.InsufficientCredits) as info:
                self.write(op)
            assert (info.value.needed_mc, info.value.available_mc) == (amount, self.available)
            return
        result = self.write(op)
        assert (result.status, result.amount_mc) == ("ok", -amount)
        self.balance -= amount
        self.entries += 1
        self.consume(amount)
        self.entry_ops.append(EntryOp("debit", key, amount, kind=kind))
        self.assert_result_matches_model(result)

    def _apply(self, s, e: EntryOp, *, amount: int, kind: ledger.DebitKind, as_op: str):
        if as_op == "grant":
            return ledger.grant(
                s,
                self.ws,
                amount_mc=amount,
                idempotency_key=e.key,
                source="sm",
                expires_at=e.expires_at,
            )
        return ledger.debit(s, self.ws, amount_mc=amount, idempotency_key=e.key, kind=kind)

    def do_replay_used_key(self, data: st.DataObject) -> None:
        """Re-apply a grant, debit or settlement that went through: nothing moves."""
        e = data.draw(st.sampled_from(self.entry_ops), label="replayed")
        result = self.write(lambda s: self._apply(s, e, amount=e.amount, kind=e.kind, as_op=e.op))
        assert result.status == "duplicate"
        assert result.amount_mc == (e.amount if e.op == "grant" else -e.amount)
        self.assert_result_matches_model(result)

    def do_reuse_key_for_something_else(self, data: st.DataObject) -> None:
        """A used key with another amount, operation or kind: a conflict, nothing moves
        (the invariant then checks that)."""
        e = data.draw(st.sampled_from(self.entry_ops), label="reused")
        change = data.draw(st.sampled_from(["amount", "operation", "kind"]), label="change")
        amount, kind, as_op = e.amount, e.kind, e.op
        assert kind in KINDS
        if change == "amount":
            amount += 1
        elif change == "operation":
            as_op = "debit" if e.op == "grant" else "grant"
            kind = "debit"
        else:
            as_op, kind = "debit", ("call" if e.kind == "query" else "query")
        with pytest.raises(ledger.IdempotencyConflict):
            self.write(lambda s: self._apply(s, e, amount=amount, kind=kind, as_op=as_op))

    def do_place_hold(self, data: st.DataObject) -> None:
        max_mc = data.draw(st.integers(1, 4000), label="max_mc")
        min_mc = data.draw(st.integers(1, max_mc), label="min_mc")
        expiry = data.draw(st.sampled_from(HOLD_EXPIRY_MINUTES), label="expires in minutes")
        key = new_key("sm-hold")
        expires = self.base + timedelta(minutes=expiry)

        async def op(s):
            return await ledger.place_hold(
                s, self.ws, max_mc=max_mc, min_mc=min_mc, idempotency_key=key, expires_at=expires
            )

        if self.available < min_mc:
            with pytest.raises(ledger.InsufficientCredits) as info:
                self.write(op)
            assert (info.value.needed_mc, info.value.available_mc) == (min_mc, self.available)
            return
        result = self.write(op)
        expected = min(max_mc, self.available)
        assert (result.status, result.amount_mc) == ("ok", expected)
        self.holds[result.hold_id] = ModelHold(
            result.hold_id, key, expected, min_mc, max_mc, expires
        )
        self.assert_result_matches_model(result)

    def _pick_hold(self, data: st.DataObject) -> ModelHold | None:
        """Mostly an open hold (if any), sometimes any hold (resolved ones too)."""
        holds = sorted(self.holds.values(), key=lambda h: h.hold_id)
        open_holds = [h for h in holds if h.status == "open"]
        if open_holds and data.draw(st.integers(0, 3), label="prefer open") > 0:
            holds = open_holds
        return data.draw(st.sampled_from(holds), label="hold") if holds else None

    def do_replay_hold_key(self, data: st.DataObject) -> None:
        h = self._pick_hold(data)
        if h is None:
            return self.do_place_hold(data)
        result = self.write(
            lambda s: ledger.place_hold(
                s,
                self.ws,
                max_mc=h.max_mc,
                min_mc=h.min_mc,
                idempotency_key=h.key,
                expires_at=h.expires_at,
            )
        )
        assert (result.status, result.hold_id, result.amount_mc) == (
            "duplicate",
            h.hold_id,
            h.amount,
        )
        self.assert_result_matches_model(result)
        return None

    def _settle(self, data: st.DataObject, how: str) -> None:
        h = self._pick_hold(data)
        if h is None:
            return self.do_place_hold(data)
        if how == "zero":
            actual = 0
        elif how == "over":
            actual = h.amount + data.draw(st.integers(1, 3000), label="over by")
        else:
            actual = data.draw(st.integers(1, h.amount), label="actual")
        key = new_key("sm-settle")
        result = self.write(
            lambda s: ledger.settle_hold(
                s, h.hold_id, actual_mc=actual, idempotency_key=key, kind="call"
            )
        )
        if h.status != "open":  # settled / released / expired before: nothing moves
            assert result.status == "already_resolved"
            assert result.amount_mc == -(h.settled or 0)
        else:
            charge = min(actual, h.amount)
            assert (result.status, result.amount_mc) == ("ok", -charge)
            assert (result.entry_id is None) == (charge == 0)
            h.status, h.settled = "settled", charge
            if charge:
                self.balance -= charge
                self.entries += 1
                self.consume(charge)
                self.entry_ops.append(EntryOp("debit", key, charge, kind="call"))
        self.assert_result_matches_model(result)
        return None

    def do_settle(self, data: st.DataObject) -> None:
        self._settle(data, "partial")

    def do_settle_zero(self, data: st.DataObject) -> None:
        self._settle(data, "zero")

    def do_settle_over(self, data: st.DataObject) -> None:
        self._settle(data, "over")

    def do_release(self, data: st.DataObject) -> None:
        h = self._pick_hold(data)
        if h is None:
            return self.do_place_hold(data)
        result = self.write(lambda s: ledger.release_hold(s, h.hold_id))
        if h.status != "open":
            assert result.status == "already_resolved"
        else:
            assert (result.status, result.amount_mc) == ("ok", h.amount)
            h.status, h.settled = "released", 0
        self.assert_result_matches_model(result)
        return None

    def do_expire(self, data: st.DataObject) -> None:
        minutes = data.draw(st.sampled_from(EXPIRE_AT_MINUTES), label="now + minutes")
        cutoff = self.base + timedelta(minutes=minutes)
        expired = self.write(lambda s: ledger.expire_holds(s, now=cutoff))
        due = {
            h.hold_id for h in self.holds.values() if h.status == "open" and h.expires_at <= cutoff
        }
        # expire_holds is global: other workspaces' stale holds may expire too.
        assert set(expired) & set(self.holds) == due
        for hold_id in due:
            self.holds[hold_id].status, self.holds[hold_id].settled = "expired", 0

    # --- the check after every step --------------------------------------------------------

    @invariant()
    def database_matches_model(self) -> None:
        async def check() -> Snapshot:
            async with self.db.session() as s:
                # audit(...).consistent, available >= 0, sums and grant allocations:
                return await assert_invariants(s, self.ws)

        snap = self.run(check())
        audit = snap.audit  # ledger.audit's figures come from ledger.get_balance
        assert audit is not None
        assert (audit.balance_mc, audit.held_mc) == (self.balance, self.held)
        assert (snap.balance_mc, snap.held_mc) == (self.balance, self.held)
        assert snap.available_mc == self.available >= 0
        assert len(snap.entries) == self.entries
        assert dict(snap.grants_remaining) == {g.grant_id: g.remaining for g in self.grants}
        assert {hold[0]: hold[1:] for hold in snap.holds} == {
            h.hold_id: (h.status, h.amount, h.settled) for h in self.holds.values()
        }


# Every step is a few database round trips, so shrinking a failure can take minutes
# (longer than the suite's timeout). By default a failure is reported unshrunk, with
# its full step list; set LEDGER_SHRINK=1 to have hypothesis minimise it.
PHASES = [Phase.explicit, Phase.generate] + (
    [Phase.shrink] if os.environ.get("LEDGER_SHRINK") == "1" else []
)


def test_ledger_state_machine(database: Database) -> None:
    global _DB_URL
    _DB_URL = database.url
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            database=None,
            phases=PHASES,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
