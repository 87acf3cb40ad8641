"""The Paddle payload models (billing/paddle/models.py).

Samples follow the shapes in Paddle's webhook and API reference (and the official
Python SDK's fixtures), with our own ids and amounts. Three things are checked:
realistic payloads parse into the fields we read; malformed ones are refused (in
process with a reason naming the field, and over HTTP with a 400 and nothing
stored); every answer the local Paddle double gives, and every event the simulated
checkout builds, parses with the same models.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from billing.models import PaddleEvent
from billing.paddle import events
from billing.paddle.models import (
    AdjustmentData,
    Answer,
    ErrorAnswer,
    InvoiceData,
    PayloadError,
    PricingPreviewData,
    TransactionData,
    TransactionTotals,
    parse_answer,
    parse_event,
)
from tests.billing.paddle_helpers import (
    balance_mc,
    checkout,
    new_member,
    post,
    stored_events,
    transaction_event,
)
from tests.billing.test_paddle_live import API_KEY, FEE_PRICE, PACKAGE_PRICE, PaddleDouble

# --- samples shaped as Paddle documents them ---------------------------------------------

TRANSACTION_COMPLETED: dict[str, Any] = {
    "event_id": "evt_01hv8x2a9qpb0mmv1j8nq5ww0h",
    "event_type": "transaction.completed",
    "occurred_at": "2024-04-12T10:18:50.738971Z",
    "notification_id": "ntf_01hv8x2ae4c1zd0q3m8y7x6w5v",
    "data": {
        "id": "txn_01hv8wptq8987qeep44cyrewp9",
        "status": "completed",
        "customer_id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
        "address_id": "add_01hv8gq3318ktkfengj2r75gfx",
        "business_id": None,
        "custom_data": {"workspace_id": "6c0e2c8e", "user_id": "0f9e8d7c", "package_id": "3"},
        "origin": "web",
        "collection_mode": "automatic",
        "subscription_id": None,
        "invoice_id": "inv_01hv8x29nsh54c2pgt0hnq0zkx",
        "invoice_number": "325-10566",
        "billing_details": None,
        "billing_period": None,
        "currency_code": "USD",
        "discount_id": None,
        "created_at": "2024-04-12T10:12:33.201400Z",
        "updated_at": "2024-04-12T10:18:49.738971Z",
        "billed_at": "2024-04-12T10:18:48.294633Z",
        "revised_at": None,
        "items": [
            {
                "price": {
                    "id": PACKAGE_PRICE,
                    "name": "Starter credits",
                    "type": "standard",
                    "status": "active",
                    "quantity": {"maximum": 1, "minimum": 1},
                    "tax_mode": "account_setting",
                    "product_id": "pro_01gsz97mq9pa4fkyy0wqenepkz",
                    "unit_price": {"amount": "4900", "currency_code": "USD"},
                    "custom_data": None,
                    "description": "starter package, one-off",
                    "trial_period": None,
                    "billing_cycle": None,
                    "unit_price_overrides": [],
                    "import_meta": None,
                },
                "quantity": 1,
                "proration": None,
            }
        ],
        "details": {
            "totals": {
                "subtotal": "4900",
                "discount": "0",
                "tax": "435",
                "total": "5335",
                "credit": "0",
                "credit_to_balance": "0",
                "balance": "0",
                "grand_total": "5335",
                "fee": "317",
                "earnings": "4583",
                "currency_code": "USD",
            },
            "adjusted_totals": {"subtotal": "4900", "tax": "435", "total": "5335"},
            "payout_totals": {"subtotal": "4900", "fee": "317", "exchange_rate": "1"},
            "adjusted_payout_totals": None,
            "tax_rates_used": [{"tax_rate": "0.08875", "totals": {"tax": "435"}}],
            "line_items": [
                {
                    "id": "txnitm_01hv8wt98jahpbm1t1tzr06z6n",
                    "price_id": PACKAGE_PRICE,
                    "quantity": 1,
                    "proration": None,
                    "tax_rate": "0.08875",
                    "unit_totals": {
                        "subtotal": "4900",
                        "discount": "0",
                        "tax": "435",
                        "total": "5335",
                    },
                    "totals": {"subtotal": "4900", "discount": "0", "tax": "435", "total": "5335"},
                    "product": {"id": "pro_01gsz97mq9pa4fkyy0wqenepkz", "name": "Credits"},
                }
            ],
        },
        "payments": [
            {
                "amount": "5335",
                "status": "captured",
                "created_at": "2024-04-12T10:18:33.579142Z",
                "captured_at": "2024-04-12T10:18:47.635628Z",
                "error_code": None,
                "method_details": {"type": "card", "card": {"type": "visa", "last4": "3184"}},
                "payment_method_id": "paymtd_01hv8x1tpjfnttxddw73xnqx6s",
                "payment_attempt_id": "937640dd-e3dc-40df-a16c-bb75aafd8f71",
            }
        ],
        "checkout": {"url": "https://klosesales.example/pay?_ptxn=txn_01hv8wptq8987qeep44cyrewp9"},
    },
}

ADJUSTMENT_CREATED: dict[str, Any] = {
    "event_id": "evt_01hvgf2sa1k3v6y0m3t2r1q0pz",
    "event_type": "adjustment.created",
    "occurred_at": "2024-04-15T08:48:21.101210Z",
    "notification_id": "ntf_01hvgf2sd5x9w8v7u6t5s4r3q2",
    "data": {
        "id": "adj_01hvgf2s84dr6reszzg29zbvcm",
        "action": "refund",
        "type": "partial",
        "transaction_id": "txn_01hv8wptq8987qeep44cyrewp9",
        "subscription_id": None,
        "customer_id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
        "reason": "error",
        "credit_applied_to_balance": None,
        "currency_code": "USD",
        "status": "pending_approval",
        "items": [
            {
                "id": "adjitm_01hvgf2s84dr6reszzg2gx70gj",
                "item_id": "txnitm_01hv8wt98jahpbm1t1tzr06z6n",
                "type": "partial",
                "amount": "1000",
                "proration": None,
                "totals": {"subtotal": "918", "tax": "82", "total": "1000"},
            }
        ],
        "totals": {
            "subtotal": "918",
            "tax": "82",
            "total": "1000",
            "fee": "50",
            "earnings": "868",
            "retained_fee": "0",
            "currency_code": "USD",
        },
        "payout_totals": {
            "subtotal": "918",
            "tax": "82",
            "total": "1000",
            "fee": "50",
            "earnings": "868",
            "chargeback_fee": {"amount": "0", "original": None},
            "currency_code": "USD",
        },
        "tax_rates_used": None,
        "created_at": "2024-04-15T08:48:20.239695Z",
        "updated_at": "2024-04-15T08:48:20.239695Z",
    },
}

CUSTOMER_CREATED: dict[str, Any] = {
    "event_id": "evt_01hv6y1jkqp0w8k6j6x9b2s0n4",
    "event_type": "customer.created",
    "occurred_at": "2024-04-11T13:54:52.254748Z",
    "notification_id": "ntf_01hv6y1jpmn8s2b4fvm5r1k0d3",
    "data": {"id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4", "email": "dana@example.com"},
}


# --- realistic payloads parse -------------------------------------------------------------


def test_a_documented_transaction_completed_event_parses_into_what_we_read() -> None:
    event = parse_event(copy.deepcopy(TRANSACTION_COMPLETED))
    data = event.data
    assert isinstance(data, TransactionData)
    assert event.event_id == "evt_01hv8x2a9qpb0mmv1j8nq5ww0h"
    assert event.occurred_at == datetime(2024, 4, 12, 10, 18, 50, 738971, tzinfo=UTC)
    assert (data.id, data.status, data.currency_code) == (
        "txn_01hv8wptq8987qeep44cyrewp9",
        "completed",
        "USD",
    )
    assert data.custom_data == {
        "workspace_id": "6c0e2c8e",
        "user_id": "0f9e8d7c",
        "package_id": "3",
    }
    assert data.price_ids == [PACKAGE_PRICE]
    assert data.totals is not None
    assert (data.totals.subtotal, data.totals.tax, data.totals.grand_total) == (4900, 435, 5335)
    assert (data.totals.fee, data.totals.earnings) == (317, 4583)
    assert data.billed_at == datetime(2024, 4, 12, 10, 18, 48, 294633, tzinfo=UTC)
    assert data.checkout is not None and data.checkout.url is not None
    assert data.payments[0].amount == 5335


def test_a_documented_adjustment_created_event_parses_into_what_we_read() -> None:
    event = parse_event(copy.deepcopy(ADJUSTMENT_CREATED))
    data = event.data
    assert isinstance(data, AdjustmentData)
    assert (data.id, data.action, data.status) == (
        "adj_01hvgf2s84dr6reszzg29zbvcm",
        "refund",
        "pending_approval",
    )
    assert data.transaction_id == "txn_01hv8wptq8987qeep44cyrewp9"
    assert (data.total, data.is_full) == (1000, False)
    assert [(i.type, i.amount) for i in data.items] == [("partial", 1000)]


@pytest.mark.parametrize(
    "action",
    [
        "credit",
        "refund",
        "chargeback",
        "chargeback_warning",
        "chargeback_reverse",
        "credit_reverse",
    ],
)
@pytest.mark.parametrize("status", ["pending_approval", "approved", "rejected"])
def test_every_documented_adjustment_action_and_status_parses(action: str, status: str) -> None:
    payload = copy.deepcopy(ADJUSTMENT_CREATED)
    payload["data"].update(action=action, status=status)
    data = parse_event(payload).data
    assert isinstance(data, AdjustmentData)
    assert (data.action, data.status) == (action, status)


def test_other_event_types_keep_their_data_as_sent() -> None:
    event = parse_event(copy.deepcopy(CUSTOMER_CREATED))
    assert event.data == CUSTOMER_CREATED["data"]


def test_stored_transaction_totals_dump_as_paddle_writes_them() -> None:
    data = parse_event(copy.deepcopy(TRANSACTION_COMPLETED)).data
    assert isinstance(data, TransactionData) and data.totals is not None
    dumped = data.totals.model_dump(mode="json")
    assert dumped["grand_total"] == "5335"
    assert TransactionTotals.model_validate(dumped) == data.totals


# --- malformed payloads are refused -------------------------------------------------------

Mutation = Callable[[dict[str, Any]], object]


def _set(path: str, value: object) -> Mutation:
    """Set `value` at a dotted path ("data.details.totals.total"; digits index lists)."""

    def mutate(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = event
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _drop(key: str) -> Mutation:
    return lambda event: event.pop(key)


BAD_TRANSACTIONS: dict[str, tuple[Mutation, str]] = {
    "no data": (_drop("data"), "'data' field required"),
    "data not an object": (_set("data", ["txn_1"]), "'data'"),
    "no event id": (_drop("event_id"), "'event_id' field required"),
    "event id a number": (_set("event_id", 12), "'event_id'"),
    "no occurred_at": (_drop("occurred_at"), "'occurred_at' field required"),
    "occurred_at not a time": (_set("occurred_at", "yesterday"), "RFC 3339"),
    "no transaction id": (_set("data.id", None), "'data.id'"),
    "items not a list": (_set("data.items", "pri_1"), "'data.items'"),
    "a price id not a string": (_set("data.items.0.price.id", 7), "'data.items.0.price.id'"),
    "custom_data not an object": (_set("data.custom_data", "x"), "'data.custom_data'"),
    "currency not a code": (_set("data.currency_code", "usd"), "'data.currency_code'"),
    "total with a decimal point": (
        _set("data.details.totals.total", "53.35"),
        "'data.details.totals.total' is not an amount",
    ),
    "total as a JSON number": (
        _set("data.details.totals.total", 5335),
        "'data.details.totals.total' is not an amount",
    ),
    "total in Arabic-Indic digits": (
        _set("data.details.totals.total", "٥٣٣٥"),
        "'data.details.totals.total' is not an amount",
    ),
    "total with a sign": (_set("data.details.totals.total", "-5335"), "is not an amount"),
    "a NUL in an amount": (_set("data.details.totals.tax", "43\x005"), "NUL"),
    "a NUL in a key": (_set("data.custom_data.a\x00b", "1"), "NUL"),
}

BAD_ADJUSTMENTS: dict[str, tuple[Mutation, str]] = {
    "an empty action": (_set("data.action", ""), "'data.action'"),
    "a status that is not a string": (_set("data.status", 7), "'data.status'"),
    "no transaction id": (_set("data.transaction_id", None), "'data.transaction_id'"),
    "total in superscript digits": (_set("data.totals.total", "¹⁰⁰⁰"), "'data.totals.total'"),
    "item amount as a JSON number": (_set("data.items.0.amount", 1000), "'data.items.0.amount'"),
}


@pytest.mark.parametrize("case", sorted(BAD_TRANSACTIONS))
def test_a_malformed_transaction_event_is_refused_naming_the_field(case: str) -> None:
    mutate, reason = BAD_TRANSACTIONS[case]
    payload = copy.deepcopy(TRANSACTION_COMPLETED)
    mutate(payload)
    with pytest.raises(PayloadError) as refused:
        parse_event(payload)
    assert reason in str(refused.value)
    assert "\x00" not in str(refused.value)


@pytest.mark.parametrize("case", sorted(BAD_ADJUSTMENTS))
def test_a_malformed_adjustment_event_is_refused_naming_the_field(case: str) -> None:
    mutate, reason = BAD_ADJUSTMENTS[case]
    payload = copy.deepcopy(ADJUSTMENT_CREATED)
    mutate(payload)
    with pytest.raises(PayloadError) as refused:
        parse_event(payload)
    assert reason in str(refused.value)


@pytest.mark.parametrize("body", [[], "evt", None, 3])
def test_a_body_that_is_not_an_object_is_refused(body: object) -> None:
    with pytest.raises(PayloadError, match="not a JSON object"):
        parse_event(body)


async def _stored_events(db: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(PaddleEvent)) or 0)


HTTP_CASES = [
    "no data",
    "items not a list",
    "custom_data not an object",
    "total with a decimal point",
    "total as a JSON number",
    "total in Arabic-Indic digits",
    "a NUL in an amount",
]


@pytest.mark.parametrize("case", HTTP_CASES)
async def test_a_signed_malformed_transaction_event_is_400_and_nothing_is_stored(
    case: str, live_server: str, db: Any
) -> None:
    actor = await new_member(db)
    txn = await checkout(db, actor)
    event = transaction_event(txn, "transaction.completed", "completed")
    BAD_TRANSACTIONS[case][0](event)
    before = await _stored_events(db)
    response = post(live_server, json.dumps(event).encode())
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("not a Paddle event: ")
    assert await _stored_events(db) == before


@pytest.mark.parametrize(
    ("field", "value"), [("action", "refund_everything"), ("status", "settled_later")]
)
async def test_an_adjustment_paddle_may_add_later_is_kept_for_review_and_moves_nothing(
    live_server: str, db: Any, field: str, value: str
) -> None:
    """An action or status Paddle does not document today is well-formed, just new:
    refusing it would only make Paddle retry an event we can never take. It is stored
    for review (200) and no credit moves."""
    actor = await new_member(db)
    txn = await checkout(db, actor)
    assert (
        post(live_server, transaction_event(txn, "transaction.completed", "completed")).status_code
        == 200
    )
    granted = await balance_mc(db, actor)
    adjustment = events.adjustment_data(
        txn_id=txn.id,
        action="refund",
        status="approved",
        currency=txn.currency,
        total_cents=100,
    )
    adjustment[field] = value
    response = post(live_server, events.envelope("adjustment.updated", adjustment))
    assert response.status_code == 200, response.text
    statuses = [
        status
        for kind, status, _ in await stored_events(db, txn.id)
        if kind.startswith("adjustment")
    ]
    assert statuses == ["review"]
    assert await balance_mc(db, actor) == granted > 0


# --- both sides agree: the simulator's events and the double's answers parse ---------------

ESTIMATE = {
    "currency": "USD",
    "lines": [
        {
            "price_id": PACKAGE_PRICE,
            "description": "Starter credits",
            "subtotal": 1000,
            "tax": 89,
            "total": 1089,
            "tax_rate": "0.08875",
        },
        {
            "price_id": FEE_PRICE,
            "description": "Platform service fee",
            "subtotal": 50,
            "tax": 4,
            "total": 54,
            "tax_rate": "0.08875",
        },
    ],
}


@pytest.mark.parametrize("status", ["ready", "paid", "completed"])
def test_the_simulated_transaction_event_round_trips_through_the_parser(status: str) -> None:
    built = events.transaction(
        txn_id="txn_01jsimulated000000000000000",
        status=status,
        currency="USD",
        custom_data={"workspace_id": "w", "user_id": "u", "package_id": "p"},
        estimate=ESTIMATE,
    )
    wire = events.dumps(events.envelope(f"transaction.{status}", built))
    parsed = parse_event(json.loads(wire))
    assert parsed.data == built
    assert isinstance(parsed.data, TransactionData) and parsed.data.totals is not None
    assert parsed.data.totals.total == 1143
    assert parsed.data.price_ids == [PACKAGE_PRICE, FEE_PRICE]
    assert json.loads(wire)["data"]["details"]["totals"]["total"] == "1143"  # Paddle's format


@pytest.mark.parametrize("full", [True, False])
def test_the_simulated_adjustment_event_round_trips_through_the_parser(full: bool) -> None:
    built = events.adjustment(
        txn_id="txn_01jsimulated000000000000000",
        action="chargeback",
        status="approved",
        currency="USD",
        total_cents=560,
        full=full,
    )
    parsed = parse_event(json.loads(events.dumps(events.envelope("adjustment.updated", built))))
    assert parsed.data == built
    assert isinstance(parsed.data, AdjustmentData)
    assert (parsed.data.total, parsed.data.is_full) == (560, full)


@pytest.fixture
async def paddle_api() -> AsyncIterator[httpx.AsyncClient]:
    """The local Paddle double, in process, answering with its documented shapes."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=PaddleDouble().app()),
        base_url="http://paddle.test",
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as client:
        yield client


ITEMS = [{"price_id": PACKAGE_PRICE, "quantity": 1}, {"price_id": FEE_PRICE, "quantity": 2}]


async def test_the_doubles_pricing_preview_answer_parses(paddle_api: httpx.AsyncClient) -> None:
    response = await paddle_api.post(
        "/pricing-preview",
        json={"items": ITEMS, "address": {"country_code": "DE"}, "currency_code": "USD"},
    )
    assert response.status_code == 200
    data = parse_answer(Answer[PricingPreviewData], response.json()).data
    package, fee = data.details.line_items
    assert (package.price.id, package.label, package.tax_rate) == (
        PACKAGE_PRICE,
        "Starter credits",
        "0.19",
    )
    assert (package.totals.subtotal, package.totals.tax, package.totals.total) == (4900, 931, 5831)
    assert package.formatted_totals is not None and package.formatted_totals.total == "$58.31"
    assert (fee.quantity, fee.totals.subtotal) == (2, 600)


async def test_the_doubles_transaction_and_invoice_answers_parse(
    paddle_api: httpx.AsyncClient,
) -> None:
    created = await paddle_api.post(
        "/transactions",
        json={
            "items": ITEMS,
            "currency_code": "USD",
            "collection_mode": "automatic",
            "custom_data": {"workspace_id": "w"},
        },
    )
    assert created.status_code == 201
    txn = parse_answer(Answer[TransactionData], created.json()).data
    assert (txn.status, txn.currency_code, txn.custom_data) == (
        "draft",
        "USD",
        {"workspace_id": "w"},
    )
    assert txn.checkout is not None and txn.checkout.url == (
        f"https://klosesales.example/pay?_ptxn={txn.id}"
    )
    assert txn.price_ids == [PACKAGE_PRICE, FEE_PRICE]
    invoice = await paddle_api.get(f"/transactions/{txn.id}/invoice")
    assert invoice.status_code == 400  # not completed yet: Paddle's error shape
    refusal = parse_answer(ErrorAnswer, invoice.json())
    assert refusal.error.code == "bad_request"
    assert refusal.meta is not None and refusal.meta.request_id


async def test_the_doubles_invoice_and_field_error_answers_parse() -> None:
    double = PaddleDouble()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=double.app()),
        base_url="http://paddle.test",
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as client:
        created = await client.post("/transactions", json={"items": ITEMS, "currency_code": "USD"})
        txn_id = parse_answer(Answer[TransactionData], created.json()).data.id
        double.complete(txn_id)
        invoice = await client.get(f"/transactions/{txn_id}/invoice")
        assert parse_answer(Answer[InvoiceData], invoice.json()).data.url.endswith(f"{txn_id}.pdf")
        refused = await client.post("/pricing-preview", json={"items": [{"price_id": "x"}]})
    assert refused.status_code == 400
    error = parse_answer(ErrorAnswer, refused.json()).error
    assert error.code == "invalid_field"
    assert [e.field for e in error.errors] == ["items[0].price_id", "items[0].quantity"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"meta": {}}, "'data' field required"),
        ({"data": {"details": {}}}, "'data.details.line_items' field required"),
        (
            {
                "data": {
                    "details": {
                        "line_items": [
                            {
                                "price": {"id": "pri_1"},
                                "totals": {"subtotal": "1,000", "tax": "0", "total": "1000"},
                            }
                        ]
                    }
                }
            },
            "'data.details.line_items.0.totals.subtotal' is not an amount",
        ),
        (
            {
                "data": {
                    "details": {
                        "line_items": [
                            {
                                "price": {"id": "pri_1"},
                                "totals": {"subtotal": 1000, "tax": "0", "total": "1000"},
                            }
                        ]
                    }
                }
            },
            "'data.details.line_items.0.totals.subtotal' is not an amount",
        ),
        (
            {
                "data": {
                    "details": {
                        "line_items": [{"totals": {"subtotal": "1", "tax": "0", "total": "1"}}]
                    }
                }
            },
            "'data.details.line_items.0.price' field required",
        ),
    ],
)
def test_a_malformed_pricing_preview_answer_is_refused(answer: object, reason: str) -> None:
    with pytest.raises(PayloadError) as refused:
        parse_answer(Answer[PricingPreviewData], answer)
    assert reason in str(refused.value)
