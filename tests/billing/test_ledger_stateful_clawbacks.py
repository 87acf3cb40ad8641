"""A second hypothesis state machine: purchases, spending, holds, refunds, chargebacks,
credit notes and their reversals interleaved (any number of them on one purchase),
with a model of the balance, the debt, the frozen flag and what each purchase lost.
After every step the database must match the model and every ledger invariant must
hold (balance = Σ entries = Σ lot remainders − debt; available ≥ 0 unless frozen;
every debit backed by lot allocations, a chargeback short by exactly the debt; no
purchase loses more than it granted)"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from sqlalchemy import text
from sqlalchemy.engine import URL

from accounts.models import Workspace
from billing import ledger
from core.db import Database
from tests.billing.helpers import assert_invariants, new_key

_DB_URL: URL | None = None
OPERATIONS = (
    "buy",
    "spend",
    "spend",
    "hold",
    "settle",
    "refund",
    "chargeback",
    "credit_note",
    "reverse",
)


@dataclass
class Purchase:
    """One grant and what was taken back for it, by kind (the model of migration 0021)."""

    entry: int
    amount: int
    taken: dict[str, int] = field(
        default_factory=lambda: {"refund": 0, "chargeback": 0, "credit_note": 0}
    )

    @property
    def room(self) -> int:
        return self.amount - sum(self.taken.values())


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
        self.purchases: list[Purchase] = []
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
                for p in self.purchases:
                    row = (
                        await s.execute(
                            text(
                                "SELECT amount_mc, refunded_mc, charged_back_mc, credited_back_mc"
                                " FROM credit_grants WHERE entry_id = :e"
                            ),
                            {"e": p.entry},
                        )
                    ).one()
                    assert tuple(row) == (
                        p.amount,
                        p.taken["refund"],
                        p.taken["chargeback"],
                        p.taken["credit_note"],
                    ), (row, p)
                balance = await ledger.get_balance(s, self.ws)
                assert (balance.balance_mc, balance.debt_mc, balance.frozen, balance.held_mc) == (
                    self.balance,
                    self.debt,
                    self.frozen,
                    self.held,
                ), (balance, self.balance, self.debt, self.frozen, self.held)
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
            self.purchases.append(Purchase(result.entry_id, amount))
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
                s,
                self.ws,
                max_mc=most,
                min_mc=1,
                idempotency_key=new_key("hold"),
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
            apply,
        )

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

    def _purchase(self, data: st.DataObject) -> Purchase | None:
        if not self.purchases:
            return None
        return self.purchases[data.draw(st.integers(0, len(self.purchases) - 1))]

    def _take_back(self, data: st.DataObject, kind: str) -> None:
        """A refund, chargeback or credit note of part or all of one purchase, any
        number of times: never more than the purchase has left to lose (the cap)."""
        purchase = self._purchase(data)
        if purchase is None:
            return
        asked = data.draw(st.integers(1, purchase.amount), label=f"{kind} amount")
        take = min(asked, purchase.room)
        if kind != "chargeback":
            take = min(take, max(0, self.balance - self.held))

        def apply(result: Any) -> None:
            assert -result.amount_mc == take, (result, take)
            if take == 0:
                return
            if kind == "chargeback":
                from_lots = min(take, self.balance + self.debt)
                self.debt += take - from_lots
                self.balance -= take
                if self.balance - self.held < 0:
                    self.frozen = True
            else:
                self.balance -= take
            purchase.taken[kind] += take

        self.write(
            lambda s: ledger.claw_back(
                s,
                self.ws,
                amount_mc=asked,
                idempotency_key=new_key(kind),
                kind=kind,
                from_grant_entry=purchase.entry,
            ),
            apply,
        )

    def do_refund(self, data: st.DataObject) -> None:
        self._take_back(data, "refund")

    def do_chargeback(self, data: st.DataObject) -> None:
        self._take_back(data, "chargeback")

    def do_credit_note(self, data: st.DataObject) -> None:
        self._take_back(data, "credit_note")

    def do_reverse(self, data: st.DataObject) -> None:
        """Give back at most what chargebacks (or credit notes) took from a purchase."""
        purchase = self._purchase(data)
        if purchase is None:
            return
        kind = data.draw(st.sampled_from(["chargeback_reverse", "credit_note_reverse"]))
        of = kind.removesuffix("_reverse")
        asked = data.draw(st.integers(1, purchase.amount), label="reverse amount")
        give = min(asked, purchase.taken[of])

        def apply(result: Any) -> None:
            assert result.amount_mc == give, (result, give)
            if give:
                self._credit(give)
                purchase.taken[of] -= give

        self.write(
            lambda s: ledger.reverse_clawback(
                s,
                self.ws,
                amount_mc=asked,
                idempotency_key=new_key("rev"),
                kind=kind,
                of_grant_entry=purchase.entry,
            ),
            apply,
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
