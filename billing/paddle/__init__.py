"""Paddle Billing behind one small interface, live or simulated (DESIGN.md §4).

`LivePaddle` (live.py) talks to Paddle's REST API; `SimulatedPaddle` (simulated.py)
prices from a labelled tax table and checks out on a local page. Both return the
types below; amounts are integers in the currency's lowest unit (cents), as Paddle
sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from core.errors import KloseError


class PaddleAPIError(KloseError):
    """Paddle refused a request or could not be reached. `code` is Paddle's error code."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class PriceLine:
    price_id: str
    quantity: int = 1


@dataclass(frozen=True)
class BillingAddress:
    country_code: str  # ISO 3166-1 alpha-2, upper case
    postal_code: str | None = None
    region: str | None = None  # a US state code, when known


@dataclass(frozen=True)
class LinePreview:
    price_id: str
    description: str
    subtotal: int
    tax: int
    total: int
    tax_rate: str | None = None  # "0.2" as Paddle sends it, when known


@dataclass(frozen=True)
class Preview:
    currency: str
    lines: tuple[LinePreview, ...]
    tax_source: str  # who computed the tax: "Paddle" or the simulated table's label

    @property
    def subtotal(self) -> int:
        return sum(line.subtotal for line in self.lines)

    @property
    def tax(self) -> int:
        return sum(line.tax for line in self.lines)

    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "tax_source": self.tax_source,
            "subtotal": self.subtotal,
            "tax": self.tax,
            "total": self.total,
            "lines": [
                {
                    "price_id": line.price_id,
                    "description": line.description,
                    "subtotal": line.subtotal,
                    "tax": line.tax,
                    "total": line.total,
                    "tax_rate": line.tax_rate,
                }
                for line in self.lines
            ],
        }


@dataclass(frozen=True)
class CreatedTransaction:
    id: str  # txn_…
    status: str
    currency: str
    checkout_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class PaymentsProvider(Protocol):
    live: bool
    label: str

    async def preview_prices(
        self, lines: list[PriceLine], address: BillingAddress, currency: str
    ) -> Preview:
        """Price the lines for the address (Paddle's `POST /pricing-preview`)."""
        ...

    async def create_transaction(
        self,
        lines: list[PriceLine],
        address: BillingAddress,
        currency: str,
        custom_data: dict[str, str],
    ) -> CreatedTransaction:
        """Create a transaction to open in checkout (`POST /transactions`); Paddle
        returns it as `draft` until checkout collects the address."""
        ...

    async def invoice_url(self, transaction_id: str) -> str | None:
        """A link to the transaction's invoice PDF, when the provider has one."""
        ...

    async def aclose(self) -> None: ...
