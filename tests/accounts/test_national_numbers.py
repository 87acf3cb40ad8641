"""Mobile numbers as people type them: a national format is read in the country picked
on the sign-up form, or in the user's own country when they invite someone.
"(415) 555-0188" works for a US sign-up; "07400 123456" for a UK one; either typed for
the other country is refused beside the field and creates nothing."""

from __future__ import annotations

import random
import uuid

import pytest
from sqlalchemy import func, select, update

from accounts import teams
from accounts.models import Invitation, Role, SignupRequest, User
from accounts.phones import InvalidMobile, check_region, normalise_mobile
from accounts.service import Actor
from core.errors import KloseError
from tests.accounts.helpers import (
    PASSWORD,
    client,
    current_terms_version,
    field_error,
    latest_code,
    make_member,
)


def _us_national() -> tuple[str, str]:
    """A US mobile as typed at home, '(628) 555-0142'-like, and its E.164."""
    digits = f"628{random.randint(2_000_000, 9_999_999)}"
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"+1{digits}"


def _uk_national() -> tuple[str, str]:
    """A UK mobile as typed at home, '07400 123456'-like, and its E.164."""
    rest = f"{random.randint(100_000, 999_999)}"
    return f"07400 {rest}", f"+447400{rest}"


async def _form(db, **overrides: str) -> dict[str, str]:
    return {
        "name": "Nat Ional",
        "email": f"nat-{uuid.uuid4().hex[:8]}@example.test",
        "password": PASSWORD,
        "age": "yes",
        "terms": "yes",
        "terms_version": await current_terms_version(db),
        **overrides,
    }


def test_national_formats_read_in_the_users_country() -> None:
    assert normalise_mobile("(415) 555-0188", default_region="US") == "+14155550188"
    assert normalise_mobile("07400 123456", default_region="GB") == "+447400123456"
    assert normalise_mobile("+44 7400 123456", default_region="US") == "+447400123456"
    with pytest.raises(InvalidMobile, match="not a valid number in United Kingdom"):
        normalise_mobile("(415) 555-0188", default_region="GB")
    with pytest.raises(InvalidMobile, match="not a valid number in United States"):
        normalise_mobile("07400 123456", default_region="US")
    assert check_region("gb") == "GB" and check_region("") == "US"
    with pytest.raises(InvalidMobile):
        check_region("ZZ")


@pytest.mark.parametrize(("country", "make"), [("US", _us_national), ("GB", _uk_national)])
async def test_a_sign_up_reads_the_mobile_in_the_country_picked(web, db, country, make) -> None:
    typed, e164 = make()
    form = await _form(db, mobile=typed, country=country)
    async with client(web) as http:
        page = await http.get("/account/signup")
        assert '<select id="country" name="country"' in page.text
        assert '<option value="US" selected>United States (+1)</option>' in page.text
        sent = await http.post("/account/signup", data=form)
        assert sent.status_code == 303, field_error(sent.text, "mobile") or sent.text
        done = await http.post("/account/signup/verify", data={"code": await latest_code(db, e164)})
        assert done.status_code == 303
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.email == form["email"]))
    assert user is not None and user.mobile_e164 == e164
    expected = {"US": "America/Los_Angeles", "GB": "Europe/London"}[country]
    assert user.time_zone == expected
    assert Actor.of(user).region == country


@pytest.mark.parametrize(
    ("country", "typed", "field", "message"),
    [
        ("GB", "(415) 555-0188", "mobile", "not a valid number in United Kingdom"),
        ("US", "07400 123456", "mobile", "not a valid number in United States"),
        ("ZZ", "(415) 555-0188", "country", "Pick your country"),
    ],
)
async def test_a_number_typed_for_another_country_is_refused_and_creates_nothing(
    web, db, country, typed, field, message
) -> None:
    form = await _form(db, mobile=typed, country=country)
    async with client(web) as http:
        response = await http.post("/account/signup", data=form)
    assert response.status_code == 400
    assert message in (field_error(response.text, field) or ""), response.text
    assert f'<option value="{country}" selected>' in response.text or country == "ZZ"
    async with db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(SignupRequest)
            .where(SignupRequest.email == form["email"])
        )
    assert count == 0


async def test_the_form_preselects_the_browsers_country(web) -> None:
    async with client(web) as http:
        page = await http.get("/account/signup", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<option value="GB" selected>United Kingdom (+44)</option>' in page.text


async def test_an_invite_reads_the_number_in_the_managers_country(db) -> None:
    manager = await make_member(db, Role.MANAGER)
    async with db.session() as session:
        await session.execute(
            update(User).where(User.id == manager.actor.user_id).values(mobile_e164="+447400111222")
        )
        await session.commit()
        user = await session.get(User, manager.actor.user_id)
        assert user is not None
        uk_manager = Actor.of(user)
    typed, e164 = _uk_national()
    async with db.session() as session:
        made = await teams.invite(
            session, uk_manager, email=f"i-{uuid.uuid4().hex[:8]}@example.test", mobile=typed
        )
        await session.commit()
        assert made.invitation.mobile_e164 == e164
    async with db.session() as session:
        with pytest.raises(KloseError, match="not a valid number in United States"):
            await teams.invite(
                session,
                manager.actor,
                email=f"j-{uuid.uuid4().hex[:8]}@example.test",
                mobile=typed,
            )
        await session.rollback()
        count = await session.scalar(
            select(func.count())
            .select_from(Invitation)
            .where(Invitation.workspace_id == manager.actor.workspace_id)
        )
    assert count == 1  # only the UK manager's
