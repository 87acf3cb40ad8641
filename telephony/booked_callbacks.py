"""Callbacks that happen: what a prospect booked becomes a call or a reminder.

A callback is booked when a call settles with a callback time the prospect agreed to
(`book_from_call`), or when the rep missed a warm hand-off (`telephony.handoff`). It
is one row per originating call (booking twice changes nothing).

At its time the worker's periodic job (`run_due`, every minute) claims the due rows
with `FOR UPDATE SKIP LOCKED` (any number of workers, each row once) and, as the
workspace's `callback_mode` says at that moment (`telephony.call_settings`):

- `call`: the rep's call is placed through `telephony.calls.place_call` — the shared
  number's dispatcher, and the compliance gate checked again *now* (consent,
  do-not-call, calling hours in the callee's zone, attempts, credits). A refusal is
  kept with its reason and turned into a reminder for the rep;
- `remind`: the rep's chat shows a reminder with a "Call now" button, which proposes
  the call through the normal confirmation and gate (chat_app, tools/callbacks.py).

A row claimed by a worker that died before finishing is never dialled again: it is
turned into a reminder (at most one automatic dial per callback).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User, Workspace, WorkspaceStatus
from accounts.service import Actor
from core import events
from core.db import Database
from core.errors import KloseError
from telephony import calls
from telephony.call_settings import get_settings
from telephony.followup_models import BookedCallback, CallbackMode, CallbackStatus
from telephony.models import Call, CallOutcome, Contact
from telephony.provider import Telephony

log = logging.getLogger(__name__)

CLAIM_FOR: Final = timedelta(minutes=10)
BATCH: Final = 20
MAX_PURPOSE_CHARS: Final = 400

PlaceCall = Callable[..., Awaitable[Call]]


@dataclass(frozen=True)
class Ran:
    callback_id: uuid.UUID
    status: CallbackStatus
    result: str
    call_id: uuid.UUID | None = None


def callback_purpose(original: str) -> str:
    text = (
        f"the callback they asked for — {original.strip()}"
        if original.strip()
        else ("the callback they asked for")
    )
    return text[:MAX_PURPOSE_CHARS]


async def book(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    contact_id: uuid.UUID,
    rep_id: uuid.UUID,
    call_id: uuid.UUID | None,
    source: str,
    purpose: str,
    due_at: datetime,
) -> uuid.UUID | None:
    """Book a callback (the caller commits); None if this call booked one already."""
    return await session.scalar(
        insert(BookedCallback)
        .values(
            id=uuid.uuid4(),
            workspace_id=workspace_id,
            contact_id=contact_id,
            rep_id=rep_id,
            call_id=call_id,
            source=source,
            purpose=purpose[:MAX_PURPOSE_CHARS],
            due_at=due_at,
            status=CallbackStatus.PENDING.value,
        )
        .on_conflict_do_nothing(index_elements=["call_id"])
        .returning(BookedCallback.id)
    )


async def book_from_call(session: AsyncSession, call: Call) -> uuid.UUID | None:
    """The callback a settled call's prospect agreed to, if any (once per call)."""
    if call.callback_at is None or call.outcome != CallOutcome.CALLBACK_BOOKED.value:
        return None
    return await book(
        session,
        workspace_id=call.workspace_id,
        contact_id=call.contact_id,
        rep_id=call.placed_by,
        call_id=call.id,
        source="call",
        purpose=str((call.brief or {}).get("purpose", "")),
        due_at=call.callback_at,
    )


async def _claim(db: Database, now: datetime) -> list[BookedCallback]:
    async with db.session() as session:
        # Rows a dead worker left running: never dialled again, the rep is reminded.
        await session.execute(
            update(BookedCallback)
            .where(
                BookedCallback.status == CallbackStatus.RUNNING.value,
                BookedCallback.claimed_until < now,
            )
            .values(
                status=CallbackStatus.REMINDED.value,
                mode=CallbackMode.REMIND.value,
                result="The scheduled call was interrupted; call back when it suits you.",
                done_at=now,
            )
        )
        due = (
            select(BookedCallback.id)
            .where(
                BookedCallback.status == CallbackStatus.PENDING.value,
                BookedCallback.due_at <= now,
            )
            .order_by(BookedCallback.due_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        rows = list(
            (
                await session.scalars(
                    update(BookedCallback)
                    .where(BookedCallback.id.in_(due.scalar_subquery()))
                    .values(status=CallbackStatus.RUNNING.value, claimed_until=now + CLAIM_FOR)
                    .returning(BookedCallback)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
        await session.commit()
    return rows


async def _finish(
    db: Database,
    row: BookedCallback,
    status: CallbackStatus,
    mode: CallbackMode,
    result: str,
    call_id: uuid.UUID | None,
    now: datetime,
) -> Ran:
    async with db.session() as session:
        await session.execute(
            update(BookedCallback)
            .where(BookedCallback.id == row.id)
            .values(
                status=status.value,
                mode=mode.value,
                result=result[:2000],
                placed_call_id=call_id,
                done_at=now,
            )
        )
        await events.publish(session, events.NOTICES, row.workspace_id)
        await session.commit()
    return Ran(row.id, status, result, call_id)


async def _run_one(
    db: Database, telephony: Telephony, row: BookedCallback, now: datetime, place: PlaceCall
) -> Ran:
    async with db.session() as session:
        mode = (await get_settings(session, row.workspace_id)).callback_mode
        rep = await session.get(User, row.rep_id)
        workspace = await session.get(Workspace, row.workspace_id)
    if mode is CallbackMode.REMIND:
        return await _finish(
            db, row, CallbackStatus.REMINDED, mode, "Reminder shown to the rep.", None, now
        )
    if (
        rep is None
        or rep.status != "active"
        or workspace is None
        or (workspace.status != WorkspaceStatus.ACTIVE.value)
    ):
        why = "Not called: the rep's account or the workspace is not active."
        return await _finish(db, row, CallbackStatus.REFUSED, mode, why, None, now)
    try:
        call = await place(
            db,
            Actor.of(rep),
            row.contact_id,
            telephony,
            purpose=callback_purpose(row.purpose),
            now=now,
        )
    except calls.CallRefused as exc:
        why = f"Not called at the booked time — the compliance gate said no: {exc}"
        return await _finish(db, row, CallbackStatus.REFUSED, mode, why, None, now)
    except KloseError as exc:
        why = f"Not called at the booked time: {exc}"
        return await _finish(db, row, CallbackStatus.REFUSED, mode, why, None, now)
    return await _finish(
        db, row, CallbackStatus.CALLED, mode, "Called at the booked time.", call.id, now
    )


async def run_due(
    db: Database,
    telephony: Telephony,
    *,
    now: datetime | None = None,
    place: PlaceCall = calls.place_call,
) -> list[Ran]:
    """Carry out the callbacks due at `now` (each once, whichever worker claims it)."""
    at = now or datetime.now(UTC)
    done = []
    for row in await _claim(db, at):
        try:
            done.append(await _run_one(db, telephony, row, at, place))
        except Exception:
            log.exception("booked callback %s failed", row.id)
            done.append(
                await _finish(
                    db,
                    row,
                    CallbackStatus.REFUSED,
                    CallbackMode.REMIND,
                    "The scheduled call failed; call back when it suits you.",
                    None,
                    at,
                )
            )
    return done


async def due_reminders(
    session: AsyncSession, rep_id: uuid.UUID, since: datetime
) -> list[tuple[BookedCallback, Contact]]:
    """The rep's callbacks that became reminders (or were refused) since `since`."""
    rows = await session.execute(
        select(BookedCallback, Contact)
        .join(Contact, Contact.id == BookedCallback.contact_id)
        .where(
            BookedCallback.rep_id == rep_id,
            BookedCallback.status.in_(
                [CallbackStatus.REMINDED.value, CallbackStatus.REFUSED.value]
            ),
            BookedCallback.done_at >= since,
        )
        .order_by(BookedCallback.done_at)
        .limit(20)
    )
    return [(cb, contact) for cb, contact in rows.all()]


async def get_callback(
    session: AsyncSession, actor: Actor, callback_id: uuid.UUID
) -> tuple[BookedCallback, Contact] | None:
    """A callback the actor may act on: their own (or, for a manager, the workspace's)."""
    row = (
        await session.execute(
            select(BookedCallback, Contact)
            .join(Contact, Contact.id == BookedCallback.contact_id)
            .where(
                BookedCallback.id == callback_id,
                BookedCallback.workspace_id == actor.workspace_id,
            )
        )
    ).one_or_none()
    if row is None:
        return None
    callback, contact = row
    if callback.rep_id != actor.user_id and actor.role.value == "rep":
        return None
    return callback, contact


def payload_of(callback: BookedCallback) -> dict[str, Any]:
    return {"callback": str(callback.id)}
