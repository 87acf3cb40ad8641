"""The assistant's account tools: "my account" and "change my mobile" (by code)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text

from accounts.models import AuditEvent, User
from accounts.otp.simulated import SimulatedVerify
from billing import ledger
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.turns import answer_message
from tests.accounts.helpers import current_terms_version, latest_code, make_member, unique_mobile
from tests.chat_app.helpers import Asked

AGENT = build_agent(OfflineChatModel())


async def _funded(db):
    member = await make_member(db)
    async with db.session() as s:
        await ledger.grant(
            s,
            member.actor.workspace_id,
            amount_mc=5_000,
            idempotency_key=f"g:{member.actor.workspace_id}",
            source="test",
        )
        await s.commit()
    return member


async def _ask(db, member, text: str, **kwargs):
    return await answer_message(
        db,
        AGENT,
        member.actor,
        text=text,
        message_id=str(uuid.uuid4()),
        otp=SimulatedVerify(db),
        **kwargs,
    )


async def test_my_account_shows_masked_mobile_role_workspace_and_terms(db):
    member = await _funded(db)
    result = await _ask(db, member, "my account")
    assert [c.name for c in result.tool_calls] == ["my_account"]
    assert f"Email: {member.email}" in result.body
    assert "Role: manager" in result.body
    assert member.mobile not in result.body
    assert f"Mobile: +1••••••••{member.mobile[-2:]} (verified)" in result.body
    # The version in force when the member signed up (make_member accepts it).
    assert f"Terms accepted: version {await current_terms_version(db)}" in result.body


async def test_change_mobile_needs_the_code_sent_to_the_new_number(db):
    member = await _funded(db)
    new = unique_mobile()
    asked: list[str] = []

    async def type_the_code(question: str) -> str | None:
        asked.append(question)
        return await latest_code(db, new)

    confirmed = Asked(True)
    result = await _ask(
        db, member, f"change my mobile to {new}", ask=type_the_code, confirm=confirmed
    )
    assert "Done: your mobile is now" in result.body
    assert new[-2:] in asked[0]
    # The number was confirmed before any code was sent to it.
    (question,) = confirmed.questions
    assert question == f"Change your sign-in mobile to {new}? A code will be texted to it."
    async with db.session() as s:
        user = await s.get(User, member.actor.user_id)
        assert user is not None
        assert user.mobile_e164 == new
        audited = await s.scalar(
            select(AuditEvent.detail).where(
                AuditEvent.actor_id == user.id, AuditEvent.action == "mobile_changed"
            )
        )
    assert audited is not None
    assert new not in str(audited)  # masked in the log


@pytest.mark.parametrize("answer", [None, "000000"])
async def test_change_mobile_without_the_right_code_changes_nothing(db, answer):
    member = await _funded(db)
    new = unique_mobile()

    async def reply(question: str) -> str | None:
        if answer is None:
            return None
        right = await latest_code(db, new)
        return answer if answer != right else "111111"

    result = await _ask(db, member, f"change my mobile to {new}", ask=reply, confirm=Asked(True))
    assert "not changed" in result.body
    async with db.session() as s:
        user = await s.get(User, member.actor.user_id)
        assert user is not None
        assert user.mobile_e164 == member.mobile


async def test_change_mobile_declined_sends_no_code_and_changes_nothing(db):
    member = await _funded(db)
    new = unique_mobile()
    declined = Asked(False)
    result = await _ask(db, member, f"change my mobile to {new}", confirm=declined)
    assert "not changed" in result.body and len(declined.questions) == 1
    async with db.session() as s:
        sent = await s.scalar(
            text("SELECT count(*) FROM otp_verifications WHERE to_e164 = :to"), {"to": new}
        )
    assert sent == 0
    async with db.session() as s:
        user = await s.get(User, member.actor.user_id)
        assert user is not None and user.mobile_e164 == member.mobile


async def test_change_mobile_refuses_a_landline(db):
    member = await _funded(db)
    result = await _ask(db, member, "change my mobile to +44 20 7946 0958")
    assert "not a mobile number" in result.body
