"""A new member buys credits in a real browser: estimate → confirm → simulated
checkout → credits visible in chat (the simulated checkout posts a signed webhook to
the same `/webhooks/paddle` Paddle would call)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from accounts.models import Role
from billing import ledger
from core.db import Database
from tests.accounts.helpers import Member, make_member
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch, on_database, say, sign_in


async def _member_with_ten_credits(db: Database) -> Member:
    member = await make_member(db, Role.REP)
    actor = member.actor
    async with db.session() as s:
        await ledger.grant(
            s,
            actor.workspace_id,
            amount_mc=10_000,
            idempotency_key=f"e2e:{actor.user_id}",
            source="test",
        )
        await s.commit()
    return member


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_estimate_checkout_and_credits_in_chat(live_server, database):
    from playwright.sync_api import expect, sync_playwright

    member = on_database(database, _member_with_ten_credits)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, live_server, member.email, member.password, member.mobile)
        replies = page.locator('[data-step-type="assistant_message"] .message-content')
        expect(replies.first).to_be_visible(timeout=30_000)

        say(page, "estimate the starter pack for US 10001")
        expect(replies.last).to_contain_text("Estimated total: $10.92 USD", timeout=30_000)
        expect(replies.last).to_contain_text("may vary slightly")

        say(page, "buy the starter pack")
        yes = page.get_by_role("button", name="Yes, continue")
        expect(yes).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "buy_confirm.png"), full_page=True)
        yes.click()
        expect(replies.last).to_contain_text("/billing/checkout/txn_", timeout=30_000)
        link = re.search(r"https?://\S+/billing/checkout/txn_[a-z0-9]+", replies.last.inner_text())
        assert link is not None

        page.goto(link.group(0))
        expect(page.locator("body")).to_contain_text("Simulated checkout")
        expect(page.locator("#pay")).to_have_text("Pay $10.92")
        page.screenshot(path=str(ARTIFACTS / "checkout_simulated.png"), full_page=True)
        page.click("#pay")
        expect(page.locator("#status")).to_have_text("Payment complete", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "checkout_paid.png"), full_page=True)

        page.goto(f"{live_server}/chat")
        expect(replies.first).to_be_visible(timeout=30_000)
        say(page, "how many credits do I have?")
        # 10 + 500 bought: estimating, buying and the balance are free (DESIGN.md §1).
        expect(replies.last).to_contain_text("Balance: 510 credits", timeout=30_000)
        expect(replies.last).to_contain_text("no charge · balance 510 credits")
        say(page, "what did I buy?")
        expect(replies.last).to_contain_text("Starter · 500 credits · $10.92", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "buy_history.png"), full_page=True)
        browser.close()
