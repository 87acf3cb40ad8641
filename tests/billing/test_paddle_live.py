"""`LivePaddle` against a local double of Paddle Billing's API, served over real HTTP.

The double answers in the shapes Paddle documents (API reference, error reference
and the official SDKs' fixtures): `POST /pricing-preview`, `POST /transactions` (201)
and `GET /transactions/{id}/invoice`, with errors as `{"error": {type, code, detail,
documentation_url, errors?}, "meta": {request_id}}`. It records every request it gets.
Tests can queue one-off answers (429, 5xx, ...) ahead of the normal handling.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from billing.paddle import BillingAddress, PaddleAPIError, PriceLine
from billing.paddle import live as live_module
from billing.paddle.live import LivePaddle
from tests.http_double import serve_in_thread

API_KEY = "pdl_sdbx_apikey_01jtestkeynotarealsecret0000000"

PACKAGE_PRICE = "pri_01jpkgstarter000000000000aa"
FEE_PRICE = "pri_01jfeeplatform00000000000bb"

# price id → (customer-facing name, internal description, product name, unit amount)
CATALOGUE: dict[str, tuple[str, str, str, int]] = {
    PACKAGE_PRICE: ("Starter credits", "starter package, one-off", "Klosesales credits", 4900),
    FEE_PRICE: ("Platform service fee", "fee line, one-off", "Klosesales service fee", 300),
}
TAX_RATES = {"DE": "0.19", "GB": "0.2", "US": "0"}

CUSTOM_DATA = {
    "workspace_id": "6c0e2c8e-0d7b-4a53-9f7e-1a2b3c4d5e6f",
    "user_id": "0f9e8d7c-6b5a-4c3d-2e1f-0a9b8c7d6e5f",
    "package_id": "3",
    "purpose": "credit_package",
}


# --- the double ------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class PaddleDouble:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.queued: dict[tuple[str, str], list[Scripted]] = {}
        self.transactions: dict[str, dict[str, Any]] = {}
        self.delay_s = 0.0

    def reset(self) -> None:
        self.requests.clear()
        self.queued.clear()
        self.transactions.clear()
        self.delay_s = 0.0

    def enqueue(
        self, method: str, path: str, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        self.queued.setdefault((method, path), []).append(Scripted(status, body, headers or {}))

    def complete(self, txn_id: str) -> None:
        self.transactions[txn_id]["status"] = "completed"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/pricing-preview", self._pricing_preview, methods=["POST"]),
                Route("/transactions", self._create_transaction, methods=["POST"]),
                Route("/transactions/{txn_id}/invoice", self._invoice, methods=["GET"]),
            ]
        )

    # -- plumbing

    async def _intake(self, request: Request) -> tuple[Any, Response | None]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(
            Recorded(request.method, request.url.path, dict(request.headers), body)
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        queue = self.queued.get((request.method, request.url.path))
        if queue:
            s = queue.pop(0)
            if isinstance(s.body, str):
                return body, Response(s.body, status_code=s.status, headers=s.headers)
            return body, JSONResponse(s.body, status_code=s.status, headers=s.headers)
        auth = request.headers.get("authorization")
        if auth is None:
            return body, error(
                401, "authentication_missing", "Authentication header missing", "shared"
            )
        if auth != f"Bearer {API_KEY}":
            return body, error(403, "invalid_token", "Invalid API key", "shared")
        if raw and request.headers.get("content-type") != "application/json":
            return body, error(
                415, "unsupported_media_type", "Invalid Content-Type header", "shared"
            )
        if raw and not isinstance(body, dict):
            return body, error(400, "invalid_json", "JSON payload invalid", "shared")
        return body, None

    @staticmethod
    def _item_errors(body: dict[str, Any]) -> list[dict[str, str]]:
        items = body.get("items")
        if not isinstance(items, list) or not items:
            return [{"field": "items", "message": "must contain at least 1 item"}]
        errors = []
        for i, item in enumerate(items):
            pid = item.get("price_id") if isinstance(item, dict) else None
            if not isinstance(pid, str) or not pid.startswith("pri_"):
                errors.append(
                    {"field": f"items[{i}].price_id", "message": "must start with 'pri_'"}
                )
            qty = item.get("quantity") if isinstance(item, dict) else None
            if not isinstance(qty, int) or qty < 1:
                errors.append({"field": f"items[{i}].quantity", "message": "must be >= 1"})
        return errors

    @staticmethod
    def _line(price_id: str, quantity: int, currency: str, country: str) -> dict[str, Any]:
        name, description, product, unit = CATALOGUE[price_id]
        rate = TAX_RATES.get(country, "0")
        subtotal = unit * quantity
        tax = round(subtotal * float(rate))
        totals = {
            "subtotal": str(subtotal),
            "discount": "0",
            "tax": str(tax),
            "total": str(subtotal + tax),
        }
        unit_tax = round(unit * float(rate))
        unit_totals = {
            "subtotal": str(unit),
            "discount": "0",
            "tax": str(unit_tax),
            "total": str(unit + unit_tax),
        }
        money = {k: f"${int(v) / 100:,.2f}" for k, v in totals.items()}
        return {
            "price": {
                "id": price_id,
                "description": description,
                "name": name,
                "product_id": "pro_01jklosesalescredits0000000",
                "billing_cycle": None,
                "trial_period": None,
                "tax_mode": "account_setting",
                "unit_price": {"amount": str(unit), "currency_code": currency},
                "unit_price_overrides": [],
                "quantity": {"minimum": 1, "maximum": 100},
                "status": "active",
                "custom_data": None,
            },
            "quantity": quantity,
            "tax_rate": rate,
            "unit_totals": unit_totals,
            "formatted_unit_totals": {k: f"${int(v) / 100:,.2f}" for k, v in unit_totals.items()},
            "totals": totals,
            "formatted_totals": money,
            "product": {"id": "pro_01jklosesalescredits0000000", "name": product},
            "discounts": [],
        }

    @classmethod
    def _transaction_line(cls, price_id: str, quantity: int, currency: str) -> dict[str, Any]:
        """A transaction's `details.line_items[]`: `price_id`, not the price entity."""
        line = cls._line(price_id, quantity, currency, "")
        return {
            "id": "txnitm_01j" + uuid.uuid4().hex[:23],
            "price_id": price_id,
            "quantity": quantity,
            "tax_rate": line["tax_rate"],
            "unit_totals": line["unit_totals"],
            "totals": line["totals"],
            "product": line["product"],
            "proration": None,
        }

    # -- endpoints

    async def _pricing_preview(self, request: Request) -> Response:
        body, refused = await self._intake(request)
        if refused is not None:
            return refused
        errors = self._item_errors(body)
        if errors:
            return error(400, "invalid_field", "Invalid request.", "shared", errors)
        for item in body["items"]:
            if item["price_id"] not in CATALOGUE:
                return error(404, "not_found", f"Price {item['price_id']} not found.", "shared")
        address = body.get("address") or {}
        currency = body.get("currency_code") or "USD"
        lines = [
            self._line(i["price_id"], i["quantity"], currency, address.get("country_code", ""))
            for i in body["items"]
        ]
        data = {
            "customer_id": None,
            "address_id": None,
            "business_id": None,
            "currency_code": currency,
            "discount_id": None,
            "address": address,
            "customer_ip_address": None,
            "details": {"line_items": lines},
            "available_payment_methods": ["apple_pay", "card"],
        }
        return ok(data)

    async def _create_transaction(self, request: Request) -> Response:
        body, refused = await self._intake(request)
        if refused is not None:
            return refused
        errors = self._item_errors(body)
        if errors:
            return error(400, "invalid_field", "Invalid request.", "shared", errors)
        for item in body["items"]:
            if item["price_id"] not in CATALOGUE:
                return error(
                    400,
                    "transaction_price_not_found",
                    "Price ID cannot be found",
                    "transactions",
                )
        txn_id = "txn_01j" + uuid.uuid4().hex[:23]
        currency = body.get("currency_code") or "USD"
        now = "2025-01-01T12:00:00.000000Z"
        data = {
            "id": txn_id,
            # No customer_id/address_id: Paddle creates the transaction as draft.
            "status": "draft",
            "customer_id": None,
            "address_id": None,
            "business_id": None,
            "custom_data": body.get("custom_data"),
            "origin": "api",
            "collection_mode": body.get("collection_mode") or "automatic",
            "subscription_id": None,
            "invoice_id": None,
            "invoice_number": None,
            "billing_details": None,
            "billing_period": None,
            "currency_code": currency,
            "discount_id": None,
            "created_at": now,
            "updated_at": now,
            "billed_at": None,
            "items": [
                {"price": {"id": i["price_id"]}, "quantity": i["quantity"]} for i in body["items"]
            ],
            "details": {
                "line_items": [
                    self._transaction_line(i["price_id"], i["quantity"], currency)
                    for i in body["items"]
                ]
            },
            "payments": [],
            "checkout": {"url": f"https://klosesales.example/pay?_ptxn={txn_id}"},
        }
        self.transactions[txn_id] = data
        return ok(data, status=201)

    async def _invoice(self, request: Request) -> Response:
        _, refused = await self._intake(request)
        if refused is not None:
            return refused
        txn_id = request.path_params["txn_id"]
        txn = self.transactions.get(txn_id)
        if txn is None:
            return error(404, "not_found", f"Transaction {txn_id} not found.", "shared")
        if txn["status"] != "completed":
            # Paddle documents when a PDF exists but not the code it sends otherwise.
            return error(
                400,
                "bad_request",
                f"Invoice PDF is not available for a transaction with status {txn['status']}.",
                "shared",
            )
        url = f"https://paddle-invoice-service-pdfs.s3.amazonaws.com/invoices/{txn_id}.pdf"
        return ok({"url": url})


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": data, "meta": {"request_id": str(uuid.uuid4())}}, status)


def error(
    status: int, code: str, detail: str, group: str, errors: list[dict[str, str]] | None = None
) -> JSONResponse:
    err: dict[str, Any] = {
        "type": "api_error" if status >= 500 or status == 429 else "request_error",
        "code": code,
        "detail": detail,
        "documentation_url": f"https://developer.paddle.com/errors/{group}/{code}",
    }
    if errors:
        err["errors"] = errors
    return JSONResponse({"error": err, "meta": {"request_id": str(uuid.uuid4())}}, status)


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paddle_server() -> Iterator[tuple[PaddleDouble, str]]:
    double = PaddleDouble()
    with serve_in_thread(double.app(), name="Paddle double") as base:
        yield double, base


@pytest.fixture
def double(paddle_server: tuple[PaddleDouble, str]) -> PaddleDouble:
    paddle_server[0].reset()
    return paddle_server[0]


@pytest.fixture
async def paddle(paddle_server: tuple[PaddleDouble, str]) -> AsyncIterator[LivePaddle]:
    provider = LivePaddle(api_key=API_KEY, base_url=paddle_server[1], timeout_s=2.0)
    try:
        yield provider
    finally:
        await provider.aclose()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records the waits between attempts instead of sleeping through them."""
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(live_module, "_sleep", fake_sleep)
    return waited


LINES = [PriceLine(PACKAGE_PRICE), PriceLine(FEE_PRICE)]
BERLIN = BillingAddress(country_code="DE", postal_code="10115")


# --- pricing preview -------------------------------------------------------------------


async def test_preview_sends_bearer_auth_and_documented_body(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    await paddle.preview_prices(LINES, BERLIN, "USD")

    [req] = double.requests
    assert (req.method, req.path) == ("POST", "/pricing-preview")
    assert req.headers["authorization"] == f"Bearer {API_KEY}"
    assert req.headers["content-type"] == "application/json"
    assert req.body == {
        "items": [
            {"price_id": PACKAGE_PRICE, "quantity": 1},
            {"price_id": FEE_PRICE, "quantity": 1},
        ],
        "address": {"country_code": "DE", "postal_code": "10115"},
        "currency_code": "USD",
    }


async def test_preview_parses_line_totals_and_sums_them(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    preview = await paddle.preview_prices(LINES, BERLIN, "USD")

    assert preview.currency == "USD"
    assert preview.tax_source == "Paddle"
    package, fee = preview.lines
    assert (package.price_id, package.description) == (PACKAGE_PRICE, "Starter credits")
    assert (package.subtotal, package.tax, package.total) == (4900, 931, 5831)
    assert package.tax_rate == "0.19"
    assert (fee.price_id, fee.description) == (FEE_PRICE, "Platform service fee")
    assert (fee.subtotal, fee.tax, fee.total) == (300, 57, 357)
    assert (preview.subtotal, preview.tax, preview.total) == (5200, 988, 6188)
    assert preview.as_json()["total"] == 6188


async def test_preview_quantity_and_untaxed_country(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    preview = await paddle.preview_prices(
        [PriceLine(PACKAGE_PRICE, quantity=3)], BillingAddress("US", "94103"), "USD"
    )
    assert double.requests[0].body["items"] == [{"price_id": PACKAGE_PRICE, "quantity": 3}]
    [line] = preview.lines
    assert (line.subtotal, line.tax, line.total, line.tax_rate) == (14700, 0, 14700, "0")


async def test_preview_omits_postal_code_when_unknown(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    await paddle.preview_prices(LINES, BillingAddress(country_code="GB"), "USD")
    assert double.requests[0].body["address"] == {"country_code": "GB"}


# --- transactions ----------------------------------------------------------------------


async def test_create_transaction_sends_items_currency_and_custom_data(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    created = await paddle.create_transaction(LINES, BERLIN, "USD", CUSTOM_DATA)

    [req] = double.requests
    assert (req.method, req.path) == ("POST", "/transactions")
    assert req.headers["authorization"] == f"Bearer {API_KEY}"
    assert req.body == {
        "items": [
            {"price_id": PACKAGE_PRICE, "quantity": 1},
            {"price_id": FEE_PRICE, "quantity": 1},
        ],
        "currency_code": "USD",
        "collection_mode": "automatic",
        "custom_data": CUSTOM_DATA,
    }
    # Paddle's create-transaction has no inline address; checkout collects it.
    assert "address" not in req.body

    assert created.id in double.transactions
    assert created.id.startswith("txn_")
    assert created.status == "draft"
    assert created.currency == "USD"
    assert created.checkout_url == f"https://klosesales.example/pay?_ptxn={created.id}"
    assert created.raw["custom_data"] == CUSTOM_DATA


async def test_unknown_price_on_create_raises_paddles_code(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    with pytest.raises(PaddleAPIError) as caught:
        await paddle.create_transaction(
            [PriceLine("pri_01jnosuchprice0000000000000")], BERLIN, "USD", CUSTOM_DATA
        )
    assert caught.value.status == 400
    assert caught.value.code == "transaction_price_not_found"
    assert str(caught.value) == (
        "Paddle refused the request: Price ID cannot be found (transaction_price_not_found)"
    )


# --- invoices --------------------------------------------------------------------------


async def test_invoice_url_for_a_completed_transaction(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    created = await paddle.create_transaction(LINES, BERLIN, "USD", CUSTOM_DATA)
    double.complete(created.id)

    url = await paddle.invoice_url(created.id)

    assert url == (
        f"https://paddle-invoice-service-pdfs.s3.amazonaws.com/invoices/{created.id}.pdf"
    )
    req = double.requests[-1]
    assert (req.method, req.path) == ("GET", f"/transactions/{created.id}/invoice")
    assert req.headers["authorization"] == f"Bearer {API_KEY}"


async def test_invoice_url_is_none_before_the_transaction_completes(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    created = await paddle.create_transaction(LINES, BERLIN, "USD", CUSTOM_DATA)
    assert await paddle.invoice_url(created.id) is None


async def test_invoice_for_an_unknown_transaction_raises_not_found(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    with pytest.raises(PaddleAPIError) as caught:
        await paddle.invoice_url("txn_01jnosuchtransaction00000000")
    assert caught.value.status == 404
    assert caught.value.code == "not_found"
    assert "Transaction txn_01jnosuchtransaction00000000 not found." in str(caught.value)


async def test_invoice_refused_for_bad_credentials_raises(
    paddle_server: tuple[PaddleDouble, str], double: PaddleDouble
) -> None:
    wrong = LivePaddle(api_key="pdl_sdbx_apikey_wrong", base_url=paddle_server[1])
    try:
        with pytest.raises(PaddleAPIError) as caught:
            await wrong.invoice_url("txn_01jwhatever000000000000000")
    finally:
        await wrong.aclose()
    assert (caught.value.status, caught.value.code) == (403, "invalid_token")


# --- errors ----------------------------------------------------------------------------


async def test_invalid_field_raises_with_code_detail_and_fields(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    with pytest.raises(PaddleAPIError) as caught:
        await paddle.preview_prices([PriceLine("price_not_paddle", 0)], BERLIN, "USD")

    exc = caught.value
    assert exc.status == 400
    assert exc.code == "invalid_field"
    message = str(exc)
    assert message.startswith("Paddle refused the request: Invalid request")
    assert message.endswith("(invalid_field)")
    assert "items[0].price_id: must start with 'pri_'" in message
    assert "items[0].quantity: must be >= 1" in message
    assert len(double.requests) == 1  # a 4xx is not retried


async def test_not_found_raises_with_code_and_detail(
    paddle: LivePaddle, double: PaddleDouble
) -> None:
    with pytest.raises(PaddleAPIError) as caught:
        await paddle.preview_prices([PriceLine("pri_01jnosuchprice0000000000000")], BERLIN, "USD")
    assert (caught.value.status, caught.value.code) == (404, "not_found")
    assert str(caught.value) == (
        "Paddle refused the request: Price pri_01jnosuchprice0000000000000 not found. (not_found)"
    )


async def test_error_without_a_paddle_body_still_raises(
    paddle: LivePaddle, double: PaddleDouble, sleeps: list[float]
) -> None:
    for _ in range(2):
        double.enqueue("POST", "/pricing-preview", 502, "<html>Bad gateway</html>")
    with pytest.raises(PaddleAPIError) as caught:
        await paddle.preview_prices(LINES, BERLIN, "USD")
    assert caught.value.status == 502
    assert caught.value.code is None
    assert "HTTP 502" in str(caught.value)


# --- retries ---------------------------------------------------------------------------


def too_many() -> dict[str, Any]:
    return {
        "error": {
            "type": "api_error",
            "code": "too_many_requests",
            "detail": "IP address exceeded the allowed rate limit. "
            "Retry after the number of seconds in the Retry-After header.",
            "documentation_url": "https://developer.paddle.com/errors/shared/too_many_requests",
        },
        "meta": {"request_id": str(uuid.uuid4())},
    }


async def test_429_then_200_succeeds_after_one_retry_honouring_retry_after(
    paddle: LivePaddle, double: PaddleDouble, sleeps: list[float]
) -> None:
    double.enqueue("POST", "/pricing-preview", 429, too_many(), {"Retry-After": "1"})

    preview = await paddle.preview_prices(LINES, BERLIN, "USD")

    assert preview.total == 6188
    assert len(double.requests) == 2
    assert sleeps == [1.0]


async def test_429_retry_after_is_capped(
    paddle: LivePaddle, double: PaddleDouble, sleeps: list[float]
) -> None:
    double.enqueue("POST", "/transactions", 429, too_many(), {"Retry-After": "60"})

    created = await paddle.create_transaction(LINES, BERLIN, "USD", CUSTOM_DATA)

    assert created.status == "draft"
    assert sleeps == [live_module.RETRY_AFTER_CAP_S] == [2.0]


async def test_429_twice_raises_after_a_single_retry(
    paddle: LivePaddle, double: PaddleDouble, sleeps: list[float]
) -> None:
    for _ in range(3):
        double.enqueue("POST", "/pricing-preview", 429, too_many(), {"Retry-After": "1"})

    with pytest.raises(PaddleAPIError) as caught:
        await paddle.preview_prices(LINES, BERLIN, "USD")

    assert (caught.value.status, caught.value.code) == (429, "too_many_requests")
    assert len(double.requests) == 2
    assert len(sleeps) == 1


async def test_5xx_then_200_succeeds_after_one_retry(
    paddle: LivePaddle, double: PaddleDouble, sleeps: list[float]
) -> None:
    double.enqueue(
        "POST",
        "/pricing-preview",
        503,
        {
            "error": {
                "type": "api_error",
                "code": "service_unavailable",
                "detail": "Service unavailable",
                "documentation_url": "https://developer.paddle.com/errors/shared/service_unavailable",
            },
            "meta": {"request_id": str(uuid.uuid4())},
        },
    )
    preview = await paddle.preview_prices(LINES, BERLIN, "USD")
    assert preview.total == 6188
    assert len(double.requests) == 2
    assert len(sleeps) == 1


async def test_5xx_twice_raises(
    paddle: LivePaddle, double: PaddleDouble, sleeps: list[float]
) -> None:
    body = {
        "error": {
            "type": "api_error",
            "code": "internal_error",
            "detail": "Internal error",
            "documentation_url": "https://developer.paddle.com/errors/shared/internal_error",
        },
        "meta": {"request_id": str(uuid.uuid4())},
    }
    for _ in range(3):
        double.enqueue("GET", "/transactions/txn_01jabc/invoice", 500, body)
    with pytest.raises(PaddleAPIError) as caught:
        await paddle.invoice_url("txn_01jabc")
    assert (caught.value.status, caught.value.code) == (500, "internal_error")
    assert len(double.requests) == 2


# --- transport failures ----------------------------------------------------------------


async def test_refused_connection_raises_paddle_api_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    provider = LivePaddle(api_key=API_KEY, base_url=f"http://127.0.0.1:{closed_port}")
    try:
        with pytest.raises(PaddleAPIError) as caught:
            await provider.preview_prices(LINES, BERLIN, "USD")
    finally:
        await provider.aclose()
    assert "Could not reach Paddle" in str(caught.value)
    assert caught.value.status is None
    assert API_KEY not in str(caught.value)


async def test_timeout_raises_paddle_api_error(
    paddle_server: tuple[PaddleDouble, str], double: PaddleDouble
) -> None:
    double.delay_s = 1.0
    provider = LivePaddle(api_key=API_KEY, base_url=paddle_server[1], timeout_s=0.2)
    try:
        with pytest.raises(PaddleAPIError) as caught:
            await provider.preview_prices(LINES, BERLIN, "USD")
    finally:
        await provider.aclose()
    assert "did not answer within 0.2 s" in str(caught.value)


# --- identity and secrecy --------------------------------------------------------------


async def test_label_and_the_key_stays_out_of_logs_and_repr(
    paddle: LivePaddle,
    double: PaddleDouble,
    caplog: pytest.LogCaptureFixture,
    sleeps: list[float],
) -> None:
    assert paddle.live is True
    sandbox = LivePaddle(api_key=API_KEY, base_url="https://sandbox-api.paddle.com")
    production = LivePaddle(api_key=API_KEY, base_url="https://api.paddle.com")
    try:
        assert sandbox.label == "Paddle sandbox"
        assert production.label == "Paddle"
        assert API_KEY not in repr(sandbox)
    finally:
        await sandbox.aclose()
        await production.aclose()

    caplog.set_level(logging.DEBUG)
    double.enqueue("POST", "/pricing-preview", 429, too_many(), {"Retry-After": "0"})
    await paddle.preview_prices(LINES, BERLIN, "USD")
    with pytest.raises(PaddleAPIError):
        await paddle.preview_prices([PriceLine("bad")], BERLIN, "USD")
    assert caplog.records  # the retry and the refusal were logged ...
    assert API_KEY not in caplog.text  # ... without the key


# --- the purchase flow wired to the live adapter ---------------------------------------


async def test_checkout_in_live_mode_goes_through_paddle_with_server_side_custom_data(
    paddle_server: tuple[PaddleDouble, str], double: PaddleDouble, db: Any
) -> None:
    """Settings with a key select LivePaddle; the estimate and the transaction come from
    Paddle (here its double) and our record keeps the custom_data we sent."""
    import uuid

    from pydantic import SecretStr
    from sqlalchemy import delete

    from billing import purchases
    from billing.models import CreditPackage, PaddleTransaction
    from billing.payments import build_payments
    from core.settings import Settings
    from tests.billing.paddle_helpers import new_member

    settings = Settings(
        paddle_api_key=SecretStr(API_KEY),
        paddle_webhook_secret=SecretStr("pdl_ntfset_live_test"),
        paddle_api_base=paddle_server[1],
    )
    payments = build_payments(settings, db)
    assert payments.live
    assert payments.webhook_secret == "pdl_ntfset_live_test"
    code = f"live-{uuid.uuid4().hex[:6]}"
    async with db.session() as session:
        package = CreditPackage(
            id=uuid.uuid4(),
            code=code,
            name="Live test",
            credits_mc=4_242_000,
            price_cents=4900,
            paddle_price_id=PACKAGE_PRICE,
            service_fee_cents=300,
            paddle_fee_price_id=FEE_PRICE,
            sort_order=99,
        )
        session.add(package)
        await session.commit()
    actor = await new_member(db)
    try:
        async with db.session() as session:
            result = await purchases.start_checkout(
                session,
                payments.provider,
                actor,
                code,
                base_url="https://klose.example",
                country="DE",
                postal_code="10115",
            )
            await session.commit()
        assert [(r.method, r.path) for r in double.requests] == [
            ("POST", "/pricing-preview"),
            ("POST", "/transactions"),
        ]
        sent = double.requests[1].body
        assert sent["custom_data"] == {
            "workspace_id": str(actor.workspace_id),
            "user_id": str(actor.user_id),
            "package_id": str(package.id),
            "package_code": code,
        }
        assert [i["price_id"] for i in sent["items"]] == [PACKAGE_PRICE, FEE_PRICE]
        estimate = result.estimate.preview
        assert (estimate.subtotal, estimate.tax_source) == (5200, "Paddle")
        assert estimate.tax == round(5200 * 0.19)
        txn = result.transaction
        assert txn.id in double.transactions
        assert txn.status == "draft"
        assert result.checkout_url == f"https://klose.example/billing/checkout/{txn.id}"
    finally:
        await payments.provider.aclose()
        async with db.session() as session:
            await session.execute(
                delete(PaddleTransaction).where(PaddleTransaction.package_id == package.id)
            )
            await session.execute(delete(CreditPackage).where(CreditPackage.id == package.id))
            await session.commit()
