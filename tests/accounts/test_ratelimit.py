"""Rate limits per IP and per email / number, shared through PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from accounts import ratelimit
from accounts.models import Role
from accounts.service import Actor
from accounts.teams import can_see_member_data
from tests.accounts.helpers import client, make_member


async def test_the_limit_trips_after_its_hits_and_resets_next_window(session):
    subject = f"203.0.113.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    at = datetime(2026, 11, 28, 12, 0, 5, tzinfo=UTC)
    limit = ratelimit.SIGNUP_PER_IP
    for _ in range(limit.hits):
        await ratelimit.allow(session, [(limit, subject)], now=at)
    with pytest.raises(ratelimit.RateLimited) as info:
        await ratelimit.allow(session, [(limit, subject)], now=at)
    assert 0 < info.value.retry_after_s <= limit.window_s
    assert "Too many attempts" in str(info.value)
    # The next window starts fresh.
    await ratelimit.allow(session, [(limit, subject)], now=at + timedelta(seconds=limit.window_s))


async def test_the_ip_multiplier_scales_only_per_ip_limits(session):
    ratelimit.configure(ip_multiplier=2)
    try:
        at = datetime(2026, 11, 28, 13, 0, 5, tzinfo=UTC)
        ip, number = f"ip-{uuid.uuid4().hex}", f"+1415{uuid.uuid4().int % 10**7:07d}"
        for _ in range(ratelimit.SIGNUP_PER_IP.hits * 2):
            await ratelimit.allow(session, [(ratelimit.SIGNUP_PER_IP, ip)], now=at)
        for _ in range(ratelimit.SIGNUP_PER_NUMBER.hits):
            await ratelimit.allow(session, [(ratelimit.SIGNUP_PER_NUMBER, number)], now=at)
        with pytest.raises(ratelimit.RateLimited):
            await ratelimit.allow(session, [(ratelimit.SIGNUP_PER_NUMBER, number)], now=at)
        with pytest.raises(ratelimit.RateLimited):
            await ratelimit.allow(session, [(ratelimit.SIGNUP_PER_IP, ip)], now=at)
    finally:
        ratelimit.configure(ip_multiplier=1)


async def test_login_is_limited_per_requester_over_http(web, db):
    """One requester (email + IP) gets LOGIN_PER_REQUESTER wrong passwords; after that
    even the right password waits — for that requester (the per-email backstop is far
    higher, see tests/security/test_account_lockout.py for the owner's side)."""
    member = await make_member(db)
    statuses = []
    async with client(web) as http:
        for _ in range(ratelimit.LOGIN_PER_REQUESTER.hits + 1):
            response = await http.post(
                "/account/login", data={"email": member.email, "password": "wrong password!"}
            )
            statuses.append(response.status_code)
        # Even the right password waits now.
        right = await http.post(
            "/account/login", data={"email": member.email, "password": member.password}
        )
    assert statuses[:-1] == [401] * ratelimit.LOGIN_PER_REQUESTER.hits
    assert statuses[-1] == 429
    assert right.status_code == 429
    assert "Too many attempts" in right.text
    assert ratelimit.LOGIN_PER_EMAIL.hits >= 4 * ratelimit.LOGIN_PER_REQUESTER.hits


def test_visibility_rules():
    ws, other_ws = uuid.uuid4(), uuid.uuid4()
    me, colleague = uuid.uuid4(), uuid.uuid4()

    def actor(role: Role, workspace: uuid.UUID = ws, user: uuid.UUID = me) -> Actor:
        return Actor(user_id=user, workspace_id=workspace, role=role, email="a@x.test", name="A")

    assert can_see_member_data(actor(Role.REP), me, ws)
    assert not can_see_member_data(actor(Role.REP), colleague, ws)
    assert can_see_member_data(actor(Role.MANAGER), colleague, ws)
    assert not can_see_member_data(actor(Role.MANAGER), colleague, other_ws)
    assert can_see_member_data(actor(Role.ADMIN, other_ws), colleague, ws)
