"""The terms page states the service's actual terms (DESIGN.md §1, "The terms
themselves"; issue 18, item 10): migration 0030 publishes them as a new version, a
material change with at least 7 days' notice where anybody accepted earlier terms, in
force at once on a new installation — and /account/terms shows them."""

from __future__ import annotations

import importlib
import re
from datetime import timedelta

from sqlalchemy import select, text

from accounts.models import TermsVersion
from core.db import Database
from tests.accounts.helpers import client, make_member
from tests.web import InProcess

FACTS = (
    "Avanest Technologies Private Limited",
    "incorporated in India",
    "governed by the laws of India",
    "courts at Jalandhar",
    "in good faith to resolve it for 30 days",
    "greater of (a) what you paid us in the 30 days before the",
    "USD 50",
    "Twilio",
    "Paddle",
    "Google",
    "Meta",
    "Time4VPS",
    "European Union",
    "support@klosesales.com",
    "at least 18",
    "1 credit per second",
    "0.5 credit",
    "no cash value",
    "may be\ninaccurate",
)


MIGRATION = importlib.import_module("core.migrations.versions.0030_service_terms")


async def test_on_a_new_installation_the_service_terms_are_in_force_at_once(
    db: Database,
) -> None:
    # The test database is migrated before any user exists: nobody is owed notice, and
    # a first sign-up is not told about "new terms" it never had old ones for.
    async with db.session() as session:
        row = await session.scalar(select(TermsVersion).where(TermsVersion.version == "2026-12"))
    assert row is not None and not row.material
    assert row.effective_at - row.published_at < timedelta(seconds=5)
    missing = [fact for fact in FACTS if fact not in row.body_md]
    assert missing == []


async def test_where_terms_were_accepted_they_take_effect_after_seven_days_notice(
    db: Database,
) -> None:
    await make_member(db)  # accepts the terms in force: an installation in use
    async with db.session() as session:
        await session.execute(
            text(MIGRATION.PUBLISH), {"version": "notice-check", "terms": MIGRATION.TERMS}
        )
        row = await session.scalar(
            select(TermsVersion).where(TermsVersion.version == "notice-check")
        )
        assert row is not None and row.material
        assert row.effective_at - row.published_at >= timedelta(days=7)
        assert row.effective_at.timestamp() % 86400 == 0  # a whole day, in UTC
        await session.rollback()  # the shared database keeps its terms


async def test_the_terms_page_shows_them(web: InProcess) -> None:
    async with client(web) as http:
        response = await http.get("/account/terms")
    assert response.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.text))
    for fact in FACTS:
        assert re.sub(r"\s+", " ", fact) in text, fact
    assert "Version 2026-12" in text
