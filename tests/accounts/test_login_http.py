"""Login is a password and then a code to the verified mobile, for every new session;
nothing under /chat is served before both passed."""

from __future__ import annotations

from sqlalchemy import func, select, text

from accounts.models import AuditEvent, Role
from tests.accounts.helpers import (
    client,
    latest_code,
    make_member,
    sent_verification,
    sign_in,
)


async def _audits(db, action: str, label: str) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.actor_label == label)
            )
            or 0
        )


async def test_password_then_code_then_chat(live_server, db):
    member = await make_member(db, Role.REP)
    async with client(live_server) as http:
        page = {"accept": "text/html"}
        assert (
            (await http.get("/chat/", headers=page))
            .headers["location"]
            .startswith("/account/login")
        )
        step1 = await http.post(
            "/account/login", data={"email": member.email, "password": member.password}
        )
        assert step1.status_code == 303
        # Password alone opens nothing: pages redirect, APIs and sockets are refused.
        assert (await http.get("/chat/", headers=page)).status_code == 303
        assert (await http.post("/chat/auth/header")).status_code == 401
        assert (await http.get("/chat/ws/socket.io/?EIO=4&transport=polling")).status_code == 401
        step2 = await http.post(
            "/account/login/code", data={"code": await latest_code(db, member.mobile)}
        )
        assert step2.status_code == 303
        assert step2.headers["location"] == "/chat"
        assert (await http.get("/chat/", headers=page)).status_code == 200
        # Chainlit's header auth maps our session to its user (what its frontend does).
        chainlit = await http.post("/chat/auth/header")
        assert chainlit.status_code == 200, chainlit.text
        assert "access_token" in http.cookies
    assert await _audits(db, "signin", member.email) == 1


async def test_a_second_login_asks_for_a_new_code(web, db):
    member = await make_member(db)
    async with client(web) as first:
        await sign_in(first, db, member)
    async with client(web) as second:
        step1 = await second.post(
            "/account/login", data={"email": member.email, "password": member.password}
        )
        assert step1.headers["location"] == "/account/login/code"
        assert "ks_session" not in second.cookies
        async with db.session() as session:
            statuses = (
                await session.scalars(
                    text(
                        "SELECT status FROM otp_verifications WHERE to_e164 = :to"
                        " ORDER BY created_at"
                    ),
                    {"to": member.mobile},
                )
            ).all()
        # The first sign-in's code was used; the second sign-in sent a new one.
        assert statuses == ["approved", "pending"]


async def test_wrong_password_and_unknown_email_read_the_same(web, db):
    member = await make_member(db)
    async with client(web) as http:
        wrong = await http.post(
            "/account/login", data={"email": member.email, "password": "not the password"}
        )
        unknown = await http.post(
            "/account/login", data={"email": "nobody-at-all@example.test", "password": "x" * 12}
        )
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.text
    assert "Wrong email or password." in unknown.text
    assert "ks_pending" not in wrong.cookies
    assert await _audits(db, "signin_failed", member.email) == 1


async def test_wrong_login_code_is_refused_and_audited(web, db):
    member = await make_member(db)
    async with client(web) as http:
        await http.post("/account/login", data={"email": member.email, "password": member.password})
        right = await latest_code(db, member.mobile)
        response = await http.post(
            "/account/login/code", data={"code": "000000" if right != "000000" else "111111"}
        )
    assert response.status_code == 400
    assert "ks_session" not in response.cookies
    assert await _audits(db, "otp_failed", "login") >= 1


async def test_tampered_session_cookie_is_refused_and_audited(live_server, db):
    member = await make_member(db)
    async with client(live_server) as http:
        await sign_in(http, db, member)
        token = http.cookies["ks_session"]
        forged = token[:-3] + ("abc" if token[-3:] != "abc" else "xyz")
        http.cookies.set("ks_session", forged)
        response = await http.get("/chat/", headers={"accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/account/login")
    async with db.session() as session:
        rejected = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "session_rejected",
                AuditEvent.detail["reason"].astext.contains("signature"),
            )
        )
    assert (rejected or 0) >= 1


async def test_a_replayed_cookie_after_sign_out_is_refused(live_server, db):
    member = await make_member(db)
    async with client(live_server) as http:
        await sign_in(http, db, member)
        token = http.cookies["ks_session"]
        out = await http.post("/account/logout")
        assert out.status_code == 303
    async with client(live_server) as replay:
        replay.cookies.set("ks_session", token)
        response = await replay.get("/chat/", headers={"accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/account/login")


async def test_cross_site_form_posts_are_refused(live_server, db):
    member = await make_member(db)
    async with client(live_server) as http:
        response = await http.post(
            "/account/login",
            data={"email": member.email, "password": member.password},
            headers={"origin": "https://evil.example"},
        )
    assert response.status_code == 403


async def test_next_never_leaves_the_site(web, db):
    member = await make_member(db)
    async with client(web) as http:
        await http.post(
            "/account/login",
            data={"email": member.email, "password": member.password, "next": "//evil.example"},
        )
        done = await http.post(
            "/account/login/code", data={"code": await latest_code(db, member.mobile)}
        )
    assert done.headers["location"] == "/chat"


async def test_password_reset_by_code_signs_out_everywhere(web, db):
    member = await make_member(db)
    new_password = "a brand new passphrase 42"
    async with client(web) as old:
        await sign_in(old, db, member)
        assert (await old.get("/billing/buy")).status_code == 200  # a page for the signed-in
        async with client(web) as http:
            start = await http.post("/account/reset", data={"email": member.email})
            assert start.headers["location"] == "/account/reset/verify"
            page = await http.get("/account/reset/verify")
            assert "If an account exists" in page.text
            sent = await sent_verification(db, member.mobile, "reset")
            done = await http.post(
                "/account/reset/verify",
                data={"code": str(sent["code_plain"]), "password": new_password},
            )
            assert done.status_code == 303
            assert done.headers["location"] == "/account/login?status=reset"
        # The old browser's session ended with the reset.
        assert (await old.get("/billing/buy")).status_code == 303
    async with client(web) as http:
        ok = await http.post(
            "/account/login", data={"email": member.email, "password": new_password}
        )
        assert ok.status_code == 303
        stale = await http.post(
            "/account/login", data={"email": member.email, "password": member.password}
        )
        assert stale.status_code == 401


async def test_reset_for_an_unknown_email_looks_the_same(web):
    async with client(web) as http:
        start = await http.post("/account/reset", data={"email": "ghost@example.test"})
        assert start.headers["location"] == "/account/reset/verify"
        page = await http.get("/account/reset/verify")
        assert "If an account exists" in page.text
        attempt = await http.post(
            "/account/reset/verify",
            data={"code": "123456", "password": "a brand new passphrase 42"},
        )
    assert attempt.status_code == 400
    assert "not right" in attempt.text


async def test_terms_not_accepted_send_the_user_to_accept_them(live_server, db):
    member = await make_member(db, accept_terms=False)
    async with client(live_server) as http:
        await sign_in(http, db, member)
        chat = await http.get("/chat/", headers={"accept": "text/html"})
        assert chat.status_code == 303
        assert chat.headers["location"] == "/account/terms/accept"
        assert (await http.get("/chat/project/settings")).status_code == 403
        page = await http.get("/account/terms/accept")
        assert "Accept them to continue" in page.text
        version = page.text.split('name="version" value="')[1].split('"')[0]
        accepted = await http.post("/account/terms/accept", data={"version": version})
        assert accepted.headers["location"] == "/chat"
        assert (await http.get("/chat/", headers={"accept": "text/html"})).status_code == 200
