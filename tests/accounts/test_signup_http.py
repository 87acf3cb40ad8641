"""Sign-up through real HTTP against `klosesales serve`: the account exists only once
the code sent to the mobile checks. Each bad input gets a clear error and creates
nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text

from accounts.models import AuditEvent, SignupRequest, TermsAcceptance, User, Workspace
from tests.accounts.helpers import (
    PASSWORD,
    client,
    current_terms_version,
    field_error,
    latest_code,
    make_member,
    unique_mobile,
)


async def _form(db, **overrides) -> dict[str, str]:
    form = {
        "name": "Dana Founder",
        "email": f"dana-{uuid.uuid4().hex[:8]}@acme.test",
        "password": PASSWORD,
        "mobile": unique_mobile(),
        "age": "yes",
        "terms": "yes",
        "terms_version": await current_terms_version(db),
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


async def _count(db, model, **where) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(await session.scalar(query) or 0)


async def test_signup_creates_the_account_only_after_the_code(live_server, db):
    form = await _form(db)
    async with client(live_server) as http:
        page = await http.get("/account/signup")
        assert page.status_code == 200
        assert "I am at least 18 and authorised to accept these terms" in page.text
        assert 'href="/account/terms"' in page.text
        sent = await http.post("/account/signup", data=form)
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == "/account/signup/verify"
        assert await _count(db, User, email=form["email"]) == 0
        verify = await http.get("/account/signup/verify")
        assert form["mobile"][-2:] in verify.text
        assert form["mobile"] not in verify.text  # masked
        # Nothing is served before the code passed.
        assert (await http.get("/chat/", headers={"accept": "text/html"})).status_code == 303
        done = await http.post(
            "/account/signup/verify", data={"code": await latest_code(db, form["mobile"])}
        )
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/chat"
        chat = await http.get("/chat/", headers={"accept": "text/html"})
        assert chat.status_code == 200
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == form["email"]))
        assert user is not None
        assert (user.role, user.mobile_e164) == ("manager", form["mobile"])
        assert user.mobile_verified_at is not None
        assert user.age_attested_at is not None
        workspace = await session.get(Workspace, user.workspace_id)
        assert workspace is not None
        assert workspace.name == "Dana Founder's workspace"
        accepted = (
            await session.scalars(select(TermsAcceptance).where(TermsAcceptance.user_id == user.id))
        ).all()
        assert [a.ip for a in accepted] == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "valid email"),
        ("password", "password123", "too easy to guess"),
        ("password", "short", "at least 10 characters"),
        ("mobile", "12345", "not a phone number"),
        ("mobile", "+44 20 7946 0958", "not a mobile number"),
        ("age", None, "at least 18"),
        ("terms", None, "Accept the terms"),
        ("name", "   ", "Enter your name"),
    ],
)
async def test_bad_signup_input_is_refused_and_creates_nothing(web, db, field, value, message):
    form = await _form(db, **{field: value})
    async with client(web) as http:
        response = await http.post("/account/signup", data=form)
    assert response.status_code == 400
    error = field_error(response.text, field)
    assert error is not None, response.text
    assert message in error
    if field != "email":
        assert await _count(db, SignupRequest, email=form["email"]) == 0
    assert "ks_pending" not in response.cookies


async def test_stale_terms_version_must_be_reviewed(web, db):
    form = await _form(db, terms_version="1999-01-01")
    async with client(web) as http:
        response = await http.post("/account/signup", data=form)
    assert response.status_code == 400
    assert "terms have changed" in (field_error(response.text, "terms") or "")


async def test_wrong_code_is_refused_and_audited(web, db):
    form = await _form(db)
    async with client(web) as http:
        await http.post("/account/signup", data=form)
        right = await latest_code(db, form["mobile"])
        wrong = "000000" if right != "000000" else "111111"
        response = await http.post("/account/signup/verify", data={"code": wrong})
    assert response.status_code == 400
    assert "not right" in response.text
    assert await _count(db, User, email=form["email"]) == 0
    assert await _count(db, AuditEvent, action="otp_failed", actor_label="signup") >= 1


async def test_expired_code_is_refused(web, db):
    form = await _form(db)
    async with client(web) as http:
        await http.post("/account/signup", data=form)
        code = await latest_code(db, form["mobile"])
        async with db.session() as session:
            await session.execute(
                text(
                    "UPDATE otp_verifications SET expires_at = now() - interval '1 second'"
                    " WHERE to_e164 = :to"
                ),
                {"to": form["mobile"]},
            )
            await session.commit()
        response = await http.post("/account/signup/verify", data={"code": code})
    assert response.status_code == 400
    assert "expired" in response.text
    assert await _count(db, User, email=form["email"]) == 0


async def test_too_many_wrong_codes_lock_the_verification(web, db):
    form = await _form(db)
    async with client(web) as http:
        await http.post("/account/signup", data=form)
        right = await latest_code(db, form["mobile"])
        wrong = "000000" if right != "000000" else "111111"
        for _ in range(5):
            await http.post("/account/signup/verify", data={"code": wrong})
        locked = await http.post("/account/signup/verify", data={"code": right})
    assert locked.status_code == 400
    assert "Too many wrong codes" in locked.text
    assert await _count(db, User, email=form["email"]) == 0


async def test_resend_sends_the_same_verification(web, db):
    form = await _form(db)
    async with client(web) as http:
        await http.post("/account/signup", data=form)
        first = await latest_code(db, form["mobile"])
        again = await http.post("/account/signup/resend")
        assert again.status_code == 200
        assert "sent the code again" in again.text
        assert await latest_code(db, form["mobile"]) == first
        done = await http.post("/account/signup/verify", data={"code": first})
    assert done.status_code == 303


async def test_signup_with_a_registered_email_does_not_say_so_up_front(web, db):
    member = await make_member(db)
    form = await _form(db, email=member.email)
    async with client(web) as http:
        first = await http.post("/account/signup", data=form)
        assert first.status_code == 303  # same as for a new email
        done = await http.post(
            "/account/signup/verify", data={"code": await latest_code(db, form["mobile"])}
        )
    assert done.status_code == 400
    assert "create an account with these details" in done.text
    assert await _count(db, User, email=member.email) == 1
    assert "ks_session" not in done.cookies


async def test_signup_is_rate_limited_per_number(web, db):
    mobile = unique_mobile()
    statuses = []
    async with client(web) as http:
        for _ in range(6):
            form = await _form(db, mobile=mobile)
            statuses.append((await http.post("/account/signup", data=form)).status_code)
    assert statuses[:5] == [303] * 5
    assert statuses[5] == 429


async def test_a_tampered_pending_cookie_is_an_expired_step(web, db):
    form = await _form(db)
    async with client(web) as http:
        await http.post("/account/signup", data=form)
        token = http.cookies["ks_pending"]
        http.cookies.set("ks_pending", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
        response = await http.post(
            "/account/signup/verify", data={"code": await latest_code(db, form["mobile"])}
        )
    assert response.status_code == 400
    assert "expired" in response.text
    assert await _count(db, User, email=form["email"]) == 0


async def test_the_dev_inbox_shows_codes_in_simulated_mode(web, db):
    form = await _form(db)
    async with client(web) as http:
        await http.post("/account/signup", data=form)
        inbox = await http.get("/account/dev-inbox")
    assert inbox.status_code == 200
    assert f'data-to="{form["mobile"]}"' in inbox.text
    assert await latest_code(db, form["mobile"]) in inbox.text
