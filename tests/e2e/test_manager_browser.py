"""A manager in a real browser: the Manager profile's starters, a starter that asks for
the connect rate by rep this month and answers with a table, an inline chart and a CSV;
then the same chat reopened from the history sidebar, chart and all, and continued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accounts.models import Role
from core.db import Database
from tests.accounts.helpers import Member, make_member
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch, on_database, sign_in
from tests.insights.helpers import make_contact, seed_call
from tests.telephony.helpers import fund


async def _team(db: Database) -> Member:
    """A funded manager whose two reps made calls a minute ago: Ana 2 of 3 connected,
    Ben 1 of 2."""
    manager = await make_member(db, Role.MANAGER)
    await fund(db, manager.actor.workspace_id, 300)
    at = datetime.now(UTC) - timedelta(minutes=1)
    for answered in ((True, True, False), (True, False)):
        rep = await make_member(db, Role.REP, workspace_id=manager.actor.workspace_id)
        contact = await make_contact(db, rep.actor)
        for connected in answered:
            await seed_call(
                db,
                contact,
                rep.actor.user_id,
                at=at,
                status="completed" if connected else "no-answer",
                duration_s=30 if connected else None,
                answered_by="human" if connected else None,
                outcome="interested" if connected else "no_answer",
            )
    return manager


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_manager_asks_connect_rate_by_rep_sees_a_chart_and_resumes_the_chat(live_server, database):
    from playwright.sync_api import expect, sync_playwright

    manager = on_database(database, _team)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        sign_in(page, live_server, manager.email, manager.password, manager.mobile)
        starter = page.get_by_role("button", name="Connect rate by rep")
        expect(starter).to_be_visible(timeout=30_000)
        expect(page.get_by_role("button", name="Credits spent per week")).to_be_visible()
        expect(page.get_by_text("Simulated providers")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "manager_starters.png"), full_page=True)

        # A starter asks back (it never acts on its own); the manager then asks in full.
        starter.click()
        replies = page.locator('[data-step-type="assistant_message"] .message-content')
        expect(replies.last).to_contain_text("connect rate by rep this month", timeout=60_000)
        page.fill("#chat-input", "connect rate by rep this month")
        page.click("#chat-submit")
        answer = replies.filter(has_text="charged 0.5 credits · balance")
        expect(answer.first).to_be_visible(timeout=60_000)
        expect(answer.first).to_contain_text("66.7%")  # Ana: 2 of 3 connected
        expect(answer.first).to_contain_text("50.0%")  # Ben: 1 of 2
        chart = page.locator(".js-plotly-plot")
        expect(chart.first).to_be_visible(timeout=30_000)
        expect(page.get_by_text(".csv").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "manager_chart.png"), full_page=True)
        first_answer = answer.first.inner_text()

        # A new chat, then the first one reopened from the sidebar.
        page.goto(f"{live_server}/chat/")
        thread = page.locator("a[href*='/thread/']").first
        expect(thread).to_be_visible(timeout=30_000)
        thread.click()
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
        expect(answer.first).to_contain_text("66.7%")
        page.screenshot(path=str(ARTIFACTS / "manager_resumed.png"), full_page=True)
        # The reopened chat goes on: one more answer, billed like any other.
        before = replies.filter(has_text="· balance").count()
        page.fill("#chat-input", "how many credits do I have?")
        page.click("#chat-submit")
        expect(replies.filter(has_text="· balance")).to_have_count(before + 1, timeout=60_000)
        last = replies.filter(has_text="· balance").last.inner_text()
        browser.close()
    assert "connect" in first_answer.lower(), first_answer
    assert "no charge · balance 299.5" in last, last
