"""Twilio's callbacks for a call: status, answering-machine detection, recording.

The view checks X-Twilio-Signature first (a bad one is refused and nothing stored);
what reaches this module is authentic. Its fields are read by pydantic models
(`StatusForm`, `AmdForm`, `RecordingForm`): whole numbers are 1-9 ASCII digits, and a
NUL character anywhere (PostgreSQL cannot store one) makes the callback malformed —
`MalformedCallback`, answered 400 with nothing stored. Each callback is applied in one transaction,
under the call row's lock (a status callback in one statement, `call_status_apply`,
migration 0015, so the credit account's lock is held as briefly as possible):

- it is stored raw in `call_callbacks`, de-duplicated on its key (status: CallSid +
  SequenceNumber): a duplicate changes nothing;
- a terminal status wins: the first one settles the hold exactly once (completed:
  `CallDuration` × 1 credit, the rest released; busy, no-answer, failed and canceled
  release it all) and every later callback is stored as `after_terminal`;
- a non-terminal status older than what was applied (lower SequenceNumber, or a
  step back such as ringing after in-progress) is stored as `stale`;
- an unknown CallSid is stored for review (`unknown_call`); no money moves.

What a callback changed is published for the other processes (core/events.py) in the
transaction that stored it (a status callback's: `call_status_publish`, migration
0032): a machine's AMD result on `ks_call_amd` (for the process holding the call's
relay socket), a status that moved or settled the call on `ks_call`, and a settlement
on `ks_notices` (for the chats of the call's workspace).

`reconcile` settles calls whose final callback never came by asking the provider, and
applies its answer through the same `call_status_apply` (as source 'reconcile', stored
as `reconciled`): one settlement, whichever comes first. A call that never reached the
provider has nothing to settle: its hold is released and it is marked failed.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)
from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing import ledger
from core import events
from core.db import Database
from core.errors import KloseError
from core.sql_functions import call_function_alone
from integrations.models import EventType
from telephony.models import Call, CallCallback, CallOutcome, CallStatus
from telephony.twilio import TelephonyError, TelephonyProvider

log = logging.getLogger(__name__)

CALL_SID: Final = re.compile(r"^CA[0-9a-zA-Z]{32}$")
RECORDING_SID: Final = re.compile(r"^RE[0-9a-zA-Z]{32}$")
ANSWERED_BY: Final = frozenset(
    {
        "human",
        "machine_start",
        "machine_end_beep",
        "machine_end_silence",
        "machine_end_other",
        "fax",
        "unknown",
    }
)
MAX_FIELD_CHARS: Final = 500


class MalformedCallback(KloseError, ValueError):
    """Not a Twilio callback we can read: answered 400, nothing stored."""


@dataclass(frozen=True)
class StatusCallback:
    call_sid: str
    status: CallStatus
    sequence: int | None
    duration_s: int | None
    answered_by: str | None
    raw: dict[str, str]

    @property
    def dedupe_key(self) -> str:
        marker = str(self.sequence) if self.sequence is not None else self.status.value
        return f"status:{self.call_sid}:{marker}"


@dataclass(frozen=True)
class Applied:
    result: str  # applied, settled, stale, after_terminal, unknown_call, duplicate, reconciled
    call_id: uuid.UUID | None = None
    cost_mc: int | None = None


# Twilio's whole numbers are ASCII digits: `str.isdigit` also passes '²' or '٣', which
# `int` then refuses (a 500) or reads as something Twilio never sent.
_WHOLE_NUMBER: Final = re.compile(r"[0-9]{1,9}")


def whole_number(value: object) -> int | None:
    """A Twilio whole number ('' or absent: None); anything but 1-9 ASCII digits is
    refused with ValueError."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or _WHOLE_NUMBER.fullmatch(value) is None:
        raise ValueError(f"must be a whole number, not {str(value)[:20]!r}")
    return int(value)


def _call_sid(value: str) -> str:
    if not CALL_SID.fullmatch(value):
        raise ValueError("is not a Twilio call SID")
    return value


def _recording_sid(value: str) -> str:
    if not RECORDING_SID.fullmatch(value):
        raise ValueError("is not a Twilio recording SID")
    return value


def _twilio_status(value: str) -> str:
    if value == CallStatus.PENDING.value or value not in set(CallStatus):
        raise ValueError("is not a Twilio call status")
    return value


def _url_or_empty(value: str) -> str:
    if value and not value.startswith(("https://", "http://")):
        raise ValueError("is not a URL")
    return value


WholeNumber = Annotated[int | None, BeforeValidator(whole_number)]


class _TwilioForm(BaseModel):
    """A signed Twilio callback's form fields. Fields not named here are kept only in
    the stored raw copy; a NUL anywhere is refused (PostgreSQL cannot store it)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    CallSid: Annotated[str, AfterValidator(_call_sid)]

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and any(
            "\x00" in str(k) or "\x00" in str(v) for k, v in data.items()
        ):
            raise ValueError("a field contains a NUL character")
        return data


class StatusForm(_TwilioForm):
    CallStatus: Annotated[str, AfterValidator(_twilio_status)]
    CallDuration: WholeNumber = None
    SequenceNumber: WholeNumber = None
    AnsweredBy: str | None = None


class AmdForm(_TwilioForm):
    AnsweredBy: Literal[
        "human",
        "machine_start",
        "machine_end_beep",
        "machine_end_silence",
        "machine_end_other",
        "fax",
        "unknown",
    ]


class RecordingForm(_TwilioForm):
    RecordingSid: Annotated[str, AfterValidator(_recording_sid)]
    RecordingStatus: Literal["in-progress", "completed", "absent", "failed"]
    RecordingUrl: Annotated[str, AfterValidator(_url_or_empty)] = ""
    RecordingDuration: WholeNumber = None


_Form = TypeVar("_Form", bound=_TwilioForm)


def parse_form(model: type[_Form], params: Mapping[str, str]) -> _Form:
    """`params` read as `model`, or MalformedCallback naming every field that is wrong."""
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"])
            what = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "missing":
                what = "is missing"
            problems.append(f"{where} {what}".strip())
        raise MalformedCallback("; ".join(problems) + ".") from None


def _raw(params: Mapping[str, str]) -> dict[str, str]:
    return {str(k)[:100]: str(v)[:MAX_FIELD_CHARS] for k, v in params.items()}


def parse_status(params: Mapping[str, str]) -> StatusCallback:
    form = parse_form(StatusForm, params)
    status = CallStatus(form.CallStatus)
    if status is CallStatus.COMPLETED and form.CallDuration is None:
        raise MalformedCallback("A completed call's callback must carry CallDuration.")
    return StatusCallback(
        call_sid=form.CallSid,
        status=status,
        sequence=form.SequenceNumber,
        duration_s=form.CallDuration,
        answered_by=form.AnsweredBy if form.AnsweredBy in ANSWERED_BY else None,
        raw=_raw(params),
    )


def parse_call_id(raw: str | None) -> uuid.UUID | None:
    """The call id a webhook or websocket URL names (None when absent or malformed)."""
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


async def _locked_call(session: AsyncSession, call_ref: str | None, call_sid: str) -> Call | None:
    """The call a callback is about, locked: by the id in its URL (checked against the
    sid), else by the sid. None when unknown."""
    call_id = parse_call_id(call_ref)
    call = None
    if call_id is not None:
        call = await session.get(Call, call_id, with_for_update=True, populate_existing=True)
        if call is not None and call.twilio_sid not in (None, call_sid):
            call = None
    if call is None:
        call = (
            await session.scalars(
                select(Call)
                .where(Call.twilio_sid == call_sid)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).one_or_none()
    return call


async def _store(
    session: AsyncSession,
    *,
    kind: str,
    key: str,
    call_sid: str,
    call: Call | None,
    result: str,
    params: dict[str, str],
    sequence: int | None = None,
    status: str | None = None,
) -> bool:
    """Store the raw callback; False when its key was seen before (a duplicate)."""
    inserted = await session.scalar(
        insert(CallCallback)
        .values(
            kind=kind,
            dedupe_key=key,
            call_sid=call_sid,
            call_id=call.id if call is not None else None,
            sequence_number=sequence,
            call_status=status,
            payload=params,
            result=result,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(CallCallback.id)
    )
    return inserted is not None


# One statement, one transaction (`call_status_publish`, migration 0032): the status is
# applied by `call_status_apply` (migration 0015), and what it changed is published in
# the same transaction (core/events.py) — the call id on `ks_call` when it moved the
# call on or settled it (the chat following its progress, on whichever process), and
# the workspace on `ks_notices` when it settled it (the call-ended and low-balance
# notices); a NOTIFY is delivered only once that transaction has committed. For a
# settlement it also answers whether `on_settled` (telephony/outbound_events.py) has
# anything to do: a callback its prospect agreed to (`book_from_call`'s condition) or a
# receiver of `call.completed` in its workspace (`emit`'s). Most settlements have
# neither and are spared that function's ORM transaction (five round trips).
assert (events.CALL_PROGRESS, events.NOTICES) == ("ks_call", "ks_notices")
_APPLY_STATUS = text(
    "SELECT result, call_id, cost_mc, follow_up FROM call_status_publish(CAST(:call AS uuid),"
    " :sid, :status, :seq, :duration, :answered_by, :key, CAST(:payload AS jsonb),"
    " 'callback', NULL, :booked, :event)"
)
# The provider's own record of a call whose final callback never came (migrations 0015,
# 0019): settled by the same function, stored and answered as `reconciled`.
_RECONCILE = text(
    "SELECT result, call_id, cost_mc, follow_up FROM call_status_publish(CAST(:call AS uuid),"
    " :sid, :status, NULL, :duration, NULL, :key, CAST(:payload AS jsonb),"
    " 'reconcile', :reason, :booked, :event)"
)
_FOLLOW_UP_PARAMS: Final = {
    "booked": CallOutcome.CALLBACK_BOOKED.value,
    "event": EventType.CALL_COMPLETED.value,
}


async def apply_status(db: Database, call_ref: str | None, cb: StatusCallback) -> Applied:
    """Store and apply one status callback in one statement (`call_status_publish`:
    lock the call, de-duplicate, decide, apply or settle, publish), committed as it
    ends: the workspace's credit account, which every settling call of a workspace
    locks, is held only while the function runs."""
    call_id = parse_call_id(call_ref)
    row = (
        await call_function_alone(
            db,
            _APPLY_STATUS,
            {
                "call": str(call_id) if call_id else None,
                "sid": cb.call_sid,
                "status": cb.status.value,
                "seq": cb.sequence,
                "duration": cb.duration_s,
                "answered_by": cb.answered_by,
                "key": cb.dedupe_key,
                "payload": json.dumps(cb.raw),
                **_FOLLOW_UP_PARAMS,
            },
        )
    ).one()
    if row.result == "unknown_call":
        log.warning("status callback for unknown call %s stored for review", cb.call_sid)
    if row.result == "settled":
        await _after_settled(db, row.call_id, row.follow_up)
    return Applied(row.result, row.call_id, row.cost_mc)


async def _after_settled(db: Database, call_id: uuid.UUID | None, follow_up: bool) -> None:
    """Book the callback the prospect agreed to and tell the workspace's webhooks
    (telephony/outbound_events.py; never raises) — when there is either to do."""
    from telephony.outbound_events import on_settled  # it builds on this module's callers

    if call_id is None or not follow_up:
        return
    await on_settled(db, call_id)


async def _apply_other(
    db: Database,
    call_ref: str | None,
    sid: str,
    params: Mapping[str, str],
    *,
    kind: str,
    key: str,
    update: Callable[[Call], None],
    publish: str | None = None,
) -> Applied:
    """Store an AMD or recording callback (de-duplicated on `key`) and, for a known call,
    apply `update` to it under its lock — and publish its id on the event channel
    `publish` in the same transaction (core/events.py)."""
    async with db.session() as session:
        call = await _locked_call(session, call_ref, sid)
        fresh = await _store(
            session,
            kind=kind,
            key=key,
            call_sid=sid,
            call=call,
            result="unknown_call" if call is None else "applied",
            params=_raw(params),
        )
        if not fresh:
            return Applied("duplicate", call.id if call else None)
        if call is None:
            await session.commit()
            return Applied("unknown_call")
        if call.twilio_sid is None:
            call.twilio_sid = sid
        update(call)
        if publish is not None:
            await events.publish(session, publish, call.id)
        await session.commit()
        return Applied("applied", call.id)


async def apply_amd(
    db: Database,
    call_ref: str | None,
    params: Mapping[str, str],
    on_machine: Callable[[uuid.UUID, str], None] | None = None,
) -> Applied:
    """Store an AMD result. A machine's is published on `ks_call_amd` (in the same
    transaction), so the process holding the call's relay socket — this one or another —
    leaves the voicemail or hangs up (telephony/voice/sessions.py); `on_machine` tells
    this process's own socket at once."""
    form = parse_form(AmdForm, params)
    sid, answered_by = form.CallSid, form.AnsweredBy

    def update(call: Call) -> None:
        call.answered_by = answered_by

    machine = answered_by.startswith("machine") or answered_by == "fax"
    applied = await _apply_other(
        db,
        call_ref,
        sid,
        params,
        kind="amd",
        key=f"amd:{sid}",
        update=update,
        publish=events.CALL_AMD if machine else None,
    )
    if applied.result == "applied" and applied.call_id and machine and on_machine is not None:
        on_machine(applied.call_id, answered_by)
    return applied


async def apply_recording(db: Database, call_ref: str | None, params: Mapping[str, str]) -> Applied:
    form = parse_form(RecordingForm, params)
    sid, status = form.CallSid, form.RecordingStatus

    def update(call: Call) -> None:
        if status == "completed":
            call.recording_sid = form.RecordingSid
            call.recording_url = form.RecordingUrl or None
            call.recording_duration_s = _recording_seconds(call, form.RecordingDuration)

    key = f"recording:{sid}:{form.RecordingSid}:{status}"
    return await _apply_other(db, call_ref, sid, params, kind="recording", key=key, update=update)


def _recording_seconds(call: Call, reported: int | None) -> int | None:
    """A recording is no longer than the call could last (its time limit) nor, once the
    call is settled, than what was billed."""
    if reported is None:
        return None
    cap = call.time_limit_s
    if call.settled_at is not None and call.duration_s is not None:
        cap = min(cap, call.duration_s)
    return min(reported, cap)


# --- reconciliation ----------------------------------------------------------------


def _overdue(now: datetime, ring_s: int, grace_s: int) -> Any:
    """Calls that should have ended by now: created + ring + limit + grace < now."""
    return (
        Call.created_at + func.make_interval(0, 0, 0, 0, 0, 0, Call.time_limit_s + ring_s + grace_s)
        < now
    )


async def reconcile(
    db: Database,
    provider: TelephonyProvider,
    *,
    ring_timeout_s: int,
    grace_s: int,
    now: datetime | None = None,
    page: int = 100,
) -> list[Applied]:
    """Settle calls whose final callback never came, from the provider's own record.
    A call that never reached the provider (no sid) is failed and its hold released.
    Every overdue call is looked at, `page` at a time: calls the provider still reports
    as going (or could not be fetched) stay overdue, and must not crowd out the rest."""
    when = now or datetime.now(UTC)
    done: list[Applied] = []
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        async with db.session() as session:
            query = select(Call.id, Call.twilio_sid, Call.created_at).where(
                Call.settled_at.is_(None), _overdue(when, ring_timeout_s, grace_s)
            )
            if after is not None:
                query = query.where(tuple_(Call.created_at, Call.id) > tuple_(*after))
            rows = (
                await session.execute(query.order_by(Call.created_at, Call.id).limit(page))
            ).all()
        for call_id, sid, _created in rows:
            applied = await _reconcile_one(db, provider, call_id, sid, when)
            if applied is not None:
                done.append(applied)
        if len(rows) < page:
            return done
        after = (rows[-1].created_at, rows[-1].id)


async def _reconcile_one(
    db: Database,
    provider: TelephonyProvider,
    call_id: uuid.UUID,
    sid: str | None,
    when: datetime,
) -> Applied | None:
    """Settle one overdue call from the provider's record, if it has ended there (None:
    it has not, or could not be told: looked at again next round)."""
    if sid is None:
        return await _fail_unplaced(db, call_id, when)
    try:
        record = await provider.fetch_call(sid)
    except TelephonyError as exc:
        if exc.code == 20404 or exc.status == 404:
            # The carrier has no such call (e.g. a simulated call whose process
            # ended): nothing was connected, nothing is owed.
            return await _fail_unplaced(db, call_id, when, "The carrier has no record.")
        log.warning("reconcile: could not fetch call %s: %s", sid, exc)
        return None
    try:
        status = CallStatus(str(record.get("status", "")))
    except ValueError:
        return None
    if not status.terminal:
        return None  # still going (a long call): try again next round
    try:
        duration = whole_number(str(record.get("duration") or "")) or 0
    except ValueError:
        duration = 0
    row = (
        await call_function_alone(
            db,
            _RECONCILE,
            {
                "call": str(call_id),
                "sid": sid,
                "status": status.value,
                "duration": duration,
                "key": f"status:{sid}:reconcile",
                "payload": json.dumps(
                    {"source": "reconcile", "status": status.value, "duration": str(duration)}
                ),
                "reason": "settled by reconciliation",
                **_FOLLOW_UP_PARAMS,
            },
        )
    ).one()
    if row.result != "reconciled":  # settled meanwhile by a late callback, or a repeat
        return None
    log.info("reconciled call %s as %s (%d s)", sid, status.value, duration)
    await _after_settled(db, call_id, row.follow_up)
    return Applied("reconciled", call_id, row.cost_mc)


async def _fail_unplaced(
    db: Database,
    call_id: uuid.UUID,
    now: datetime,
    why: str = "The call never reached the carrier.",
) -> Applied:
    async with db.session() as session:
        call = await session.get(Call, call_id, with_for_update=True, populate_existing=True)
        if call is None or call.settled_at is not None:
            return Applied("duplicate", call_id)
        if call.hold_id is not None:
            await ledger.release_hold(session, call.hold_id)
        call.status = CallStatus.FAILED.value
        call.outcome = call.outcome or CallOutcome.FAILED.value
        call.ended_at = call.ended_at or now
        call.duration_s, call.cost_mc, call.settled_at = 0, 0, now
        call.error = call.error or why
        await events.publish(session, events.CALL_PROGRESS, call_id)
        await events.publish(session, events.NOTICES, call.workspace_id)
        await session.commit()
    return Applied("reconciled", call_id, 0)
