"""A local stand-in for Paddle: prices from the catalogue, tax from a labelled table.

Checkout happens on our own page (`billing/views.py`), which posts signed
Paddle-format webhooks to the same `/webhooks/paddle` endpoint Paddle would call, so
the signature, storage and granting code is exercised exactly as in live mode.
"""

from __future__ import annotations

import secrets
import string

from sqlalchemy import or_, select

from billing.models import CreditPackage
from billing.paddle import (
    BillingAddress,
    CreatedTransaction,
    LinePreview,
    PaddleAPIError,
    Preview,
    PriceLine,
    tax_table,
)
from core.db import Database

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_paddle_id(prefix: str) -> str:
    """An id shaped like Paddle's: a prefix, an underscore, 26 lower-case characters."""
    return f"{prefix}_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(26))


class SimulatedPaddle:
    live = False
    label = "simulated checkout"

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _price_book(self, price_ids: set[str]) -> dict[str, tuple[str, int, str]]:
        """price id → (description, unit amount in cents, currency)."""
        async with self._db.session() as session:
            packages = (
                await session.scalars(
                    select(CreditPackage).where(
                        or_(
                            CreditPackage.paddle_price_id.in_(price_ids),
                            CreditPackage.paddle_fee_price_id.in_(price_ids),
                        )
                    )
                )
            ).all()
        book: dict[str, tuple[str, int, str]] = {}
        for p in packages:
            book[p.paddle_price_id] = (f"{p.name} credit package", p.price_cents, p.currency)
            if p.paddle_fee_price_id:
                book[p.paddle_fee_price_id] = (
                    "Platform service fee",
                    p.service_fee_cents,
                    p.currency,
                )
        return book

    async def preview_prices(
        self, lines: list[PriceLine], address: BillingAddress, currency: str
    ) -> Preview:
        book = await self._price_book({line.price_id for line in lines})
        rate = tax_table.rate_for(address.country_code, address.region)
        previews = []
        for line in lines:
            if line.price_id not in book:
                raise PaddleAPIError(
                    f"Unknown price {line.price_id}.", status=404, code="not_found"
                )
            description, unit, price_currency = book[line.price_id]
            if price_currency != currency:
                raise PaddleAPIError(
                    f"Price {line.price_id} is in {price_currency}, not {currency}.",
                    status=400,
                    code="invalid_field",
                )
            subtotal = unit * line.quantity
            tax = tax_table.tax_on(subtotal, rate)
            previews.append(
                LinePreview(
                    price_id=line.price_id,
                    description=description,
                    subtotal=subtotal,
                    tax=tax,
                    total=subtotal + tax,
                    tax_rate=rate.fraction,
                )
            )
        return Preview(
            currency=currency,
            lines=tuple(previews),
            tax_source=f"{tax_table.LABEL}, {rate.where}",
        )

    async def create_transaction(
        self,
        lines: list[PriceLine],
        address: BillingAddress,
        currency: str,
        custom_data: dict[str, str],
    ) -> CreatedTransaction:
        await self.preview_prices(lines, address, currency)  # the same validation
        return CreatedTransaction(id=new_paddle_id("txn"), status="ready", currency=currency)

    async def invoice_url(self, transaction_id: str) -> str | None:
        return None  # the local receipt page stands in for Paddle's invoice PDF

    async def aclose(self) -> None:
        return None
