"""A workspace's choices about what follows a call (managers change them; everyone in
the workspace reads them):

- `callback_mode`: a callback a prospect booked becomes a call the AI agent places at
  that time (`call`: the compliance gate runs again then) or a reminder in the rep's
  chat with a one-click "call now" (`remind`, the default);
- `handoff_on_goal`: the voice agent offers to connect the prospect to the rep when
  the brief's goal is reached (it always offers when the prospect asks for a person,
  whenever the rep has a verified mobile).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import audit
from accounts.models import Role
from accounts.service import Actor
from core.errors import KloseError, PermissionDenied
from telephony.followup_models import CallbackMode, WorkspaceCallSettings

SETTINGS_CHANGED = "call_settings.changed"


class CallSettingsError(KloseError, ValueError):
    pass


@dataclass(frozen=True)
class CallSettings:
    callback_mode: CallbackMode = CallbackMode.REMIND
    handoff_on_goal: bool = False

    def describe(self) -> str:
        mode = (
            "the AI agent calls the prospect back at the booked time (the compliance "
            "gate is checked again then)"
            if self.callback_mode is CallbackMode.CALL
            else "you get a reminder in chat at the booked time, with a “Call now” button"
        )
        goal = (
            "also when the call's goal is reached"
            if self.handoff_on_goal
            else "only when the prospect asks for a person"
        )
        return (
            f"Booked callbacks: {mode}.\n"
            f"Warm hand-off to the rep's verified mobile: offered {goal}."
        )


async def get_settings(session: AsyncSession, workspace_id: uuid.UUID) -> CallSettings:
    row = await session.get(WorkspaceCallSettings, workspace_id, populate_existing=True)
    if row is None:
        return CallSettings()
    return CallSettings(CallbackMode(row.callback_mode), row.handoff_on_goal)


def parse_mode(value: str | None) -> CallbackMode | None:
    """`call`/`remind` in the words a rep uses; None when not given; else an error."""
    if value is None or not value.strip():
        return None
    word = value.strip().lower()
    if word in {"call", "calls", "auto", "automatic", "call back", "dial", "scheduled call"}:
        return CallbackMode.CALL
    if word in {"remind", "reminder", "reminders", "notify", "chat", "remind me"}:
        return CallbackMode.REMIND
    raise CallSettingsError(
        "A booked callback can become a scheduled call (`call`) or a reminder in chat (`remind`)."
    )


async def set_settings(
    session: AsyncSession,
    actor: Actor,
    *,
    callback_mode: CallbackMode | None = None,
    handoff_on_goal: bool | None = None,
) -> CallSettings:
    """Change the workspace's choices (reps and managers of the workspace; audited).
    The caller commits."""
    if actor.role not in (Role.REP, Role.MANAGER, Role.ADMIN):
        raise PermissionDenied("You cannot change this workspace's settings.")
    current = await get_settings(session, actor.workspace_id)
    chosen = CallSettings(
        callback_mode or current.callback_mode,
        current.handoff_on_goal if handoff_on_goal is None else handoff_on_goal,
    )
    now = datetime.now(UTC)
    values = {
        "callback_mode": chosen.callback_mode.value,
        "handoff_on_goal": chosen.handoff_on_goal,
        "updated_by": actor.user_id,
        "updated_at": now,
    }
    await session.execute(
        insert(WorkspaceCallSettings)
        .values(workspace_id=actor.workspace_id, **values)
        .on_conflict_do_update(index_elements=["workspace_id"], set_=values)
    )
    await audit.record(
        session,
        SETTINGS_CHANGED,
        actor_id=actor.user_id,
        actor_label=actor.email,
        workspace_id=actor.workspace_id,
        detail={
            "callback_mode": chosen.callback_mode.value,
            "handoff_on_goal": chosen.handoff_on_goal,
        },
    )
    return chosen
