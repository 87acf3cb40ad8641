"""Versioned terms of service.

A version is markdown with an effective date. A material change needs at least 7 days'
notice (checked here and by a CHECK constraint in the database). Users see an upcoming
version in the app as soon as it is published (`upcoming`); once it is in effect they
must accept it before going on (chat_app/guard.py sends them to /account/terms/accept,
`needs_acceptance`). Every acceptance is stored with its time, IP and user agent,
append-only (a database trigger refuses UPDATE and DELETE).

Published versions are never edited: to correct one, publish another.
"""

from __future__ import annotations

import functools
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit
from accounts.models import TermsAcceptance, TermsVersion, User
from core.errors import KloseError, NotFound

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

MATERIAL_NOTICE = timedelta(days=7)
# A moment of slack for "now" (the caller's clock read and ours differ slightly).
CLOCK_SLACK = timedelta(minutes=1)
MAX_BODY_CHARS = 200_000
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


@functools.cache
def _markdown() -> MarkdownIt:
    """CommonMark plus tables and strikethrough. `html: False`: raw HTML in the source
    is shown escaped, never passed through; markdown-it also refuses javascript:/data:
    links. Built on first use: only the terms pages render (the assistant imports this
    module only to tell of upcoming terms)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


class TermsError(KloseError, ValueError):
    pass


def earliest_material_date(now: datetime | None = None) -> datetime:
    """The first midnight (UTC) at least 7 days from now: the earliest a material
    change published now may take effect, as a whole date."""
    at = (now or datetime.now(UTC)).astimezone(UTC) + MATERIAL_NOTICE
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if day == at else day + timedelta(days=1)


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
    """Publish a version (flushed and audited; the caller commits).

    Refused with TermsError: an empty body, a bad or duplicate version name, an
    effective date in the past (or without a time zone), two versions taking effect at
    the same instant, and a material change with less than 7 days' notice.
    """
    at = now or datetime.now(UTC)
    if not body_md.strip():
        raise TermsError("The terms are empty.")
    if len(body_md) > MAX_BODY_CHARS:
        raise TermsError(f"The terms are longer than {MAX_BODY_CHARS} characters.")
    version = version.strip()
    if not VERSION_RE.fullmatch(version):
        raise TermsError(
            f"A version is 1 to 40 letters, digits, '.', '_' or '-' (e.g. 2026-12-01), "
            f"not {version!r}."
        )
    published_by = published_by.strip()
    if not published_by:
        raise TermsError("Say who publishes the terms.")
    if effective_at.tzinfo is None:
        raise TermsError("The effective date needs a time zone.")
    if effective_at < at - CLOCK_SLACK:
        raise TermsError(
            f"The effective date {effective_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC is in the past."
        )
    if material and effective_at < at + MATERIAL_NOTICE:
        raise TermsError(
            "A material change needs at least 7 days' notice: the earliest effective date "
            f"is {earliest_material_date(at):%Y-%m-%d}."
        )
    if await session.scalar(select(TermsVersion.id).where(TermsVersion.version == version)):
        raise TermsError(f"Version {version} already exists.")
    clash = await session.scalar(
        select(TermsVersion.version).where(TermsVersion.effective_at == effective_at)
    )
    if clash is not None:
        raise TermsError(f"Version {clash} already takes effect at that moment.")
    row = TermsVersion(
        version=version,
        effective_at=effective_at,
        material=material,
        body_md=body_md,
        published_at=at,
        published_by=published_by[:200],
    )
    try:
        async with session.begin_nested():  # a refusal by the database leaves the rest
            session.add(row)
            await session.flush()
    except IntegrityError as exc:
        diag = getattr(exc.orig, "diag", None)
        constraint = str(getattr(diag, "constraint_name", None) or "")
        if constraint.endswith("material_notice"):
            raise TermsError("A material change needs at least 7 days' notice.") from exc
        if constraint.endswith("version_key"):
            raise TermsError(f"Version {version} already exists.") from exc
        raise
    await audit.record(
        session,
        audit.TERMS_PUBLISHED,
        actor_label=published_by,
        target=version,
        detail={
            "effective_at": effective_at.isoformat(),
            "material": material,
            "terms_version_id": row.id,
        },
    )
    return row


async def current(session: AsyncSession, now: datetime | None = None) -> TermsVersion:
    """The version in effect: the latest whose effective date has come."""
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
    """The next published version not yet in effect (shown in the app at once)."""
    at = now or datetime.now(UTC)
    return await session.scalar(
        select(TermsVersion)
        .where(TermsVersion.effective_at > at)
        .order_by(TermsVersion.effective_at, TermsVersion.id)
        .limit(1)
    )


async def has_accepted(session: AsyncSession, user_id: uuid.UUID, terms_version_id: int) -> bool:
    found = await session.scalar(
        select(TermsAcceptance.id).where(
            TermsAcceptance.user_id == user_id,
            TermsAcceptance.terms_version_id == terms_version_id,
        )
    )
    return found is not None


async def needs_acceptance(
    session: AsyncSession, user_id: uuid.UUID, now: datetime | None = None
) -> TermsVersion | None:
    """The version in effect when this user has not accepted it, else None."""
    version = await current(session, now)
    return None if await has_accepted(session, user_id, version.id) else version


async def accept(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    terms_version_id: int,
    ip: str | None,
    user_agent: str | None,
) -> TermsAcceptance:
    """Record the acceptance once: accepting again keeps (and returns) the first record.

    An upcoming version may be accepted ahead of its date. Audited with the IP.
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    version = await session.get(TermsVersion, terms_version_id)
    if version is None:
        raise NotFound("No such terms version.")
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
            session,
            audit.TERMS_ACCEPTED,
            actor_id=user_id,
            actor_label=user.email,
            workspace_id=user.workspace_id,
            target=version.version,
            ip=ip,
            detail={"terms_version_id": terms_version_id},
        )
    row = await session.scalar(
        select(TermsAcceptance).where(
            TermsAcceptance.user_id == user_id,
            TermsAcceptance.terms_version_id == terms_version_id,
        )
    )
    assert row is not None  # inserted now or before
    return row


def render_html(version: TermsVersion) -> str:
    """The version's markdown as HTML, with any raw HTML in the source escaped."""
    return str(_markdown().render(version.body_md))
