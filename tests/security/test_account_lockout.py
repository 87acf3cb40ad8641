"""Issue 15, item 4: knowing an email must not let anyone lock its owner out.

A stranger fails a password reset's code six times. The owner must still sign in at
once (each flow has its own verification: simulated per (flow, number), live one
Verify service per flow), and can still reset the password from elsewhere (lockouts
count against the requester, and one requester's allowance is smaller than Verify's
5 checks).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from accounts import flows
from accounts.otp import Flow, TooManyChecks
from accounts.otp.decoy import DecoyVerify
from accounts.otp.live import TwilioVerify
from accounts.otp.simulated import SimulatedVerify
from tests.accounts.helpers import client, latest_code, make_member, sent_verification
from tests.accounts.test_otp_live import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CODE,
    RESET_SERVICE_SID,
    SERVICE_SID,
    SIGNUP_SERVICE_SID,
    VerifyDouble,
)
from tests.http_double import serve_in_thread

NEW_PASSWORD = "a brand new passphrase 42"
STRANGER, OTHER_STRANGER, OWNER = "198.51.100.7", "198.51.100.8", "203.0.113.5"


async def test_six_failed_reset_codes_do_not_block_the_owners_sign_in(web, db):
    member = await make_member(db)
    async with client(web) as stranger:
        await stranger.post("/account/reset", data={"email": member.email})
        await sent_verification(db, member.mobile, "reset")
        for _ in range(6):
            await stranger.post(
                "/account/reset/verify", data={"code": "000000", "password": NEW_PASSWORD}
            )
    async with client(web) as owner:
        step1 = await owner.post(
            "/account/login", data={"email": member.email, "password": member.password}
        )
        assert step1.status_code == 303, step1.text
        step2 = await owner.post(
            "/account/login/code", data={"code": await latest_code(db, member.mobile, flow="login")}
        )
        assert step2.status_code == 303, step2.text
        assert "ks_session" in owner.cookies


async def _fail_reset(db, otp, decoy, email: str, ip: str, times: int) -> list[str]:
    refusals = []
    for _ in range(times):
        async with db.session() as session:
            with pytest.raises(flows.CodeRejected) as refused:
                await flows.finish_reset(session, otp, decoy, email, "000000", NEW_PASSWORD, ip=ip)
        refusals.append(str(refused.value))
    return refusals


async def test_a_strangers_failed_codes_lock_the_stranger_not_the_owners_reset(db):
    member = await make_member(db)
    otp, decoy = SimulatedVerify(db), DecoyVerify(db)
    async with db.session() as session:
        deliver = await flows.start_reset(session, otp, decoy, member.email, ip=STRANGER)
    await deliver()
    refusals = await _fail_reset(db, otp, decoy, member.email, STRANGER, 6)
    assert refusals[3:] == [TooManyChecks.default_message] * 3  # the stranger waits
    # The owner, elsewhere, with the code from the text message, gets through.
    code = await latest_code(db, member.mobile, flow="reset")
    async with db.session() as session:
        user = await flows.finish_reset(
            session, otp, decoy, member.email, code, NEW_PASSWORD, ip=OWNER
        )
    assert user.email == member.email


async def test_a_used_up_reset_verification_leaves_sign_in_alone(db):
    """Two strangers together use up the reset verification (5 checks); the owner's
    sign-in has a verification of its own and goes through."""
    member = await make_member(db)
    otp, decoy = SimulatedVerify(db), DecoyVerify(db)
    async with db.session() as session:
        deliver = await flows.start_reset(session, otp, decoy, member.email, ip=STRANGER)
    await deliver()
    refusals = await _fail_reset(db, otp, decoy, member.email, STRANGER, 3)
    refusals += await _fail_reset(db, otp, decoy, member.email, OTHER_STRANGER, 3)
    assert refusals[-1] == TooManyChecks.default_message
    assert (await sent_verification(db, member.mobile, "reset"))["status"] == (
        "max_attempts_reached"
    )
    async with db.session() as session:
        user = await flows.password_step(session, otp, member.email, member.password, ip=OWNER)
        code = await latest_code(db, member.mobile, flow="login")
        signed_in = await flows.code_step(session, otp, user.id, code, ip=OWNER)
    assert signed_in.id == member.actor.user_id


@pytest.fixture(scope="module")
def verify_base() -> Iterator[tuple[VerifyDouble, str]]:
    double = VerifyDouble()
    with serve_in_thread(double.app(), name="Verify double") as base:
        yield double, base


@pytest.fixture
async def live_verify(verify_base: tuple[VerifyDouble, str]) -> AsyncIterator[TwilioVerify]:
    verify_base[0].reset()
    provider = TwilioVerify(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        service_sid=SERVICE_SID,
        flow_service_sids={
            Flow.SIGNUP: SIGNUP_SERVICE_SID,
            Flow.MOBILE: SIGNUP_SERVICE_SID,
            Flow.RESET: RESET_SERVICE_SID,
        },
        base_url=verify_base[1],
        timeout_s=5.0,
    )
    try:
        yield provider
    finally:
        await provider.aclose()


async def test_with_live_verify_a_used_up_reset_leaves_sign_in_alone(db, live_verify):
    """Against a double keeping Verify's rule (one pending verification per number
    per service): two strangers use up the reset verification (Verify's 6th check is
    60202), and the owner still signs in, on the login service."""
    member = await make_member(db)
    decoy = DecoyVerify(db, mirror=live_verify)
    async with db.session() as session:
        deliver = await flows.start_reset(session, live_verify, decoy, member.email, ip=STRANGER)
    await deliver()
    refusals = await _fail_reset(db, live_verify, decoy, member.email, STRANGER, 3)
    refusals += await _fail_reset(db, live_verify, decoy, member.email, OTHER_STRANGER, 3)
    assert refusals[-1] == TooManyChecks.default_message  # Verify's own 60202
    async with db.session() as session:
        user = await flows.password_step(
            session, live_verify, member.email, member.password, ip=OWNER
        )
        signed_in = await flows.code_step(session, live_verify, user.id, CODE, ip=OWNER)
    assert signed_in.id == member.actor.user_id


async def test_a_live_decoy_check_makes_the_same_round_trip(db, live_verify, verify_base):
    """An unknown email's reset check also goes to Verify (and is refused there), so
    it takes about as long as a real one; the answer comes from the decoy."""
    double = verify_base[0]
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.test"
    decoy = DecoyVerify(db, mirror=live_verify)
    assert decoy.mirrors
    async with db.session() as session:
        deliver = await flows.start_reset(session, live_verify, decoy, email, ip=STRANGER)
    await deliver()
    assert double.requests == []  # nothing is texted for an unknown email
    refusals = await _fail_reset(db, live_verify, decoy, email, STRANGER, 1)
    assert refusals == [flows.WRONG_CODE]
    assert [r.path for r in double.requests] == [
        f"/v2/Services/{RESET_SERVICE_SID}/VerificationCheck"
    ]
