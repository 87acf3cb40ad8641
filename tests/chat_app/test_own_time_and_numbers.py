"""The user's own time and country in chat: set_time_zone (confirmed, refused for a
name nobody knows), "today" and analytics days counted in the user's zone, and phone
numbers typed in the user's national format (mobile change, add contact, a call by
its number) — refused when typed for another country."""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import UTC, datetime

from sqlalchemy import update

from accounts.models import Role, User
from accounts.otp.simulated import SimulatedVerify
from accounts.service import Actor
from chat_app.agent import build_agent
from chat_app.llm.offline import OfflineChatModel
from chat_app.turns import answer_message
from core.timezones import today_in
from telephony import contacts as contacts_service
from tests.accounts.helpers import make_member
from tests.chat_app.helpers import Asked
from tests.chat_app.scripted import scripted_agent
from tests.insights.helpers import make_contact, seed_call
from tests.telephony.helpers import fund

LONDON_LANDLINE = "020 7946 0018"


async def _ask(db, actor, tool: str, *, confirm=None, **args):
    return await answer_message(
        db,
        scripted_agent(tool, **args),
        actor,
        text=f"({tool})",
        message_id=str(uuid.uuid4()),
        confirm=confirm,
        otp=SimulatedVerify(db),
    )


async def _member(db, mobile: str | None = None) -> Actor:
    member = await make_member(db, Role.REP)
    await fund(db, member.actor.workspace_id, 100)
    if mobile is None:
        return member.actor
    async with db.session() as session:
        await session.execute(
            update(User)
            .where(User.id == member.actor.user_id)
            .values(mobile_e164=mobile, time_zone=None)
        )
        await session.commit()
        user = await session.get(User, member.actor.user_id)
        assert user is not None
        return Actor.of(user)


def _uk_mobile() -> str:
    return f"+447400{random.randint(100_000, 999_999)}"


async def _stored_zone(db, actor: Actor) -> str | None:
    async with db.session() as session:
        user = await session.get(User, actor.user_id, populate_existing=True)
        assert user is not None
        return user.time_zone


async def test_set_time_zone_asks_then_stores_it(db):
    rep = await _member(db)
    asked = Asked(True)
    result = await _ask(db, rep, "set_time_zone", time_zone="central time", confirm=asked)
    assert asked.questions and "America/Los_Angeles" in asked.questions[0]
    assert "America/Chicago" in asked.questions[0]
    assert "now America/Chicago" in result.body
    assert await _stored_zone(db, rep) == "America/Chicago"
    assert result.cost_mc == 0  # an account setting: free


async def test_an_unknown_time_zone_is_refused_and_nothing_changes(db):
    rep = await _member(db)
    before = await _stored_zone(db, rep)
    asked = Asked(True)
    result = await _ask(db, rep, "set_time_zone", time_zone="Mars Standard Time", confirm=asked)
    assert "not changed" in result.body and "I don't know the time zone" in result.body
    assert asked.questions == []  # nothing to confirm
    assert await _stored_zone(db, rep) == before == "America/Los_Angeles"


async def test_analytics_days_are_the_users_days(db):
    rep = await _member(db)  # Pacific
    contact = await make_contact(db, rep)
    # 07:30 UTC on Dec 1 is 11:30 PM on Nov 30 in California.
    await seed_call(
        db, contact, rep.user_id, at=datetime(2026, 12, 1, 7, 30, tzinfo=UTC), duration_s=10
    )
    result = await _ask(
        db, rep, "analytics", metrics=["calls"], dimension="day", period="2026-11-30..2026-12-01"
    )
    csv = next(a for a in result.artifacts if a.kind == "file")
    rows = dict(line.split(",", 1) for line in str(csv.content).splitlines()[1:])
    assert (rows["2026-11-30"], rows["2026-12-01"]) == ("1", "0")
    assert "UTC" not in result.body


async def test_the_offline_model_counts_today_in_the_users_zone(db):
    base = await _member(db)
    agent = build_agent(OfflineChatModel())
    days = {}
    # UTC+14 and UTC-11: 25 hours apart, so never on the same date.
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        actor = dataclasses.replace(base, time_zone=zone)
        result = await answer_message(
            db,
            agent,
            actor,
            text="how many calls since 2026-11-01",
            message_id=str(uuid.uuid4()),
        )
        (call,) = result.tool_calls
        days[zone] = call.args["period"]
    assert days == {
        zone: f"2026-11-01..{today_in(zone).isoformat()}"
        for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago")
    }


async def test_a_new_mobile_typed_at_home_is_read_in_the_users_country(db):
    uk = await _member(db, _uk_mobile())
    assert (uk.region, uk.time_zone) == ("GB", "Europe/London")
    typed = f"07400 {random.randint(100_000, 999_999)}"
    asked = Asked(False)
    await _ask(db, uk, "change_mobile", new_mobile=typed, confirm=asked)
    assert asked.questions and f"+447400{typed[-6:]}" in asked.questions[0]
    us = await _member(db)
    asked = Asked(False)
    refused = await _ask(db, us, "change_mobile", new_mobile=typed, confirm=asked)
    assert "not a valid number in United States" in refused.body and asked.questions == []


async def test_a_contact_typed_at_home_is_read_in_the_users_country(db):
    uk = await _member(db, _uk_mobile())
    asked = Asked(False)
    await _ask(db, uk, "add_contact", name="Nell Gwyn", phone=LONDON_LANDLINE, confirm=asked)
    assert asked.questions and "+44 20 7946 0018" in asked.questions[0]

    us = await _member(db)
    asked = Asked(False)
    refused = await _ask(
        db, us, "add_contact", name="Nell Gwyn", phone=LONDON_LANDLINE, confirm=asked
    )
    assert "Not added" in refused.body and "not a valid phone number" in refused.body
    assert asked.questions == []
    asked = Asked(False)
    await _ask(db, us, "add_contact", name="Sam Lee", phone="(415) 555-0188", confirm=asked)
    assert asked.questions and "+1 415-555-0188" in asked.questions[0]


async def test_a_call_found_by_a_number_typed_at_home(db):
    uk = await _member(db, _uk_mobile())
    async with db.session() as session:
        contact = await contacts_service.add_contact(
            session, uk, name="Nell Gwyn", phone="+442079460018"
        )
        await session.commit()
    call_id = await seed_call(
        db, contact, uk.user_id, at=datetime(2026, 12, 3, 22, 0, tzinfo=UTC), duration_s=20
    )
    card = await _ask(db, uk, "call_status", call=LONDON_LANDLINE)
    assert f"Call {str(call_id)[:8]} with Nell Gwyn" in card.body
    assert "Thu Dec 3 2026, 10:00 PM GMT" in card.body


async def test_transcripts_and_the_ledger_read_in_the_users_time(db):
    rep = await _member(db)  # Pacific
    contact = await make_contact(db, rep, name="Tia Time")
    await seed_call(
        db,
        contact,
        rep.user_id,
        at=datetime(2026, 12, 3, 22, 0, tzinfo=UTC),
        duration_s=9,
        turns=[("agent", "Hello Tia."), ("prospect", "Hi.")],
    )
    transcript = await _ask(db, rep, "get_transcript")
    assert "Tia Time" in transcript.body and "Thu Dec 3 2026, 2:00 PM PT:" in transcript.body
    balance = await _ask(db, rep, "check_credits")
    assert "Recent entries:" in balance.body and " PT · " in balance.body
    assert "UTC" not in transcript.body + balance.body
