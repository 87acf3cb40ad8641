"""Billing's HTTP surface: Paddle's webhook, the checkout page and receipts.

`/webhooks/paddle` is what Paddle calls (and, in simulated mode, what our own
checkout calls, signed the same way). `/billing/checkout/<txn>` opens Paddle.js for a
transaction we created, or in simulated mode a local page with Pay and Decline.

Every URL this module builds (the simulated checkout's webhook, Paddle's success URL,
checkout links) starts from `PUBLIC_BASE_URL`, never from the request's Host: a forged
Host must not make the server sign events for someone else's listener. The checkout,
pay, decline and receipt pages belong to the transaction's workspace: a signed-in
member of it sees them; anyone else gets 404 (a page request from someone not signed
in is sent to sign in first).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from accounts.models import Workspace
from accounts.service import Actor
from billing import ledger, purchases, webhooks
from billing.models import CreditPackage, PaddleAdjustment, PaddleTransaction
from billing.money import credits_label, format_credits, format_money
from billing.paddle import events
from billing.paddle.signature import sign
from billing.payments import Payments
from core.db import Database
from core.errors import KloseError
from core.templates import TEMPLATES_DIR

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/paddle"


def build_router(
    db: Database,
    payments: Payments,
    *,
    public_base_url: str,
    signed_in: Callable[[Request], Awaitable[Actor | None]],
) -> APIRouter:
    """`public_base_url` is where the app is reached (`PUBLIC_BASE_URL`); `signed_in`
    maps a request to its signed-in actor (the account session), or None. The webhook
    needs neither; every page does."""
    router = APIRouter()
    base_url = public_base_url.rstrip("/")
    templates = Jinja2Templates(
        directory=[str(Path(__file__).with_name("templates")), str(TEMPLATES_DIR)]
    )

    @router.post(WEBHOOK_PATH, include_in_schema=False)
    async def paddle_webhook(request: Request) -> JSONResponse:
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

    async def load(txn_id: str) -> tuple[PaddleTransaction, CreditPackage, Workspace] | None:
        if not txn_id.startswith("txn_") or len(txn_id) > 80:
            return None
        async with db.session() as session:
            txn = await session.get(PaddleTransaction, txn_id)
            if txn is None:
                return None
            package = await session.get(CreditPackage, txn.package_id)
            workspace = await session.get(Workspace, txn.workspace_id)
        assert package is not None  # a foreign key
        assert workspace is not None
        return txn, package, workspace

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        currency = ctx["txn"].currency if "txn" in ctx else "USD"
        ctx.setdefault("money", lambda cents: format_money(int(cents), currency))
        ctx.setdefault("fmt_credits", format_credits)
        return templates.TemplateResponse(request, name, ctx, status_code=status)

    def not_found(request: Request) -> HTMLResponse:
        return HTMLResponse(
            "<h1>No such checkout</h1><p>This link is not a purchase made here.</p>"
            '<p><a href="/chat">Back to chat</a></p>',
            status_code=404,
        )

    async def owned(
        request: Request, txn_id: str
    ) -> tuple[PaddleTransaction, CreditPackage, Workspace] | Response:
        """The transaction, for a signed-in member of its workspace; else the answer to
        give: sign in first (a page request from nobody), or 404 — the same 404 whether
        the transaction is someone else's or does not exist."""
        actor = await signed_in(request)
        if actor is None:
            if request.method == "GET":
                target = quote(request.url.path, safe="/")
                return RedirectResponse(f"/account/login?next={target}", status_code=303)
            return not_found(request)
        found = await load(txn_id)
        if found is None or found[0].workspace_id != actor.workspace_id:
            return not_found(request)
        return found

    @router.get("/billing/checkout/{txn_id}", include_in_schema=False)
    async def checkout(request: Request, txn_id: str) -> Response:
        found = await owned(request, txn_id)
        if isinstance(found, Response):
            return found
        txn, package, workspace = found
        common: dict[str, Any] = {
            "txn": txn,
            "package": package,
            "workspace": workspace.name,
            "credits": credits_label(package.credits_mc),
            "estimate": txn.estimate,
        }
        if payments.live:
            return page(
                request,
                "checkout_paddle.html",
                client_token=payments.client_token,
                sandbox=payments.paddle_environment == "sandbox",
                success_url=base_url + "/chat",
                **common,
            )
        return page(request, "checkout_simulated.html", **common)

    async def deliver(event: dict[str, Any]) -> int:
        """Post a signed Paddle-format event to our own webhook, over HTTP, at
        `PUBLIC_BASE_URL` (never at the Host a request names)."""
        body = events.dumps(event)
        url = base_url + WEBHOOK_PATH
        async with httpx.AsyncClient(timeout=15) as client:
            response = await client.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Paddle-Signature": sign(body, [payments.webhook_secret]),
                },
            )
        return response.status_code

    @router.post("/billing/checkout/{txn_id}/pay", include_in_schema=False)
    async def simulated_pay(request: Request, txn_id: str) -> Response:
        found = await owned(request, txn_id)
        if isinstance(found, Response):
            return found
        if payments.live:
            return not_found(request)
        txn, package, workspace = found
        for status in ("paid", "completed"):
            data = events.transaction_data(
                txn_id=txn.id,
                status=status,
                currency=txn.currency,
                custom_data=txn.custom_data,
                estimate=txn.estimate,
            )
            code = await deliver(events.envelope(f"transaction.{status}", data))
            if code != 200:
                log.error("simulated checkout: our webhook answered %s for %s", code, txn.id)
        refreshed = await load(txn_id)
        granted = refreshed is not None and refreshed[0].grant_entry_id is not None
        return page(
            request,
            "checkout_result.html",
            txn=txn,
            ok=granted,
            heading="Payment complete" if granted else "Payment not confirmed",
            message=(
                f"{credits_label(package.credits_mc)} were added to {workspace.name}. "
                "Ask the assistant for your balance."
                if granted
                else "The payment webhook was not accepted; no credits were added. "
                "Check the server log."
            ),
        )

    @router.post("/billing/checkout/{txn_id}/decline", include_in_schema=False)
    async def simulated_decline(request: Request, txn_id: str) -> Response:
        found = await owned(request, txn_id)
        if isinstance(found, Response):
            return found
        if payments.live:
            return not_found(request)
        txn, _, _ = found
        data = events.transaction_data(
            txn_id=txn.id,
            status="ready",
            currency=txn.currency,
            custom_data=txn.custom_data,
            estimate=txn.estimate,
        )
        await deliver(events.envelope("transaction.payment_failed", data))
        return page(
            request,
            "checkout_result.html",
            txn=txn,
            ok=False,
            heading="Payment declined",
            message="Nothing was charged and no credits were added. You can try again "
            "from the same link.",
        )

    async def buy_page(request: Request, actor: Actor, status: int = 200, **ctx: Any) -> Response:
        async with db.session() as session:
            packages = await purchases.list_packages(session)
            address = await purchases.get_billing_address(session, actor.workspace_id)
            balance = await ledger.get_balance(session, actor.workspace_id)
            workspace = await session.get(Workspace, actor.workspace_id)
        ctx.setdefault("money", lambda cents: format_money(int(cents), "USD"))
        return templates.TemplateResponse(
            request,
            "buy.html",
            {
                "packages": packages,
                "workspace": workspace.name if workspace else "",
                "balance": format_credits(balance.balance_mc),
                "country": address.country_code if address else "",
                "postal_code": (address.postal_code or "") if address else "",
                "credits": credits_label,
                **ctx,
            },
            status_code=status,
        )

    async def buyer(request: Request) -> Actor | Response:
        actor = await signed_in(request)
        if actor is None:
            return RedirectResponse("/account/login?next=/billing/buy", status_code=303)
        return actor

    @router.get("/billing/buy", include_in_schema=False)
    async def buy(request: Request) -> Response:
        actor = await buyer(request)
        return actor if isinstance(actor, Response) else await buy_page(request, actor)

    @router.post("/billing/buy/estimate", include_in_schema=False)
    async def buy_estimate(request: Request) -> Response:
        actor = await buyer(request)
        if isinstance(actor, Response):
            return actor
        form = await request.form()
        code, country, postal = (
            str(form.get(k) or "") for k in ("package", "country", "postal_code")
        )
        try:
            async with db.session() as session:
                est = await purchases.estimate(
                    session, payments.provider, actor, code, country=country or None,
                    postal_code=postal or None,
                )  # fmt: skip
                await session.commit()
        except KloseError as exc:
            return await buy_page(request, actor, 400, message=str(exc))
        return await buy_page(
            request, actor, estimate=est.preview.as_json(), package_code=est.package.code,
            estimate_title=f"{est.package.name}: {credits_label(est.package.credits_mc)}",
            wording=purchases.ESTIMATE_WORDING,
            money=lambda cents: format_money(int(cents), est.preview.currency),
        )  # fmt: skip

    @router.post("/billing/buy/checkout", include_in_schema=False)
    async def buy_checkout(request: Request) -> Response:
        actor = await buyer(request)
        if isinstance(actor, Response):
            return actor
        code = str((await request.form()).get("package") or "")
        try:
            async with db.session() as session:
                made = await purchases.start_checkout(
                    session, payments.provider, actor, code, base_url=base_url
                )
                await session.commit()
        except KloseError as exc:
            return await buy_page(request, actor, 400, message=str(exc))
        return RedirectResponse(purchases.CHECKOUT_PATH.format(id=made.transaction.id), 303)

    @router.get("/billing/receipt/{txn_id}", include_in_schema=False)
    async def receipt(request: Request, txn_id: str) -> Response:
        found = await owned(request, txn_id)
        if isinstance(found, Response):
            return found
        if found[0].grant_entry_id is None:
            return not_found(request)
        txn, package, workspace = found
        if payments.live:
            url = await payments.provider.invoice_url(txn.id)
            if url:
                return RedirectResponse(url)
        async with db.session() as session:
            adjustments = list(
                await session.scalars(
                    select(PaddleAdjustment)
                    .where(PaddleAdjustment.transaction_id == txn.id)
                    .order_by(PaddleAdjustment.created_at)
                )
            )
        return page(
            request,
            "receipt.html",
            txn=txn,
            package=package,
            workspace=workspace.name,
            credits=credits_label(package.credits_mc),
            estimate=txn.estimate,
            adjustments=adjustments,
        )

    return router
