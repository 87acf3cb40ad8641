"""The append-only audit log (a database trigger refuses UPDATE, DELETE, TRUNCATE).

Every admin action, sign-in, failed code, role change and rejected session is
recorded with who, what, where from. The caller commits, so a record lands with the
change it describes (or not at all). For failures that roll back, record and commit
in a session of their own.

Never put secrets, one-time codes, passwords, tokens or cookies in `detail`: a key
that names one (`SECRET_KEY_PARTS`, `SECRET_KEYS`) has its value replaced by
"[redacted]" and a warning is logged, so a slip neither leaks nor goes unnoticed.

Action names used across the app (the `action` column):

=========================  =========================================================
SIGNIN                     a sign-in completed (second factor passed)
SIGNIN_FAILED              a wrong password or an unknown/inactive account
OTP_FAILED                 a one-time code was wrong, expired, or Verify failed
ROLE_CHANGED               a manager changed a member's role (detail: from, to)
MEMBER_REMOVED             a manager removed a member from the workspace
INVITATION_SENT            a manager invited someone (target: the address)
SIGNUP_COMPLETED           a sign-up finished, or was refused (detail: outcome)
WORKSPACE_SUSPENDED        a platform admin suspended a workspace (detail: reason)
WORKSPACE_UNSUSPENDED      a platform admin lifted a suspension
TERMS_PUBLISHED            a platform admin published a terms version (target: version)
TERMS_ACCEPTED             a user accepted a terms version (with IP)
OAUTH_STATE_INVALID        an OAuth callback came back with a bad or missing state
SESSION_REJECTED           a session cookie was refused (detail: reason)
PASSWORD_RESET             a password was reset (every session ended)
MOBILE_CHANGED             a verified mobile number changed (numbers masked)
IDENTITY_LINKED            a Google / Meta account was linked after the user's code
=========================  =========================================================
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import AuditEvent

log = logging.getLogger(__name__)

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
IDENTITY_LINKED = "identity_linked"

ACTIONS: frozenset[str] = frozenset(
    {
        SIGNIN,
        SIGNIN_FAILED,
        OTP_FAILED,
        ROLE_CHANGED,
        MEMBER_REMOVED,
        INVITATION_SENT,
        SIGNUP_COMPLETED,
        WORKSPACE_SUSPENDED,
        WORKSPACE_UNSUSPENDED,
        TERMS_PUBLISHED,
        TERMS_ACCEPTED,
        OAUTH_STATE_INVALID,
        SESSION_REJECTED,
        PASSWORD_RESET,
        MOBILE_CHANGED,
        IDENTITY_LINKED,
    }
)

# A detail key with one of these words in it (split on "_", "-", " "; any case), or
# one of the exact keys, has its value redacted ("status_code" is fine, "otp_code" not).
SECRET_KEY_PARTS = frozenset({"password", "passwd", "secret", "token", "otp", "cookie", "pin"})
SECRET_KEYS = frozenset({"code", "api_key", "apikey", "verification_code", "authorization"})
REDACTED = "[redacted]"
MAX_LIMIT = 10_000


def _is_secret_key(key: str) -> bool:
    lowered = key.strip().lower()
    parts = set(lowered.replace("-", "_").replace(" ", "_").split("_"))
    return lowered in SECRET_KEYS or not parts.isdisjoint(SECRET_KEY_PARTS)


def _scrub(value: Any, action: str) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            if _is_secret_key(str(key)):
                log.warning("audit %s: detail key %r looks secret; value redacted", action, key)
                out[str(key)] = REDACTED
            else:
                out[str(key)] = _scrub(inner, action)
        return out
    if isinstance(value, list):
        return [_scrub(v, action) for v in value]
    return value


def _clean_detail(detail: dict[str, Any] | None, action: str) -> dict[str, Any]:
    if not detail:
        return {}
    # JSONB needs plain JSON: UUIDs, datetimes, enums become their string forms.
    plain = json.loads(json.dumps(detail, default=str))
    scrubbed: dict[str, Any] = _scrub(plain, action)
    return scrubbed


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
    """Add one event to the session (flushed, not committed: the caller commits)."""
    action = action.strip()
    if not action or len(action) > 60:
        raise ValueError(f"an audit action needs 1 to 60 characters, not {action!r}")
    session.add(
        AuditEvent(
            action=action,
            actor_id=actor_id,
            actor_label=(actor_label.strip() or "unknown")[:200],
            workspace_id=workspace_id,
            target=target[:300] if target else None,
            ip=ip[:64] if ip else None,
            detail=_clean_detail(detail, action),
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
    """Events newest first, optionally of one workspace and/or one action."""
    limit = max(1, min(limit, MAX_LIMIT))
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if workspace_id is not None:
        query = query.where(AuditEvent.workspace_id == workspace_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list((await session.scalars(query)).all())
