"""Suspension: no sign-in, no assistant, no purchases; sessions end at once; calls in
progress are ended through the registered hooks; everything audited."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text

from accounts import audit, sessions, suspension
from accounts import service as accounts
from accounts.models import AuditEvent, Role, User, UserSession, Workspace
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.turns import TurnStatus, answer_message
from core.errors import KloseError, NotFound, PermissionDenied
from tests.accounts.helpers import client, make_member, sign_in
from tests.billing.paddle_helpers import checkout

SIGNER = sessions.Signer("test-suspension-signer-secret")


async def _suspend(db, workspace_id, reason="spam calls") -> bool:
    async with db.session() as session:
        changed = await suspension.suspend(
            session, workspace_id, reason=reason, by_label="test-admin"
        )
        await session.commit()
        return changed


async def test_suspension_ends_sessions_and_blocks_sign_in(live_server, db):
    member = await make_member(db, Role.REP)
    async with client(live_server) as http:
        await sign_in(http, db, member)
        assert (await http.get("/chat/", headers={"accept": "text/html"})).status_code == 200
        assert await _suspend(db, member.actor.workspace_id)
        # The open session is refused at once.
        assert (await http.get("/chat/", headers={"accept": "text/html"})).status_code == 303
    async with client(live_server) as http:
        refused = await http.post(
            "/account/login", data={"email": member.email, "password": member.password}
        )
        # The password was right, so the account hears why (issue 15, item 14) …
        assert refused.status_code == 403
        assert "This account is suspended" in refused.text
        assert "Wrong email or password." not in refused.text
        # … while a wrong password still says nothing about the account.
        guessed = await http.post(
            "/account/login", data={"email": member.email, "password": "not the password 1"}
        )
        assert guessed.status_code == 401
        assert "Wrong email or password." in guessed.text
        assert "suspended" not in guessed.text
        assert "ks_pending" not in refused.cookies
    async with db.session() as session:
        assert await suspension.unsuspend(session, member.actor.workspace_id, by_label="test-admin")
        await session.commit()
    async with client(live_server) as http:
        await sign_in(http, db, member)  # works again (sign_in asserts the session)


async def test_hooks_run_and_twice_is_a_no_op(db):
    member = await make_member(db)
    called: list[uuid.UUID] = []

    async def end_calls(session, workspace_id: uuid.UUID) -> None:
        called.append(workspace_id)

    suspension.register_suspend_hook(end_calls)
    try:
        assert await _suspend(db, member.actor.workspace_id)
        assert not await _suspend(db, member.actor.workspace_id)
    finally:
        suspension.on_suspend.remove(end_calls)
    assert called == [member.actor.workspace_id]
    async with db.session() as session:
        ws = await session.get(Workspace, member.actor.workspace_id)
        assert ws is not None
        assert (ws.status, ws.suspended_reason) == ("suspended", "spam calls")
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.workspace_id == member.actor.workspace_id
                )
            )
        ).all()
    assert actions.count("workspace_suspended") == 1


async def test_a_suspended_workspace_cannot_use_the_assistant_or_buy(db):
    member = await make_member(db)
    await _suspend(db, member.actor.workspace_id)
    result = await answer_message(
        db,
        build_agent(OfflineChatModel()),
        member.actor,
        text="my balance?",
        message_id=str(uuid.uuid4()),
    )
    assert result.status is TurnStatus.REFUSED
    assert "suspended" in result.body
    with pytest.raises(PermissionDenied, match="suspended"):
        await checkout(db, member.actor)


@pytest.mark.parametrize("reason", ["", "   "])
async def test_a_reason_is_required(db, reason):
    member = await make_member(db)
    with pytest.raises(KloseError, match="reason"):
        await _suspend(db, member.actor.workspace_id, reason=reason)


async def test_unknown_workspace(db):
    with pytest.raises(NotFound):
        await _suspend(db, uuid.uuid4())


async def _open_session(db, member) -> tuple[uuid.UUID, str]:
    async with db.session() as session:
        user = await session.get(User, member.actor.user_id)
        assert user is not None
        token = await sessions.start_session(
            session, SIGNER, user, method="password", ip="203.0.113.5", user_agent="pytest"
        )
        await session.commit()
    data = SIGNER.loads("session", token, 3600)
    assert data is not None
    return uuid.UUID(data["sid"]), token


async def test_sessions_are_revoked_versions_bumped_and_authenticate_refuses(db):
    rep = await make_member(db, Role.REP)
    manager = await make_member(db, workspace_id=rep.actor.workspace_id)
    bystander = await make_member(db)  # another workspace: untouched
    opened = [await _open_session(db, m) for m in (rep, manager, bystander)]
    async with db.session() as session:
        before = {
            u.id: u.session_version
            for u in (
                await session.scalars(
                    select(User).where(
                        User.id.in_(
                            [rep.actor.user_id, manager.actor.user_id, bystander.actor.user_id]
                        )
                    )
                )
            ).all()
        }
    assert await _suspend(db, rep.actor.workspace_id, reason="calls without consent")

    async with db.session() as session:
        rows = {sid: await session.get(UserSession, sid) for sid, _ in opened}
        assert rows[opened[0][0]].revoked_at is not None
        assert rows[opened[1][0]].revoked_at is not None
        assert rows[opened[2][0]].revoked_at is None
        for member, bump in ((rep, 1), (manager, 1), (bystander, 0)):
            user = await session.get(User, member.actor.user_id)
            assert user.session_version == before[member.actor.user_id] + bump
        for _, token in opened[:2]:
            check = await sessions.check_session(session, SIGNER, token, touch=False)
            assert check.user is None
        still = await sessions.check_session(session, SIGNER, opened[2][1], touch=False)
        assert still.user is not None
        assert await accounts.authenticate(session, rep.email, rep.password) is None
        assert await accounts.authenticate(session, manager.email, manager.password) is None
        assert await accounts.authenticate(session, bystander.email, bystander.password)
        ws = await session.get(Workspace, rep.actor.workspace_id)
        assert ws.suspended_at is not None
        (event,) = await audit.list_events(
            session, workspace_id=rep.actor.workspace_id, action=audit.WORKSPACE_SUSPENDED
        )
        assert (event.actor_label, event.detail) == (
            "test-admin",
            {"reason": "calls without consent"},
        )
        await session.commit()

    async with db.session() as session:
        assert await suspension.unsuspend(session, rep.actor.workspace_id, by_label="ops")
        await session.commit()
        assert not await suspension.unsuspend(session, rep.actor.workspace_id, by_label="ops")
        ws = await session.get(Workspace, rep.actor.workspace_id, populate_existing=True)
        assert (ws.status, ws.suspended_at, ws.suspended_reason) == ("active", None, None)
        assert await accounts.authenticate(session, rep.email, rep.password) is not None
        # Sessions ended by the suspension stay ended: people sign in again.
        check = await sessions.check_session(session, SIGNER, opened[0][1], touch=False)
        assert check.user is None
        (event,) = await audit.list_events(
            session, workspace_id=rep.actor.workspace_id, action=audit.WORKSPACE_UNSUSPENDED
        )
        assert event.detail["previous_reason"] == "calls without consent"
        await session.commit()


async def test_a_failing_hook_does_not_stop_the_suspension(db, monkeypatch):
    member = await make_member(db)
    seen: list[uuid.UUID] = []
    monkeypatch.setattr(suspension, "on_suspend", [])

    async def broken(session, workspace_id: uuid.UUID) -> None:
        await session.execute(text("SELECT 1/0"))  # a database error inside the hook

    async def after(session, workspace_id: uuid.UUID) -> None:
        seen.append(workspace_id)

    suspension.register_suspend_hook(broken)
    suspension.register_suspend_hook(after)
    suspension.register_suspend_hook(after)  # registered once only
    assert suspension.on_suspend == [broken, after]
    assert await _suspend(db, member.actor.workspace_id)
    assert seen == [member.actor.workspace_id]
    async with db.session() as session:
        ws = await session.get(Workspace, member.actor.workspace_id)
        assert ws.status == "suspended"
        (event,) = await audit.list_events(
            session, workspace_id=member.actor.workspace_id, action=audit.WORKSPACE_SUSPENDED
        )
        assert [name.rsplit(".", 1)[-1] for name in event.detail["failed_hooks"]] == ["broken"]
