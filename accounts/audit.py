"""The append-only audit log (a database trigger refuses UPDATE, DELETE, TRUNCATE).

Every admin action, sign-in, failed code, role change and rejected session is
recorded with who, what, where from. Never put secrets, codes or passwords in
`detail`. The caller commits (so the record lands with the change it describes).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import AuditEvent

SIGNIN = "signin"
SIGNIN_FAILED = "signin_failed"
OTP_FAILED = "otp_failed"
ROLE_CHANGED = "role_changed"
MEMBER_REMOVED = "member_removed"
INVITATION_SENT = "invitation_sent"
SIGNUP_COMPLETED = "signup_completed"
WORKSPACE_SUSPENDED = "workspace_suspended"
WORKSPACE_UNSUSPENDED = "workspace_unsuspended"
TERMS_PUBLISHED = "terms_published"
TERMS_ACCEPTED = "terms_accepted"
OAUTH_STATE_INVALID = "oauth_state_invalid"
SESSION_REJECTED = "session_rejected"
PASSWORD_RESET = "password_reset"  # noqa: S105 (an action name)
MOBILE_CHANGED = "mobile_changed"


async def record(
    session: AsyncSession,
    action: str,
    *,
    actor_id: uuid.UUID | None = None,
    actor_label: str,
    workspace_id: uuid.UUID | None = None,
    target: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            action=action,
            actor_id=actor_id,
            actor_label=actor_label[:200],
            workspace_id=workspace_id,
            target=target[:300] if target else None,
            ip=ip[:64] if ip else None,
            detail=detail or {},
        )
    )
    await session.flush()


async def list_events(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID | None = None,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if workspace_id is not None:
        query = query.where(AuditEvent.workspace_id == workspace_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list((await session.scalars(query)).all())
