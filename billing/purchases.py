"""Buying credits: the package catalogue, the billing address, estimates, checkout,
and the purchase history. Credits themselves arrive only from a verified Paddle
webhook (billing/webhooks.py), never from anything the browser says."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import pycountry
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Workspace, WorkspaceStatus
from accounts.service import Actor
from billing.models import BillingProfile, CreditPackage, PaddleAdjustment, PaddleTransaction
from billing.money import credits_label, format_money
from billing.paddle import BillingAddress, PaymentsProvider, Preview, PriceLine
from billing.paddle.tax_table import us_state
from core.errors import KloseError, NotFound, PermissionDenied

log = logging.getLogger(__name__)

ESTIMATE_WORDING = (
    "This is an estimate: the final amount may vary slightly with your exact billing "
    "address and local tax rate. Paddle is the merchant of record and charges the total."
)
CHECKOUT_PATH = "/billing/checkout/{id}"
RECEIPT_PATH = "/billing/receipt/{id}"

# Names people type for countries whose ISO names are long or formal.
_COUNTRY_ALIASES = {
    "UK": "GB",
    "ENGLAND": "GB",
    "SCOTLAND": "GB",
    "WALES": "GB",
    "BRITAIN": "GB",
    "GREAT BRITAIN": "GB",
    "USA": "US",
    "AMERICA": "US",
    "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US",
    "HOLLAND": "NL",
    "SOUTH KOREA": "KR",
    "KOREA": "KR",
}


class BillingAddressInvalid(KloseError, ValueError):
    pass


class BillingAddressNeeded(KloseError):
    """No billing address is stored and none was given."""

    def __init__(self) -> None:
        super().__init__(
            "I need your billing country (and postal code) once to estimate tax: "
            "for example 'estimate the starter pack for US 94105' or 'for GB'."
        )


class PurchaseRefused(KloseError):
    pass


def parse_country(text: str) -> str:
    """An ISO 3166-1 alpha-2 code from a code or a name ('gb', 'Germany', 'UK')."""
    raw = " ".join(text.strip().split()).upper()
    if not raw:
        raise BillingAddressInvalid("A billing country is required.")
    if raw in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[raw]
    try:
        country = pycountry.countries.lookup(raw)
    except LookupError:
        raise BillingAddressInvalid(
            f"I don't know the country '{text.strip()}'. Use its name or two-letter code."
        ) from None
    return str(country.alpha_2)


def make_address(country: str, postal_code: str | None) -> BillingAddress:
    code = parse_country(country)
    postal = (postal_code or "").strip().upper() or None
    if postal is not None and (len(postal) > 20 or not postal.replace(" ", "").isalnum()):
        raise BillingAddressInvalid(f"'{postal_code}' is not a postal code.")
    region = None
    if code == "US":
        if postal is None:
            raise BillingAddressInvalid("For the US I need the ZIP code too (tax is by state).")
        region = us_state(postal)
        if region is None:
            raise BillingAddressInvalid(f"'{postal_code}' is not a US ZIP code.")
    return BillingAddress(country_code=code, postal_code=postal, region=region)


# --- catalogue ---------------------------------------------------------------------


async def list_packages(session: AsyncSession) -> list[CreditPackage]:
    result = await session.scalars(
        select(CreditPackage)
        .where(CreditPackage.active.is_(True))
        .order_by(CreditPackage.sort_order, CreditPackage.price_cents)
    )
    return list(result.all())


async def find_package(session: AsyncSession, wanted: str) -> CreditPackage:
    """A package by code or name ('starter', 'Starter'), or by its credits ('500')."""
    packages = await list_packages(session)
    key = wanted.strip().lower()
    for p in packages:
        if key in (p.code.lower(), p.name.lower()):
            return p
    digits = key.replace(",", "").removesuffix(" credits").removesuffix(" pack")
    if digits.isdigit():
        for p in packages:
            if p.credits_mc == int(digits) * 1000:
                return p
    names = ", ".join(f"{p.name} ({credits_label(p.credits_mc)})" for p in packages)
    raise NotFound(f"There is no package '{wanted}'. Packages: {names}.")


def price_lines(package: CreditPackage) -> list[PriceLine]:
    lines = [PriceLine(package.paddle_price_id)]
    if package.service_fee_cents and package.paddle_fee_price_id:
        lines.append(PriceLine(package.paddle_fee_price_id))
    return lines


# --- billing address ---------------------------------------------------------------


async def get_billing_address(
    session: AsyncSession, workspace_id: uuid.UUID
) -> BillingAddress | None:
    profile = await session.get(BillingProfile, workspace_id)
    if profile is None:
        return None
    return BillingAddress(profile.country_code, profile.postal_code, profile.region)


async def save_billing_address(
    session: AsyncSession, actor: Actor, address: BillingAddress
) -> None:
    values = {
        "country_code": address.country_code,
        "postal_code": address.postal_code,
        "region": address.region,
        "updated_by": actor.user_id,
        "updated_at": func.now(),
    }
    await session.execute(
        insert(BillingProfile)
        .values(workspace_id=actor.workspace_id, **values)
        .on_conflict_do_update(index_elements=[BillingProfile.workspace_id], set_=values)
    )


async def resolve_address(
    session: AsyncSession, actor: Actor, country: str | None, postal_code: str | None
) -> BillingAddress:
    """The address given (validated and stored for next time), else the stored one."""
    if country:
        # In a thread: a US ZIP code is looked up in a table of 42,000 that the first
        # lookup in a process loads (seconds), which must not stall the event loop.
        address = await asyncio.to_thread(make_address, country, postal_code)
        await save_billing_address(session, actor, address)
        return address
    stored = await get_billing_address(session, actor.workspace_id)
    if stored is None:
        raise BillingAddressNeeded()
    return stored


# --- estimate and checkout ---------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    package: CreditPackage
    address: BillingAddress
    preview: Preview

    def describe(self) -> str:
        p, cur = self.preview, self.preview.currency
        where = self.address.country_code + (
            f" {self.address.postal_code}" if self.address.postal_code else ""
        )
        lines = [f"Estimate for {self.package.name} — {credits_label(self.package.credits_mc)}"]
        lines += [f"- {line.description}: {format_money(line.subtotal, cur)}" for line in p.lines]
        lines.append(f"- Tax ({where}): {format_money(p.tax, cur)}")
        lines.append(f"- Estimated total: {format_money(p.total, cur)} {cur}")
        lines.append("")  # end the list: what follows is a paragraph
        lines.append(f"Tax source: {p.tax_source}. {ESTIMATE_WORDING}")
        return "\n".join(lines)


async def _active_workspace(session: AsyncSession, actor: Actor) -> Workspace:
    workspace = await session.get(Workspace, actor.workspace_id)
    if workspace is None:
        raise NotFound("Your workspace no longer exists.")
    if workspace.status != WorkspaceStatus.ACTIVE.value:
        raise PermissionDenied("This workspace is suspended: purchases are not possible.")
    return workspace


async def estimate(
    session: AsyncSession,
    provider: PaymentsProvider,
    actor: Actor,
    package_code: str,
    *,
    country: str | None = None,
    postal_code: str | None = None,
) -> Estimate:
    package = await find_package(session, package_code)
    address = await resolve_address(session, actor, country, postal_code)
    preview = await provider.preview_prices(price_lines(package), address, package.currency)
    return Estimate(package=package, address=address, preview=preview)


@dataclass(frozen=True)
class Checkout:
    transaction: PaddleTransaction
    estimate: Estimate
    checkout_url: str


async def start_checkout(
    session: AsyncSession,
    provider: PaymentsProvider,
    actor: Actor,
    package_code: str,
    *,
    base_url: str,
    country: str | None = None,
    postal_code: str | None = None,
) -> Checkout:
    """Create the Paddle transaction (custom_data set here, on the server) and our
    record of it; the webhook grants only against that record."""
    await _active_workspace(session, actor)
    est = await estimate(
        session, provider, actor, package_code, country=country, postal_code=postal_code
    )
    package = est.package
    custom_data = {
        "workspace_id": str(actor.workspace_id),
        "user_id": str(actor.user_id),
        "package_id": str(package.id),
        "package_code": package.code,
    }
    created = await provider.create_transaction(
        price_lines(package), est.address, package.currency, custom_data
    )
    txn = PaddleTransaction(
        id=created.id,
        workspace_id=actor.workspace_id,
        user_id=actor.user_id,
        package_id=package.id,
        credits_mc=package.credits_mc,
        currency=created.currency or package.currency,
        estimate=est.preview.as_json(),
        custom_data=custom_data,
        status=created.status or "ready",
    )
    session.add(txn)
    await session.flush()
    log.info("checkout %s created for workspace %s (%s)", txn.id, actor.workspace_id, package.code)
    url = base_url.rstrip("/") + CHECKOUT_PATH.format(id=txn.id)
    return Checkout(transaction=txn, estimate=est, checkout_url=url)


# --- history -----------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseRecord:
    transaction: PaddleTransaction
    package: CreditPackage
    adjustments: list[PaddleAdjustment]

    @property
    def when(self) -> datetime:
        return (
            self.transaction.completed_at or self.transaction.paid_at or self.transaction.created_at
        )


async def purchase_history(
    session: AsyncSession, actor: Actor, *, limit: int = 20, include_unpaid: bool = False
) -> list[PurchaseRecord]:
    """The workspace's purchases, newest first (reps and managers alike: credits are
    the workspace's)."""
    query = (
        select(PaddleTransaction, CreditPackage)
        .join(CreditPackage, CreditPackage.id == PaddleTransaction.package_id)
        .where(PaddleTransaction.workspace_id == actor.workspace_id)
        .order_by(PaddleTransaction.created_at.desc())
        .limit(limit)
    )
    if not include_unpaid:
        query = query.where(PaddleTransaction.grant_entry_id.is_not(None))
    rows = (await session.execute(query)).all()
    ids = [txn.id for txn, _ in rows]
    adjustments: dict[str, list[PaddleAdjustment]] = {i: [] for i in ids}
    if ids:
        for adj in await session.scalars(
            select(PaddleAdjustment)
            .where(PaddleAdjustment.transaction_id.in_(ids))
            .order_by(PaddleAdjustment.created_at)
        ):
            adjustments[adj.transaction_id].append(adj)
    return [PurchaseRecord(txn, pkg, adjustments[txn.id]) for txn, pkg in rows]
