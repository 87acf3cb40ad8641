"""A local stand-in for Twilio Verify with the same rules, kept in `otp_verifications`.

- A 6-digit code from `secrets`, living 10 minutes from the first send.
- Sending again inside those 10 minutes re-sends the same verification (same sid, same
  code) and counts the send; the 6th send raises `TooManySends`.
- A wrong code answers `pending` and counts the check; the 6th check raises
  `TooManyChecks` and the verification becomes `max_attempts_reached`. Until it would
  have expired, further checks and sends to that number raise `TooManyChecks`.
- Once approved or expired there is nothing to check: `VerificationNotFound`.

The code is stored as sha256(salt + code) and compared in constant time. Because
nothing is really texted, the plain code is also kept for the dev inbox
(`/account/dev-inbox`) and logged at WARNING with the number masked — simulated mode
only, by design (DESIGN.md §4).

Verifications are kept per (flow, number), as live Verify keeps them per (service,
number) with one service per flow (see accounts/otp/__init__.py).

`reveal=False` makes a *decoy*: the same state machine, but the code is neither kept
nor logged, so nobody can ever answer it. Password reset runs an unknown email
through a decoy so that it does the same work and gives the same answers as a known
one (accounts/flows.py). The dev inbox lists only revealed codes, and exists only
when `dev_inbox` is set (every provider simulated: accounts/otp/factory.py).

Concurrency: one `pending` verification per (flow, number) is enforced by a partial
unique index; a send inserts with `ON CONFLICT DO NOTHING` and, when another send won the
race, re-sends that one. Sends and checks lock the verification's row.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import OtpVerification
from accounts.otp import (
    APPROVED,
    CODE_TTL_S,
    EXPIRED,
    MAX_ATTEMPTS_REACHED,
    MAX_CHECKS,
    MAX_SENDS,
    PENDING,
    CheckResult,
    Flow,
    OtpError,
    OtpUnavailable,
    SendResult,
    TooManyChecks,
    TooManySends,
    VerificationNotFound,
    mask_e164,
    normalise_code,
    validate_channel,
    validate_e164,
)
from core.base import new_id
from core.db import Database

log = logging.getLogger("accounts.otp")

Clock = Callable[[], datetime]

CODE_DIGITS: Final = 6
_SEND_RACE_ATTEMPTS: Final = 3
_LIVE_STATUSES: Final = (PENDING, MAX_ATTEMPTS_REACHED)


@dataclass(frozen=True)
class InboxEntry:
    """One simulated text message, for the dev inbox."""

    to: str
    code: str | None
    created_at: datetime
    flow: str
    status: str  # `expired` once the 10 minutes are over, whatever the row says
    sid: str
    channel: str
    send_count: int
    check_count: int
    expires_at: datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


def new_verification_sid() -> str:
    """A sid shaped like Verify's: `VE` and 32 hex digits."""
    return "VE" + secrets.token_hex(16)


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


class SimulatedVerify:
    live = False
    label = "simulated Verify"

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock | None = None,
        reveal: bool = True,
        dev_inbox: bool = False,
    ) -> None:
        self._db = db
        self._clock = clock or _utc_now
        self._reveal = reveal
        # Whether /account/dev-inbox may show the codes (only when nothing is live).
        self.dev_inbox = dev_inbox and reveal

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("The clock must return timezone-aware datetimes.")
        return now

    # --- OtpProvider -----------------------------------------------------------------

    async def send(
        self, to_e164: str, *, flow: Flow = Flow.MOBILE, channel: str = "sms"
    ) -> SendResult:
        to = validate_e164(to_e164)
        validate_channel(channel)
        flow = Flow(flow)
        for _ in range(_SEND_RACE_ATTEMPTS):
            async with self._db.session() as session, session.begin():
                sent = await self._send_once(session, flow, to, channel)
            if sent is not None:
                result, code = sent
                if self._reveal:
                    log.warning("simulated Verify: %s code for %s is %s", flow, mask_e164(to), code)
                return result
        # Only reachable if the pending row kept vanishing between insert and select.
        raise OtpUnavailable()

    async def _send_once(
        self, session: AsyncSession, flow: Flow, to: str, channel: str
    ) -> tuple[SendResult, str] | None:
        """Re-send the flow's live verification of the number or start one; None when a
        concurrent send started one first (the caller retries and re-sends that one)."""
        now = self._now()
        await _expire_overdue(session, flow, to, now)
        current = await _live_verification(session, flow, to, now)
        if current is not None:
            if current.status == MAX_ATTEMPTS_REACHED:
                raise TooManyChecks()
            if current.send_count >= MAX_SENDS:
                raise TooManySends()
            if self._reveal and current.code_plain is None:  # a decoy's, not a real one
                raise OtpUnavailable()
            current.send_count += 1
            current.channel = channel
            return _send_result(current), current.code_plain or ""

        code = new_code()
        salt = secrets.token_hex(16)
        sid = new_verification_sid()
        row_id = await session.scalar(
            insert(OtpVerification)
            .values(
                id=new_id(),
                sid=sid,
                to_e164=to,
                flow=flow.value,
                channel=channel,
                code_hash=hash_code(code, salt),
                code_salt=salt,
                code_plain=code if self._reveal else None,
                status=PENDING,
                send_count=1,
                check_count=0,
                created_at=now,
                expires_at=now + timedelta(seconds=CODE_TTL_S),
            )
            .on_conflict_do_nothing(
                index_elements=[OtpVerification.flow, OtpVerification.to_e164],
                index_where=OtpVerification.status == PENDING,
            )
            .returning(OtpVerification.id)
        )
        if row_id is None:
            return None
        return SendResult(sid=sid, status=PENDING, to=to, channel=channel, send_count=1), code

    async def check(self, to_e164: str, code: str, *, flow: Flow = Flow.MOBILE) -> CheckResult:
        to = validate_e164(to_e164)
        typed = normalise_code(code)
        async with self._db.session() as session, session.begin():
            outcome = await self._check_once(session, Flow(flow), to, typed)
        # Raised after the commit: the counts and status changes must stick.
        if isinstance(outcome, OtpError):
            raise outcome
        return outcome

    async def _check_once(
        self, session: AsyncSession, flow: Flow, to: str, typed: str
    ) -> CheckResult | OtpError:
        now = self._now()
        row = await session.scalar(
            select(OtpVerification)
            .where(
                OtpVerification.flow == flow.value,
                OtpVerification.to_e164 == to,
                OtpVerification.status.in_(_LIVE_STATUSES),
            )
            .order_by(OtpVerification.created_at.desc())
            .limit(1)
            .with_for_update()
        )
        if row is None:
            return VerificationNotFound()
        if row.expires_at <= now:
            if row.status == PENDING:
                row.status = EXPIRED
            return VerificationNotFound()
        row.check_count += 1
        if row.status == MAX_ATTEMPTS_REACHED:
            return TooManyChecks()
        if row.check_count > MAX_CHECKS:
            row.status = MAX_ATTEMPTS_REACHED
            return TooManyChecks()
        if hmac.compare_digest(hash_code(typed, row.code_salt), row.code_hash):
            row.status = APPROVED
            row.approved_at = now
        return CheckResult(status=row.status, approved=row.status == APPROVED, sid=row.sid)

    async def aclose(self) -> None:
        return None

    # --- dev inbox -------------------------------------------------------------------

    async def inbox(self, limit: int = 20) -> list[InboxEntry]:
        """The latest simulated messages, newest first, for `/account/dev-inbox`."""
        now = self._now()
        async with self._db.session() as session:
            rows = (
                await session.scalars(
                    select(OtpVerification)
                    .where(OtpVerification.code_plain.is_not(None))
                    .order_by(OtpVerification.created_at.desc(), OtpVerification.sid)
                    .limit(max(0, limit))
                )
            ).all()
        return [
            InboxEntry(
                to=row.to_e164,
                code=row.code_plain,
                created_at=row.created_at,
                flow=row.flow,
                status=EXPIRED if row.status == PENDING and row.expires_at <= now else row.status,
                sid=row.sid,
                channel=row.channel,
                send_count=row.send_count,
                check_count=row.check_count,
                expires_at=row.expires_at,
            )
            for row in rows
        ]


async def _expire_overdue(session: AsyncSession, flow: Flow, to: str, now: datetime) -> None:
    """Mark the flow's pending verification of the number expired once its 10 minutes
    are over, so that a new one may start (one pending per flow and number)."""
    await session.execute(
        update(OtpVerification)
        .where(
            OtpVerification.flow == flow.value,
            OtpVerification.to_e164 == to,
            OtpVerification.status == PENDING,
            OtpVerification.expires_at <= now,
        )
        .values(status=EXPIRED)
    )


async def _live_verification(
    session: AsyncSession, flow: Flow, to: str, now: datetime
) -> OtpVerification | None:
    """The flow's verification of the number still inside its 10 minutes (pending, or
    locked after too many checks), locked for update."""
    return await session.scalar(
        select(OtpVerification)
        .where(
            OtpVerification.flow == flow.value,
            OtpVerification.to_e164 == to,
            OtpVerification.status.in_(_LIVE_STATUSES),
            OtpVerification.expires_at > now,
        )
        .order_by(OtpVerification.created_at.desc())
        .limit(1)
        .with_for_update()
    )


def _send_result(row: OtpVerification) -> SendResult:
    return SendResult(
        sid=row.sid, status=PENDING, to=row.to_e164, channel=row.channel, send_count=row.send_count
    )
