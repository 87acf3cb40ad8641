"""The terms page states the service's actual terms (DESIGN.md §1, "The terms
themselves"; issue 18, item 10): migration 0030 publishes them as a new version, a
material change with at least 7 days' notice, and /account/terms shows them."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from accounts.models import TermsVersion
from core.db import Database
from tests.accounts.helpers import client
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


async def test_the_service_terms_are_published_with_notice(db: Database) -> None:
    async with db.session() as session:
        row = await session.scalar(select(TermsVersion).where(TermsVersion.version == "2026-12"))
    assert row is not None and row.material
    assert row.effective_at - row.published_at >= timedelta(days=7)
    assert row.effective_at.timestamp() % 86400 == 0  # a whole day, in UTC
    missing = [fact for fact in FACTS if fact not in row.body_md]
    assert missing == []


async def test_the_terms_page_shows_them(web: InProcess) -> None:
    async with client(web) as http:
        response = await http.get("/account/terms")
    assert response.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.text))
    for fact in FACTS:
        assert re.sub(r"\s+", " ", fact) in text, fact
    assert "Version 2026-12" in text
