"""Billing's HTTP surface: Paddle's webhook, the checkout page, the buy page and
receipts.

`/webhooks/paddle` is what Paddle calls (and, in simulated mode, what our own
checkout calls, signed the same way). `/billing/checkout/<txn>` opens Paddle.js for a
transaction we created, or in simulated mode a local page with Pay and Decline.

Every URL this module builds (the simulated checkout's webhook, Paddle's success URL,
checkout links) starts from `PUBLIC_BASE_URL`, never from the request's Host: a forged
Host must not make the server sign events for someone else's listener. The checkout,
pay, decline and receipt pages belong to the transaction's workspace
(billing/deps.py `OwnedCheckout`).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.deps import sign_in_first
from accounts.models import Workspace
from accounts.service import Actor
from billing import ledger, purchases, webhooks
from billing.deps import (
    WEBHOOK_PATH,
    BillingPage,
    Checkout,
    EventSender,
    OwnedCheckout,
    PaymentsDep,
    load_checkout,
    money_in,
    no_such_checkout,
)
from billing.forms import CheckoutFields, EstimateFields
from billing.models import PaddleAdjustment
from billing.money import credits_label, format_credits
from billing.paddle import events
from core.errors import KloseError
from core.web.deps import DatabaseDep, DbSession, SettingsDep
from core.web.pages import Page
from core.web.routes import PageRoute

log = logging.getLogger(__name__)

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Buyer = Annotated[Actor, Depends(sign_in_first("/billing/buy"))]


@router.post(WEBHOOK_PATH)
async def paddle_webhook(request: Request, db: DatabaseDep, payments: PaymentsDep) -> Response:
    receipt = await webhooks.receive(
        db,
        await request.body(),
        request.headers.get("paddle-signature"),
        secret=payments.webhook_secret,
        tolerance_s=payments.signature_tolerance_s,
    )
    return JSONResponse(
        {"ok": receipt.status_code == 200, "message": receipt.message},
        status_code=receipt.status_code,
    )


# --- checkout --------------------------------------------------------------------------


def checkout_context(found: Checkout) -> dict[str, Any]:
    return {
        "txn": found.txn,
        "package": found.package,
        "workspace": found.workspace.name,
        "credits": credits_label(found.package.credits_mc),
        "estimate": found.txn.estimate,
        "money": money_in(found.txn.currency),
    }


@router.get("/billing/checkout/{txn_id}")
async def checkout(
    found: OwnedCheckout, payments: PaymentsDep, settings: SettingsDep, page: BillingPage
) -> Response:
    if payments.live:
        return page(
            "checkout_paddle.html",
            client_token=payments.client_token,
            sandbox=payments.paddle_environment == "sandbox",
            success_url=settings.public_base_url.rstrip("/") + "/chat",
            **checkout_context(found),
        )
    return page("checkout_simulated.html", **checkout_context(found))


def simulated_event(found: Checkout, name: str, status: str) -> dict[str, Any]:
    txn = found.txn
    data = events.transaction_data(
        txn_id=txn.id,
        status=status,
        currency=txn.currency,
        custom_data=txn.custom_data,
        estimate=txn.estimate,
    )
    return events.envelope(name, data)


def result_page(page: Page, found: Checkout, *, ok: bool, heading: str, message: str) -> Response:
    return page(
        "checkout_result.html",
        txn=found.txn,
        ok=ok,
        heading=heading,
        message=message,
        money=money_in(found.txn.currency),
    )


@router.post("/billing/checkout/{txn_id}/pay")
async def simulated_pay(
    found: OwnedCheckout,
    payments: PaymentsDep,
    send: EventSender,
    session: DbSession,
    page: BillingPage,
) -> Response:
    """The simulated checkout's Pay: Paddle's paid and completed events, signed, to our
    own webhook; credits arrive only if it accepts them."""
    if payments.live:
        return no_such_checkout()
    await session.commit()  # hold no transaction while our own webhook runs
    for status in ("paid", "completed"):
        code = await send(simulated_event(found, f"transaction.{status}", status))
        if code != 200:
            log.error("simulated checkout: our webhook answered %s for %s", code, found.txn.id)
    refreshed = await load_checkout(session, found.txn.id)
    granted = refreshed is not None and refreshed.txn.grant_entry_id is not None
    credits = credits_label(found.package.credits_mc)
    if granted:
        message = (
            f"{credits} were added to {found.workspace.name}. Ask the assistant for your balance."
        )
    else:
        message = (
            "The payment webhook was not accepted; no credits were added. Check the server log."
        )
    heading = "Payment complete" if granted else "Payment not confirmed"
    return result_page(page, found, ok=granted, heading=heading, message=message)


@router.post("/billing/checkout/{txn_id}/decline")
async def simulated_decline(
    found: OwnedCheckout,
    payments: PaymentsDep,
    send: EventSender,
    session: DbSession,
    page: BillingPage,
) -> Response:
    if payments.live:
        return no_such_checkout()
    await session.commit()
    await send(simulated_event(found, "transaction.payment_failed", "ready"))
    return result_page(
        page,
        found,
        ok=False,
        heading="Payment declined",
        message="Nothing was charged and no credits were added. You can try again from "
        "the same link.",
    )


# --- buying ----------------------------------------------------------------------------


async def buy_page(
    page: Page, session: AsyncSession, actor: Actor, status: int = 200, **ctx: Any
) -> Response:
    packages = await purchases.list_packages(session)
    address = await purchases.get_billing_address(session, actor.workspace_id)
    balance = await ledger.get_balance(session, actor.workspace_id)
    workspace = await session.get(Workspace, actor.workspace_id)
    return page(
        "buy.html",
        status,
        packages=packages,
        workspace=workspace.name if workspace else "",
        balance=format_credits(balance.balance_mc),
        country=address.country_code if address else "",
        postal_code=(address.postal_code or "") if address else "",
        credits=credits_label,
        **ctx,
    )


@router.get("/billing/buy")
async def buy(actor: Buyer, session: DbSession, page: BillingPage) -> Response:
    return await buy_page(page, session, actor)


@router.post("/billing/buy/estimate")
async def buy_estimate(
    actor: Buyer,
    fields: Annotated[EstimateFields, Form()],
    session: DbSession,
    payments: PaymentsDep,
    page: BillingPage,
) -> Response:
    try:
        est = await purchases.estimate(
            session,
            payments.provider,
            actor,
            fields.package,
            country=fields.country or None,
            postal_code=fields.postal_code or None,
        )
        await session.commit()
    except KloseError as exc:
        await session.rollback()
        return await buy_page(page, session, actor, 400, message=str(exc))
    return await buy_page(
        page,
        session,
        actor,
        estimate=est.preview.as_json(),
        package_code=est.package.code,
        estimate_title=f"{est.package.name}: {credits_label(est.package.credits_mc)}",
        wording=purchases.ESTIMATE_WORDING,
        money=money_in(est.preview.currency),
    )


@router.post("/billing/buy/checkout")
async def buy_checkout(
    actor: Buyer,
    fields: Annotated[CheckoutFields, Form()],
    session: DbSession,
    payments: PaymentsDep,
    settings: SettingsDep,
    page: BillingPage,
) -> Response:
    try:
        made = await purchases.start_checkout(
            session,
            payments.provider,
            actor,
            fields.package,
            base_url=settings.public_base_url.rstrip("/"),
        )
        await session.commit()
    except KloseError as exc:
        await session.rollback()
        return await buy_page(page, session, actor, 400, message=str(exc))
    return RedirectResponse(purchases.CHECKOUT_PATH.format(id=made.transaction.id), 303)


@router.get("/billing/receipt/{txn_id}")
async def receipt(
    found: OwnedCheckout, payments: PaymentsDep, session: DbSession, page: BillingPage
) -> Response:
    if found.txn.grant_entry_id is None:
        return no_such_checkout()
    if payments.live:
        url = await payments.provider.invoice_url(found.txn.id)
        if url:
            return RedirectResponse(url)
    adjustments = list(
        await session.scalars(
            select(PaddleAdjustment)
            .where(PaddleAdjustment.transaction_id == found.txn.id)
            .order_by(PaddleAdjustment.created_at)
        )
    )
    return page("receipt.html", adjustments=adjustments, **checkout_context(found))
