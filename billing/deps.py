"""Typed dependencies for billing's pages and webhook.

- `PaymentsDep`: the payments provider and webhook secret (`app.state.runtime`; a
  test may override `get_payments`).
- `BillingPage`: a `core.web.pages.Page` with money and credit formatting.
- `OwnedCheckout`: the transaction of the `{txn_id}` path, for a signed-in member of
  its workspace only. Anyone else is turned away: a page request from nobody goes to
  sign in first; everything else gets the same 404 whether the transaction is
  someone else's or does not exist.
- `EventSender`: posts a signed Paddle-format event to our own webhook at
  `PUBLIC_BASE_URL` (the simulated checkout's Pay and Decline); a test serving the
  app in process overrides `get_event_sender` to post through its transport.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.deps import OptionalActor, login_redirect
from accounts.models import Workspace
from billing.models import CreditPackage, PaddleTransaction
from billing.money import format_credits, format_money
from billing.paddle import events
from billing.paddle.signature import sign
from billing.payments import Payments
from core.web.deps import DbSession, SettingsDep, runtime_of
from core.web.pages import Page, templates_for
from core.web.routes import Refusal

TEMPLATES = templates_for(__file__)
WEBHOOK_PATH = "/webhooks/paddle"


def get_payments(request: Request) -> Payments:
    payments: Payments = runtime_of(request).payments
    return payments


PaymentsDep = Annotated[Payments, Depends(get_payments)]


def money_in(currency: str) -> Callable[[Any], str]:
    """What templates call `money(cents)`: cents shown in `currency`."""
    return lambda cents: format_money(int(cents), currency)


def billing_page(request: Request) -> Page:
    return Page(TEMPLATES, request, {"money": money_in("USD"), "fmt_credits": format_credits})


BillingPage = Annotated[Page, Depends(billing_page)]


def no_such_checkout() -> HTMLResponse:
    return HTMLResponse(
        "<h1>No such checkout</h1><p>This link is not a purchase made here.</p>"
        '<p><a href="/chat">Back to chat</a></p>',
        status_code=404,
    )


@dataclass(frozen=True)
class Checkout:
    txn: PaddleTransaction
    package: CreditPackage
    workspace: Workspace


async def load_checkout(session: AsyncSession, txn_id: str) -> Checkout | None:
    if not txn_id.startswith("txn_") or len(txn_id) > 80:
        return None
    txn = await session.get(PaddleTransaction, txn_id, populate_existing=True)
    if txn is None:
        return None
    package = await session.get(CreditPackage, txn.package_id)
    workspace = await session.get(Workspace, txn.workspace_id)
    assert package is not None  # a foreign key
    assert workspace is not None
    return Checkout(txn, package, workspace)


async def owned_checkout(
    request: Request, txn_id: str, actor: OptionalActor, session: DbSession
) -> Checkout:
    if actor is None:
        if request.method == "GET":
            raise Refusal(login_redirect(request.url.path))
        raise Refusal(no_such_checkout())
    found = await load_checkout(session, txn_id)
    if found is None or found.txn.workspace_id != actor.workspace_id:
        raise Refusal(no_such_checkout())
    return found


OwnedCheckout = Annotated[Checkout, Depends(owned_checkout)]

Send = Callable[[dict[str, Any]], Awaitable[int]]


def get_event_sender(settings: SettingsDep, payments: PaymentsDep) -> Send:
    url = settings.public_base_url.rstrip("/") + WEBHOOK_PATH

    async def send(event: dict[str, Any]) -> int:
        """Post `event`, signed, over HTTP to `PUBLIC_BASE_URL` (never to the Host a
        request names); returns the webhook's status code."""
        body = events.dumps(event)
        headers = {
            "Content-Type": "application/json",
            "Paddle-Signature": sign(body, [payments.webhook_secret]),
        }
        async with httpx.AsyncClient(timeout=15) as client:
            response = await client.post(url, content=body, headers=headers)
        return response.status_code

    return send


EventSender = Annotated[Send, Depends(get_event_sender)]
