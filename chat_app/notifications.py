"""Notices the chat shows without being asked, each once per user.

- A call the user placed has ended: its outcome and (AI-generated) summary, as soon as
  the insights job has written them — or the outcome alone if they are still missing
  `SUMMARY_WAIT` after the call ended.
- A payment landed: Paddle's webhook granted the credits of a purchase (on whichever
  process received it); the chat says what was bought, by whom, and the new balance —
  announced within `PAYMENT_LOOKBACK` of the grant, so a buyer who paid in the same tab
  and came back to a new chat is told too.
- Low balance: available credits fell below the threshold (a workspace that never had
  any credits is not told: nothing ran low, and its welcome says how to buy). Announced
  once per top-up (the key names the newest grant), so the next dip after a purchase is
  announced too.

`due_notices` claims what it returns (an insert that does nothing on conflict), so a
notice is shown in one open chat only, even with several tabs open.

What makes a notice due may happen on any process (a status callback settling a call,
the worker writing its insights, a chat answer using credits): each publishes the
workspace id on `core.events.NOTICES` in its transaction (`announce`), and `watch`,
running beside each open chat, looks again when one arrives — and every `resync_s`
anyway (a summary that never came, a NOTIFY lost while the listener reconnected).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User
from billing import ledger
from billing.models import CreditGrant, CreditPackage, PaddleTransaction
from billing.money import credits_label, format_credits
from chat_app.callback_notices import callback_reminders
from chat_app.models import ChatNotification
from core import events
from core.db import Database
from core.markdown import md_escape
from insights.models import CallInsight
from telephony.models import Call, Contact
from telephony.progress import progress_line

log = logging.getLogger(__name__)

SUMMARY_WAIT: Final = timedelta(seconds=90)
POLL_S: Final = 2.0  # without an event listener: how often an open chat looks
LOOKBACK: Final = timedelta(hours=1)  # ended calls older than this are not announced
PAYMENT_LOOKBACK: Final = timedelta(hours=1)  # payments older than this are not announced


@dataclass(frozen=True)
class Notice:
    key: str
    text: str
    # A booked callback's reminder: the chat adds a "Call now" button for it.
    call_now: uuid.UUID | None = None


async def _claim(session: AsyncSession, user_id: uuid.UUID, key: str) -> bool:
    claimed = await session.scalar(
        insert(ChatNotification)
        .values(user_id=user_id, key=key)
        .on_conflict_do_nothing()
        .returning(ChatNotification.key)
    )
    return claimed is not None


def call_ended_text(call: Call, contact_name: str, insight: CallInsight | None) -> str:
    lines = [f"**{progress_line(call, contact_name)}**"]
    if insight is not None:
        lines.append(f"Summary (AI-generated, may be inaccurate): {md_escape(insight.summary)}")
        if insight.objections:
            lines.append("Objections: " + ", ".join(insight.objections) + ".")
        if insight.next_steps:
            lines.append("Next steps: " + "; ".join(map(md_escape, insight.next_steps)) + ".")
    else:
        lines.append("The summary isn't ready yet: ask me for it in a minute.")
    return "\n\n".join(lines)


async def _ended_calls(
    session: AsyncSession, user_id: uuid.UUID, since: datetime, now: datetime
) -> list[Notice]:
    rows = (
        await session.execute(
            select(Call, Contact.name, CallInsight)
            .join(Contact, Contact.id == Call.contact_id)
            .outerjoin(CallInsight, CallInsight.call_id == Call.id)
            .where(
                Call.placed_by == user_id,
                Call.settled_at >= max(since, now - LOOKBACK),  # settled: its end is final
                ~select(ChatNotification.key)
                .where(
                    ChatNotification.user_id == user_id,
                    ChatNotification.key == func.concat("call-ended:", Call.id),
                )
                .exists(),
            )
            .order_by(Call.settled_at)
            .limit(20)
        )
    ).all()
    notices = []
    for call, contact_name, insight in rows:
        if insight is None and call.settled_at > now - SUMMARY_WAIT:
            continue  # the insights job has not run yet: wait for it a little
        key = f"call-ended:{call.id}"
        if await _claim(session, user_id, key):
            notices.append(Notice(key, call_ended_text(call, contact_name, insight)))
    return notices


async def _payments(
    session: AsyncSession, user_id: uuid.UUID, workspace_id: uuid.UUID, now: datetime
) -> list[Notice]:
    """Purchases granted to the workspace lately that this user has not been told of."""
    rows = (
        await session.execute(
            select(CreditGrant.id, CreditGrant.amount_mc, CreditPackage.name, User.id, User.name)
            .join(PaddleTransaction, PaddleTransaction.grant_entry_id == CreditGrant.entry_id)
            .join(CreditPackage, CreditPackage.id == PaddleTransaction.package_id)
            .join(User, User.id == PaddleTransaction.user_id)
            .where(
                CreditGrant.workspace_id == workspace_id,
                CreditGrant.created_at >= now - PAYMENT_LOOKBACK,
                ~select(ChatNotification.key)
                .where(
                    ChatNotification.user_id == user_id,
                    ChatNotification.key == func.concat("payment:", CreditGrant.id),
                )
                .exists(),
            )
            .order_by(CreditGrant.id)
            .limit(10)
        )
    ).all()
    notices: list[Notice] = []
    for grant_id, amount_mc, package, buyer_id, buyer in rows:
        key = f"payment:{grant_id}"
        if not await _claim(session, user_id, key):
            continue
        balance = await ledger.get_balance(session, workspace_id)
        who = "you" if buyer_id == user_id else md_escape(buyer)
        text = (
            f"💳 **Payment received**: {md_escape(package)} — {credits_label(amount_mc)} "
            f"added (bought by {who}). Balance: **{credits_label(balance.balance_mc)}**"
            + (f" ({format_credits(balance.available_mc)} available)." if balance.held_mc else ".")
        )
        notices.append(Notice(key, text))
    return notices


async def _low_balance(
    session: AsyncSession, user_id: uuid.UUID, workspace_id: uuid.UUID, threshold_mc: int
) -> list[Notice]:
    balance = await ledger.get_balance(session, workspace_id)
    available = balance.balance_mc - balance.held_mc
    if available >= threshold_mc:
        return []
    newest_grant = await session.scalar(
        select(func.max(CreditGrant.id)).where(CreditGrant.workspace_id == workspace_id)
    )
    if newest_grant is None:
        return []  # never funded: the welcome says how to buy; nothing has run low
    key = f"low-balance:{newest_grant}"
    if not await _claim(session, user_id, key):
        return []
    text = (
        f"⚠️ Low balance: {credits_label(max(available, 0))} available. A call costs 1 credit "
        "per second and an answer that does work (a summary, a search, a call placed) "
        "0.5 credit; balance, packages and buying stay free. "
        "Buy more at [/billing/buy](/billing/buy)."
    )
    return [Notice(key, text)]


async def due_notices(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    since: datetime,
    low_balance_mc: int,
    now: datetime | None = None,
) -> list[Notice]:
    """Claim and return the notices this user has not been shown yet (committed)."""
    at = now or datetime.now(UTC)
    notices = await _ended_calls(session, user_id, since, at)
    notices += await _payments(session, user_id, workspace_id, at)
    notices += await _low_balance(session, user_id, workspace_id, low_balance_mc)
    notices += await callback_reminders(session, user_id, at)
    await session.commit()
    return notices


async def announce(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Tell the workspace's open chats, on every process, to look for notices due — when
    the session's transaction commits."""
    await events.publish(session, events.NOTICES, workspace_id)


async def watch(
    db: Database,
    listener: events.EventListener | None,
    send: Callable[[Notice], Awaitable[None]],
    *,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    low_balance_mc: int,
    resync_s: float,
) -> None:
    """While a chat is open (until cancelled): `send` each notice due to its user, as
    soon as an event says one may be due (or every `resync_s`; `POLL_S` without a
    listener). A database blip is logged and does not end the watch."""
    since = datetime.now(UTC)
    with contextlib.ExitStack() as stack:
        woken = (
            stack.enter_context(listener.watch((events.NOTICES, workspace_id)))
            if listener is not None
            else None
        )
        while True:
            try:
                async with db.session() as session:
                    due = await due_notices(
                        session,
                        user_id=user_id,
                        workspace_id=workspace_id,
                        since=since,
                        low_balance_mc=low_balance_mc,
                    )
                for notice in due:
                    await send(notice)
            except Exception:
                log.warning("chat notices failed", exc_info=True)
            if woken is not None:
                await woken.wait(resync_s)
            else:
                await asyncio.sleep(POLL_S)
