"""A manager on the "Calls and integrations" page in a real browser: chooses that
booked callbacks become scheduled calls, is refused a webhook receiver on a private
address and one over plain http, adds an https one and sees its signing secret once,
then removes it. Screenshots: tests/e2e/artifacts/automation_*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.models import Role
from tests.accounts.helpers import make_member
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch, on_database, sign_in


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_a_manager_sets_callbacks_and_a_webhook_receiver_on_the_page(live_server, database):
    from playwright.sync_api import expect, sync_playwright

    manager = on_database(database, lambda db: make_member(db, Role.MANAGER))
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        sign_in(page, live_server, manager.email, manager.password, manager.mobile)
        page.goto(f"{live_server}/settings/automation")
        expect(page.locator("h1")).to_have_text("Calls and integrations")

        page.select_option("#callback_mode", "call")
        page.click("#save-calls")
        expect(page.locator("#callback_mode")).to_have_value("call")

        def add(url: str) -> None:
            page.fill("#url", url)
            page.fill("#events", "call.completed, contact.opted_out")
            page.click("#add")

        add("https://10.0.0.8/hooks")  # a private address: server-side request forgery
        expect(page.locator("#settings-error")).to_contain_text("private")
        add("http://hooks.example.com/klosesales")
        expect(page.locator("#settings-error")).to_contain_text("https://")
        page.screenshot(path=str(ARTIFACTS / "automation_refused.png"), full_page=True)
        add("https://93.184.216.34/klosesales")
        secret = page.locator("#webhook-secret")
        expect(secret).to_contain_text("whsec_", timeout=10_000)
        shown = secret.inner_text()
        expect(page.locator("#webhooks")).to_contain_text("https://93.184.216.34/klosesales")
        expect(page.locator("#webhooks")).to_contain_text("call.completed, contact.opted_out")
        page.screenshot(path=str(ARTIFACTS / "automation_added.png"), full_page=True)

        page.goto(f"{live_server}/settings/automation")  # shown once: not on a reload
        expect(page.locator("#webhooks")).to_contain_text("https://93.184.216.34/klosesales")
        assert page.locator("#webhook-secret").count() == 0
        assert shown not in page.content()
        page.locator("#webhooks button", has_text="Remove").click()
        expect(page.locator("#webhooks")).to_contain_text("No receivers yet.")
        browser.close()
