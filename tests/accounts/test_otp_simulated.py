"""`SimulatedVerify` against the real test database: Verify's rules, kept in
`otp_verifications` (10-minute codes, 5 sends, 5 checks, same sid on re-send)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from accounts.models import OtpVerification
from accounts.otp import (
    InvalidCode,
    InvalidNumber,
    OtpError,
    OtpProvider,
    TooManyChecks,
    TooManySends,
    VerificationNotFound,
    mask_e164,
)
from accounts.otp.simulated import SimulatedVerify
from core.db import Database


class FakeClock:
    """Starts an hour in the past, so that rows written here never look newer than
    those other tests write with the real clock (the dev inbox lists newest first)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verify(db: Database, clock: FakeClock) -> SimulatedVerify:
    return SimulatedVerify(db, clock=clock)


@pytest.fixture
async def new_number(db: Database) -> AsyncIterator[Callable[[], str]]:
    """Numbers of this test's own (the database is shared by the whole run); their
    verifications are deleted afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append("+1555" + f"{secrets.randbelow(10**7):07d}")
        return made[-1]

    yield make
    async with db.session() as s:
        await s.execute(delete(OtpVerification).where(OtpVerification.to_e164.in_(made)))
        await s.commit()


@pytest.fixture
def number(new_number: Callable[[], str]) -> str:
    return new_number()


async def row_by_sid(db: Database, sid: str) -> OtpVerification:
    async with db.session() as s:
        row = await s.scalar(select(OtpVerification).where(OtpVerification.sid == sid))
    assert row is not None
    return row


async def rows_for(db: Database, number: str) -> list[OtpVerification]:
    async with db.session() as s:
        return list(
            (
                await s.scalars(
                    select(OtpVerification)
                    .where(OtpVerification.to_e164 == number)
                    .order_by(OtpVerification.created_at)
                )
            ).all()
        )


async def code_of(db: Database, sid: str) -> str:
    code = (await row_by_sid(db, sid)).code_plain
    assert code is not None
    return code


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_is_an_otp_provider_labelled_simulated(verify: SimulatedVerify) -> None:
    assert isinstance(verify, OtpProvider)
    assert verify.live is False
    assert "simulated" in verify.label


async def test_a_code_checks_once(db: Database, verify: SimulatedVerify, number: str) -> None:
    sent = await verify.send(number)
    assert sent.sid.startswith("VE") and len(sent.sid) == 34
    int(sent.sid[2:], 16)
    assert (sent.status, sent.to, sent.channel, sent.send_count) == ("pending", number, "sms", 1)
    code = await code_of(db, sent.sid)
    assert len(code) == 6 and code.isdigit()

    result = await verify.check(number, code)
    assert result.approved is True
    assert result.status == "approved"
    assert result.sid == sent.sid
    row = await row_by_sid(db, sent.sid)
    assert row.status == "approved" and row.approved_at is not None and row.check_count == 1

    with pytest.raises(VerificationNotFound) as excinfo:
        await verify.check(number, code)
    assert excinfo.value.code == 20404
    assert "request a new code" in str(excinfo.value)


async def test_a_wrong_code_is_pending_and_counted(
    db: Database, verify: SimulatedVerify, number: str
) -> None:
    sent = await verify.send(number)
    code = await code_of(db, sent.sid)

    for attempt in (1, 2):
        result = await verify.check(number, wrong(code))
        assert (result.status, result.approved) == ("pending", False)
        assert (await row_by_sid(db, sent.sid)).check_count == attempt

    assert (await verify.check(number, code)).approved is True


async def test_the_sixth_check_is_refused_and_locks_the_verification(
    db: Database, verify: SimulatedVerify, clock: FakeClock, number: str
) -> None:
    sent = await verify.send(number)
    code = await code_of(db, sent.sid)
    for _ in range(5):
        assert (await verify.check(number, wrong(code))).status == "pending"

    with pytest.raises(TooManyChecks) as excinfo:
        await verify.check(number, code)  # even the right code: the limit comes first
    assert excinfo.value.code == 60202
    assert str(excinfo.value) == "Too many wrong codes: request a new code in a few minutes."
    row = await row_by_sid(db, sent.sid)
    assert row.status == "max_attempts_reached" and row.approved_at is None

    with pytest.raises(TooManyChecks):
        await verify.check(number, code)
    with pytest.raises(TooManyChecks):  # no fresh code until this one would have expired
        await verify.send(number)

    clock.advance(minutes=10)
    with pytest.raises(VerificationNotFound):
        await verify.check(number, code)
    fresh = await verify.send(number)
    assert fresh.sid != sent.sid and fresh.send_count == 1


async def test_the_sixth_send_is_refused(
    db: Database, verify: SimulatedVerify, clock: FakeClock, number: str
) -> None:
    sids = []
    for n in range(1, 6):
        sent = await verify.send(number)
        assert sent.send_count == n
        sids.append(sent.sid)
        clock.advance(seconds=30)
    assert len(set(sids)) == 1

    with pytest.raises(TooManySends) as excinfo:
        await verify.send(number)
    assert excinfo.value.code == 60203
    assert "wait 10 minutes" in str(excinfo.value)
    assert (await row_by_sid(db, sids[0])).send_count == 5

    # The refused send changed nothing: the code still checks.
    assert (await verify.check(number, await code_of(db, sids[0]))).approved is True


async def test_resending_within_ten_minutes_resends_the_same_code(
    db: Database,
    verify: SimulatedVerify,
    clock: FakeClock,
    number: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="accounts.otp")
    first = await verify.send(number)
    clock.advance(minutes=9, seconds=59)
    second = await verify.send(number, channel="call")

    assert second.sid == first.sid
    assert (second.send_count, second.channel) == (2, "call")
    logged = [r.getMessage() for r in caplog.records if r.name == "accounts.otp"]
    assert len(logged) == 2 and logged[0] == logged[1]
    code = await code_of(db, first.sid)
    assert logged[0].endswith(f" is {code}")
    assert len(await rows_for(db, number)) == 1
    # Re-sending does not extend the life of the code.
    row = await row_by_sid(db, first.sid)
    assert row.expires_at == row.created_at + timedelta(minutes=10)
    assert row.created_at == clock.now - timedelta(minutes=9, seconds=59)


async def test_after_ten_minutes_the_code_expires_and_a_send_starts_afresh(
    db: Database, verify: SimulatedVerify, clock: FakeClock, number: str
) -> None:
    old = await verify.send(number)
    old_code = await code_of(db, old.sid)
    clock.advance(minutes=10)

    with pytest.raises(VerificationNotFound):
        await verify.check(number, old_code)
    assert (await row_by_sid(db, old.sid)).status == "expired"

    new = await verify.send(number)
    assert new.sid != old.sid and new.send_count == 1
    new_code = await code_of(db, new.sid)
    assert [r.status for r in await rows_for(db, number)] == ["expired", "pending"]
    if new_code != old_code:  # one chance in a million that they match
        assert (await verify.check(number, old_code)).approved is False
    assert (await verify.check(number, new_code)).approved is True


async def test_an_expired_pending_code_is_replaced_by_a_send_without_a_check(
    db: Database, verify: SimulatedVerify, clock: FakeClock, number: str
) -> None:
    old = await verify.send(number)
    clock.advance(minutes=11)
    new = await verify.send(number)  # the unique "one pending per number" must not refuse it
    assert new.sid != old.sid
    statuses = {r.sid: r.status for r in await rows_for(db, number)}
    assert statuses == {old.sid: "expired", new.sid: "pending"}


async def test_after_approval_a_check_is_not_found_and_a_send_starts_afresh(
    db: Database, verify: SimulatedVerify, number: str
) -> None:
    first = await verify.send(number)
    code = await code_of(db, first.sid)
    assert (await verify.check(number, code)).approved is True
    with pytest.raises(VerificationNotFound):
        await verify.check(number, code)
    second = await verify.send(number)
    assert second.sid != first.sid and second.send_count == 1


async def test_concurrent_sends_make_one_pending_verification(
    db: Database, verify: SimulatedVerify, number: str
) -> None:
    results = await asyncio.gather(*(verify.send(number) for _ in range(5)))
    assert len({r.sid for r in results}) == 1
    assert sorted(r.send_count or 0 for r in results) == [1, 2, 3, 4, 5]
    async with db.session() as s:
        pending = await s.scalar(
            select(func.count())
            .select_from(OtpVerification)
            .where(OtpVerification.to_e164 == number, OtpVerification.status == "pending")
        )
    assert pending == 1
    assert (await row_by_sid(db, results[0].sid)).send_count == 5


async def test_concurrent_sends_beyond_five_refuse_exactly_the_extra_ones(
    db: Database, verify: SimulatedVerify, number: str
) -> None:
    results = await asyncio.gather(*(verify.send(number) for _ in range(7)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 2 and all(isinstance(r, TooManySends) for r in refused)
    assert len(await rows_for(db, number)) == 1


async def test_concurrent_wrong_checks_refuse_exactly_the_sixth(
    db: Database, verify: SimulatedVerify, number: str
) -> None:
    sent = await verify.send(number)
    bad = wrong(await code_of(db, sent.sid))
    results = await asyncio.gather(
        *(verify.check(number, bad) for _ in range(6)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], TooManyChecks)
    row = await row_by_sid(db, sent.sid)
    assert (row.status, row.check_count) == ("max_attempts_reached", 6)


async def test_the_code_is_logged_with_the_number_masked_and_stored_hashed(
    db: Database,
    verify: SimulatedVerify,
    new_number: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    number = new_number()
    masked = number[:5] + "…" + number[-4:]

    sent = await verify.send(number)
    row = await row_by_sid(db, sent.sid)
    code = row.code_plain
    assert code is not None

    records = [r for r in caplog.records if r.name == "accounts.otp"]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.WARNING, f"simulated Verify: mobile code for {masked} is {code}")
    ]
    assert all(number not in r.getMessage() for r in caplog.records)

    assert row.code_hash != code and code not in row.code_hash
    assert len(row.code_hash) == 64 and int(row.code_hash, 16) >= 0
    assert row.code_hash == hashlib.sha256(f"{row.code_salt}:{code}".encode()).hexdigest()
    assert len(row.code_salt) == 32

    other = await verify.send(new_number())
    assert (await row_by_sid(db, other.sid)).code_salt != row.code_salt


def test_mask_keeps_only_the_ends_of_a_number() -> None:
    assert mask_e164("+15551231234") == "+1555…1234"
    assert mask_e164("+4930123") == "+4…23"


async def test_malformed_input_is_refused_without_counting(
    db: Database, verify: SimulatedVerify, number: str
) -> None:
    sent = await verify.send(number)
    for bad in ("12", "abcdef", "", "12345678901"):
        with pytest.raises(InvalidCode) as excinfo:
            await verify.check(number, bad)
        assert isinstance(excinfo.value, OtpError)
    assert (await row_by_sid(db, sent.sid)).check_count == 0
    # Spaces inside a typed code are ignored.
    code = await code_of(db, sent.sid)
    assert (await verify.check(number, f" {code[:3]} {code[3:]} ")).approved is True

    for bad_number in ("15551231234", "+0123", "+1 555 123 1234", "+1234567890123456"):
        with pytest.raises(InvalidNumber):
            await verify.send(bad_number)
    with pytest.raises(ValueError, match="channel"):
        await verify.send(number, channel="carrier-pigeon")


async def test_check_without_any_verification_is_not_found(
    verify: SimulatedVerify, number: str
) -> None:
    with pytest.raises(VerificationNotFound):
        await verify.check(number, "123456")


async def test_inbox_lists_the_latest_codes_newest_first(
    db: Database, verify: SimulatedVerify, clock: FakeClock, new_number: Callable[[], str]
) -> None:
    clock.now = datetime.now(UTC)  # newer than anything written so far in the run
    start = clock.now
    a, b = new_number(), new_number()
    sent_a = await verify.send(a)
    clock.advance(seconds=1)
    sent_b = await verify.send(b)
    await verify.check(b, await code_of(db, sent_b.sid))

    entries = await verify.inbox(limit=2)
    assert [(e.to, e.sid) for e in entries] == [(b, sent_b.sid), (a, sent_a.sid)]
    assert entries[0].status == "approved"
    assert entries[1].status == "pending"
    assert entries[1].code == await code_of(db, sent_a.sid)
    assert entries[1].created_at == start

    clock.advance(minutes=10)
    entries = await verify.inbox(limit=2)
    assert entries[1].status == "expired"  # shown as expired once its 10 minutes are over
    assert await verify.inbox(limit=0) == []


async def test_a_naive_clock_is_refused(db: Database, number: str) -> None:
    naive = SimulatedVerify(db, clock=lambda: datetime(2031, 1, 1))
    with pytest.raises(ValueError, match="timezone"):
        await naive.send(number)
