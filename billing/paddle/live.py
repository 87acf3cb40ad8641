"""Paddle Billing's REST API behind `PaymentsProvider` (DESIGN.md §4).

Shapes follow Paddle's API reference:

- `POST /pricing-preview` takes `items[{price_id, quantity}]`, an `address{country_code,
  postal_code}` and a `currency_code`; it answers `data.details.line_items[]`, each with
  the `price` entity, a `tax_rate` string and `totals{subtotal, discount, tax, total}` as
  strings in the currency's lowest unit. There is no grand total: `Preview` adds the lines.
- `POST /transactions` (201) takes `items`, `currency_code`, `collection_mode` and
  `custom_data`. It has no inline address: only `customer_id`/`address_id` of saved
  entities, so the transaction starts as `draft` and checkout collects the address.
  The answer carries `checkout.url`, the payment link for the transaction.
- `GET /transactions/{id}/invoice` answers `data.url`, a link that expires after an
  hour. Only completed (or, for invoices, billed) transactions have one.
- Errors are `{"error": {type, code, detail, documentation_url, errors?[{field,
  message}]}, "meta": {request_id}}`; a 429 carries `Retry-After` in seconds.

Every answer is parsed into the models of billing/paddle/models.py; one that does not
fit (a missing field, an amount that is not a string of digits, ...) raises
PaddleAPIError("Paddle sent an unexpected <what> response: <which field, why>.").

The API key goes into the client's default headers and nowhere else: it is not kept
on the instance, logged, or put in an error message.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from billing.paddle import (
    BillingAddress,
    CreatedTransaction,
    LinePreview,
    PaddleAPIError,
    Preview,
    PriceLine,
)
from billing.paddle.models import (
    Answer,
    ErrorAnswer,
    InvoiceData,
    PayloadError,
    PreviewLineItem,
    PricingPreviewData,
    TransactionData,
    parse_answer,
)

log = logging.getLogger(__name__)

RETRY_AFTER_CAP_S: Final = 2.0  # the longest we wait on a 429 before the one retry
RETRY_AFTER_DEFAULT_S: Final = 1.0  # when a 429 has no usable Retry-After
SERVER_ERROR_RETRY_DELAY_S: Final = 0.25  # before the one retry of a 5xx

# Codes that are about the caller, never "this transaction has no invoice yet".
_NOT_AN_INVOICE_STATE: Final = frozenset({401, 403, 429})

JSONObject = dict[str, Any]


async def _sleep(seconds: float) -> None:
    """Waits between attempts; a seam so tests can record the delays instead."""
    await asyncio.sleep(seconds)


class LivePaddle:
    live = True

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("A Paddle API key is required.")
        self.label = "Paddle sandbox" if "sandbox" in base_url else "Paddle"
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"LivePaddle(base_url={self._base_url!r})"

    # --- PaymentsProvider ----------------------------------------------------------

    async def preview_prices(
        self, lines: list[PriceLine], address: BillingAddress, currency: str
    ) -> Preview:
        body: JSONObject = {
            "items": _items(lines),
            "address": _address(address),
            "currency_code": currency,
        }
        answer = _parse(
            Answer[PricingPreviewData],
            await self._request("POST", "/pricing-preview", body),
            "pricing preview",
        )
        data = answer.data
        return Preview(
            currency=data.currency_code or currency,
            lines=tuple(_line_preview(item) for item in data.details.line_items),
            tax_source="Paddle",
        )

    async def create_transaction(
        self,
        lines: list[PriceLine],
        address: BillingAddress,
        currency: str,
        custom_data: dict[str, str],
    ) -> CreatedTransaction:
        # `address` is not sent: Paddle's create-transaction accepts only the ids of a
        # saved customer and address, so Paddle Checkout collects the address itself.
        body: JSONObject = {
            "items": _items(lines),
            "currency_code": currency,
            "collection_mode": "automatic",
            "custom_data": dict(custom_data),
        }
        payload = await self._request("POST", "/transactions", body)
        data = _parse(Answer[TransactionData], payload, "transaction").data
        return CreatedTransaction(
            id=data.id,
            status=data.status,
            currency=data.currency_code or currency,
            checkout_url=data.checkout.url if data.checkout is not None else None,
            raw=payload["data"],  # validated above: an object
        )

    async def invoice_url(self, transaction_id: str) -> str | None:
        path = f"/transactions/{quote(transaction_id, safe='')}/invoice"
        try:
            payload = await self._request("GET", path)
        except PaddleAPIError as exc:
            if _no_invoice_yet(exc):
                log.info("Paddle has no invoice for %s yet: %s", transaction_id, exc)
                return None
            raise
        return _parse(Answer[InvoiceData], payload, "invoice").data.url

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- HTTP ----------------------------------------------------------------------

    async def _request(self, method: str, path: str, body: JSONObject | None = None) -> Any:
        """One call, retried once on a 429 (after Retry-After, capped) or a 5xx."""
        retried = False
        while True:
            response = await self._send(method, path, body)
            status = response.status_code
            if response.is_success:
                try:
                    return response.json()
                except ValueError as exc:
                    raise PaddleAPIError(
                        f"Paddle sent a response that is not JSON (HTTP {status}).",
                        status=status,
                    ) from exc
            if not retried and (status == 429 or status >= 500):
                retried = True
                delay = (
                    _retry_after_s(response.headers.get("Retry-After"))
                    if status == 429
                    else SERVER_ERROR_RETRY_DELAY_S
                )
                log.warning(
                    "Paddle answered %s %s with HTTP %d; retrying once in %.2f s",
                    method,
                    path,
                    status,
                    delay,
                )
                await _sleep(delay)
                continue
            raise _api_error(response)

    async def _send(self, method: str, path: str, body: JSONObject | None) -> httpx.Response:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise PaddleAPIError(
                f"Paddle did not answer within {self._timeout_s:g} s ({method} {path}). "
                "Please try again shortly."
            ) from exc
        except httpx.TransportError as exc:
            raise PaddleAPIError(
                f"Could not reach Paddle at {self._base_url} ({type(exc).__name__}). "
                "Please try again shortly."
            ) from exc
        except httpx.HTTPError as exc:
            raise PaddleAPIError(f"The request to Paddle failed ({type(exc).__name__}).") from exc
        log.debug("Paddle %s %s -> HTTP %d", method, path, response.status_code)
        return response


# --- request bodies --------------------------------------------------------------------


def _items(lines: list[PriceLine]) -> list[JSONObject]:
    if not lines:
        raise ValueError("At least one price line is required.")
    return [{"price_id": line.price_id, "quantity": line.quantity} for line in lines]


def _address(address: BillingAddress) -> JSONObject:
    out: JSONObject = {"country_code": address.country_code}
    if address.postal_code is not None:
        out["postal_code"] = address.postal_code
    return out


# --- responses -------------------------------------------------------------------------


ModelT = TypeVar("ModelT", bound=BaseModel)


def _unexpected(what: str, why: str) -> PaddleAPIError:
    return PaddleAPIError(f"Paddle sent an unexpected {what} response: {why}.")


def _parse(model: type[ModelT], payload: Any, what: str) -> ModelT:
    """The answer as `model`, or PaddleAPIError naming the field that does not fit."""
    try:
        return parse_answer(model, payload)
    except PayloadError as exc:
        raise _unexpected(what, str(exc)) from None


def _line_preview(item: PreviewLineItem) -> LinePreview:
    return LinePreview(
        price_id=item.price.id,
        description=item.label,
        subtotal=item.totals.subtotal,
        tax=item.totals.tax,
        total=item.totals.total,
        tax_rate=item.tax_rate,
    )


def _api_error(response: httpx.Response) -> PaddleAPIError:
    status = response.status_code
    try:
        refusal = parse_answer(ErrorAnswer, response.json())
    except (ValueError, PayloadError):  # not JSON, or not Paddle's error shape
        return PaddleAPIError(
            f"Paddle answered HTTP {status} without an error description.", status=status
        )
    error = refusal.error
    detail = error.detail or f"HTTP {status}"
    fields = [f"{e.field}: {e.message}" for e in error.errors if e.field]
    if fields:
        detail = f"{detail.rstrip('.')}: {'; '.join(fields)}"
    request_id = refusal.meta.request_id if refusal.meta is not None else None
    log.warning(
        "Paddle refused a request: HTTP %d %s (request_id %s)", status, error.code, request_id
    )
    return PaddleAPIError(
        f"Paddle refused the request: {detail} ({error.code or 'no code'})",
        status=status,
        code=error.code,
    )


def _retry_after_s(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped."""
    if not value:
        return RETRY_AFTER_DEFAULT_S
    seconds: float
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return RETRY_AFTER_DEFAULT_S
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return RETRY_AFTER_DEFAULT_S
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


def _no_invoice_yet(exc: PaddleAPIError) -> bool:
    """Whether a refusal means the transaction has no invoice PDF (yet).

    Paddle documents when a PDF exists (completed, or billed for invoices; never for
    zero-value transactions) but not the error code it sends otherwise, so this keys
    on a 4xx about the transaction or the invoice, not one about the caller.
    """
    status = exc.status
    if status is None or not 400 <= status < 500 or status in _NOT_AN_INVOICE_STATE:
        return False
    code = exc.code or ""
    return code.startswith("transaction_") or "invoice" in code or "invoice" in str(exc).lower()
