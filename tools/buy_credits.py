"""buy_credits: shows the estimate, asks for confirmation, then gives a checkout link.

A checkout is a purchase record, so the tool only proposes it (tools.actions): the
Paddle transaction is created once the user confirms the estimate shown."""

from __future__ import annotations

from typing import Any

from langchain.tools import ToolRuntime

from billing import purchases
from billing.paddle import PaddleAPIError
from core.errors import KloseError
from tools.actions import Proposal, write_tool
from tools.context import AgentContext


async def _checkout(ctx: AgentContext, payload: dict[str, Any]) -> str:
    payments = ctx.require_payments()
    try:
        async with ctx.db.session() as session:
            checkout = await purchases.start_checkout(
                session,
                payments.provider,
                ctx.actor,
                payload["package"],
                base_url=ctx.base_url,
            )
            await session.commit()
    except PaddleAPIError as exc:
        return f"Paddle could not start the checkout: {exc}"
    except KloseError as exc:
        return str(exc)
    where = "Paddle's secure checkout" if payments.live else "the simulated checkout"
    return (
        f"{checkout.estimate.describe()}\n\n"
        f"Pay here ({where}): {checkout.checkout_url}\n"
        "The credits are added as soon as the payment is confirmed; ask me for your "
        "balance afterwards."
    )


@write_tool(_checkout, billable=False)
async def buy_credits(
    package: str,
    runtime: ToolRuntime[AgentContext],
    country: str | None = None,
    postal_code: str | None = None,
) -> Proposal | str:
    """Start buying a credit package: shows the estimated total and asks the user to
    confirm, then returns a checkout link. Credits are added when the payment is
    confirmed by Paddle. `package` is a package name or code (e.g. "starter")."""
    ctx = runtime.context
    payments = ctx.require_payments()
    try:
        async with ctx.db.session() as session:
            estimate = await purchases.estimate(
                session,
                payments.provider,
                ctx.actor,
                package,
                country=country,
                postal_code=postal_code,
            )
            await session.commit()  # the billing address given is remembered
    except PaddleAPIError as exc:
        return f"Paddle could not start the checkout: {exc}"
    except KloseError as exc:
        return str(exc)
    return Proposal(
        question=f"{estimate.describe()}\n\nProceed to checkout for {estimate.package.name}?",
        payload={"package": estimate.package.code},
        declined=f"{estimate.describe()}\n\nNot bought: nothing was charged.",
    )
