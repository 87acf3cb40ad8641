"""Paddle-format webhook events, built from the models the receiver parses with.

The simulated checkout posts these (signed) to our own `/webhooks/paddle`; tests use
them too. Each event is a `billing.paddle.models` instance dumped to JSON the way Paddle
writes it: an envelope (`event_id`, `event_type`, `occurred_at`, `notification_id`,
`data`) around a transaction or adjustment entity, amounts as strings in the
currency's lowest unit, times in UTC with a `Z`. So whatever the simulator sends, the
webhook's parser reads (tests/billing/test_paddle_models.py checks the round trip).

`transaction()`, `adjustment()` and `event()` return models; `transaction_data()`,
`adjustment_data()` and `envelope()` return their JSON dicts, which tests may alter to
craft malformed events (`envelope()` leaves a dict `data` exactly as given).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from billing.paddle.models import (
    AdjustmentAction,
    AdjustmentData,
    AdjustmentItem,
    AdjustmentStatus,
    AdjustmentTotals,
    Checkout,
    Event,
    LineTotals,
    Payment,
    PriceRef,
    TransactionData,
    TransactionDetails,
    TransactionItem,
    TransactionLineItem,
    TransactionTotals,
    format_time,
)
from billing.paddle.simulated import new_paddle_id

PADDLE_FEE_PERCENT = 5  # Paddle's fee on a one-off payment: 5 % + 50¢
PADDLE_FEE_FIXED_CENTS = 50


def now_rfc3339(at: datetime | None = None) -> str:
    return format_time(at or datetime.now(UTC))


def event(
    event_type: str,
    data: TransactionData | AdjustmentData | dict[str, Any],
    *,
    at: datetime | None = None,
) -> Event[Any]:
    """An event with fresh `evt_`/`ntf_` ids around `data`."""
    return Event[Any](
        event_id=new_paddle_id("evt"),
        event_type=event_type,
        occurred_at=at or datetime.now(UTC),
        notification_id=new_paddle_id("ntf"),
        data=data,
    )


def envelope(
    event_type: str,
    data: TransactionData | AdjustmentData | dict[str, Any],
    *,
    at: datetime | None = None,
) -> dict[str, Any]:
    """`event(...)` as Paddle's JSON."""
    return event(event_type, data, at=at).model_dump(mode="json")


def _fee(total: int) -> int:
    return (total * PADDLE_FEE_PERCENT + 50) // 100 + (PADDLE_FEE_FIXED_CENTS if total else 0)


def transaction(
    *,
    txn_id: str,
    status: str,
    currency: str,
    custom_data: dict[str, Any],
    estimate: dict[str, Any],
    at: datetime | None = None,
) -> TransactionData:
    """A transaction entity priced as `estimate` (our stored `Preview.as_json()`)."""
    stamp = at or datetime.now(UTC)
    lines = estimate.get("lines", [])
    subtotal = sum(int(line["subtotal"]) for line in lines)
    tax = sum(int(line["tax"]) for line in lines)
    total = subtotal + tax
    paid = status in ("paid", "completed")
    fee = _fee(total)
    return TransactionData(
        id=txn_id,
        status=status,
        custom_data=custom_data,
        origin="web",
        collection_mode="automatic",
        currency_code=currency,
        created_at=stamp,
        updated_at=stamp,
        billed_at=stamp if paid else None,
        items=[
            TransactionItem(
                price_id=line["price_id"],
                price=PriceRef(id=line["price_id"], description=line["description"]),
                quantity=1,
            )
            for line in lines
        ],
        details=TransactionDetails(
            totals=TransactionTotals(
                subtotal=subtotal,
                discount=0,
                tax=tax,
                total=total,
                credit=0,
                balance=0 if paid else total,
                grand_total=total,
                fee=fee if paid else None,
                earnings=total - tax - fee if paid else None,
                currency_code=currency,
            ),
            line_items=[
                TransactionLineItem(
                    price_id=line["price_id"],
                    quantity=1,
                    tax_rate=line.get("tax_rate") or "0",
                    totals=LineTotals(
                        subtotal=line["subtotal"], tax=line["tax"], total=line["total"]
                    ),
                )
                for line in lines
            ],
        ),
        payments=[Payment(status="captured", amount=total, created_at=stamp)] if paid else [],
        checkout=Checkout(url=None),
    )


def transaction_data(**kwargs: Any) -> dict[str, Any]:
    """`transaction(...)` as Paddle's JSON."""
    return transaction(**kwargs).model_dump(mode="json")


def adjustment(
    *,
    txn_id: str,
    action: AdjustmentAction,
    status: AdjustmentStatus,
    currency: str,
    total_cents: int,
    full: bool = True,
    adj_id: str | None = None,
    at: datetime | None = None,
) -> AdjustmentData:
    """A refund, credit or chargeback of `total_cents` (untaxed, for simplicity)."""
    stamp = at or datetime.now(UTC)
    return AdjustmentData(
        id=adj_id or new_paddle_id("adj"),
        action=action,
        status=status,
        transaction_id=txn_id,
        reason="simulated",
        currency_code=currency,
        items=[
            AdjustmentItem(
                item_id=new_paddle_id("txnitm"),
                type="full" if full else "partial",
                amount=total_cents,
            )
        ],
        totals=AdjustmentTotals(
            subtotal=total_cents,
            tax=0,
            total=total_cents,
            fee=0,
            earnings=total_cents,
            currency_code=currency,
        ),
        created_at=stamp,
        updated_at=stamp,
    )


def adjustment_data(**kwargs: Any) -> dict[str, Any]:
    """`adjustment(...)` as Paddle's JSON."""
    return adjustment(**kwargs).model_dump(mode="json")


def dumps(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()
