"""Versioned terms of service.

A version is markdown with an effective date. A material change needs at least 7 days'
notice (checked here and by the database). Users see an upcoming version in the app
as soon as it is published; once it is in effect they must accept it before going on
(chat_app/guard.py sends them to /account/terms/accept). Every acceptance is stored
with its time, IP and user agent, append-only.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from markdown_it import MarkdownIt
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit
from accounts.models import TermsAcceptance, TermsVersion
from core.errors import KloseError

MATERIAL_NOTICE = timedelta(days=7)
_md = MarkdownIt("commonmark", {"html": False})  # raw HTML in the source is escaped


class TermsError(KloseError, ValueError):
    pass


async def publish(
    session: AsyncSession,
    body_md: str,
    *,
    version: str,
    effective_at: datetime,
    material: bool,
    published_by: str,
    now: datetime | None = None,
) -> TermsVersion:
    at = now or datetime.now(UTC)
    if not body_md.strip():
        raise TermsError("The terms are empty.")
    version = version.strip()
    if not version or len(version) > 40:
        raise TermsError("A version needs a name of 1 to 40 characters.")
    if effective_at.tzinfo is None:
        raise TermsError("The effective date needs a time zone.")
    if effective_at < at - timedelta(minutes=1):
        raise TermsError("The effective date is in the past.")
    if material and effective_at < at + MATERIAL_NOTICE:
        earliest = (at + MATERIAL_NOTICE).date().isoformat()
        raise TermsError(
            f"A material change needs at least 7 days' notice: the earliest effective date "
            f"is {earliest}."
        )
    if await session.scalar(select(TermsVersion.id).where(TermsVersion.version == version)):
        raise TermsError(f"Version {version} already exists.")
    row = TermsVersion(
        version=version,
        effective_at=effective_at,
        material=material,
        body_md=body_md,
        published_at=at,
        published_by=published_by,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session, audit.TERMS_PUBLISHED, actor_label=published_by, target=version,
        detail={"effective_at": effective_at.isoformat(), "material": material},
    )  # fmt: skip
    return row


async def current(session: AsyncSession, now: datetime | None = None) -> TermsVersion:
    at = now or datetime.now(UTC)
    row = await session.scalar(
        select(TermsVersion)
        .where(TermsVersion.effective_at <= at)
        .order_by(TermsVersion.effective_at.desc(), TermsVersion.id.desc())
        .limit(1)
    )
    if row is None:
        raise TermsError("No terms are in effect.")
    return row


async def upcoming(session: AsyncSession, now: datetime | None = None) -> TermsVersion | None:
    at = now or datetime.now(UTC)
    return await session.scalar(
        select(TermsVersion)
        .where(TermsVersion.effective_at > at)
        .order_by(TermsVersion.effective_at)
        .limit(1)
    )


async def needs_acceptance(
    session: AsyncSession, user_id: uuid.UUID, now: datetime | None = None
) -> TermsVersion | None:
    """The version in effect when this user has not accepted it, else None."""
    version = await current(session, now)
    accepted = await session.scalar(
        select(TermsAcceptance.id).where(
            TermsAcceptance.user_id == user_id, TermsAcceptance.terms_version_id == version.id
        )
    )
    return None if accepted else version


async def accept(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    terms_version_id: int,
    ip: str | None,
    user_agent: str | None,
) -> None:
    """Record the acceptance once (accepting again keeps the first record)."""
    inserted = await session.scalar(
        insert(TermsAcceptance)
        .values(
            user_id=user_id,
            terms_version_id=terms_version_id,
            ip=ip[:64] if ip else None,
            user_agent=(user_agent or "")[:300] or None,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "terms_version_id"])
        .returning(TermsAcceptance.id)
    )
    if inserted is not None:
        await audit.record(
            session, audit.TERMS_ACCEPTED, actor_id=user_id, actor_label=str(user_id),
            ip=ip, detail={"terms_version_id": terms_version_id},
        )  # fmt: skip


def render_html(version: TermsVersion) -> str:
    return str(_md.render(version.body_md))
