"""A second hypothesis state machine: purchases, spending, holds, refunds, chargebacks
and chargeback reversals interleaved, with a model of the balance, the debt and the
frozen flag. After every step the database must match the model and every ledger
invariant must hold (balance = Σ entries = Σ lot remainders − debt; available ≥ 0
unless frozen; every debit backed by lot allocations, a chargeback short by exactly
the debt)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from sqlalchemy.engine import URL

from accounts.models import Workspace
from billing import ledger
from core.db import Database
from tests.billing.helpers import assert_invariants, new_key

_DB_URL: URL | None = None
OPERATIONS = ("buy", "spend", "spend", "hold", "settle", "refund", "chargeback", "reverse")


class ClawbackMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert _DB_URL is not None
        self.loop = asyncio.new_event_loop()
        self.db = Database(url=_DB_URL, embedded=False)
        self.ws = self.loop.run_until_complete(self._workspace())
        self.balance = 0
        self.debt = 0
        self.frozen = False
        self.held = 0
        self.purchases: list[tuple[int, int]] = []  # (grant entry id, amount)
        self.chargebacks: list[int] = []  # amounts taken, not yet reversed
        self.open_holds: list[tuple[int, int]] = []  # (hold id, amount)

    async def _workspace(self) -> uuid.UUID:
        async with self.db.session() as s:
            ws = Workspace(name=f"Clawback {uuid.uuid4().hex[:6]}")
            s.add(ws)
            await s.commit()
            return ws.id

    def write(self, fn: Any, apply: Any = None) -> Any:
        """Run `fn(session)` and commit; `apply(result)` updates the model; then the
        database must match the model and every invariant hold."""

        async def go() -> Any:
            async with self.db.session() as s:
                try:
                    result = await fn(s)
                except BaseException:
                    await s.rollback()
                    raise
                await s.commit()
                if apply is not None:
                    apply(result)
                await assert_invariants(s, self.ws)
                balance = await ledger.get_balance(s, self.ws)
                assert (balance.balance_mc, balance.debt_mc, balance.frozen, balance.held_mc) == (
                    self.balance, self.debt, self.frozen, self.held,
                ), (balance, self.balance, self.debt, self.frozen, self.held)  # fmt: skip
                return result

        return self.loop.run_until_complete(go())

    def teardown(self) -> None:
        try:
            self.loop.run_until_complete(self.db.dispose())
        finally:
            self.loop.close()

    def _credit(self, amount: int) -> None:
        """The model of a credit: pays the debt first, unfreezes once available ≥ 0."""
        self.balance += amount
        self.debt = max(0, self.debt - amount)
        if self.frozen and self.balance - self.held >= 0:
            self.frozen = False

    @initialize(data=st.data())
    def first_purchase(self, data: st.DataObject) -> None:
        self.do_buy(data)

    @rule(op=st.sampled_from(OPERATIONS), data=st.data())
    def step(self, op: str, data: st.DataObject) -> None:
        getattr(self, f"do_{op}")(data)

    def do_buy(self, data: st.DataObject) -> None:
        amount = data.draw(st.integers(1, 5000), label="buy")

        def apply(result: Any) -> None:
            self.purchases.append((result.entry_id, amount))
            self._credit(amount)

        self.write(
            lambda s: ledger.grant(
                s, self.ws, amount_mc=amount, idempotency_key=new_key("buy"), source="purchase"
            ),
            apply,
        )

    def do_spend(self, data: st.DataObject) -> None:
        amount = data.draw(st.integers(1, 3000), label="spend")

        async def op(s: Any) -> Any:
            return await ledger.debit(
                s, self.ws, amount_mc=amount, idempotency_key=new_key("spend"), kind="call"
            )

        if self.frozen or self.balance - self.held < amount:
            expected = ledger.AccountFrozen if self.frozen else ledger.InsufficientCredits
            try:
                self.write(op)
            except expected:
                return
            raise AssertionError(f"a debit of {amount} should have been refused")
        self.write(op, lambda _: setattr(self, "balance", self.balance - amount))

    def do_hold(self, data: st.DataObject) -> None:
        if self.frozen or self.balance - self.held < 1:
            return
        most = data.draw(st.integers(1, 4000), label="hold")

        def apply(result: Any) -> None:
            self.open_holds.append((result.hold_id, result.amount_mc))
            self.held += result.amount_mc

        self.write(
            lambda s: ledger.place_hold(
                s, self.ws, max_mc=most, min_mc=1, idempotency_key=new_key("hold"),
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
            apply,
        )  # fmt: skip

    def do_settle(self, data: st.DataObject) -> None:
        if not self.open_holds:
            return
        hold_id, amount = self.open_holds.pop(data.draw(st.integers(0, len(self.open_holds) - 1)))
        used = data.draw(st.integers(0, amount), label="used")

        def apply(result: Any) -> None:
            assert -result.amount_mc <= used
            self.held -= amount
            self.balance += result.amount_mc  # ≤ 0: what was charged (never below zero)

        self.write(
            lambda s: ledger.settle_hold(
                s, hold_id, actual_mc=used, idempotency_key=new_key("settle"), kind="call"
            ),
            apply,
        )

    def do_refund(self, data: st.DataObject) -> None:
        if not self.purchases:
            return
        entry, amount = self.purchases.pop(data.draw(st.integers(0, len(self.purchases) - 1)))
        expected_take = min(amount, max(0, self.balance - self.held))

        def apply(result: Any) -> None:
            assert -result.amount_mc == expected_take
            self.balance -= expected_take

        self.write(
            lambda s: ledger.claw_back(
                s, self.ws, amount_mc=amount, idempotency_key=new_key("refund"),
                kind="refund", from_grant_entry=entry,
            ),
            apply,
        )  # fmt: skip

    def do_chargeback(self, data: st.DataObject) -> None:
        if not self.purchases:
            return
        entry, amount = self.purchases.pop(data.draw(st.integers(0, len(self.purchases) - 1)))

        def apply(result: Any) -> None:
            assert result.amount_mc == -amount
            from_lots = min(amount, self.balance + self.debt)
            self.debt += amount - from_lots
            self.balance -= amount
            if self.balance - self.held < 0:
                self.frozen = True
            self.chargebacks.append(amount)

        self.write(
            lambda s: ledger.claw_back(
                s, self.ws, amount_mc=amount, idempotency_key=new_key("cb"),
                kind="chargeback", from_grant_entry=entry,
            ),
            apply,
        )  # fmt: skip

    def do_reverse(self, data: st.DataObject) -> None:
        if not self.chargebacks:
            return
        amount = self.chargebacks.pop()
        self.write(
            lambda s: ledger.reverse_chargeback(
                s, self.ws, amount_mc=amount, idempotency_key=new_key("cbr")
            ),
            lambda _: self._credit(amount),
        )


def test_clawback_state_machine(database: Database) -> None:
    global _DB_URL
    _DB_URL = database.url
    run_state_machine_as_test(
        ClawbackMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
