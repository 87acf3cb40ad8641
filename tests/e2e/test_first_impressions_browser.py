"""First impressions, in a real browser (issue 18, item 10): someone signs up alone;
the chat opens on starters that fit an empty workspace, the balance badge reads 0
credits, a starter only asks back (free); then they pay for credits in another tab
(the simulated Paddle checkout posts a signed webhook) and the open chat announces the
payment with the new balance while the badge turns to 500 credits."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.accounts.helpers import PASSWORD, unique_mobile
from tests.e2e.browser import ARTIFACTS, CHROMIUM, code_from_inbox, launch

WAIT_MS = 60_000  # a guard against a hang: every wait ends on what it waits for


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_a_solo_sign_up_sees_starters_and_balance_then_a_payment_is_announced(live_server):
    from playwright.sync_api import expect, sync_playwright

    email = f"solo-{uuid.uuid4().hex[:8]}@acme.test"
    mobile = unique_mobile()
    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{live_server}/account/signup")
        page.fill("#name", "Sol Owner")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.fill("#mobile", mobile)
        page.check("#age")
        page.check("#terms")
        page.click("#signup")
        expect(page.locator("h1")).to_have_text("Confirm your mobile")
        page.fill("#code", code_from_inbox(browser, live_server, mobile))
        page.click("#verify")

        replies = page.locator('[data-step-type="assistant_message"] .message-content')
        expect(replies.first).to_contain_text("Hi Sol Owner", timeout=WAIT_MS)
        expect(replies.first).to_contain_text("Your workspace is empty")
        for label in ("Add your first contact", "Import contacts from a CSV", "Buy credits"):
            expect(page.get_by_role("button", name=label)).to_be_visible()
        expect(page.get_by_role("button", name="Connect rate by rep")).to_have_count(0)
        badge = page.locator("#ks-balance")
        expect(badge).to_have_text("Balance: 0 credits", timeout=WAIT_MS)
        page.screenshot(path=str(ARTIFACTS / "first_impression.png"), full_page=True)

        page.get_by_role("button", name="Import contacts from a CSV").click()
        expect(replies.last).to_contain_text("Attach your CSV", timeout=WAIT_MS)
        expect(replies.last).to_contain_text("no charge")

        # They buy credits in a second tab; the chat stays open in the first.
        shop = context.new_page()
        shop.goto(f"{live_server}/billing/buy")
        shop.select_option("#package", "starter")
        shop.fill("#country", "US")
        shop.fill("#postal_code", "10001")
        shop.click("#estimate")
        expect(shop.locator("#estimate-total")).to_have_text("$10.92 USD")
        shop.click("#checkout")
        shop.click("#pay")
        expect(shop.locator("#status")).to_have_text("Payment complete", timeout=WAIT_MS)

        notice = replies.filter(has_text="Payment received")
        expect(notice).to_have_count(1, timeout=WAIT_MS)
        expect(notice).to_contain_text("Starter — 500 credits added (bought by you)")
        expect(notice).to_contain_text("Balance: 500 credits")
        expect(badge).to_have_text("Balance: 500 credits", timeout=WAIT_MS)
        page.bring_to_front()
        page.screenshot(path=str(ARTIFACTS / "payment_notice.png"), full_page=True)
        browser.close()
