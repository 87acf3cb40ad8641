"""Call attempts: what the per-number cap counts (at most 3 per rolling 24 hours, per
workspace; telephony/rules.py).

The gate (telephony/compliance.py) reports the count; `record_attempt` is the hard
stop: it counts again under a transaction-scoped advisory lock on (workspace, number)
and refuses an attempt over the cap, so two dials racing past the gate cannot both be
recorded. The call-placing code runs the gate and `record_attempt` in one transaction,
before it dials.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role
from accounts.service import Actor
from core.errors import KloseError, PermissionDenied
from core.timezones import format_local
from telephony.models import CallAttempt
from telephony.numbers import format_phone, phone_info
from telephony.rules import CALLING_RULES, CallingRule, rules_for

ATTEMPT_WINDOW = timedelta(hours=24)


class AttemptLimitReached(KloseError):
    def __init__(
        self, phone_e164: str, count: int, cap: int, next_at: datetime, zone: str = "UTC"
    ) -> None:
        self.count = count
        self.cap = cap
        self.next_at = next_at
        super().__init__(
            f"{format_phone(phone_e164)} was already called {count} times in the last 24 "
            f"hours (the limit is {cap}); the next attempt is possible from "
            f"{format_local(next_at, zone)} your time."
        )


def attempt_cap(phone_e164: str, rules: tuple[CallingRule, ...] = CALLING_RULES) -> int:
    info = phone_info(phone_e164)
    return rules_for(
        country=info.country, state=info.state, area_code=info.area_code, rules=rules
    ).max_attempts_per_24h


async def recent_attempts(
    session: AsyncSession, workspace_id: uuid.UUID, phone_e164: str, *, now: datetime
) -> list[datetime]:
    """When the number was tried in the 24 hours up to `now` (oldest first)."""
    result = await session.scalars(
        select(CallAttempt.at)
        .where(
            CallAttempt.workspace_id == workspace_id,
            CallAttempt.phone_e164 == phone_e164,
            CallAttempt.at > now - ATTEMPT_WINDOW,
            CallAttempt.at <= now,
        )
        .order_by(CallAttempt.at)
    )
    return list(result.all())


async def _lock(session: AsyncSession, workspace_id: uuid.UUID, phone_e164: str) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"call_attempts:{workspace_id}:{phone_e164}"},
    )


async def record_attempt(
    session: AsyncSession,
    actor: Actor,
    *,
    phone_e164: str,
    contact_id: uuid.UUID | None = None,
    decision_id: int | None = None,
    reference: str | None = None,
    workspace_id: uuid.UUID | None = None,
    at: datetime | None = None,
    enforce_cap: bool = True,
) -> CallAttempt:
    """Record one dial to `phone_e164` for the actor's workspace (an admin may name
    another). Raises AttemptLimitReached when the cap is already used up (unless
    `enforce_cap` is False). The caller commits."""
    ws = workspace_id or actor.workspace_id
    if ws != actor.workspace_id and actor.role is not Role.ADMIN:
        raise PermissionDenied("You can only place calls for your own workspace.")
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("an attempt time needs a time zone")
    await _lock(session, ws, phone_e164)
    if enforce_cap:
        cap = attempt_cap(phone_e164)
        recent = await recent_attempts(session, ws, phone_e164, now=when)
        if len(recent) >= cap:
            raise AttemptLimitReached(
                phone_e164,
                len(recent),
                cap,
                recent[len(recent) - cap] + ATTEMPT_WINDOW,
                actor.time_zone,
            )
    attempt = CallAttempt(
        workspace_id=ws,
        phone_e164=phone_e164,
        at=when,
        contact_id=contact_id,
        user_id=actor.user_id,
        decision_id=decision_id,
        reference=reference[:200] if reference else None,
    )
    session.add(attempt)
    await session.flush()
    return attempt


async def count_attempts(
    session: AsyncSession, workspace_id: uuid.UUID, phone_e164: str, *, now: datetime
) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(CallAttempt)
            .where(
                CallAttempt.workspace_id == workspace_id,
                CallAttempt.phone_e164 == phone_e164,
                CallAttempt.at > now - ATTEMPT_WINDOW,
                CallAttempt.at <= now,
            )
        )
        or 0
    )
