"""Paddle-format webhook events, built the way Paddle sends them.

The simulated checkout posts these (signed) to our own `/webhooks/paddle`; tests use
them too. Shapes follow Paddle Billing's `transaction.*` and `adjustment.*` events:
an envelope (`event_id`, `event_type`, `occurred_at`, `notification_id`, `data`) around
the entity, amounts as strings in the currency's lowest unit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from billing.paddle.simulated import new_paddle_id


def now_rfc3339(at: datetime | None = None) -> str:
    moment = at or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def envelope(
    event_type: str, data: dict[str, Any], *, at: datetime | None = None
) -> dict[str, Any]:
    return {
        "event_id": new_paddle_id("evt"),
        "event_type": event_type,
        "occurred_at": now_rfc3339(at),
        "notification_id": new_paddle_id("ntf"),
        "data": data,
    }


def transaction_data(
    *,
    txn_id: str,
    status: str,
    currency: str,
    custom_data: dict[str, Any],
    estimate: dict[str, Any],
    at: datetime | None = None,
) -> dict[str, Any]:
    """A transaction entity priced as `estimate` (our stored Preview.as_json())."""
    stamp = now_rfc3339(at)
    lines = estimate.get("lines", [])
    items = [
        {
            "price_id": line["price_id"],
            "price": {
                "id": line["price_id"],
                "description": line["description"],
                "unit_price": {"amount": str(line["subtotal"]), "currency_code": currency},
            },
            "quantity": 1,
        }
        for line in lines
    ]
    subtotal = sum(int(line["subtotal"]) for line in lines)
    tax = sum(int(line["tax"]) for line in lines)
    total = subtotal + tax
    fee = (total * 5 + 50) // 100 + (50 if total else 0)  # Paddle's fee: 5 % + 50¢
    paid = status in ("paid", "completed")
    return {
        "id": txn_id,
        "status": status,
        "customer_id": None,
        "address_id": None,
        "business_id": None,
        "custom_data": custom_data,
        "origin": "web",
        "collection_mode": "automatic",
        "currency_code": currency,
        "created_at": stamp,
        "updated_at": stamp,
        "billed_at": stamp if paid else None,
        "items": items,
        "details": {
            "totals": {
                "subtotal": str(subtotal),
                "discount": "0",
                "tax": str(tax),
                "total": str(total),
                "credit": "0",
                "balance": "0" if paid else str(total),
                "grand_total": str(total),
                "fee": str(fee) if paid else None,
                "earnings": str(total - tax - fee) if paid else None,
                "currency_code": currency,
            },
            "line_items": [
                {
                    "price_id": line["price_id"],
                    "quantity": 1,
                    "tax_rate": line.get("tax_rate") or "0",
                    "totals": {
                        "subtotal": str(line["subtotal"]),
                        "discount": "0",
                        "tax": str(line["tax"]),
                        "total": str(line["total"]),
                    },
                }
                for line in lines
            ],
        },
        "payments": [{"status": "captured", "created_at": stamp}] if paid else [],
        "checkout": {"url": None},
    }


def adjustment_data(
    *,
    txn_id: str,
    action: str,
    status: str,
    currency: str,
    total_cents: int,
    full: bool = True,
    adj_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    stamp = now_rfc3339(at)
    return {
        "id": adj_id or new_paddle_id("adj"),
        "action": action,
        "status": status,
        "transaction_id": txn_id,
        "reason": "simulated",
        "currency_code": currency,
        "items": [{"item_id": new_paddle_id("txnitm"), "type": "full" if full else "partial",
                   "amount": str(total_cents)}],
        "totals": {"subtotal": str(total_cents), "tax": "0", "total": str(total_cents),
                   "fee": "0", "earnings": str(total_cents), "currency_code": currency},
        "created_at": stamp,
        "updated_at": stamp,
    }  # fmt: skip


def dumps(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()
