"""A rep reviews their last call in the browser: "show my last call" answers with one
card (contact, time in the rep's own zone, duration, cost, outcome, summary,
objections, next step, the recording player and a link to the transcript); "list my
calls" is a table whose id opens the call's page; "set my time zone to central time"
asks, then every time after it reads in Central time. Screenshots:
tests/e2e/artifacts/call_card*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.timezones import format_local
from telephony.simulator import speech
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch, on_database, sign_in
from tests.e2e.seeds import rep_with_a_recorded_call


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
@pytest.mark.skipif(not speech.available(), reason="needs espeak-ng (scripts/test.sh)")
def test_a_rep_reviews_the_last_call_as_a_card_in_their_own_time(answering_server, database):
    from playwright.sync_api import expect, sync_playwright

    rep, call = on_database(database, lambda db: rep_with_a_recorded_call(db, answering_server))
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
