"""Helpers for account tests: unique mobiles, members, codes from the simulated
Verify, and an HTTP client that signs in the way a browser does."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from dataclasses import dataclass

import httpx
import phonenumbers
from sqlalchemy import select, text

from accounts import service as accounts
from accounts.models import Role, TermsVersion
from accounts.service import Actor
from core.db import Database
from tests.web import InProcess

PASSWORD = "correct horse battery staple"


def unique_mobile() -> str:
    """A valid US number no other test uses (rate limits and Verify are per number)."""
    while True:
        candidate = f"+1{random.choice(['415', '628', '650'])}{random.randint(2000000, 9999999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


@dataclass(frozen=True)
class Member:
    actor: Actor
    email: str
    mobile: str
    password: str = PASSWORD


async def make_member(
    db: Database,
    role: Role = Role.MANAGER,
    *,
    workspace_id: uuid.UUID | None = None,
    accept_terms: bool = True,
) -> Member:
    from accounts.models import Workspace

    mobile = unique_mobile()
    async with db.session() as session:
        if workspace_id is None:
            ws = await accounts.create_workspace(session, f"Acct {uuid.uuid4().hex[:6]}")
        else:
            found = await session.get(Workspace, workspace_id)
            assert found is not None
            ws = found
        user = await accounts.create_user(
            session,
            workspace=ws,
            email=f"m-{uuid.uuid4().hex[:10]}@example.test",
            name="Casey Member",
            password=PASSWORD,
            role=role,
            mobile_e164=mobile,
        )
        if accept_terms:
            await accept_current_terms(session, user.id)
        await session.commit()
        return Member(Actor.of(user), user.email, mobile)


async def accept_current_terms(session, user_id: uuid.UUID) -> None:
    await session.execute(
        text(
            "INSERT INTO terms_acceptances (user_id, terms_version_id, ip)"
            " SELECT :u, id, 'test' FROM terms_versions WHERE effective_at <= now()"
            " ORDER BY effective_at DESC LIMIT 1 ON CONFLICT DO NOTHING"
        ),
        {"u": user_id},
    )


async def current_terms_version(db: Database) -> str:
    async with db.session() as session:
        version = await session.scalar(
            select(TermsVersion.version)
            .where(TermsVersion.effective_at <= text("now()"))
            .order_by(TermsVersion.effective_at.desc())
            .limit(1)
        )
    assert version is not None
    return version


async def latest_code(db: Database, mobile: str, *, flow: str | None = None) -> str:
    """The newest simulated code sent to `mobile` (in `flow`, if given)."""
    async with db.session() as session:
        code = await session.scalar(
            text(
                "SELECT code_plain FROM otp_verifications WHERE to_e164 = :to"
                " AND (CAST(:flow AS text) IS NULL OR flow = :flow)"
                " ORDER BY created_at DESC LIMIT 1"
            ),
            {"to": mobile, "flow": flow},
        )
    assert code, f"no code was sent to {mobile}"
    return str(code)


async def sent_verification(
    db: Database, to: str, flow: str, *, wait_s: float = 20.0
) -> dict[str, object]:
    """The pending verification of `to` in `flow`, once there is one: password-reset
    codes are sent after the response, so a test waits for the send to land."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        async with db.session() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT code_plain, send_count, check_count, status"
                        " FROM otp_verifications WHERE to_e164 = :to AND flow = :flow"
                        " ORDER BY created_at DESC LIMIT 1"
                    ),
                    {"to": to, "flow": flow},
                )
            ).first()
        if row is not None:
            return dict(row._mapping)
        assert asyncio.get_running_loop().time() < deadline, f"nothing was sent to {to}"
        await asyncio.sleep(0.05)


def client(base: str | InProcess) -> httpx.AsyncClient:
    """A browser-like client (no redirects followed) on a real server's base URL, or on
    the routers served in process (tests/web.py)."""
    if isinstance(base, InProcess):
        return base.client()
    return httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=30)


async def sign_in(http: httpx.AsyncClient, db: Database, member: Member) -> None:
    """Password, then the code from the simulated Verify: the client ends signed in."""
    first = await http.post(
        "/account/login", data={"email": member.email, "password": member.password}
    )
    assert first.status_code == 303, first.text
    assert first.headers["location"] == "/account/login/code"
    second = await http.post(
        "/account/login/code", data={"code": await latest_code(db, member.mobile)}
    )
    assert second.status_code == 303, second.text
    assert "ks_session" in http.cookies


def field_error(html: str, name: str) -> str | None:
    match = re.search(rf'id="{name}-error">([^<]*)<', html)
    return match.group(1) if match else None
