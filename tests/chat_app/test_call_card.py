"""Call review in chat: one call as a card, lists of calls as tables whose ids open the
call, every time in the user's own zone and a callee's time labelled as theirs.

The members of `make_member` have a +1 415/628/650 mobile: their zone is Pacific. The
contacts of `make_contact` are in area code 212 (New York, Eastern)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from accounts.models import Role
from chat_app.turns import answer_message
from telephony.models import Call
from tests.accounts.helpers import make_member
from tests.chat_app.scripted import scripted_agent
from tests.insights.helpers import make_contact, seed_call
from tests.telephony.helpers import fund

PLACED = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)  # Thu Dec 3, 2:00 PM PT
CALLBACK = datetime(2026, 12, 10, 19, 0, tzinfo=UTC)  # Thu Dec 10, 2:00 PM ET = 11 AM PT


async def _ask(db, actor, tool: str, **args):
    return await answer_message(
        db, scripted_agent(tool, **args), actor, text=f"({tool})", message_id=str(uuid.uuid4())
    )


async def _rep(db):
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 100)
    return rep


async def test_show_my_last_call_is_one_card_in_the_users_own_time(db):
    rep = await _rep(db)
    assert rep.actor.time_zone == "America/Los_Angeles"
    contact = await make_contact(db, rep.actor, name="Dana Whitfield", company="Northwind")
    call_id = await seed_call(
        db,
        contact,
        rep.actor.user_id,
        at=PLACED,
        duration_s=49,
        cost_mc=49_000,
        outcome="callback_booked",
        callback_at=CALLBACK,
        turns=[
            ("agent", "Hi Dana, this is an AI assistant; this call is recorded."),
            ("prospect", "It sounds expensive. Call me back Thursday at 2."),
        ],
        insight={
            "outcome": "callback_booked",
            "summary": "Dana wants a callback.",
            "objections": ["price"],
            "next_steps": ["Call Dana back on Thursday"],
        },
    )
    async with db.session() as session:
        await session.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(recording_sid="RE" + "0" * 32, recording_url="https://x.test/r")
        )
        await session.commit()

    result = await _ask(db, rep.actor, "call_status")
    body = result.body
    for expected in (
        f"Call {str(call_id)[:8]} with Dana Whitfield",
        "Dana Whitfield, Northwind",
        "**When:** Thu Dec 3 2026, 2:00 PM PT",
        "**Duration:** 49 s",
        "**Cost:** 49 credits",
        "**Outcome:** callback booked",
        "Dana wants a callback.",
        "AI-generated",
        "**Objections:** price",
        "**Next step:** Call Dana back on Thursday",
        "**Callback:** Thu Dec 10, 2:00 PM ET (callee's time; Dec 10, 11:00 AM PT yours)",
        "**Recording:** the player is below",
        f"(http://127.0.0.1:8000/calls/{call_id})",
        "(2 turns)",
    ):
        assert expected in body, (expected, body)
    assert "UTC" not in body
    audio = [a for a in result.artifacts if a.kind == "audio"]
    assert [a.content for a in audio] == [f"/calls/{call_id}/recording"]
    assert result.cost_mc == 500  # reviewing a call is assistant work


async def test_a_list_of_calls_is_a_table_whose_ids_open_each_call(db):
    rep = await _rep(db)
    ava = await make_contact(db, rep.actor, name="Ava Stone")
    ben = await make_contact(db, rep.actor, name="Ben | Ortiz")  # a pipe in a cell
    first = await seed_call(db, ava, rep.actor.user_id, at=PLACED, duration_s=30)
    second = await seed_call(
        db, ben, rep.actor.user_id, at=PLACED + timedelta(hours=1), status="no-answer"
    )
    body = (await _ask(db, rep.actor, "list_calls")).body
    lines = body.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Call |"))
    rows = lines[header + 2 : header + 4]
    assert rows[0].startswith(f"| [{str(second)[:8]}](http://127.0.0.1:8000/calls/{second}) |")
    assert rows[1].startswith(f"| [{str(first)[:8]}](http://127.0.0.1:8000/calls/{first}) |")
    assert "Ben \\| Ortiz" in rows[0] and rows[0].count(" | ") == 6  # seven cells
    assert "Thu Dec 3, 3:00 PM" in rows[0] and "Thu Dec 3, 2:00 PM" in rows[1]
    assert "times in PT, America/Los_Angeles" in body and "UTC" not in body


async def test_listing_todays_calls_counts_today_in_the_users_zone(db):
    rep = await _rep(db)
    contact = await make_contact(db, rep.actor, name="Cleo Park")
    zone = ZoneInfo(rep.actor.time_zone)
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    today = await seed_call(db, contact, rep.actor.user_id, at=midnight + timedelta(minutes=1))
    yesterday = await seed_call(db, contact, rep.actor.user_id, at=midnight - timedelta(minutes=1))
    body = (await _ask(db, rep.actor, "list_calls", period="today")).body
    assert str(today)[:8] in body and str(yesterday)[:8] not in body
    body = (await _ask(db, rep.actor, "list_calls", period="yesterday")).body
    assert str(yesterday)[:8] in body and str(today)[:8] not in body
