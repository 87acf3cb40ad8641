"""A call card (call_status) or a list of calls for someone else's call: another rep's
in the same workspace, or any call of another workspace, by full id or by its first 8
characters. Refused as "no call that you can see", with nothing of it shown: not the
contact, not the summary, not the recording, not a link."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from accounts.models import Role
from chat_app.turns import answer_message
from telephony.models import Call
from tests.accounts.helpers import make_member
from tests.chat_app.scripted import scripted_agent
from tests.insights.helpers import make_contact, seed_call
from tests.telephony.helpers import fund

SECRET = "Secret summary: they will sign for 90k."


async def _their_call(db, actor) -> uuid.UUID:
    contact = await make_contact(db, actor, name="Zed Hidden", company="Hidden Corp")
    call_id = await seed_call(
        db,
        contact,
        actor.user_id,
        at=datetime.now(UTC) - timedelta(hours=1),
        duration_s=60,
        outcome="interested",
        insight={"outcome": "interested", "summary": SECRET, "objections": ["price"]},
    )
    async with db.session() as session:
        await session.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(recording_sid="RE" + "1" * 32, recording_url="https://x.test/r")
        )
        await session.commit()
    return call_id


@pytest.mark.parametrize("whose", ["another rep", "another workspace"])
@pytest.mark.parametrize("form", ["full id", "short id"])
async def test_a_card_for_a_call_the_user_may_not_see_is_refused_and_leaks_nothing(
    db, whose: str, form: str
):
    me = await make_member(db, Role.REP)
    await fund(db, me.actor.workspace_id, 10)
    owner = await make_member(
        db, Role.REP, workspace_id=me.actor.workspace_id if whose == "another rep" else None
    )
    call_id = await _their_call(db, owner.actor)
    ref = str(call_id) if form == "full id" else str(call_id)[:8]
    result = await answer_message(
        db,
        scripted_agent("call_status", call=ref),
        me.actor,
        text="show that call",
        message_id=str(uuid.uuid4()),
    )
    assert f"No call {ref[:8]} that you can see" in result.body
    for leaked in ("Zed", "Hidden", SECRET, "/calls/", "recording"):
        assert leaked not in result.body
    assert result.artifacts == []
    assert result.cost_mc == 0  # refused: free
    listed = await answer_message(
        db,
        scripted_agent("list_calls"),
        me.actor,
        text="list my calls",
        message_id=str(uuid.uuid4()),
    )
    assert str(call_id)[:8] not in listed.body and "Zed" not in listed.body


async def test_a_manager_sees_a_reps_card_but_not_another_workspaces(db):
    manager = await make_member(db, Role.MANAGER)
    await fund(db, manager.actor.workspace_id, 10)
    rep = await make_member(db, Role.REP, workspace_id=manager.actor.workspace_id)
    outsider = await make_member(db, Role.REP)
    ours = await _their_call(db, rep.actor)
    theirs = await _their_call(db, outsider.actor)
    seen = await answer_message(
        db,
        scripted_agent("call_status", call=str(ours)),
        manager.actor,
        text="show it",
        message_id=str(uuid.uuid4()),
    )
    assert SECRET in seen.body and f"/calls/{ours}" in seen.body
    refused = await answer_message(
        db,
        scripted_agent("call_status", call=str(theirs)),
        manager.actor,
        text="show it",
        message_id=str(uuid.uuid4()),
    )
    assert SECRET not in refused.body and "that you can see" in refused.body
