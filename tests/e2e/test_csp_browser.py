"""The Content-Security-Policy in a real browser: the Chainlit UI, a chat round trip, a
chart, our own pages and the simulated checkout all work under it with no violation,
while an off-site image (what unescaped Markdown would make) is blocked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Role
from core.db import Database
from tests.accounts.helpers import Member, make_member
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch, on_database, sign_in
from tests.insights.helpers import make_contact, seed_call
from tests.telephony.helpers import fund

# Runs in every page before its own scripts: keeps each CSP violation the page reports.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


async def _manager_with_a_call(db: Database) -> Member:
    member = await make_member(db, Role.MANAGER)
    await fund(db, member.actor.workspace_id, 1000)
    contact = await make_contact(db, member.actor, name="Ava Stone")
    await seed_call(
        db,
        contact,
        member.actor.user_id,
        at=datetime.now(UTC) - timedelta(hours=2),
        duration_s=75,
        cost_mc=75_000,
        outcome="interested",
    )
    return member


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_the_app_works_under_its_csp_and_off_site_images_are_blocked(live_server, database):
    from playwright.sync_api import expect, sync_playwright

    member = on_database(database, _manager_with_a_call)
    console: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.add_init_script(RECORD_VIOLATIONS)
        page.on(
            "console",
            lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
        )
        seen: list[str] = []

        def violations() -> list[str]:
            found = list(page.evaluate("window.__csp || []"))
            seen.extend(found)
            return found

        sign_in(page, live_server, member.email, member.password, member.mobile)
        replies = page.locator('[data-step-type="assistant_message"] .message-content')
        expect(replies.first).to_be_visible(timeout=30_000)
        chat_page = page.request.get(f"{live_server}/chat/")
        assert "frame-ancestors 'none'" in chat_page.headers["content-security-policy"]

        def ask(text: str, expected: str) -> None:
            page.fill("#chat-input", text)
            page.click("#chat-submit")
            expect(replies.filter(has_text=expected).first).to_be_visible(timeout=30_000)

        ask("how many credits do I have?", "Balance:")
        ask("how many calls per day last 30 days", "calls by day")
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "csp_chat.png"), full_page=True)
        assert violations() == []

        for path, text in [("/account/team", "Team"), ("/billing/buy", "Buy credits")]:
            page.goto(f"{live_server}{path}")
            expect(page.locator("body")).to_contain_text(text)
            assert violations() == [], path

        # The control: what unescaped Markdown would do is blocked, and it is seen.
        page.evaluate(
            "() => { const i = document.createElement('img');"
            " i.src = 'http://evil.invalid/pixel.png'; document.body.appendChild(i); }"
        )
        page.wait_for_function("window.__csp.length > 0", timeout=30_000)
        blocked: list[Any] = violations()
        browser.close()
    assert blocked == ["img-src http://evil.invalid/pixel.png"], blocked
    assert [c for c in console if "evil.invalid" not in c] == []
    assert [v for v in seen if "evil.invalid" not in v] == []
