"""What an answer costs: 0.5 credit, once, and only for assistant work (DESIGN.md §1).

Every tool declares whether its work is billable (`tools.actions`: summaries,
transcripts, insights, search, analytics, and actions carried out on contacts, consent
and calls) or free (balance, packages, estimates, buying, purchase history, the
account). A billable tool

1. reserves the answer's price right before it works (`QueryMeter.reserve`: a hold of
   `QUERY_PRICE_MC`, taken once per answer however many tools run). A workspace that
   cannot afford it is told so, free, and the tool does nothing;
2. reports that it did the work by returning `done(text)`. Whatever else it returns —
   found nothing, refused, failed, asked the user something back, proposed an action
   still waiting for a yes — is free.

The meter's owner settles it exactly once (`settle`, in the owner's transaction):
the hold is debited under the key `query:<key>` when some work was done, released
otherwise. A chat turn (chat_app.turns) owns one meter per message, keyed by the
message id; a confirmation answered outside a turn (a button pressed after a reload)
gets its own, keyed `action:<pending action id>`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing import ledger
from billing.money import QUERY_PRICE_MC, credits_label
from core.db import Database

HOLD_TTL = timedelta(minutes=10)

OUT_OF_CREDITS = (
    "You're out of credits, so I didn't do that: it costs {price} and you have "
    "{available} available. Nothing was charged. You can still check your balance, see "
    "the packages and buy credits right here — ask “what packages are there?” or say "
    "“buy the starter pack” (or open [/billing/buy](/billing/buy))."
)
FROZEN = (
    "Your workspace's credits are frozen after a payment was disputed, so I didn't do "
    "that. Nothing was charged. Contact support@klosesales.com; you can still check "
    "your balance and purchases here."
)


class Done(str):
    """The text of a billable tool that did its work: the answer is charged."""

    __slots__ = ()


def done(text: str) -> Done:
    """Mark `text` as the result of billable work done (see the module's contract)."""
    return Done(text)


def out_of_credits(available_mc: int) -> str:
    return OUT_OF_CREDITS.format(
        price=credits_label(QUERY_PRICE_MC), available=credits_label(max(available_mc, 0))
    )


# Places the answer's hold for a meter (its owner's way: a chat turn notes the hold on
# its row in the same transaction); raises as `ledger.place_hold` does.
PlaceHold = Callable[["QueryMeter", datetime], Awaitable[ledger.HoldResult]]


@dataclass
class QueryMeter:
    """One answer's price: reserved before billable work, charged only if work was
    done. `key` is unique per answer (a message id, or `action:<id>`)."""

    db: Database
    workspace_id: uuid.UUID
    key: str
    place: PlaceHold | None = None  # default: `ledger.place_hold` alone
    # The hold's idempotency key (default `query-hold:<key>`).
    hold_key: str | None = None
    hold_id: int | None = None
    held_mc: int = 0
    # The billable tools that did their work during this answer, in order.
    work: list[str] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def reserve(self) -> str | None:
        """Hold the answer's price (once per answer). None when it is held; otherwise
        the reason, worded for the user (out of credits, frozen): nothing was held."""
        async with self._lock:  # tools of one answer may run concurrently
            if self.hold_id is not None:
                return None
            expires_at = datetime.now(UTC) + HOLD_TTL
            try:
                hold = await (self.place or _place_alone)(self, expires_at)
            except ledger.InsufficientCredits as exc:
                return out_of_credits(exc.available_mc)
            except ledger.AccountFrozen:
                return FROZEN
            assert hold.hold_id is not None
            self.hold_id, self.held_mc = hold.hold_id, hold.amount_mc
            return None

    @property
    def hold_idempotency_key(self) -> str:
        """The idempotency key of the answer's hold (one hold per answer)."""
        return self.hold_key or f"query-hold:{self.key}"

    @property
    def reference(self) -> str:
        """What the hold is for, as the ledger records it."""
        return f"query:{self.key}"

    async def check(self) -> str | None:
        """Whether the answer's price could be held now (None: it could, or it already
        is), holding nothing: a proposal that waits for the user's yes holds no credits,
        since it may never be answered; the price is held when they say yes."""
        if self.hold_id is not None:
            return None
        async with self.db.session() as session:
            balance = await ledger.get_balance(session, self.workspace_id)
        if balance.frozen:
            return FROZEN
        if balance.available_mc < QUERY_PRICE_MC:
            return out_of_credits(balance.available_mc)
        return None

    def did_work(self, tool: str) -> None:
        self.work.append(tool)

    @property
    def charged(self) -> bool:
        """Whether settling will debit the answer's price."""
        return self.hold_id is not None and bool(self.work)

    async def settle(
        self, session: AsyncSession, *, description: str, metadata: dict[str, Any]
    ) -> ledger.LedgerResult | None:
        """In the caller's transaction: debit the price if work was done (the debit's
        key `query:<key>` makes it happen once), else release the hold. The debit, or
        None when nothing was charged."""
        if self.hold_id is None:
            return None
        if not self.work:
            await ledger.release_hold(session, self.hold_id)
            return None
        return await ledger.settle_hold(
            session,
            self.hold_id,
            actual_mc=QUERY_PRICE_MC,
            idempotency_key=self.debit_key,
            kind="query",
            description=description,
            metadata=self.debit_metadata(metadata),
        )

    @property
    def price_due_mc(self) -> int:
        """What settling debits from the hold: the price if work was done, else 0 (the
        hold is released)."""
        return QUERY_PRICE_MC if self.charged else 0

    @property
    def debit_key(self) -> str:
        """The idempotency key of the answer's debit."""
        return f"query:{self.key}"

    def debit_metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """`metadata` with the billable tools that did their work, for the debit."""
        return {**metadata, "tools": list(dict.fromkeys(self.work))}

    async def release(self) -> None:
        """Release the hold, if any, charging nothing (the answer failed)."""
        if self.hold_id is None:
            return
        async with self.db.session() as session:
            await ledger.release_hold(session, self.hold_id)
            await session.commit()


async def _place_alone(meter: QueryMeter, expires_at: datetime) -> ledger.HoldResult:
    """The answer's hold, placed in a transaction of its own."""
    async with meter.db.session() as session:
        hold = await ledger.place_hold(
            session,
            meter.workspace_id,
            max_mc=QUERY_PRICE_MC,
            min_mc=QUERY_PRICE_MC,
            idempotency_key=meter.hold_idempotency_key,
            expires_at=expires_at,
            reference=meter.reference,
        )
        await session.commit()
    return hold
