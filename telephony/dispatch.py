"""One dispatcher for every outbound call from the shared number (DESIGN.md §3, §6).

All workspaces dial from one number, and the carrier lets that number start only so
many calls per second (`TWILIO_CALLS_PER_SECOND`, 1 by default). Every outbound call —
a rep's single call from chat and every campaign call — is a row in `dial_queue`
(`enqueue`), and is dialled by this module, in whichever process runs it:

- **Fair.** The next dial goes to the workspace served longest ago that has work
  waiting (round-robin over `dial_fairness`, whose rows are locked `FOR UPDATE SKIP
  LOCKED`, so two processes serve two workspaces). A rep's single call (`interactive`)
  is served before campaign calls, so a big campaign cannot starve it: it is dialled
  at the next free slot, at once when the line is free (`dispatch_now`, from the
  process that queued it).
- **Paced.** Before each dial a slot is taken from `dial_pacer`, one row holding the
  slots and completions of the latest requests, under its row lock (`Pacer.take`): a
  request starts only while fewer than `n` (the whole calls per second) are in flight
  or returned within the last `n / CPS` seconds, so no one-second window ever holds
  more than the limit at the carrier, whatever the number of processes; slots are
  taken as soon as they are free, so the rate stays at the limit while work waits.
- **At most once.** A row is claimed (`queued → dialing`, `SKIP LOCKED`), then the gate
  runs, credits are held and the call row committed, and then the slot stamp is
  written (`dialed_at`, with the slot, fenced on the claim) — all before the carrier is
  asked. A claim is a lease: renewed while the prepared dial waits for its slot. After
  a crash, a row whose call row was never written had not reached the carrier and is
  queued again (`recover`); one prepared but given no slot had not either: its call is
  failed at no cost and the row queued again as a new call (the old claimer, if alive,
  can no longer take a slot for it); one given a slot may have reached the carrier and
  is never dialled again: the call reconciliation (telephony/callbacks.py
  `reconcile`) asks the carrier or fails the call and releases its hold. Billing stays
  the call's own: one hold per call (`call:<id>`), settled once by its final callback.
- **Gate at dial time.** The compliance gate (telephony/compliance.py) runs inside the
  dial, not when the call was queued. A campaign's own rules (still active, inside its
  window, within its budget) are checked by a `CampaignGuard` the process provides
  (campaigns/service.py `guard`); a dispatcher without one never dials campaign calls.

`Dispatcher` runs lanes of this loop under `core.supervisor.Supervisor` in the worker
(`klosesales worker`, or inside `serve`); nothing lives only in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    String,
    Text,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from accounts.models import User
from accounts.service import Actor
from core.base import Base
from core.db import Database
from core.errors import KloseError
from core.sql_functions import call_function_alone
from core.supervisor import Supervisor
from telephony.calls import CallNotPlaced, CallRefused, fail_unsent, prepare_call, send_call
from telephony.compliance import Reason
from telephony.models import Call, Contact
from telephony.provider import Telephony
from telephony.twilio import CallRequest, PlacedCall

log = logging.getLogger(__name__)

IDLE_POLL_S: Final = 0.25  # how often an idle dispatcher looks for work
IDLE_WAKE_S: Final = 2.0  # the longest a lane waits for the looking lane's news
RECOVER_EVERY_S: Final = 2.0
# A claim's lease. A claimed row with no call row after this long was interrupted
# before it dialled (a live dial writes its call row within a second of its claim;
# were a slow one requeued, its second preparation would fail on the call's unique id:
# never two dials). A prepared dial renews its claim every quarter of it while it waits
# for its slot; one not renewed for this long is taken over (`recover`).
STALE_CLAIM: Final = timedelta(seconds=10)
# Pacing margin: each window this much longer than `n / CPS` (the bound needs none:
# slots and completions bracket each request's arrival; this covers rounding).
PACE_MARGIN_S: Final = 0.002
WAIT_FOR_DIAL_S: Final = 30.0
# A provider request in flight longer than this has timed out (its process died or its
# HTTP client gave up): its slot then counts as if it had returned at `s + lease`.
REQUEST_LEASE_S: Final = 15.0
# How often a slot blocked by a request in flight (or a rep's call) is looked at again.
IN_FLIGHT_POLL_S: Final = 0.005
# A refused dial's `not_before` when it should not be tried again.
NEVER: Final = datetime(9999, 1, 1, tzinfo=UTC)
# Refusals that pass with time (credits bought, suspension lifted): tried again later.
_LATER: Final = frozenset(
    {Reason.INSUFFICIENT_CREDITS, Reason.CREDITS_FROZEN, Reason.WORKSPACE_SUSPENDED}
)
LATER: Final = timedelta(minutes=5)


class DialStatus(enum.StrEnum):
    QUEUED = "queued"
    DIALING = "dialing"
    PLACED = "placed"
    REFUSED = "refused"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self not in (DialStatus.QUEUED, DialStatus.DIALING)


class DialRequest(Base):
    """One outbound call waiting for (or given) its turn on the shared number."""

    __tablename__ = "dial_queue"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    call_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    target_id: Mapped[int | None] = mapped_column(BigInteger)
    interactive: Mapped[bool] = mapped_column(Boolean, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="queued")
    not_before: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    enqueued_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dialed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)


def brief_payload(
    *,
    purpose: str,
    talking_points: Sequence[str] | None = None,
    goal: str | None = None,
    voicemail_message: str | None = None,
    on_voicemail: str = "leave",
) -> dict[str, Any]:
    """What a queued dial carries to build the call's brief (telephony/voice/brief.py)."""
    return {
        "purpose": purpose,
        "talking_points": list(talking_points or ()),
        "goal": goal,
        "voicemail_message": voicemail_message,
        "on_voicemail": on_voicemail,
    }


async def enqueue(
    session: AsyncSession,
    actor: Actor,
    contact_id: uuid.UUID,
    *,
    brief: dict[str, Any],
    interactive: bool,
    campaign_id: uuid.UUID | None = None,
    target_id: int | None = None,
    not_before: datetime | None = None,
    claimed: bool = False,
) -> DialRequest:
    """Queue one call to a contact of the actor's workspace (flushed; the caller
    commits). Nothing is checked here but ownership: the gate runs when it is dialled.
    `claimed`: queued already claimed by the caller, who dials it at once (`dial`) — a
    rep's single call, which no worker may take from under it; if the caller dies
    first, `recover` queues it again."""
    request = DialRequest(
        call_id=uuid.uuid4(),
        workspace_id=actor.workspace_id,
        contact_id=contact_id,
        user_id=actor.user_id,
        campaign_id=campaign_id,
        target_id=target_id,
        interactive=interactive,
        payload=brief,
        status=(DialStatus.DIALING if claimed else DialStatus.QUEUED).value,
    )
    if claimed:
        request.claimed_at = datetime.now(UTC)
    if not_before is not None:
        request.not_before = not_before
    session.add(request)
    await session.execute(
        text("INSERT INTO dial_fairness (workspace_id) VALUES (:ws) ON CONFLICT DO NOTHING"),
        {"ws": actor.workspace_id},
    )
    await session.flush()
    if claimed:
        await _mark_claimed(session, request.id, actor.workspace_id)
    return request


# --- pacing --------------------------------------------------------------------------


Slot = tuple[datetime, datetime | None]  # (slot taken, request returned; None: in flight)


def _pairs(flat: Sequence[datetime | None]) -> list[Slot]:
    """`dial_pacer.recent` as (start, end) pairs (flattened in the array, newest last)."""
    items = list(flat)
    pairs: list[Slot] = []
    for i in range(0, len(items) - 1, 2):
        start = items[i]
        if start is not None:  # always set; a stray odd element is ignored
            pairs.append((start, items[i + 1]))
    return pairs


class ClaimLost(KloseError):
    """A prepared dial's claim lapsed and another process took it over (`recover`): it
    was given no slot and is not dialled here."""


class Pacer:
    """The shared number's calls-per-second limit, kept in PostgreSQL (`dial_pacer`),
    enforced where the carrier sees it: at most `n` (= max(1, ⌊CPS⌋)) provider requests
    start in any window of `n / CPS` seconds (one second when the CPS is whole).

    Each provider request is bracketed by two database times: its slot `s` (taken under
    the pacer row's lock, committed before the request is sent, so the request reaches
    the carrier after `s`) and its completion `c` (written when the request returned,
    so it reached the carrier before `c`). A new slot is taken at `t` only while fewer
    than `n` requests are *in the window*, i.e. still in flight or returned after
    `t - window`. Proof of the bound: take any `n + 1` requests that reached the
    carrier inside one window; the one whose slot came last, `k`, found every other `j`
    in the window when it took its slot (`c_j ≥ arrival_j > arrival_k - window ≥
    s_k - window`, and `s_j ≤ s_k`) — `n` of them, so it would have waited. It holds
    across any number of processes (one row, one lock, the database's clock, read
    after the lock is had) and for any delay between a process's stamp and its request
    reaching the carrier.

    A slot is judged and taken by one statement in autocommit (`_PACER_TAKE`), and a
    completion written the same way as soon as the request returns: the row is locked
    only while one statement runs, never across a client's round trips (under load a
    busy event loop held it for tens of milliseconds, and every `c`, waiting for it,
    came that much later). A dial's slot is recorded with its row's `dialed_at` in the
    same statement, fenced: only while the row is still this claim's (same call id,
    `dialing`, no slot yet). A dial whose lapsed claim was taken over gets no slot
    (`ClaimLost`) and never reaches the carrier.

    A request whose process died before writing `c` counts as in flight until
    `s + lease` (the provider request's timeout bounds it). Steady throughput is
    `CPS / (1 + (d + margin)·CPS/n)` with `d` the slot-to-completion time (a few
    milliseconds against the simulated carrier, a round trip to Twilio live).

    A rep's single call goes first (`interactive=True`): while one has been claimed and
    not yet given its slot, campaign dials do not take one. Lanes of one process wait
    for slots one at a time (a local lock), so the row is not polled by every lane."""

    def __init__(
        self,
        calls_per_second: float,
        *,
        margin_s: float = PACE_MARGIN_S,
        lease_s: float = REQUEST_LEASE_S,
    ) -> None:
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be positive")
        self.cps = calls_per_second
        self.n = max(1, math.floor(calls_per_second))
        self.window = timedelta(seconds=self.n / calls_per_second + margin_s)
        self.spacing = timedelta(seconds=0.5 / calls_per_second)
        self.lease = timedelta(seconds=lease_s)
        self._local: asyncio.Lock | None = None

    def _end(self, slot: Slot, now: datetime) -> datetime | None:
        """When the slot's request is known to have reached the carrier by (None: in
        flight, not yet known)."""
        start, end = slot
        if end is not None:
            return end
        return start + self.lease if start + self.lease <= now else None

    def earliest(self, slots: Sequence[Slot], now: datetime) -> datetime:
        """The first moment the next slot may be taken, judged at `now` (≤ now: at
        once). With a request in flight blocking it, a moment just after `now` (look
        again: its completion is not known yet). `_PACER_TAKE` judges the same way in
        SQL (it decides; this says how long to wait)."""
        bound = now
        if slots:
            bound = max(bound, max(start for start, _ in slots) + self.spacing)
        horizon = now - self.window
        ends = [self._end(slot, now) for slot in slots]
        busy = sorted(
            (e for e in ends if e is None or e > horizon),
            key=lambda e: (e is None, e or now),
        )
        if len(busy) >= self.n:
            freeing = busy[len(busy) - self.n]  # this one must leave the window
            if freeing is None:
                return max(bound, now + timedelta(seconds=IN_FLIGHT_POLL_S))
            bound = max(bound, freeing + self.window)
        return bound

    async def take(
        self,
        db: Database,
        *,
        dial: tuple[int, uuid.UUID] | None = None,
        interactive: bool = False,
    ) -> datetime:
        """Wait for a free slot and record it (in flight); returns the slot's time, to
        pass to `done` when the provider request returns. `dial` (request id, call id):
        the dial row stamped with the slot (`dialed_at`) in the same statement — raises
        ClaimLost, with no slot taken, when the row is no longer that claim's."""
        if interactive:
            return await self._take(db, dial, interactive=True)
        if self._local is None:
            self._local = asyncio.Lock()
        async with self._local:
            return await self._take(db, dial, interactive=False)

    async def _take(
        self, db: Database, dial: tuple[int, uuid.UUID] | None, *, interactive: bool
    ) -> datetime:
        request_id, call_id = dial if dial is not None else (None, None)
        params = {
            "lease": self.lease,
            "window": self.window,
            "spacing": self.spacing,
            "n": self.n,
            "interactive": interactive,
            "id": request_id,
            "call": call_id,
        }
        while True:
            row = (await call_function_alone(db, _PACER_TAKE, params)).one()
            now: datetime = row.now
            if row.taken:
                return now
            if row.free:
                raise ClaimLost("The dial's claim lapsed: another process took it over.")
            earliest = self.earliest(_pairs(row.recent), now)
            if earliest <= now:  # a rep's call is waiting for this slot
                earliest = now + timedelta(seconds=IN_FLIGHT_POLL_S)
            await asyncio.sleep(min(max((earliest - now).total_seconds(), 0.001), 0.5))

    async def done(self, db: Database, at: datetime) -> None:
        """The request of the slot taken at `at` has returned (or failed): its
        completion time is written (one statement, idempotent), and the slot leaves the
        window a window later."""
        await call_function_alone(db, _PACER_DONE, {"at": at})


# Judges and takes a slot in one statement: the pacer row locked, the time read after
# the lock is had; when free, the slot recorded and the dial row stamped (fenced: this
# claim's, no slot yet; `:id` NULL for a slot with no dial row). `free` and not
# `taken`: the dial's claim was lost.
_PACER_TAKE = text("""
WITH locked AS MATERIALIZED (
    SELECT recent FROM dial_pacer WHERE id = 1 FOR UPDATE
), judged AS MATERIALIZED (
    SELECT recent, clock_timestamp() AS now FROM locked
), slots AS MATERIALIZED (
    SELECT s.i, j.recent[s.i] AS start, j.recent[s.i + 1] AS fin,
        coalesce(j.recent[s.i + 1], CASE WHEN j.recent[s.i] + :lease <= j.now
                                         THEN j.recent[s.i] + :lease END) AS ended
    FROM judged j, generate_series(1, coalesce(array_length(j.recent, 1), 0) - 1, 2) AS s(i)
), verdict AS MATERIALIZED (
    SELECT j.now,
        (SELECT count(*) FROM slots WHERE ended IS NULL OR ended > j.now - :window) < :n
        AND coalesce((SELECT max(start) FROM slots), '-infinity') + :spacing <= j.now
        AND (:interactive OR NOT EXISTS (
            SELECT 1 FROM dial_queue q
            WHERE q.status = 'dialing' AND q.interactive AND q.campaign_id IS NULL
              AND q.dialed_at IS NULL AND q.claimed_at > j.now - interval '30 seconds'
        )) AS free
    FROM judged j
), stamped AS (
    UPDATE dial_queue d SET dialed_at = v.now FROM verdict v
    WHERE v.free AND d.id = :id AND d.call_id = :call AND d.status = 'dialing'
      AND d.dialed_at IS NULL
    RETURNING d.id
), taken AS (
    UPDATE dial_pacer p SET recent = coalesce((
            SELECT array_agg(t.x ORDER BY s.i, t.o)
            FROM slots s, LATERAL (VALUES (0, s.start), (1, s.fin)) AS t(o, x)
            WHERE s.ended IS NULL OR s.ended + :window > v.now
        ), '{}') || ARRAY[v.now, NULL]::timestamptz[]
    FROM verdict v
    WHERE p.id = 1 AND v.free
      AND (CAST(:id AS bigint) IS NULL OR EXISTS (SELECT 1 FROM stamped))
    RETURNING p.id
)
SELECT j.recent, v.now, v.free, EXISTS (SELECT 1 FROM taken) AS taken
FROM judged j, verdict v
""")
_PACER_DONE = text("""
UPDATE dial_pacer SET recent = coalesce((
    SELECT array_agg(
        CASE WHEN mod(i, 2) = 0 AND recent[i] IS NULL AND recent[i - 1] = :at
             THEN clock_timestamp() ELSE recent[i] END ORDER BY i)
    FROM generate_subscripts(recent, 1) AS i), '{}')
WHERE id = 1
RETURNING id
""")


class PacedProvider:
    """A provider whose every `create_call` takes a pacer slot first (stamping `dial`,
    the request id and call id, with it) and reports its completion after (dial's view
    of the carrier; other methods pass through)."""

    def __init__(
        self,
        inner: Any,
        pacer: Pacer,
        db: Database,
        *,
        dial: tuple[int, uuid.UUID] | None = None,
        interactive: bool = False,
    ) -> None:
        self.inner = inner
        self.pacer = pacer
        self.db = db
        self.dial = dial
        self.interactive = interactive

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create_call(self, req: CallRequest) -> PlacedCall:
        at = await self.pacer.take(self.db, dial=self.dial, interactive=self.interactive)
        try:
            placed: PlacedCall = await self.inner.create_call(req)
        finally:
            await asyncio.shield(self.pacer.done(self.db, at))
        return placed


# --- campaign rules at dial time ------------------------------------------------------


@dataclass(frozen=True)
class GuardVerdict:
    """A campaign's say on one of its dials: allowed (with the budget left, which caps
    the call's hold), or refused with why and when to try again (None: never)."""

    allowed: bool
    budget_mc: int | None = None
    reason: str = ""
    retry_at: datetime | None = None


class CampaignGuard(Protocol):
    async def __call__(
        self, session: AsyncSession, request: DialRequest, contact: Contact, now: datetime
    ) -> GuardVerdict:
        """Run inside the dial's transaction (it may take locks held until the call
        row is committed)."""
        ...


# --- claiming --------------------------------------------------------------------------

# Each claim is one statement in autocommit (its row locks last while it runs): pick a
# dial, mark it `dialing` and serve its workspace's turn. In turn: the workspace with
# a rep's call waiting, else the one served longest ago with work waiting, its
# fairness row locked `SKIP LOCKED` (another process is serving it), then its next
# dial (a rep's call first).
_CLAIM_IN_TURN = """
WITH turn AS MATERIALIZED (
    SELECT f.workspace_id FROM dial_fairness f
    WHERE EXISTS (
        SELECT 1 FROM dial_queue q
        WHERE q.workspace_id = f.workspace_id AND q.status = 'queued'
          AND q.not_before <= now() {only}
    )
    ORDER BY EXISTS (
        SELECT 1 FROM dial_queue q
        WHERE q.workspace_id = f.workspace_id AND q.status = 'queued'
          AND q.not_before <= now() AND q.interactive
    ) DESC, f.last_served_at, f.workspace_id
    LIMIT 1
    FOR UPDATE OF f SKIP LOCKED
), picked AS MATERIALIZED (
    SELECT q.id FROM dial_queue q JOIN turn ON turn.workspace_id = q.workspace_id
    WHERE q.status = 'queued' AND q.not_before <= now() {only}
    ORDER BY q.interactive DESC, q.not_before, q.id
    LIMIT 1
    FOR UPDATE OF q SKIP LOCKED
){claim}"""
# When another process holds every turn with work waiting, any waiting dial (a rep's
# call first), still in turn order (its fairness row is then updated after that
# process's statement).
_CLAIM_ANY = """
WITH picked AS MATERIALIZED (
    SELECT q.id FROM dial_queue q
    JOIN dial_fairness f ON f.workspace_id = q.workspace_id
    WHERE q.status = 'queued' AND q.not_before <= now() {only}
    ORDER BY q.interactive DESC, f.last_served_at, q.not_before, q.id
    LIMIT 1
    FOR UPDATE OF q SKIP LOCKED
){claim}"""
_CLAIM_PICKED = """, claimed AS (
    UPDATE dial_queue d SET status = 'dialing', claimed_at = clock_timestamp()
    FROM picked WHERE d.id = picked.id
    RETURNING d.id, d.workspace_id
), served AS (
    UPDATE dial_fairness f SET last_served_at = clock_timestamp(), served = f.served + 1
    FROM claimed WHERE f.workspace_id = claimed.workspace_id
)
SELECT (SELECT id FROM claimed) AS id
"""
# The claims to try in order (in turn, then any), with campaign dials or without.
_CLAIMS: Final = {
    campaigns: [
        text(template.format(only=only, claim=_CLAIM_PICKED))
        for template in (_CLAIM_IN_TURN, _CLAIM_ANY)
    ]
    for campaigns, only in ((True, ""), (False, "AND q.campaign_id IS NULL"))
}


# A row claimed (or its claim renewed) now.
_CLAIM = "UPDATE dial_queue SET status = 'dialing', claimed_at = clock_timestamp() WHERE id = :id"


async def _mark_claimed(session: AsyncSession, request_id: int, workspace_id: uuid.UUID) -> None:
    await session.execute(
        text(_CLAIM),
        {"id": request_id},
    )
    await session.execute(
        text(
            "UPDATE dial_fairness SET last_served_at = clock_timestamp(), served = served + 1 "
            "WHERE workspace_id = :ws"
        ),
        {"ws": workspace_id},
    )


async def claim_next(db: Database, *, campaigns: bool) -> int | None:
    """Claim the next dial, fairly: interactive calls first, then round-robin over the
    workspaces with work waiting. Returns the claimed row's id (status `dialing`).
    (A claim retried after a broken connection may have claimed a row already: that
    row, with no call row, is queued again by `recover` once its claim lapses.)"""
    for statement in _CLAIMS[campaigns]:
        row = (await call_function_alone(db, statement, {})).one()
        if row.id is not None:
            return int(row.id)
    return None


async def claim_one(db: Database, request_id: int) -> bool:
    """Claim one given queued dial (the caller's own); False if another process has
    it already (or it is not queued)."""
    async with db.session() as session:
        ws = await session.scalar(
            text(
                "SELECT workspace_id FROM dial_queue WHERE id = :id AND status = 'queued' "
                "FOR UPDATE SKIP LOCKED"
            ),
            {"id": request_id},
        )
        if ws is None:
            await session.commit()
            return False
        await _mark_claimed(session, request_id, ws)
        await session.commit()
        return True


# --- dialling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DialOutcome:
    status: DialStatus
    call: Call | None = None
    error: KloseError | None = None


_FINISH = text("""
UPDATE dial_queue SET status = :status, result = :result, reasons = CAST(:reasons AS jsonb),
    finished_at = clock_timestamp(),
    not_before = coalesce(CAST(:not_before AS timestamptz), not_before)
WHERE id = :id
RETURNING id
""")


async def _finish(
    db: Database,
    request_id: int,
    status: DialStatus,
    result: str,
    *,
    reasons: list[dict[str, Any]] | None = None,
    not_before: datetime | None = None,
) -> None:
    """End a dial row (one statement, its own transaction)."""
    await call_function_alone(
        db,
        _FINISH,
        {
            "id": request_id,
            "status": status.value,
            "result": result[:2000],
            "reasons": json.dumps(reasons) if reasons is not None else None,
            "not_before": not_before,
        },
    )


async def _contact_and_actor(
    session: AsyncSession, request: DialRequest
) -> tuple[Contact, Actor] | None:
    """The dial's contact (not deleted) and the user it is made for, of one workspace,
    in one statement; None when either is gone."""
    found = (
        await session.execute(
            select(Contact, User)
            .join(User, User.workspace_id == Contact.workspace_id)
            .where(
                Contact.id == request.contact_id,
                Contact.deleted_at.is_(None),
                User.id == request.user_id,
            )
        )
    ).first()
    return (found[0], Actor.of(found[1])) if found is not None else None


async def dial(
    db: Database,
    telephony: Telephony,
    pacer: Pacer,
    request_id: int,
    *,
    guard: CampaignGuard | None = None,
    now: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
    renew_every_s: float = STALE_CLAIM.total_seconds() / 4,
) -> DialOutcome:
    """Dial one claimed (`dialing`) request: guard, gate, hold, call row (committed),
    slot, carrier. While the prepared dial waits for its slot its claim is renewed
    every `renew_every_s`; one whose claim lapsed all the same and was taken over
    (`recover`) gets no slot and ends here (`DIALING`: the row is another process's).
    `now`/`clock`: the time the gate and the campaign rules judge by (tests and the
    bench; the wall clock otherwise)."""
    when = now or (clock() if clock else datetime.now(UTC))
    prepared = await _prepare(db, telephony, request_id, guard=guard, when=when)
    if isinstance(prepared, DialOutcome):
        return prepared
    call, interactive = prepared
    keeper = asyncio.create_task(_keep_claim(db, request_id, call.id, renew_every_s))
    paced = PacedProvider(
        telephony.provider, pacer, db, dial=(request_id, call.id), interactive=interactive
    )
    try:
        placed = await send_call(db, call, dataclasses.replace(telephony, provider=paced))
    except ClaimLost:
        log.warning("dial %s was taken over by another process before its slot", request_id)
        return DialOutcome(DialStatus.DIALING)
    except CallNotPlaced as exc:
        await _finish(db, request_id, DialStatus.FAILED, str(exc))
        return DialOutcome(DialStatus.FAILED, call=call, error=exc)
    finally:
        keeper.cancel()
    await _finish(db, request_id, DialStatus.PLACED, placed.twilio_sid or "")
    return DialOutcome(DialStatus.PLACED, call=placed)


# A prepared dial's claim renewed, while it is still this claim's and has no slot.
_RENEW = text("""
WITH renewed AS (
    UPDATE dial_queue SET claimed_at = clock_timestamp()
    WHERE id = :id AND call_id = :call AND status = 'dialing' AND dialed_at IS NULL
    RETURNING id
)
SELECT count(*) AS n FROM renewed
""")


async def _keep_claim(db: Database, request_id: int, call_id: uuid.UUID, every_s: float) -> None:
    """Renew a prepared dial's claim every `every_s` until it has its slot or is no
    longer this claim's: `recover` takes over only claims that lapsed."""
    while True:
        await asyncio.sleep(every_s)
        row = (await call_function_alone(db, _RENEW, {"id": request_id, "call": call_id})).one()
        if not row.n:
            return


async def _prepare(
    db: Database,
    telephony: Telephony,
    request_id: int,
    *,
    guard: CampaignGuard | None,
    when: datetime,
) -> tuple[Call, bool] | DialOutcome:
    """The request's call row, committed before the carrier is asked (with whether the
    request is a rep's own call), or the outcome that ends the request here: the contact
    gone, a campaign call held back by its rules, the gate's refusal, a failure."""
    async with db.session() as session:
        request = await _hold_claim(session, request_id)
        if request is None:  # another process prepared it: its outcome is the row's
            await session.rollback()
            return DialOutcome(DialStatus.DIALING)
        found = await _contact_and_actor(session, request)
        if found is None:
            await session.rollback()
            await _finish(
                db, request_id, DialStatus.REFUSED, "The contact is gone.", not_before=NEVER
            )
            return DialOutcome(DialStatus.REFUSED, error=KloseError("The contact is gone."))
        contact, actor = found
        budget = await _campaign_budget(db, session, request, contact, guard=guard, when=when)
        if isinstance(budget, DialOutcome):
            return budget
        try:
            call = await prepare_call(
                session,
                actor,
                contact,
                telephony,
                call_id=request.call_id,
                brief=request.payload,
                when=when,
                budget_mc=budget,
            )
        except CallRefused as exc:
            await session.commit()  # the denial is evidence
            return await _refused(db, request_id, exc, when)
        except KloseError as exc:
            await session.commit()
            await _finish(db, request_id, DialStatus.FAILED, str(exc))
            return DialOutcome(DialStatus.FAILED, error=exc)
        interactive = request.interactive
        await session.commit()  # the call row exists before the carrier is asked
    return call, interactive


async def _hold_claim(session: AsyncSession, request_id: int) -> DialRequest | None:
    """Lock a claimed row for the dial's transaction (until its call row is committed)
    and renew its claim, in one statement: `recover`, waiting on the lock, then reads
    the renewed claim and leaves the row alone. A row `recover` queued again meanwhile
    (its claimer was slow, not dead) is taken back. None when it is no longer this
    dial's to make: it has finished, or its call row exists (another process prepared
    it; looked for in a statement of its own, which sees that process's commit)."""
    request = (
        await session.scalars(
            update(DialRequest)
            .where(
                DialRequest.id == request_id,
                DialRequest.status.in_((DialStatus.QUEUED.value, DialStatus.DIALING.value)),
            )
            .values(status=DialStatus.DIALING.value, claimed_at=func.clock_timestamp())
            .returning(DialRequest)
            .execution_options(populate_existing=True)
        )
    ).first()
    if request is None:
        return None
    if await session.get(Call, request.call_id) is not None:
        return None
    return request


async def _campaign_budget(
    db: Database,
    session: AsyncSession,
    request: DialRequest,
    contact: Contact,
    *,
    guard: CampaignGuard | None,
    when: datetime,
) -> int | DialOutcome | None:
    """What a campaign call may still spend (None: not a campaign call), or the outcome
    when its campaign's rules hold it back (the session is rolled back then)."""
    request_id = request.id  # read before a rollback expires the row
    if request.campaign_id is None:
        return None
    if guard is None:  # never dial a campaign call without its rules
        await session.rollback()
        await _requeue(db, request_id)
        return DialOutcome(DialStatus.QUEUED)
    verdict = await guard(session, request, contact, when)
    if verdict.allowed:
        return verdict.budget_mc
    await session.rollback()
    await _finish(
        db,
        request_id,
        DialStatus.REFUSED,
        verdict.reason,
        not_before=verdict.retry_at or NEVER,
    )
    return DialOutcome(DialStatus.REFUSED, error=KloseError(verdict.reason))


async def _refused(db: Database, request_id: int, exc: CallRefused, when: datetime) -> DialOutcome:
    """Ends a request the gate refused, to be tried again when the refusal may lift."""
    decision = exc.decision
    retry = decision.next_window_at or decision.next_attempt_at
    if retry is None and decision.codes <= _LATER | {Reason.OUTSIDE_CALLING_HOURS}:
        retry = when + LATER
    await _finish(
        db,
        request_id,
        DialStatus.REFUSED,
        str(exc),
        reasons=[r.as_json() for r in decision.reasons],
        not_before=retry or NEVER,
    )
    return DialOutcome(DialStatus.REFUSED, error=exc)


async def _requeue(db: Database, request_id: int) -> None:
    async with db.session() as session:
        await session.execute(
            update(DialRequest)
            .where(DialRequest.id == request_id, DialRequest.status == "dialing")
            .values(status=DialStatus.QUEUED.value, claimed_at=None)
        )
        await session.commit()


async def dispatch_now(
    db: Database,
    telephony: Telephony,
    request_id: int,
    *,
    now: datetime | None = None,
    wait_s: float = WAIT_FOR_DIAL_S,
    claimed: bool = False,
) -> Call:
    """Dial a rep's queued call from this process at the next free slot (interactive
    calls go first), or wait for the worker that claimed it (`claimed`: the caller
    queued it claimed, `enqueue(claimed=True)`). Returns the call; raises CallRefused /
    CallNotPlaced as `place_call` does."""
    if claimed or await claim_one(db, request_id):
        outcome = await dial(db, telephony, pacer_for(telephony), request_id, now=now)
        if outcome.error is not None:
            raise outcome.error
        if outcome.call is not None:
            return outcome.call
        # Another process prepared it (our claim was taken back as stale): wait for it.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while loop.time() < deadline:
        async with db.session() as session:
            request = await session.get(DialRequest, request_id)
            assert request is not None
            status = DialStatus(request.status)
            call = await session.get(Call, request.call_id) if status.finished else None
        if status is DialStatus.PLACED and call is not None:
            return call
        if status.finished:
            raise CallNotPlaced(request.result or f"The call was {status.value}.")
        await asyncio.sleep(0.1)
    raise CallNotPlaced("The call is queued and will be dialled shortly.")


def pacer_for(telephony: Telephony) -> Pacer:
    return Pacer(telephony.calls_per_second)


# --- recovery ---------------------------------------------------------------------------


# Recovery looks only at rows no live process is working on: a preparing lane holds
# its row's lock (`_hold_claim`) — skipped, never waited for (a slow preparation must
# not hold up the recovery of every other row).
_REQUEUE_UNPREPARED = text("""
UPDATE dial_queue SET status = 'queued', claimed_at = NULL
WHERE id IN (
    SELECT d.id FROM dial_queue d
    WHERE d.status = 'dialing' AND d.claimed_at < clock_timestamp() - :stale
      AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.id = d.call_id)
    FOR UPDATE OF d SKIP LOCKED
)
""")
_FINISH_SLOTTED = text("""
UPDATE dial_queue d SET
    status = CASE WHEN c.twilio_sid IS NOT NULL THEN 'placed' ELSE 'failed' END,
    result = coalesce(c.twilio_sid, c.error,
        'interrupted before the carrier answered; reconciled, never dialled again'),
    finished_at = clock_timestamp()
FROM calls c
WHERE c.id = d.call_id AND (c.twilio_sid IS NOT NULL OR c.settled_at IS NOT NULL)
  AND d.id IN (
    SELECT q.id FROM dial_queue q
    WHERE q.status = 'dialing' AND q.claimed_at < clock_timestamp() - :stale
    FOR UPDATE OF q SKIP LOCKED
)
""")


async def recover(db: Database, *, stale: timedelta = STALE_CLAIM) -> int:
    """Rows left `dialing` by a process that died (or stalled past its claim's lease):
    queued again when their call row was never written; taken over when it was but they
    never got a slot (`_take_over`: the carrier was never asked); finished from their
    call's state otherwise (a slot was taken: never dialled again). Returns how many
    rows were put right."""
    async with db.session() as session:
        requeued = await session.execute(_REQUEUE_UNPREPARED, {"stale": stale})
        finished = await session.execute(_FINISH_SLOTTED, {"stale": stale})
        await session.commit()
    n = int(requeued.rowcount or 0) + int(finished.rowcount or 0)  # type: ignore[attr-defined]
    n += await _take_over(db, stale)
    if n:
        log.warning("dispatcher recovered %d interrupted dials", n)
    return n


# Prepared dials (call row written) with no slot whose claim lapsed, locked.
_LAPSED = text("""
SELECT d.id, d.call_id, d.target_id FROM dial_queue d
WHERE d.status = 'dialing' AND d.dialed_at IS NULL
  AND d.claimed_at < clock_timestamp() - :stale
  AND EXISTS (SELECT 1 FROM calls c WHERE c.id = d.call_id AND c.twilio_sid IS NULL)
ORDER BY d.id
LIMIT 100
FOR UPDATE OF d SKIP LOCKED
""")
NEVER_SENT: Final = (
    "Its dialler stopped before the carrier was asked (no slot taken): not placed, its "
    "credits released; dialled again as a new call."
)


async def _take_over(db: Database, stale: timedelta) -> int:
    """Take over prepared dials whose claim lapsed before they got a slot (their
    process died or stalled). No slot means the carrier was never asked: a slot is
    taken only with the row's `dialed_at`, by its claim's holder, fenced on the row
    (`Pacer.take`), so the old claimer, if alive, can no longer send it. Each old call
    is failed as never placed (hold released, attempt uncounted) and the row queued
    again under a fresh call id (its campaign target follows): dialled afresh, gate
    and all, by whichever process claims it. Returns how many."""
    async with db.session() as session:
        rows = (await session.execute(_LAPSED, {"stale": stale})).all()
        for row in rows:
            await _void_unsent(session, row.call_id)
            fresh = uuid.uuid4()
            await session.execute(
                text(
                    "UPDATE dial_queue SET status = 'queued', claimed_at = NULL, "
                    "call_id = :fresh, result = :why WHERE id = :id"
                ),
                {"fresh": fresh, "id": row.id, "why": f"call {row.call_id}: {NEVER_SENT}"},
            )
            if row.target_id is not None:
                await session.execute(
                    text(
                        "UPDATE campaign_targets SET last_call_id = :fresh "
                        "WHERE id = :target AND last_call_id = :old"
                    ),
                    {"fresh": fresh, "target": row.target_id, "old": row.call_id},
                )
        await session.commit()
    return len(rows)


async def _void_unsent(session: AsyncSession, call_id: uuid.UUID) -> None:
    """A prepared call the carrier was never asked for: failed at no cost, its hold
    released and its attempt uncounted (as `calls.send_call` does when the carrier
    refuses), in the caller's transaction."""
    call = await session.get(Call, call_id, with_for_update=True, populate_existing=True)
    if call is None or call.settled_at is not None:
        return
    call.duration_s = 0
    await fail_unsent(session, call, NEVER_SENT)


# --- the dispatcher ------------------------------------------------------------------------

Feeder = Callable[[Database, datetime], Awaitable[None]]


class Dispatcher:
    """Lanes that claim and dial queued calls, plus a loop that feeds campaigns' dials
    into the queue and recovers interrupted ones. Run it under supervision (`async
    with`); it stops only when cancelled."""

    def __init__(
        self,
        db: Database,
        telephony: Telephony,
        *,
        guard: CampaignGuard | None = None,
        feeders: Sequence[Feeder] = (),
        lanes: int | None = None,
        clock: Callable[[], datetime] | None = None,
        idle_poll_s: float = IDLE_POLL_S,
        feed_every_s: float = 1.0,
        stale_claim: timedelta = STALE_CLAIM,
    ) -> None:
        self.db = db
        self.telephony = telephony
        self.guard = guard
        self.feeders = list(feeders)
        self.lanes = lanes or telephony.dial_lanes
        self.clock = clock or (lambda: datetime.now(UTC))
        self.idle_poll_s = idle_poll_s
        self.feed_every_s = feed_every_s
        self.stale_claim = stale_claim
        self.pacer = pacer_for(telephony)
        self.dialled = 0
        self._work = asyncio.Event()
        self.supervisor = Supervisor("dial dispatcher", self.run)

    async def __aenter__(self) -> Dispatcher:
        self.supervisor.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.supervisor.stop()

    async def step(self) -> bool:
        """Claim and dial one queued call; False when none is waiting."""
        request_id = await claim_next(self.db, campaigns=self.guard is not None)
        if request_id is None:
            return False
        outcome = await dial(
            self.db,
            self.telephony,
            self.pacer,
            request_id,
            guard=self.guard,
            clock=self.clock,
            renew_every_s=self.stale_claim.total_seconds() / 4,
        )
        if outcome.status is DialStatus.PLACED:
            self.dialled += 1
        return True

    async def _lane(self, index: int) -> None:
        """Claim and dial while work is waiting. When none is, lane 0 looks again every
        `idle_poll_s` and the others wait until it finds some, or IDLE_WAKE_S passes:
        an idle process polls with one lane, not all."""
        while True:
            if await self.step():
                self._work.set()  # more may be waiting: the idle lanes look too
                continue
            if index == 0:
                await asyncio.sleep(self.idle_poll_s)
                continue
            self._work.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._work.wait(), IDLE_WAKE_S)

    async def _housekeeping(self) -> None:
        last_recover = 0.0
        loop = asyncio.get_running_loop()
        while True:
            for feed in self.feeders:
                try:
                    await feed(self.db, self.clock())
                except Exception:
                    log.exception("a campaign feeder failed; trying again shortly")
            if loop.time() - last_recover >= RECOVER_EVERY_S:
                last_recover = loop.time()
                await recover(self.db, stale=self.stale_claim)
            await asyncio.sleep(self.feed_every_s)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._lane(i)) for i in range(self.lanes)]
        tasks.append(asyncio.create_task(self._housekeeping()))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # raises: the supervisor restarts us
            raise RuntimeError("the dial dispatcher stopped")
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task


__all__ = [
    "CampaignGuard",
    "DialOutcome",
    "DialRequest",
    "DialStatus",
    "Dispatcher",
    "GuardVerdict",
    "PacedProvider",
    "Pacer",
    "brief_payload",
    "claim_next",
    "claim_one",
    "dial",
    "dispatch_now",
    "enqueue",
    "recover",
]
