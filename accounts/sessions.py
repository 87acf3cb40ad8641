"""Signed session cookies and the pre-second-factor challenge cookie.

`ks_session` names a `user_sessions` row (so it can be revoked) and carries the user's
`session_version` (bumped to end every session at once). It is issued only after the
second factor passed. `ks_pending` carries who passed the password (or started a
sign-up, reset or OAuth sign-in) and is good for ten minutes; it grants nothing by
itself. Both are signed with itsdangerous (HMAC-SHA256, timestamped): a tampered
cookie fails the signature, a revoked or replayed one fails the database check.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User, UserSession, Workspace, WorkspaceStatus

SESSION_COOKIE = "ks_session"
PENDING_COOKIE = "ks_pending"
PENDING_MAX_AGE_S = 600


@dataclass(frozen=True)
class Signer:
    secret: str
    session_days: int = 14

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt=f"klosesales.{purpose}")

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        return self._serializer(purpose).dumps(payload)

    def loads(self, purpose: str, token: str | None, max_age_s: int) -> dict[str, Any] | None:
        if not token or len(token) > 2000:
            return None
        try:
            data = self._serializer(purpose).loads(token, max_age=max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Pending:
    """Someone part-way through a flow, before the code checked."""

    purpose: str  # login | signup | reset | oauth
    subject: str  # a user id, a signup request id, an email
    to: str | None  # the number the code went to
    extra: dict[str, Any]


def pending_token(signer: Signer, pending: Pending) -> str:
    return signer.dumps(
        "pending",
        {"p": pending.purpose, "s": pending.subject, "to": pending.to, "x": pending.extra},
    )


def read_pending(signer: Signer, token: str | None, purpose: str) -> Pending | None:
    data = signer.loads("pending", token, PENDING_MAX_AGE_S)
    if data is None or data.get("p") != purpose or not isinstance(data.get("s"), str):
        return None
    raw = data.get("x")
    extra: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return Pending(purpose, data["s"], data.get("to"), extra)


async def start_session(
    session: AsyncSession,
    signer: Signer,
    user: User,
    *,
    method: str,
    ip: str | None,
    user_agent: str | None,
) -> str:
    """Record a new session (the second factor has passed) and return its cookie value."""
    now = datetime.now(UTC)
    row = UserSession(
        id=uuid.uuid4(),
        user_id=user.id,
        expires_at=now + timedelta(days=signer.session_days),
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
        method=method,
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    user.last_login_at = now
    await session.flush()
    return signer.dumps(
        "session", {"sid": str(row.id), "uid": str(user.id), "v": user.session_version}
    )


@dataclass(frozen=True)
class SessionCheck:
    user: User | None
    session_id: uuid.UUID | None
    reason: str | None  # why it was refused (for the audit log), None when valid


async def check_session(
    session: AsyncSession, signer: Signer, token: str | None, *, touch: bool = True
) -> SessionCheck:
    if not token:
        return SessionCheck(None, None, "no session cookie")
    data = signer.loads("session", token, signer.session_days * 86400)
    if data is None:
        return SessionCheck(None, None, "session cookie signature invalid or expired")
    try:
        sid, uid, version = uuid.UUID(data["sid"]), uuid.UUID(data["uid"]), int(data["v"])
    except (KeyError, TypeError, ValueError):
        return SessionCheck(None, None, "session cookie malformed")
    row = await session.get(UserSession, sid)
    now = datetime.now(UTC)
    if row is None or row.user_id != uid:
        return SessionCheck(None, sid, "unknown session")
    if row.revoked_at is not None:
        return SessionCheck(None, sid, "session was signed out or revoked")
    if row.expires_at <= now:
        return SessionCheck(None, sid, "session expired")
    user = await session.get(User, uid)
    if user is None or user.status != "active" or user.session_version != version:
        return SessionCheck(None, sid, "session no longer valid for this user")
    workspace = await session.get(Workspace, user.workspace_id)
    if workspace is None or workspace.status != WorkspaceStatus.ACTIVE.value:
        return SessionCheck(None, sid, "workspace suspended")
    if touch and now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
        await session.commit()
    return SessionCheck(user, sid, None)


async def end_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def end_all_sessions(session: AsyncSession, user: User) -> None:
    """Sign the user out everywhere (password reset, removal)."""
    user.session_version += 1
    await session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


def token_from_cookie_header(header: str | None, name: str = SESSION_COOKIE) -> str | None:
    from http.cookies import CookieError, SimpleCookie

    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    return jar[name].value if name in jar else None
