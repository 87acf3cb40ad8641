"""Teams through HTTP: a manager invites, the invitee signs up with a code and joins,
roles change, members are removed; reps cannot manage the team."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from accounts.models import AuditEvent, Role, User
from tests.accounts.helpers import (
    PASSWORD,
    client,
    current_terms_version,
    latest_code,
    make_member,
    sign_in,
    unique_mobile,
)


async def test_invite_join_change_role_and_remove(live_server, db):
    manager = await make_member(db, Role.MANAGER)
    invitee_email = f"new-rep-{manager.actor.user_id.hex[:8]}@example.test"
    invitee_mobile = unique_mobile()
    async with client(live_server) as boss:
        await sign_in(boss, db, manager)
        made = await boss.post(
            "/account/team/invite",
            data={"email": invitee_email, "mobile": invitee_mobile, "role": "rep"},
        )
        assert made.status_code == 200, made.text
        link = re.search(r'id="invite-link">([^<]+)<', made.text)
        assert link is not None
        path = link.group(1).split(live_server, 1)[1]

        async with client(live_server) as rep:
            opened = await rep.get(path)
            assert opened.status_code == 303
            form_page = await rep.get(opened.headers["location"])
            assert invitee_email in form_page.text
            assert "You were invited to join" in form_page.text
            token = opened.headers["location"].split("invite=")[1]
            sent = await rep.post(
                "/account/signup",
                data={
                    "name": "Nico Rep",
                    "email": invitee_email,
                    "password": PASSWORD,
                    "mobile": invitee_mobile,
                    "age": "yes",
                    "terms": "yes",
                    "terms_version": await current_terms_version(db),
                    "invite": token,
                },
            )
            assert sent.status_code == 303, sent.text
            joined = await rep.post(
                "/account/signup/verify", data={"code": await latest_code(db, invitee_mobile)}
            )
            assert joined.status_code == 303
            async with db.session() as session:
                new = await session.scalar(select(User).where(User.email == invitee_email))
            assert new is not None
            assert (new.workspace_id, new.role) == (manager.actor.workspace_id, "rep")
            # A rep cannot manage the team.
            assert (await rep.get("/account/team")).status_code == 403

            # The link is used up.
            async with client(live_server) as late:
                again = await late.get(f"/account/signup?invite={token}")
                assert again.status_code == 404

            promoted = await boss.post(f"/account/team/{new.id}/role", data={"role": "manager"})
            assert "is now a manager" in promoted.text
            removed = await boss.post(f"/account/team/{new.id}/remove")
            assert "was removed" in removed.text
            # The removed member's session ends at once.
            assert (await rep.get("/chat/", headers={"accept": "text/html"})).status_code == 303
    async with db.session() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.workspace_id == manager.actor.workspace_id)
                .order_by(AuditEvent.id)
            )
        ).all()
    for expected in ("invitation_sent", "signup_completed", "role_changed", "member_removed"):
        assert expected in actions


async def test_the_last_manager_cannot_be_demoted_or_removed(web, db):
    manager = await make_member(db, Role.MANAGER)
    async with client(web) as boss:
        await sign_in(boss, db, manager)
        demote = await boss.post(
            f"/account/team/{manager.actor.user_id}/role", data={"role": "rep"}
        )
        assert demote.status_code == 400
        assert "at least one manager" in demote.text
        self_remove = await boss.post(f"/account/team/{manager.actor.user_id}/remove")
        assert self_remove.status_code == 400


async def test_managers_cannot_touch_other_workspaces(web, db):
    manager = await make_member(db, Role.MANAGER)
    stranger = await make_member(db, Role.REP)
    async with client(web) as boss:
        await sign_in(boss, db, manager)
        response = await boss.post(f"/account/team/{stranger.actor.user_id}/remove")
    assert response.status_code == 400
    assert "No such member" in response.text
    async with db.session() as session:
        still = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.id == stranger.actor.user_id, User.status == "active")
        )
    assert still == 1


async def test_invitation_with_a_bad_mobile_is_refused(web, db):
    manager = await make_member(db, Role.MANAGER)
    async with client(web) as boss:
        await sign_in(boss, db, manager)
        response = await boss.post(
            "/account/team/invite",
            data={"email": "x@example.test", "mobile": "12", "role": "rep"},
        )
    assert response.status_code == 400
    assert "not a phone number" in response.text
