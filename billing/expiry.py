"""Credit-expiry policy, ready for later (DESIGN.md §1: no expiry today).

An admin may schedule a rule only with an effective date at least 30 days after it is
announced (the database refuses less, too). From the announcement users see it in the
app; from its effective date, newly bought credits carry an expiry `lifetime_days`
after purchase, and the rule states what happens to credits bought before it:
`never_expire`, or `expire_from_effective_date` (they expire `lifetime_days` after the
effective date). Until a rule takes effect, every grant has `expires_at = NULL`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import CreditExpiryPolicy
from core.errors import KloseError

MIN_NOTICE = timedelta(days=30)
ExistingGrants = Literal["never_expire", "expire_from_effective_date"]
EXISTING_GRANTS_WORDING = {
    "never_expire": "credits bought before it never expire",
    "expire_from_effective_date": "credits bought before it expire {days} days after {date}",
}


class ExpiryPolicyInvalid(KloseError, ValueError):
    pass


async def schedule_policy(
    session: AsyncSession,
    *,
    effective_at: datetime,
    lifetime_days: int,
    existing_grants: ExistingGrants,
    created_by: str,
    now: datetime | None = None,
) -> CreditExpiryPolicy:
    announced = now or datetime.now(UTC)
    if effective_at.tzinfo is None:
        raise ExpiryPolicyInvalid("The effective date needs a time zone.")
    if effective_at < announced + MIN_NOTICE:
        raise ExpiryPolicyInvalid(
            "An expiry rule needs at least 30 days' notice: the earliest effective date "
            f"is {(announced + MIN_NOTICE).date().isoformat()}."
        )
    if type(lifetime_days) is not int or not 30 <= lifetime_days <= 3650:
        raise ExpiryPolicyInvalid("Credits must live between 30 and 3650 days.")
    if existing_grants not in EXISTING_GRANTS_WORDING:
        raise ExpiryPolicyInvalid(
            "Say what happens to credits bought before the rule: "
            + " or ".join(EXISTING_GRANTS_WORDING)
        )
    existing = EXISTING_GRANTS_WORDING[existing_grants].format(
        days=lifetime_days, date=effective_at.date().isoformat()
    )
    policy = CreditExpiryPolicy(
        id=uuid.uuid4(),
        announced_at=announced,
        effective_at=effective_at,
        lifetime_days=lifetime_days,
        existing_grants=existing_grants,
        summary=(
            f"From {effective_at.date().isoformat()}, credits bought expire "
            f"{lifetime_days} days after purchase; {existing}."
        ),
        created_by=created_by,
    )
    session.add(policy)
    await session.flush()
    return policy


async def announced_policies(
    session: AsyncSession, *, now: datetime | None = None
) -> list[CreditExpiryPolicy]:
    """Rules users must be told about: announced, not cancelled (pending or in force)."""
    at = now or datetime.now(UTC)
    result = await session.scalars(
        select(CreditExpiryPolicy)
        .where(CreditExpiryPolicy.cancelled_at.is_(None), CreditExpiryPolicy.announced_at <= at)
        .order_by(CreditExpiryPolicy.effective_at)
    )
    return list(result.all())


async def expiry_for_new_grant(
    session: AsyncSession, *, now: datetime | None = None
) -> datetime | None:
    """When credits bought now expire: None unless a rule is in force."""
    at = now or datetime.now(UTC)
    policy = await session.scalar(
        select(CreditExpiryPolicy)
        .where(CreditExpiryPolicy.cancelled_at.is_(None), CreditExpiryPolicy.effective_at <= at)
        .order_by(CreditExpiryPolicy.effective_at.desc())
        .limit(1)
    )
    return None if policy is None else at + timedelta(days=policy.lifetime_days)


def notice(policies: list[CreditExpiryPolicy]) -> str | None:
    if not policies:
        return None
    return "Credit expiry notice: " + " ".join(p.summary for p in policies)
