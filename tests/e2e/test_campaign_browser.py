"""A manager runs a campaign from the chat in a real browser: one request, one
confirmation that shows who is called (count and sample), who is left out and why, the
schedule, the concurrency, the retry rule and the budget; then the server's dispatcher
dials, "how is the campaign going?" follows it to the end, and the results come as a
table, a chart and a CSV. Screenshots: tests/e2e/artifacts/campaign_*.png."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import psycopg
import pytest

from accounts.models import Role
from core.db import Database, libpq_url
from telephony import dnc
from tests.accounts.helpers import Member, make_member
from tests.e2e.browser import (
    ANSWER_FOOTER,
    ARTIFACTS,
    CHROMIUM,
    REPLIES,
    ask,
    launch,
    on_database,
    say,
    sign_in,
)
from tests.telephony.helpers import add_contact, fund, number_callable_now

# The issue's request, with a window open now in the callees' zones (numbers whose
# local time is inside 09:00–19:00 right now), so the dispatcher dials during the test.
REQUEST = (
    "Call my contacts at Acme who haven't been reached about the spring renewal, every day "
    "9am to 7pm their time, at most 3 at a time, try no-answers again tomorrow, spend at "
    "most 2,000 credits"
)
CALLED = ("Ann Able", "Ben Best", "Cy Coe")


async def _manager_with_contacts(db: Database) -> Member:
    """A funded manager with three consented contacts at Acme, one without consent and
    one on the workspace's do-not-call list."""
    manager = await make_member(db, Role.MANAGER)
    await fund(db, manager.actor.workspace_id, 5_000)
    for name in CALLED:
        await add_contact(db, manager.actor, name=name, phone=number_callable_now())
    await add_contact(
        db, manager.actor, name="Nora Noconsent", phone=number_callable_now(), consent=None
    )
    blocked = await add_contact(db, manager.actor, name="Dee Dnc", phone=number_callable_now())
    async with db.session() as session:
        await dnc.add_to_dnc(session, manager.actor, blocked.phone_e164, reason="asked")
        await session.commit()
    return manager


def _dialled(database: Database, workspace_id: uuid.UUID) -> tuple[int, int]:
    """(campaigns, calls) of the workspace; plain psycopg, as Playwright's sync API
    holds an event loop of its own while the browser is open."""
    with psycopg.connect(libpq_url(database.url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM campaigns WHERE workspace_id = %(w)s),"
            " (SELECT count(*) FROM calls WHERE workspace_id = %(w)s)",
            {"w": workspace_id},
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_a_manager_runs_a_campaign_from_the_chat(answering_server, database):
    from playwright.sync_api import expect, sync_playwright

    manager = on_database(database, _manager_with_contacts)
    workspace = manager.actor.workspace_id
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        sign_in(page, answering_server, manager.email, manager.password, manager.mobile)
        expect(page.locator(REPLIES).first).to_be_visible(timeout=30_000)

        say(page, REQUEST)
        question = page.locator(".message-content", has_text="Start this campaign now?")
        expect(question.last).to_be_visible(timeout=60_000)
        confirmation = question.last.inner_text()
        page.screenshot(path=str(ARTIFACTS / "campaign_confirm.png"), full_page=True)
        # Nothing exists before the manager's yes.
        assert _dialled(database, workspace) == (0, 0)
        page.get_by_role("button", name="Yes, continue").click()
        answers = page.locator(REPLIES).filter(has_text=ANSWER_FOOTER)
        expect(answers.filter(has_text="is running")).to_have_count(1, timeout=60_000)

        status = ask(page, "how is the campaign going?")
        for _ in range(40):  # the simulated callees answer within seconds
            if "3 of 3 contacts finished" in status:
                break
            page.wait_for_timeout(3_000)
            status = ask(page, "how is the campaign going?")
        page.screenshot(path=str(ARTIFACTS / "campaign_status.png"), full_page=True)
        results = ask(page, "show the campaign results")
        expect(page.locator(".js-plotly-plot").last).to_be_visible(timeout=30_000)
        expect(page.get_by_text(".csv").last).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "campaign_results.png"), full_page=True)
        browser.close()

    assert re.search(r"Will call 3 contacts", confirmation), confirmation
    assert any(name in confirmation for name in CALLED), confirmation  # a sample of who
    assert "Left out: 2" in confirmation, confirmation
    assert "no consent on record" in confirmation and "on do-not-call" in confirmation
    assert "every day 09:00–19:00 callee's local time" in confirmation, confirmation
    assert "At most 3 calls at a time" in confirmation, confirmation
    assert "no answer tried again after a day" in confirmation, confirmation
    assert "at most 2,000 credits" in confirmation, confirmation
    assert "3 of 3 contacts finished" in status, status
    assert "2 contacts were left out" in status, status
    assert "charged 0.5 credits" in results, results
    assert "Outcome" in results or "outcome" in results, results
    # One call to each contact the confirmation named, none to those it left out.
    assert _dialled(database, workspace) == (1, 3)
