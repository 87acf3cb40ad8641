"""A rep reviews their last call in the browser: "show my last call" answers with one
card (contact, time in the rep's own zone, duration, cost, outcome, summary,
objections, next step, the recording player and a link to the transcript); "list my
calls" is a table whose id opens the call's page; "set my time zone to central time"
asks, then every time after it reads in Central time. Screenshots:
tests/e2e/artifacts/call_card*.png."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from accounts.models import Role
from core.db import Database
from core.timezones import format_local
from telephony import calls
from telephony.models import Call
from telephony.provider import SIMULATED_FROM, Telephony
from telephony.simulator import speech
from telephony.simulator.carrier import Plan, SimulatedCarrier
from tests.accounts.helpers import Member, make_member
from tests.conftest import TWILIO_TEST_TOKEN
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch, sign_in
from tests.telephony.helpers import add_contact, fund, number_callable_now


async def _rep_with_a_recorded_call(database: Database, base: str) -> tuple[Member, Call]:
    """A rep (Pacific) whose last call, to a number inside calling hours right now, was
    answered, recorded and summarised by the simulated carrier."""
    db = Database(url=database.url, embedded=False)
    carrier = SimulatedCarrier(auth_token=TWILIO_TEST_TOKEN, pace_s=0, seed=5)
    telephony = Telephony(
        provider=carrier,
        auth_token=TWILIO_TEST_TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=base,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )
    try:
        rep = await make_member(db, Role.REP)
        await fund(db, rep.actor.workspace_id, 1000)
        contact = await add_contact(
            db, rep.actor, name="Dana Whitfield", phone=number_callable_now()
        )
        carrier.plan_next(contact.phone_e164, Plan(persona="interested"))
        placed = await calls.place_call(db, rep.actor, contact.id, telephony, purpose="the renewal")
        assert placed.twilio_sid is not None
        await carrier.wait(placed.twilio_sid)
        for _ in range(200):
            async with db.session() as session:
                call = await session.get(Call, placed.id, populate_existing=True)
                assert call is not None
                if call.settled_at is not None and call.recording_url:
                    return rep, call
            await asyncio.sleep(0.1)
        raise AssertionError("the call's recording never arrived")
    finally:
        await telephony.aclose()
        await db.dispose()


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
@pytest.mark.skipif(not speech.available(), reason="needs espeak-ng (scripts/test.sh)")
def test_a_rep_reviews_the_last_call_as_a_card_in_their_own_time(answering_server, database):
    from playwright.sync_api import expect, sync_playwright

    rep, call = asyncio.run(_rep_with_a_recorded_call(database, answering_server))
    short = str(call.id)[:8]
    pacific = format_local(call.created_at, "America/Los_Angeles", year=True)
    central = format_local(call.created_at, "America/Chicago", weekday=False, label=False)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        sign_in(page, answering_server, rep.email, rep.password, rep.mobile)
        replies = page.locator('[data-step-type="assistant_message"] .message-content')
        expect(replies.first).to_be_visible(timeout=90_000)  # the welcome: the chat is ready

        page.fill("#chat-input", "show my last call")
        page.click("#chat-submit")
        card = replies.filter(has_text=f"Call {short} with Dana Whitfield")
        expect(card).to_have_count(1, timeout=60_000)
        for label in (
            "Contact:",
            "When:",
            "Duration:",
            "Cost:",
            "Outcome:",
            "Summary",
            "Objections:",
            "Recording:",
            "Transcript:",
        ):
            expect(card).to_contain_text(label)
        expect(card).to_contain_text(pacific)
        expect(card).not_to_contain_text("UTC")
        expect(card.locator(f'a[href$="/calls/{call.id}"]')).to_have_count(1)
        expect(page.locator(f'audio[src="/calls/{call.id}/recording"]')).to_have_count(1)
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "call_card.png"), full_page=True)

        page.fill("#chat-input", "list my calls")
        page.click("#chat-submit")
        table = replies.filter(has_text="times in PT")
        expect(table).to_have_count(1, timeout=60_000)
        link = table.locator(f'table a[href$="/calls/{call.id}"]')
        expect(link).to_have_text(short)
        page.screenshot(path=str(ARTIFACTS / "call_card_list.png"), full_page=True)

        page.fill("#chat-input", "set my time zone to central time")
        page.click("#chat-submit")
        page.get_by_role("button", name="Yes, continue").click()
        expect(replies.filter(has_text="now America/Chicago")).to_have_count(1, timeout=60_000)
        page.fill("#chat-input", "list my calls")
        page.click("#chat-submit")
        central_table = replies.filter(has_text="times in CT")
        expect(central_table).to_have_count(1, timeout=60_000)
        expect(central_table).to_contain_text(central)
        page.screenshot(path=str(ARTIFACTS / "call_card_central.png"), full_page=True)

        href = link.get_attribute("href")
        assert href is not None
        page.goto(href)
        expect(page.locator(f'audio#recording[src="/calls/{call.id}/recording"]')).to_have_count(1)
        on_page = format_local(call.created_at, "America/Chicago", year=True)
        expect(page.locator("#summary")).to_contain_text(on_page)  # the page reads in CT too

        page.goto(f"{answering_server}/account/settings")
        expect(page.locator("#time-zone")).to_contain_text("America/Chicago (CT")
        page.screenshot(path=str(ARTIFACTS / "call_card_account.png"), full_page=True)
        browser.close()
