"""Paddle webhooks: verify, store raw (de-duplicated by event id), then apply.

`receive` is what `POST /webhooks/paddle` runs. A bad signature is refused (403) and
nothing is stored; a malformed body is refused (400). A verified event is stored
first and committed, then applied in its own transaction; if applying fails the
event stays `pending` and the job worker retries it (`process_pending_events`).

Applying is idempotent and order-tolerant:
- credits are granted once per transaction (ledger key `paddle:<txn id>`) on
  `transaction.paid` or `transaction.completed`, whichever comes first, and only for a
  transaction we created whose `custom_data`, currency and prices match ours;
- a transaction's status only moves forward in `occurred_at` order;
- approved refunds, chargebacks and credits take back what the purchase bought (key
  `paddle:<adj id>`), `chargeback_reverse` and `credit_reverse` give back what they
  took; over all of a transaction's adjustments, what is taken back never exceeds
  what the transaction granted (the ledger locks the grant and enforces it);
- anything else is stored and acknowledged.
Statuses: processed, ignored (nothing to do), flagged (suspicious: no money moved),
review (refers to something we do not know: no money moved).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing import expiry, ledger
from billing.models import CreditPackage, PaddleAdjustment, PaddleEvent, PaddleTransaction
from billing.money import credits_label
from billing.paddle.models import (
    ADJUSTMENT_ACTIONS,
    ADJUSTMENT_STATUSES,
    AdjustmentData,
    AnyEvent,
    PayloadError,
    TransactionData,
    TransactionTotals,
    parse_event,
)
from billing.paddle.signature import SignatureError, verify
from core import events
from core.db import Database

log = logging.getLogger(__name__)

GRANTING_EVENTS = frozenset({"transaction.paid", "transaction.completed"})
GRANTING_STATUSES = frozenset({"paid", "completed"})
# Paddle's transaction lifecycle, for "only move forward" (canceled is terminal too).
_STATUS_RANK = {
    "draft": 0,
    "ready": 1,
    "billed": 2,
    "past_due": 3,
    "paid": 4,
    "completed": 5,
    "canceled": 5,
}
MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class Receipt:
    status_code: int
    message: str
    event_id: str | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class Outcome:
    status: str  # processed | ignored | flagged | review
    note: str | None = None


def _stored_total(txn: PaddleTransaction) -> int | None:
    """The transaction's total in the lowest unit: Paddle's figures once an event
    brought them (validated then), else our estimate (which the preview validated)."""
    if txn.totals:
        try:
            totals = TransactionTotals.model_validate(txn.totals)
        except ValidationError:
            totals = None
        if totals is not None:
            return totals.grand_total or totals.total
    total = txn.estimate.get("total")
    return total if isinstance(total, int) and not isinstance(total, bool) else None


async def receive(
    db: Database,
    body: bytes,
    signature: str | None,
    *,
    secret: str,
    tolerance_s: int,
    now: float | None = None,
) -> Receipt:
    """Verify, parse (billing/paddle/models.py), store once, then apply.

    403 for a bad signature, 413 for a body over MAX_BODY_BYTES, 400 for a body that is
    not a Paddle event of the shape we read (nothing is stored in any of these)."""
    try:
        verify(signature, body, secret, tolerance_s=tolerance_s, now=now)
    except SignatureError as exc:
        log.warning("paddle webhook refused: %s", exc)
        return Receipt(403, f"signature check failed: {exc}")
    if len(body) > MAX_BODY_BYTES:
        return Receipt(413, "body too large")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return Receipt(400, "the body is not JSON we can read")
    try:
        event = parse_event(payload)
    except PayloadError as exc:
        log.warning("paddle webhook refused: not a Paddle event: %s", exc)
        return Receipt(400, f"not a Paddle event: {exc}")

    async with db.session() as session:
        inserted = await session.scalar(
            insert(PaddleEvent)
            .values(
                event_id=event.event_id,
                event_type=event.event_type,
                occurred_at=event.occurred_at,
                notification_id=event.notification_id,
                payload=payload,
                transaction_id=_transaction_id(event),
            )
            .on_conflict_do_nothing(index_elements=[PaddleEvent.event_id])
            .returning(PaddleEvent.id)
        )
        await session.commit()
    if inserted is None:
        return Receipt(200, "duplicate event: already received", event.event_id, duplicate=True)
    try:
        await process_event(db, event.event_id)
    except Exception:  # stored: the worker retries it; Paddle must not resend forever
        log.exception("paddle event %s stored but not applied yet", event.event_id)
    return Receipt(200, "received", event.event_id)


def _transaction_id(event: AnyEvent) -> str | None:
    """The transaction an event concerns (indexed, for the purchase history)."""
    if isinstance(event.data, TransactionData):
        return event.data.id
    if isinstance(event.data, AdjustmentData):
        return event.data.transaction_id
    return None


async def process_event(db: Database, event_id: str) -> Outcome | None:
    """Apply one stored event, once. Returns None when it was already handled."""
    async with db.session() as session:
        event = await session.scalar(
            select(PaddleEvent)
            .where(PaddleEvent.event_id == event_id, PaddleEvent.status == "pending")
            .with_for_update(skip_locked=True)
        )
        if event is None:
            return None
        outcome = await _apply(session, event)
        event.status = outcome.status
        event.note = outcome.note
        event.processed_at = datetime.now(UTC)
        if outcome.status in ("flagged", "review"):
            log.warning("paddle event %s %s: %s", event_id, outcome.status, outcome.note)
        await session.commit()
        return outcome


async def process_pending_events(db: Database, *, older_than_s: int = 30) -> int:
    """Retry events that were stored but not applied (called by the job worker)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    async with db.session() as session:
        ids = (
            await session.scalars(
                select(PaddleEvent.event_id)
                .where(PaddleEvent.status == "pending", PaddleEvent.received_at <= cutoff)
                .order_by(PaddleEvent.occurred_at.nulls_last(), PaddleEvent.id)
                .limit(500)
            )
        ).all()
    done = 0
    for event_id in ids:
        if await process_event(db, event_id) is not None:
            done += 1
    return done


async def _apply(session: AsyncSession, event: PaddleEvent) -> Outcome:
    try:
        parsed = parse_event(event.payload)
    except PayloadError as exc:  # stored by an older version, or by hand
        return Outcome("review", f"the stored payload is not a Paddle event: {exc}")
    if isinstance(parsed.data, TransactionData):
        return await _apply_transaction(session, event, parsed.data)
    if isinstance(parsed.data, AdjustmentData):
        return await _apply_adjustment(session, event, parsed.data)
    return Outcome("ignored", f"event type {event.event_type} needs no action")


# --- transactions ------------------------------------------------------------------


def _mismatch(txn: PaddleTransaction, package: CreditPackage, data: TransactionData) -> str | None:
    """Why the event's transaction is not the one we created, or None."""
    custom = data.custom_data
    if custom is None:
        return "custom_data is missing"
    for key in ("workspace_id", "user_id", "package_id"):
        if str(custom.get(key)) != txn.custom_data.get(key):
            return f"custom_data.{key} does not match the transaction we created"
    currency = data.currency_code
    if currency is not None and currency != txn.currency:
        return f"currency {currency} does not match the transaction's {txn.currency}"
    ours = {package.paddle_price_id} | (
        {package.paddle_fee_price_id} if package.paddle_fee_price_id else set()
    )
    prices = data.price_ids
    if prices and package.paddle_price_id not in prices:
        return f"the package's price {package.paddle_price_id} is not among the items"
    foreign = sorted(set(prices) - ours)
    if foreign:
        return f"price id(s) we do not sell for this package: {', '.join(foreign)}"
    return None


def _move_status(txn: PaddleTransaction, event: PaddleEvent, data: TransactionData) -> None:
    """Record what the event says, moving the status only forward and only for an
    event newer than the last one applied."""
    occurred = event.occurred_at
    newer = txn.last_event_at is None or (occurred is not None and occurred >= txn.last_event_at)
    if newer and _STATUS_RANK.get(data.status, 0) >= _STATUS_RANK.get(txn.status, 0):
        txn.status = data.status
    if newer and occurred is not None:
        txn.last_event_at = occurred
    if data.totals is not None:
        txn.totals = data.totals.model_dump(mode="json")  # amounts as strings, as Paddle's
    if data.status in GRANTING_STATUSES and txn.paid_at is None:
        txn.paid_at = data.billed_at or occurred or datetime.now(UTC)
    if data.status == "completed" and txn.completed_at is None:
        txn.completed_at = data.updated_at or occurred or datetime.now(UTC)


async def _apply_transaction(
    session: AsyncSession, event: PaddleEvent, data: TransactionData
) -> Outcome:
    txn_id = data.id
    txn = await session.get(PaddleTransaction, txn_id, with_for_update=True)
    if txn is None:
        return Outcome("review", f"unknown transaction {txn_id}: not created by us")
    package = await session.get(CreditPackage, txn.package_id)
    assert package is not None  # a foreign key
    problem = _mismatch(txn, package, data)
    if problem is not None:
        return Outcome("flagged", problem)
    _move_status(txn, event, data)

    status = data.status
    if event.event_type not in GRANTING_EVENTS and status not in GRANTING_STATUSES:
        return Outcome("processed", f"transaction {txn_id} is {status}")
    if txn.grant_entry_id is not None:
        return Outcome("processed", f"transaction {txn_id} already granted")
    expires_at = await expiry.expiry_for_new_grant(session)
    result = await ledger.grant(
        session,
        txn.workspace_id,
        amount_mc=txn.credits_mc,
        idempotency_key=f"paddle:{txn.id}",
        source="purchase",
        expires_at=expires_at,
        description=f"Bought {package.name}: {credits_label(txn.credits_mc)}",
        metadata={"transaction_id": txn.id, "event_id": event.event_id},
    )
    txn.grant_entry_id = result.entry_id
    # The workspace's open chats, on every process, announce the payment and the new
    # balance (chat_app/notifications.py) once this transaction commits.
    await events.publish(session, events.NOTICES, txn.workspace_id)
    log.info("granted %s to workspace %s for %s", txn.credits_mc, txn.workspace_id, txn.id)
    return Outcome("processed", f"granted {credits_label(txn.credits_mc)} for {txn_id}")


# --- adjustments (refunds, chargebacks) --------------------------------------------

# Paddle's adjustment actions that take credits back, and those that give them back,
# as the ledger's kinds. Over all of a transaction's adjustments the ledger takes back
# at most what the transaction granted (migration 0021).
_CLAWBACK_ACTIONS: dict[str, ledger.ClawbackKind] = {
    "refund": "refund",
    "chargeback": "chargeback",
    "credit": "credit_note",
}
_REVERSAL_ACTIONS: dict[str, ledger.ReversalKind] = {
    "chargeback_reverse": "chargeback_reverse",
    "credit_reverse": "credit_note_reverse",
}


def _adjusted_credits(txn: PaddleTransaction, data: AdjustmentData) -> int:
    """The credits an adjustment concerns: all of them for a full adjustment, else the
    same share of the credits as the adjusted amount is of the transaction's total."""
    if data.is_full:
        return txn.credits_mc
    adj_total = data.total
    txn_total = _stored_total(txn)
    if adj_total is None or not txn_total:
        return txn.credits_mc
    return min(txn.credits_mc, txn.credits_mc * adj_total // txn_total)


async def _record_adjustment(
    session: AsyncSession, txn: PaddleTransaction, event: PaddleEvent, data: AdjustmentData
) -> PaddleAdjustment:
    """Our row for the adjustment (created once), its status moved only by newer events."""
    await session.execute(
        insert(PaddleAdjustment)
        .values(
            id=data.id,
            transaction_id=txn.id,
            workspace_id=txn.workspace_id,
            action=data.action,
            status=data.status,
            amount_cents=data.total,
            last_event_at=event.occurred_at,
        )
        .on_conflict_do_nothing(index_elements=[PaddleAdjustment.id])
    )
    adj = await session.get(PaddleAdjustment, data.id, with_for_update=True, populate_existing=True)
    assert adj is not None
    if adj.last_event_at is None or (
        event.occurred_at is not None and event.occurred_at >= adj.last_event_at
    ):
        adj.status, adj.last_event_at = data.status, event.occurred_at
    adj.updated_at = datetime.now(UTC)
    return adj


async def _apply_adjustment(
    session: AsyncSession, event: PaddleEvent, data: AdjustmentData
) -> Outcome:
    adj_id, action, status = data.id, data.action, data.status
    if action not in ADJUSTMENT_ACTIONS or status not in ADJUSTMENT_STATUSES:
        return Outcome("review", f"adjustment {adj_id}: unknown action {action!r} / {status!r}")
    txn = await session.get(PaddleTransaction, data.transaction_id, with_for_update=True)
    if txn is None:
        return Outcome(
            "review", f"adjustment {adj_id} for unknown transaction {data.transaction_id}"
        )
    if data.currency_code is not None and data.currency_code != txn.currency:
        return Outcome("flagged", f"adjustment currency {data.currency_code} is not {txn.currency}")
    adj = await _record_adjustment(session, txn, event, data)

    if adj.entry_id is not None or adj.credits_mc > 0:
        return Outcome("processed", f"adjustment {adj_id} already applied")
    if status != "approved":
        return Outcome("processed", f"adjustment {adj_id} is {status}: no credits move yet")

    if action in _CLAWBACK_ACTIONS:
        return await _claw_back(session, txn, adj, data, action)
    if action in _REVERSAL_ACTIONS:
        return await _reverse(session, txn, adj, data, action)
    return Outcome("processed", f"adjustment action {action} moves no credits")


async def _claw_back(
    session: AsyncSession,
    txn: PaddleTransaction,
    adj: PaddleAdjustment,
    data: AdjustmentData,
    action: str,
) -> Outcome:
    """Take back what the adjustment concerns, within what the transaction has left to
    lose (the caller holds the transaction's row lock; the ledger locks the grant and
    enforces the cap itself). `adj.credits_mc` is what it concerns after the cap,
    `taken_mc` what was taken, `shortfall_mc` what was already spent."""
    if txn.grant_entry_id is None:
        return Outcome("review", f"{action} {adj.id} on {txn.id}, which granted no credits")
    wanted = _adjusted_credits(txn, data)
    if wanted <= 0:
        return Outcome("processed", f"{action} {adj.id} concerns no whole milli-credits")
    figures = await ledger.grant_taken_back(session, txn.grant_entry_id)
    assert figures is not None  # the grant entry's own lot
    granted, taken_before = figures
    concerned = min(wanted, granted - taken_before)
    adj.credits_mc = max(concerned, 0)
    capped = wanted - adj.credits_mc
    if adj.credits_mc <= 0:
        return Outcome(
            "processed",
            f"{action} {adj.id}: nothing left to take back, {txn.id} already gave back "
            f"{credits_label(taken_before)} of {credits_label(granted)}",
        )
    result = await ledger.claw_back(
        session,
        txn.workspace_id,
        amount_mc=adj.credits_mc,
        idempotency_key=f"paddle:{adj.id}",
        kind=_CLAWBACK_ACTIONS[action],
        from_grant_entry=txn.grant_entry_id,
        description=f"{action.capitalize()} of {txn.id}",
        metadata={"transaction_id": txn.id, "adjustment_id": adj.id},
    )
    adj.entry_id = result.entry_id
    adj.taken_mc = -result.amount_mc
    adj.shortfall_mc = adj.credits_mc - adj.taken_mc
    note = f"{action} {adj.id}: took back {credits_label(adj.taken_mc)}"
    if capped:
        note += f"; {credits_label(capped)} not taken: earlier adjustments took it back"
    if adj.shortfall_mc:
        note += f"; shortfall {credits_label(adj.shortfall_mc)} (already spent)"
        log.warning("refund shortfall on %s: %s mc already spent", txn.id, adj.shortfall_mc)
    return Outcome("processed", note)


async def _reverse(
    session: AsyncSession,
    txn: PaddleTransaction,
    adj: PaddleAdjustment,
    data: AdjustmentData,
    action: str,
) -> Outcome:
    """Give back what the transaction's chargebacks (or credits) took and was not given
    back yet — never more (the ledger caps it at the grant's own figure)."""
    if txn.grant_entry_id is None:
        return Outcome("review", f"{action} {adj.id} on {txn.id}, which granted no credits")
    result = await ledger.reverse_clawback(
        session,
        txn.workspace_id,
        amount_mc=_adjusted_credits(txn, data),
        idempotency_key=f"paddle:{adj.id}",
        kind=_REVERSAL_ACTIONS[action],
        of_grant_entry=txn.grant_entry_id,
        description=f"{action.replace('_', ' ').capitalize()} on {txn.id}",
        metadata={"transaction_id": txn.id, "adjustment_id": adj.id},
    )
    if result.amount_mc <= 0:
        return Outcome("review", f"{action} {adj.id} with nothing taken back to reverse")
    adj.entry_id = result.entry_id
    adj.credits_mc = result.amount_mc
    adj.taken_mc = 0
    return Outcome(
        "processed", f"{action} on {txn.id}: {credits_label(result.amount_mc)} given back"
    )
