"""Suspending a workspace for a violation of the terms or the law (DESIGN.md §1).

A suspended workspace's users cannot sign in (accounts/service.py `authenticate`,
accounts/sessions.py `check_session` both require an active workspace), and every
session they had is revoked at once: `revoked_at` is set on each open `user_sessions`
row and each user's `session_version` is bumped, so a cookie issued before fails even
where only the version is checked (an open chat socket re-checks its session with
`check_session` on every frame: chat_app/guard.py).

Other packages stop their own work through hooks: a hook is an
`async def hook(session, workspace_id) -> None` registered with
`register_suspend_hook` at import time, and it is awaited on every suspension, after
the workspace is marked suspended and its sessions revoked, inside the caller's
transaction. Planned hooks:

- telephony: end the workspace's calls in progress and cancel queued ones;
- billing: refuse purchases is already covered by the status check; a hook may
  cancel open checkouts.

Each hook runs in a savepoint: if one raises, its database work is rolled back, the
error is logged and named in the audit record (`failed_hooks`), and the suspension
still goes through (a broken hook must never keep a violating workspace running).
Hooks may have effects outside the database (ending a live call): these happen even
if the caller later fails to commit, which errs on the side of stopping.

Unsuspending restores sign-in; revoked sessions stay revoked (users sign in again).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit
from accounts.models import User, UserSession, Workspace, WorkspaceStatus
from core.errors import KloseError, NotFound

log = logging.getLogger(__name__)

SuspendHook = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]

# Awaited, in order of registration, on every suspension. Register with
# `register_suspend_hook`; the telephony package registers "end calls in progress".
on_suspend: list[SuspendHook] = []

MAX_REASON_CHARS = 2000


class SuspensionError(KloseError, ValueError):
    pass


def register_suspend_hook(fn: SuspendHook) -> SuspendHook:
    """Add a hook (once; registering the same function again does nothing). Returns it,
    so it can be used as a decorator."""
    if fn not in on_suspend:
        on_suspend.append(fn)
    return fn


def _hook_name(fn: SuspendHook) -> str:
    module = getattr(fn, "__module__", "?")
    name = getattr(fn, "__qualname__", None) or repr(fn)
    return f"{module}.{name}"


async def _locked_workspace(session: AsyncSession, workspace_id: uuid.UUID) -> Workspace:
    ws = await session.scalar(
        select(Workspace)
        .where(Workspace.id == workspace_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if ws is None:
        raise NotFound(f"No workspace {workspace_id}.")
    return ws


async def suspend(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    reason: str,
    by_label: str,
    ip: str | None = None,
) -> bool:
    """Suspend a workspace: no sign-in, every session revoked, hooks run, audited.

    True when it was suspended now; False when it already was (nothing changed, the
    first reason and date stay). The caller commits. Refused: an empty reason
    (SuspensionError), an unknown workspace (NotFound).
    """
    reason = reason.strip()
    if not reason:
        raise SuspensionError("A suspension needs a reason.")
    if len(reason) > MAX_REASON_CHARS:
        raise SuspensionError(f"The reason is longer than {MAX_REASON_CHARS} characters.")
    by_label = by_label.strip() or "admin"
    ws = await _locked_workspace(session, workspace_id)
    if ws.status == WorkspaceStatus.SUSPENDED.value:
        log.info("workspace %s is already suspended since %s", ws.id, ws.suspended_at)
        return False

    now = datetime.now(UTC)
    ws.status = WorkspaceStatus.SUSPENDED.value
    ws.suspended_at = now
    ws.suspended_reason = reason
    members = select(User.id).where(User.workspace_id == ws.id).scalar_subquery()
    revoked = await session.execute(
        update(UserSession)
        .where(UserSession.user_id.in_(members), UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    bumped = await session.execute(
        update(User)
        .where(User.workspace_id == ws.id)
        .values(session_version=User.session_version + 1)
    )
    await session.flush()
    sessions_revoked = int(getattr(revoked, "rowcount", 0) or 0)
    users_signed_out = int(getattr(bumped, "rowcount", 0) or 0)

    failed: list[str] = []
    for hook in list(on_suspend):
        try:
            async with session.begin_nested():
                await hook(session, ws.id)
        except Exception:  # a broken hook must not keep the workspace running
            log.exception("suspend hook %s failed for workspace %s", _hook_name(hook), ws.id)
            failed.append(_hook_name(hook))

    detail: dict[str, object] = {"reason": reason}
    if failed:
        detail["failed_hooks"] = failed
    await audit.record(
        session,
        audit.WORKSPACE_SUSPENDED,
        actor_label=by_label,
        workspace_id=ws.id,
        target=ws.name,
        ip=ip,
        detail=detail,
    )
    log.warning(
        "workspace %s suspended by %s: %d user(s) signed out, %d session(s) revoked%s",
        ws.id,
        by_label,
        users_signed_out,
        sessions_revoked,
        f"; failed hooks: {', '.join(failed)}" if failed else "",
    )
    return True


async def unsuspend(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    by_label: str,
    ip: str | None = None,
) -> bool:
    """Lift a suspension (users may sign in again), audited. The caller commits.

    True when it was lifted now; False when the workspace was not suspended (nothing
    changed). Unknown workspace: NotFound.
    """
    by_label = by_label.strip() or "admin"
    ws = await _locked_workspace(session, workspace_id)
    if ws.status != WorkspaceStatus.SUSPENDED.value:
        return False
    previous_reason, since = ws.suspended_reason, ws.suspended_at
    ws.status = WorkspaceStatus.ACTIVE.value
    ws.suspended_at = None
    ws.suspended_reason = None
    await session.flush()
    await audit.record(
        session,
        audit.WORKSPACE_UNSUSPENDED,
        actor_label=by_label,
        workspace_id=ws.id,
        target=ws.name,
        ip=ip,
        detail={
            "previous_reason": previous_reason,
            "suspended_at": since.isoformat() if since else None,
        },
    )
    return True
