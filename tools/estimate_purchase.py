"""estimate_purchase: base price, service fee, tax and total for a package."""

from __future__ import annotations

from langchain.tools import ToolRuntime

from billing import purchases
from billing.paddle import PaddleAPIError
from core.errors import KloseError
from tools.actions import read_tool
from tools.context import AgentContext


@read_tool(billable=False)
async def estimate_purchase(
    package: str,
    runtime: ToolRuntime[AgentContext],
    country: str | None = None,
    postal_code: str | None = None,
) -> str:
    """Estimate what a credit package costs: base price, platform service fee, tax and
    total for the billing country and postal code. `package` is a package name or code
    (e.g. "starter"). Give `country` (name or two-letter code) and `postal_code` only if
    the user stated them; once given they are remembered."""
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
            await session.commit()
    except PaddleAPIError as exc:
        return f"I could not get an estimate from Paddle: {exc}"
    except KloseError as exc:
        return str(exc)
    return estimate.describe()
