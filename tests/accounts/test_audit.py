"""The audit log is append-only in the database itself."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from accounts import audit


async def test_records_are_listed_newest_first(session):
    await audit.record(session, "test_action_a", actor_label="tester", detail={"n": 1})
    await audit.record(session, "test_action_a", actor_label="tester", detail={"n": 2})
    await session.commit()
    events = await audit.list_events(session, action="test_action_a", limit=2)
    assert [e.detail["n"] for e in events] == [2, 1]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
async def test_changing_or_deleting_audit_events_is_refused(session, statement):
    await audit.record(session, "test_action_b", actor_label="tester")
    await session.commit()
    with pytest.raises(Exception, match="append-only"):
        await session.execute(text(statement))
    await session.rollback()


async def test_filters_by_workspace_and_action(session, make_workspace):
    mine, other = await make_workspace(), await make_workspace()
    await audit.record(session, audit.ROLE_CHANGED, actor_label="t", workspace_id=mine)
    await audit.record(session, audit.MEMBER_REMOVED, actor_label="t", workspace_id=mine)
    await audit.record(session, audit.ROLE_CHANGED, actor_label="t", workspace_id=other)
    await session.commit()
    assert [e.action for e in await audit.list_events(session, workspace_id=mine)] == [
        audit.MEMBER_REMOVED,
        audit.ROLE_CHANGED,
    ]
    only = await audit.list_events(session, workspace_id=mine, action=audit.ROLE_CHANGED)
    assert [(e.action, e.workspace_id) for e in only] == [(audit.ROLE_CHANGED, mine)]
    assert len(await audit.list_events(session, workspace_id=mine, limit=1)) == 1


async def test_secrets_never_reach_the_detail(session, make_workspace):
    ws = await make_workspace()
    user_id = uuid.uuid4()
    await audit.record(
        session,
        audit.OTP_FAILED,
        actor_label="t",
        workspace_id=ws,
        ip="203.0.113.9",
        detail={
            "otp_code": "123456",
            "password": "hunter22",
            "code": "999999",
            "status_code": 429,
            "nested": {"session-token": "abc"},
            "user": user_id,
        },
    )
    await session.commit()
    (event,) = await audit.list_events(session, workspace_id=ws)
    assert event.detail == {
        "otp_code": audit.REDACTED,
        "password": audit.REDACTED,
        "code": audit.REDACTED,
        "status_code": 429,
        "nested": {"session-token": audit.REDACTED},
        "user": str(user_id),
    }
    assert (event.ip, event.actor_label) == ("203.0.113.9", "t")


async def test_an_update_of_one_row_is_refused_too(session, make_workspace):
    ws = await make_workspace()
    await audit.record(session, audit.SIGNIN, actor_label="t", workspace_id=ws)
    await session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(
            text("UPDATE audit_events SET actor_label = 'someone else' WHERE workspace_id = :w"),
            {"w": ws},
        )
    await session.rollback()
    (event,) = await audit.list_events(session, workspace_id=ws)
    assert event.actor_label == "t"
