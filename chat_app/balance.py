"""`GET /billing/balance`: the signed-in user's workspace balance, as JSON, for the
badge the chat page always shows (public/klosesales.js).

Contract: the balance of the caller's own workspace only (from the session cookie; no
parameter names a workspace); 401 without a live session; never cached; reading it does
not extend the session (a page left open and polling is not activity). Free: it is
not an assistant answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from accounts.deps import SignerDep
from accounts.sessions import SESSION_COOKIE, check_session
from billing import ledger
from billing.money import credits_label, format_credits
from core.web.deps import DbSession

router = APIRouter()
BALANCE_PATH = "/billing/balance"
NO_STORE = {"Cache-Control": "no-store"}


def balance_json(balance: ledger.Balance) -> dict[str, Any]:
    """What the badge shows: credits as text (exact, never floats), and the label."""
    label = f"Balance: {credits_label(balance.balance_mc)}"
    if balance.held_mc > 0:
        label += f" ({format_credits(balance.available_mc)} available)"
    if balance.frozen:
        label += " · frozen"
    return {
        "balance": format_credits(balance.balance_mc),
        "available": format_credits(balance.available_mc),
        "held": format_credits(balance.held_mc),
        "frozen": balance.frozen,
        "label": label,
    }


@router.get(BALANCE_PATH)
async def balance(request: Request, session: DbSession, signer: SignerDep) -> JSONResponse:
    check = await check_session(session, signer, request.cookies.get(SESSION_COOKIE), touch=False)
    if check.user is None:
        return JSONResponse({"error": "Sign in first."}, 401, headers=NO_STORE)
    found = await ledger.get_balance(session, check.user.workspace_id)
    return JSONResponse(balance_json(found), headers=NO_STORE)
