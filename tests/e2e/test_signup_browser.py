"""A new user signs up in a real browser: form → code from the (simulated) text
message → chat; then a second sign-in asks for a new code before the chat opens."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.accounts.helpers import PASSWORD, unique_mobile
from tests.e2e.browser import ARTIFACTS, CHROMIUM, code_from_inbox, launch, sign_in


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_signup_code_chat_then_second_login_asks_for_a_code(live_server):
    from playwright.sync_api import expect, sync_playwright

    email = f"dana-{uuid.uuid4().hex[:8]}@acme.test"
    mobile = unique_mobile()
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{live_server}/")
        expect(page).to_have_url(f"{live_server}/account/login?next=/chat")
        page.click("text=Create an account")
        page.fill("#name", "Dana Founder")
        page.fill("#email", email)
        page.fill("#password", "password1234")
        page.fill("#mobile", mobile)
        page.click("#signup")
        # Weak password, missing checkboxes: clear errors, nothing sent.
        expect(page.locator("#password-error")).to_contain_text("too easy to guess")
        expect(page.locator("#age-error")).to_be_visible()
        expect(page.locator("#terms-error")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "signup_errors.png"), full_page=True)
        page.fill("#password", PASSWORD)
        page.check("#age")
        page.check("#terms")
        page.click("#signup")
        expect(page.locator("h1")).to_have_text("Confirm your mobile")
        page.screenshot(path=str(ARTIFACTS / "signup_code.png"), full_page=True)
        page.fill("#code", code_from_inbox(browser, live_server, mobile))
        page.click("#verify")
        replies = page.locator('[data-step-type="assistant_message"] .message-content')
        expect(replies.first).to_contain_text("Hi Dana Founder", timeout=30_000)
        # A new workspace has no credits: asking for billable work says how to buy, free.
        page.fill("#chat-input", "summarize my last call")
        page.click("#chat-submit")
        expect(replies.last).to_contain_text("out of credits", timeout=30_000)
        expect(replies.last).to_contain_text("no charge")
        page.goto(f"{live_server}/billing/buy")
        page.select_option("#package", "starter")
        page.fill("#country", "US")
        page.fill("#postal_code", "10001")
        page.click("#estimate")
        expect(page.locator("#estimate-total")).to_have_text("$10.92 USD")
        page.screenshot(path=str(ARTIFACTS / "signup_buy_estimate.png"), full_page=True)
        page.click("#checkout")
        page.click("#pay")
        expect(page.locator("#status")).to_have_text("Payment complete", timeout=30_000)
        page.goto(f"{live_server}/chat/")
        expect(replies.first).to_contain_text("Hi Dana Founder", timeout=30_000)
        page.fill("#chat-input", "my account")
        page.click("#chat-submit")
        expect(replies.last).to_contain_text(f"Email: {email}", timeout=30_000)
        # Account questions are free: the 500 bought are all there.
        expect(replies.last).to_contain_text("no charge · balance 500 credits")
        page.screenshot(path=str(ARTIFACTS / "signup_chat.png"), full_page=True)

        # A second browser (a new session) must pass the code again.
        other = browser.new_context().new_page()
        other.goto(f"{live_server}/chat/")
        expect(other).to_have_url(f"{live_server}/account/login?next=/chat/")
        other.fill("#email", email)
        other.fill("#password", PASSWORD)
        other.click("#login")
        expect(other.locator("h1")).to_have_text("Enter your sign-in code")
        other.goto(f"{live_server}/chat/")  # not yet: back to sign-in
        expect(other).to_have_url(f"{live_server}/account/login?next=/chat/")
        sign_in(other, live_server, email, PASSWORD, mobile)
        expect(
            other.locator('[data-step-type="assistant_message"] .message-content').first
        ).to_contain_text("Hi Dana Founder", timeout=30_000)
        other.screenshot(path=str(ARTIFACTS / "second_login_chat.png"), full_page=True)
        browser.close()
