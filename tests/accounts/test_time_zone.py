"""Each user's own time zone: read from what people type, defaulted from their mobile,
changed on the account page; and times shown in it (core/timezones.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from accounts import service as accounts
from accounts.models import Role, User
from accounts.service import Actor
from core.timezones import (
    UnknownTimeZone,
    format_local,
    region_for_phone,
    resolve_zone,
    zone_for_phone,
)
from tests.accounts.helpers import client, make_member, sign_in


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("central time", "America/Chicago"),
        ("Central Standard Time", "America/Chicago"),
        ("PT", "America/Los_Angeles"),
        ("pacific", "America/Los_Angeles"),
        ("ET", "America/New_York"),
        ("London", "Europe/London"),
        ("new york", "America/New_York"),
        ("San Francisco", "America/Los_Angeles"),
        ("america/chicago", "America/Chicago"),
        ("Asia/Kolkata", "Asia/Kolkata"),
        ("IST", "Asia/Kolkata"),
        ("UTC", "UTC"),
    ],
)
def test_zones_as_people_type_them(typed: str, zone: str) -> None:
    assert resolve_zone(typed) == zone


@pytest.mark.parametrize("typed", ["Mars Standard", "moon time", "", "UTC+5:30", "x" * 200])
def test_an_unknown_zone_is_refused_with_examples(typed: str) -> None:
    with pytest.raises(UnknownTimeZone) as refused:
        resolve_zone(typed)
    assert "America/Chicago" in str(refused.value)  # says what would work


def test_the_default_zone_and_country_come_from_the_mobile() -> None:
    assert zone_for_phone("+14155550188") == "America/Los_Angeles"
    assert zone_for_phone("+13125550100") == "America/Chicago"
    assert zone_for_phone("+442079460018") == "Europe/London"
    assert zone_for_phone("+919876543210") == "Asia/Kolkata"  # not the old Asia/Calcutta
    assert zone_for_phone("+18005550100") == "America/New_York"  # toll-free: many zones
    assert zone_for_phone("not a number") is None
    assert (region_for_phone("+442079460018"), region_for_phone("+14155550188")) == ("GB", "US")


def test_times_read_as_people_say_them() -> None:
    moment = datetime(2026, 12, 10, 22, 0, tzinfo=UTC)
    assert format_local(moment, "America/Los_Angeles") == "Thu Dec 10, 2:00 PM PT"
    assert format_local(moment, "America/New_York") == "Thu Dec 10, 5:00 PM ET"
    assert format_local(moment, "Europe/London", year=True) == "Thu Dec 10 2026, 10:00 PM GMT"
    assert format_local(moment, "Asia/Kolkata") == "Fri Dec 11, 3:30 AM IST"
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert format_local(summer, "America/Los_Angeles", weekday=False) == "Jul 1, 5:00 AM PT"


async def test_a_new_user_gets_their_mobiles_zone_and_country(db) -> None:
    mobile = f"+447400{random.randint(100_000, 999_999)}"  # a GB (not Guernsey) range
    async with db.session() as session:
        ws = await accounts.create_workspace(session, "Zone Co")
        user = await accounts.create_user(
            session,
            workspace=ws,
            email=f"z-{mobile[3:]}@example.test",
            name="Zed",
            password="correct horse",
            role=Role.REP,
            mobile_e164=mobile,
        )
        await session.commit()
    actor = Actor.of(user)
    assert (user.time_zone, actor.time_zone, actor.region) == (
        "Europe/London",
        "Europe/London",
        "GB",
    )


async def test_the_account_page_changes_the_zone_and_refuses_an_unknown_one(web, db) -> None:
    member = await make_member(db, Role.REP)
    async with client(web) as http:
        await sign_in(http, db, member)
        page = await http.get("/account/settings")
        assert page.status_code == 200
        assert "America/Los_Angeles (PT" in page.text  # from the +1 415/628/650 mobile
        saved = await http.post("/account/settings/time-zone", data={"time_zone": "central time"})
        assert saved.status_code == 200, saved.text
        assert "Your time zone is now America/Chicago" in saved.text
        refused = await http.post("/account/settings/time-zone", data={"time_zone": "Mars time"})
        assert refused.status_code == 400
        assert "I don&#39;t know the time zone" in refused.text
    async with db.session() as session:
        user = await session.get(User, member.actor.user_id)
        assert user is not None and user.time_zone == "America/Chicago"  # unchanged by it
        assert Actor.of(user).time_zone == "America/Chicago"


async def test_signed_out_the_account_page_asks_to_sign_in(web) -> None:
    async with client(web) as http:
        response = await http.get("/account/settings")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/account/login")


async def test_a_user_without_a_zone_reads_their_mobiles(db) -> None:
    member = await make_member(db, Role.REP)
    async with db.session() as session:
        await session.execute(
            update(User).where(User.id == member.actor.user_id).values(time_zone=None)
        )
        await session.commit()
        user = await session.get(User, member.actor.user_id)
        assert user is not None
        assert Actor.of(user).time_zone == "America/Los_Angeles"
