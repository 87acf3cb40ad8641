"""A conversation in a real browser that refers back and survives a reload: the rep asks
for the last call's summary, then "call them again about the renewal"; the page is
reloaded while the confirmation is on screen; the reopened conversation shows the
question again with its buttons, and typing "yes" places exactly one call, to the same
contact, charged once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Role
from core.db import Database
from telephony.models import Call, ConsentRecord
from tests.accounts.helpers import make_member
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch, on_database, say, sign_in
from tests.insights.helpers import seed_call
from tests.telephony.helpers import add_contact, fund, number_callable_now


async def _rep_with_a_call(db: Database) -> tuple[Any, Any]:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 5_000)
    dana = await add_contact(db, rep.actor, name="Dana Whitfield", phone=number_callable_now())
    await seed_call(
        db,
        dana,
        rep.actor.user_id,
        at=datetime.now(UTC) - timedelta(hours=3),
        duration_s=80,
        cost_mc=80_000,
        outcome="interested",
        turns=[
            ("agent", "Hi Dana, this is an AI assistant calling for Acme. Recorded."),
            ("prospect", "The renewal is coming up; call me about it."),
        ],
        insight={
            "outcome": "interested",
            "summary": "Dana wants to talk renewal.",
            "objections": [],
            "next_steps": ["call about the renewal"],
        },
    )
    return rep, dana


async def _count_calls(db: Database, contact_id: Any) -> int:
    async with db.session() as session:
        return len(list(await session.scalars(select(Call).where(Call.contact_id == contact_id))))


def _calls_to(database: Database, contact_id: Any) -> int:
    """The contact's calls in the database (from a thread of its own: Playwright's sync
    API runs an event loop in this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(on_database, database, lambda db: _count_calls(db, contact_id)).result()


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_a_reload_between_the_confirmation_and_yes(live_server: str, database: Database) -> None:
    from playwright.sync_api import expect, sync_playwright

    rep, dana = on_database(database, _rep_with_a_call)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        sign_in(page, live_server, rep.email, rep.password, rep.mobile)
        replies = page.locator('[data-step-type="assistant_message"] .message-content')
        expect(replies.first).to_be_visible(timeout=90_000)  # a cold chat start is slow here

        say(page, "summarize my last call")
        expect(replies.filter(has_text="Dana wants to talk renewal").first).to_be_visible(
            timeout=60_000
        )
        say(page, "call them again about the renewal")
        question = page.get_by_text("now about: the renewal")
        expect(question.first).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Yes, continue").first).to_be_visible()

        # The page is reloaded with the question unanswered, then the conversation is
        # reopened from the sidebar: the question is shown again, with its buttons.
        page.reload()
        thread = page.locator("a[href*='/thread/']").first
        expect(thread).to_be_visible(timeout=30_000)
        thread.click()
        waiting = replies.filter(has_text="Still waiting for your answer")
        expect(waiting.last).to_be_visible(timeout=30_000)
        expect(waiting.last).to_contain_text("now about: the renewal")
        expect(page.get_by_role("button", name="Yes, continue").last).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "followup_reloaded_question.png"), full_page=True)
        assert _calls_to(database, dana.id) == 1  # nothing dialled yet

        # Typed rather than clicked: "yes" answers the question asked before the reload.
        say(page, "yes")
        placed = replies.filter(has_text="Calling Dana Whitfield")
        expect(placed.first).to_be_visible(timeout=60_000)
        expect(placed.first).to_contain_text("charged 0.5 credits")
        page.screenshot(path=str(ARTIFACTS / "followup_yes_after_reload.png"), full_page=True)
        answer = placed.first.inner_text()
        browser.close()
    assert _calls_to(database, dana.id) == 2, answer  # the seeded call and one new one
    assert "simulated carrier" in answer


async def _rep_with_jordan(db: Database) -> tuple[Any, Any, int]:
    rep = await make_member(db, Role.REP)
    await fund(db, rep.actor.workspace_id, 5_000)
    jordan = await add_contact(db, rep.actor, name="Jordan Lee", phone=number_callable_now())
    return rep, jordan, await _consents(db, jordan.id)


async def _consents(db: Database, contact_id: Any) -> int:
    async with db.session() as session:
        found = await session.scalars(
            select(ConsentRecord).where(ConsentRecord.contact_id == contact_id)
        )
        return len(list(found))


async def _count_consents(db: Database, contact_id: Any) -> int:
    return await _consents(db, contact_id)


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_a_call_request_typed_at_the_consent_question_is_handled_as_a_request(
    live_server: str, database: Database
) -> None:
    from playwright.sync_api import expect, sync_playwright

    rep, jordan, consents_before = on_database(database, _rep_with_jordan)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        sign_in(page, live_server, rep.email, rep.password, rep.mobile)
        replies = page.locator('[data-step-type="assistant_message"] .message-content')
        expect(replies.first).to_be_visible(timeout=90_000)  # a cold chat start is slow here

        say(page, "record express written consent for Jordan Lee from the web form")
        expect(page.get_by_text("What exact wording did they agree to?")).to_be_visible(
            timeout=60_000
        )
        # Typed into the wording prompt: a new request, not the consent's wording.
        say(page, "call Jordan Lee about our new scheduling software")
        expect(replies.filter(has_text="Consent not recorded").first).to_be_visible(timeout=60_000)
        question = page.get_by_text("now about: our new scheduling software")
        expect(question.first).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "followup_consent_then_call.png"), full_page=True)
        page.get_by_role("button", name="Yes, continue").last.click()
        placed = replies.filter(has_text="Calling Jordan Lee")
        expect(placed.first).to_be_visible(timeout=60_000)
        browser.close()
    after = on_database(database, lambda db: _count_consents(db, jordan.id))
    assert after == consents_before  # the request was never stored as consent
    assert _calls_to(database, jordan.id) == 1
