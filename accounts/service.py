"""Account operations. Every function takes its session explicitly; callers commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role, User, Workspace, WorkspaceStatus
from accounts.passwords import hash_password, needs_rehash, verify_password
from core.errors import KloseError
from core.timezones import (
    DEFAULT_REGION,
    DEFAULT_ZONE,
    resolve_zone,
    user_region,
    user_zone,
    zone_for_phone,
)


class AccountError(KloseError):
    pass


@dataclass(frozen=True)
class Actor:
    """Who is acting: passed explicitly to every service and tool."""

    user_id: uuid.UUID
    workspace_id: uuid.UUID
    role: Role
    email: str
    name: str
    # The user's IANA zone: every time shown and every "today / this week" counted.
    time_zone: str = DEFAULT_ZONE
    # The user's own country: numbers they type in a national format are read as its.
    region: str = DEFAULT_REGION

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(
            user_id=user.id,
            workspace_id=user.workspace_id,
            role=Role(user.role),
            email=user.email,
            name=user.name,
            time_zone=user_zone(user.time_zone, user.mobile_e164),
            region=user_region(user.mobile_e164),
        )


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_workspace(session: AsyncSession, name: str) -> Workspace:
    name = name.strip()
    if not name:
        raise AccountError("A workspace needs a name.")
    ws = Workspace(name=name)
    session.add(ws)
    await session.flush()
    return ws


async def create_user(
    session: AsyncSession,
    *,
    workspace: Workspace,
    email: str,
    name: str,
    password: str,
    role: Role = Role.REP,
    mobile_e164: str | None = None,
) -> User:
    """An active user; a given mobile is taken as verified (operators and tests only:
    people sign up through accounts/flows.py, which verifies it by code)."""
    email = normalise_email(email)
    if "@" not in email:
        raise AccountError("That does not look like an email address.")
    if len(password) < 8:
        raise AccountError("A password needs at least 8 characters.")
    user = User(
        workspace_id=workspace.id,
        email=email,
        name=name.strip() or email,
        password_hash=await hash_password(password),
        role=role.value,
        mobile_e164=mobile_e164,
        mobile_verified_at=datetime.now(UTC) if mobile_e164 else None,
        time_zone=zone_for_phone(mobile_e164),
    )
    session.add(user)
    await session.flush()
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == normalise_email(email)))
    return result.scalar_one_or_none()


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    """The user when the password matches and the workspace is active, else None.

    Takes the same time whether or not the email is known, and says nothing about
    which of the two was wrong.
    """
    user = await get_user_by_email(session, email)
    ok = await verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.status != "active":
        return None
    workspace = await session.get(Workspace, user.workspace_id)
    if workspace is None or workspace.status != WorkspaceStatus.ACTIVE.value:
        return None
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    user.last_login_at = datetime.now(UTC)
    await session.flush()
    return user


async def set_time_zone(session: AsyncSession, user_id: uuid.UUID, zone_text: str) -> str:
    """Set the user's own time zone from what they typed ("central time", "PT",
    "London", "America/Chicago"); returns the IANA name stored. UnknownTimeZone (a
    KloseError, nothing written) when the text names no zone. The caller commits."""
    zone = resolve_zone(zone_text)
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise AccountError("Your account was not found.")
    user.time_zone = zone
    await session.flush()
    return zone
