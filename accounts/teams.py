"""Teams: a manager invites members, changes roles and removes members.

An invitation names the email and the mobile; its link carries a random token (only
its hash is stored). The invitee completes sign-up with a code sent to that mobile
(accounts/flows.py) and joins the inviting workspace with the invited role.
Visibility (DESIGN.md §2): reps see their own calls and contacts, managers the whole
workspace, admins every workspace — `can_see_member_data` says so for every domain.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit
from accounts.models import Invitation, Role, User
from accounts.phones import InvalidMobile, normalise_mobile
from accounts.service import Actor, get_user_by_email
from accounts.sessions import end_all_sessions
from core.errors import KloseError, NotFound, PermissionDenied

INVITATION_LIFETIME = timedelta(days=7)
INVITE_PATH = "/account/invite/{token}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def require_manager(actor: Actor) -> None:
    if actor.role not in (Role.MANAGER, Role.ADMIN):
        raise PermissionDenied("Only a manager can manage the team.")


def can_see_member_data(actor: Actor, owner_id: uuid.UUID, owner_workspace: uuid.UUID) -> bool:
    """Reps see their own records; managers their workspace's; admins everyone's."""
    if actor.role is Role.ADMIN:
        return True
    if owner_workspace != actor.workspace_id:
        return False
    return actor.role is Role.MANAGER or owner_id == actor.user_id


@dataclass(frozen=True)
class Invite:
    invitation: Invitation
    token: str  # shown once, in the link

    def link(self, base_url: str) -> str:
        return base_url.rstrip("/") + INVITE_PATH.format(token=self.token)


async def invite(
    session: AsyncSession,
    actor: Actor,
    *,
    email: str,
    mobile: str,
    role: Role = Role.REP,
    ip: str | None = None,
) -> Invite:
    from accounts.flows import normalise_email_address

    require_manager(actor)
    if role not in (Role.REP, Role.MANAGER):
        raise KloseError("Invite a rep or a manager.")
    address = normalise_email_address(email)
    try:
        number = normalise_mobile(mobile, default_region=actor.region)
    except InvalidMobile as exc:
        raise KloseError(str(exc)) from None
    existing = await get_user_by_email(session, address)
    if existing is not None and existing.workspace_id == actor.workspace_id:
        raise KloseError(f"{address} is already a member of this workspace.")
    token = secrets.token_urlsafe(32)
    row = Invitation(
        workspace_id=actor.workspace_id,
        email=address,
        mobile_e164=number,
        role=role.value,
        token_hash=_hash(token),
        invited_by=actor.user_id,
        expires_at=datetime.now(UTC) + INVITATION_LIFETIME,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        audit.INVITATION_SENT,
        actor_id=actor.user_id,
        actor_label=actor.email,
        workspace_id=actor.workspace_id,
        target=address,
        ip=ip,
        detail={"role": role.value},
    )
    return Invite(row, token)


async def find_invitation(session: AsyncSession, token: str) -> Invitation | None:
    """A usable invitation for the token (not accepted, revoked or expired)."""
    if not token or len(token) > 100:
        return None
    row = await session.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
    if row is None or row.accepted_at or row.revoked_at or row.expires_at <= datetime.now(UTC):
        return None
    return row


async def members(session: AsyncSession, actor: Actor) -> list[User]:
    result = await session.scalars(
        select(User)
        .where(User.workspace_id == actor.workspace_id, User.status == "active")
        .order_by(func.lower(User.name))
    )
    return list(result.all())


async def pending_invitations(session: AsyncSession, actor: Actor) -> list[Invitation]:
    result = await session.scalars(
        select(Invitation)
        .where(
            Invitation.workspace_id == actor.workspace_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > datetime.now(UTC),
        )
        .order_by(Invitation.created_at.desc())
    )
    return list(result.all())


async def _member(session: AsyncSession, actor: Actor, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None or user.workspace_id != actor.workspace_id or user.status != "active":
        raise NotFound("No such member in this workspace.")
    return user


async def _managers_left(session: AsyncSession, actor: Actor, without: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.workspace_id == actor.workspace_id,
                User.status == "active",
                User.role == Role.MANAGER.value,
                User.id != without,
            )
        )
        or 0
    )


async def change_role(
    session: AsyncSession, actor: Actor, user_id: uuid.UUID, role: Role, *, ip: str | None = None
) -> User:
    require_manager(actor)
    if role not in (Role.REP, Role.MANAGER):
        raise KloseError("A member is a rep or a manager.")
    user = await _member(session, actor, user_id)
    old = user.role
    if old == role.value:
        return user
    if old == Role.MANAGER.value and await _managers_left(session, actor, user.id) == 0:
        raise KloseError("A workspace needs at least one manager.")
    user.role = role.value
    await audit.record(
        session,
        audit.ROLE_CHANGED,
        actor_id=actor.user_id,
        actor_label=actor.email,
        workspace_id=actor.workspace_id,
        target=user.email,
        ip=ip,
        detail={"from": old, "to": role.value},
    )
    return user


async def remove_member(
    session: AsyncSession, actor: Actor, user_id: uuid.UUID, *, ip: str | None = None
) -> User:
    require_manager(actor)
    if user_id == actor.user_id:
        raise KloseError("You cannot remove yourself.")
    user = await _member(session, actor, user_id)
    if user.role == Role.MANAGER.value and await _managers_left(session, actor, user.id) == 0:
        raise KloseError("A workspace needs at least one manager.")
    user.status = "removed"
    await end_all_sessions(session, user)
    await audit.record(
        session,
        audit.MEMBER_REMOVED,
        actor_id=actor.user_id,
        actor_label=actor.email,
        workspace_id=actor.workspace_id,
        target=user.email,
        ip=ip,
    )
    return user
