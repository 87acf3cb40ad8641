"""A rep's day in a real browser: adds a contact, records consent, confirms a
(simulated) call with the button, watches its progress live, is shown the outcome and
summary when it ends, asks for the summary and searches past calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.models import Role
from core.db import Database
from tests.accounts.helpers import make_member
from tests.e2e.browser import ARTIFACTS, CHROMIUM, REPLIES, ask, launch, on_database, say, sign_in
from tests.telephony.helpers import fund, number_callable_now


async def _funded_rep(db: Database):
    rep = await make_member(db, Role.REP)
    # Enough that the call (up to the maximum call length) never empties the balance.
    await fund(db, rep.actor.workspace_id, 5_000)
    return rep


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_a_rep_calls_a_new_contact_then_reads_and_searches_the_call(answering_server, database):
    from playwright.sync_api import expect, sync_playwright

    rep = on_database(database, _funded_rep)
    phone = number_callable_now()
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        sign_in(page, answering_server, rep.email, rep.password, rep.mobile)
        replies = page.locator(REPLIES)
        expect(replies.first).to_be_visible(timeout=30_000)

        say(page, f"add a contact Dana Whitfield {phone} at Northwind")
        # Anything that writes waits for the rep's own click (tools.actions).
        expect(page.get_by_text("Add the contact Dana Whitfield (Northwind)")).to_be_visible(
            timeout=30_000
        )
        page.get_by_role("button", name="Yes, continue").click()
        expect(page.get_by_text("Added Dana Whitfield (Northwind)")).to_be_visible(timeout=30_000)
        say(page, "record express written consent for Dana Whitfield from the webinar form")
        # The exact wording is the evidence: the assistant asks for it.
        expect(page.get_by_text("What exact wording did they agree to?")).to_be_visible(
            timeout=30_000
        )
        say(page, "I agree that Northwind may call me, including with an AI voice.")
        expect(page.get_by_text("Wording they agreed to")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Yes, continue").click()
        expect(page.get_by_text("Recorded prior express written consent")).to_be_visible(
            timeout=30_000
        )
        say(page, "call Dana Whitfield about the webinar follow-up")
        expect(page.get_by_text("OK to call Dana Whitfield")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "call_confirm.png"), full_page=True)
        page.get_by_role("button", name="Yes, continue").click()
        progress = page.get_by_text("Call with Dana Whitfield")
        expect(progress).to_be_visible(timeout=30_000)
        # The message is updated in place as the callbacks arrive, until the call is settled.
        expect(progress).to_contain_text("credits", timeout=90_000)
        final = progress.first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "call_progress.png"), full_page=True)
        # The live progress sits below the answer that placed the call.
        texts = replies.all_inner_texts()
        answer_at = next(i for i, t in enumerate(texts) if t.startswith("Calling Dana Whitfield"))
        progress_at = next(
            i for i, t in enumerate(texts) if t.startswith("Call with Dana Whitfield")
        )
        assert answer_at < progress_at, texts
        # Unasked, once the insights are written: the outcome and the summary.
        notice = page.get_by_text("Summary (AI-generated, may be inaccurate)")
        expect(notice).to_be_visible(timeout=90_000)
        page.screenshot(path=str(ARTIFACTS / "call_ended_notice.png"), full_page=True)

        summary = ask(page, "summarize my last call")
        search = ask(page, "search my calls for webinar")
        for _ in range(6):  # the indexing job runs a few seconds after the call ends
            if "still being indexed" not in search:
                break
            page.wait_for_timeout(5_000)
            search = ask(page, "search my calls for webinar")
        page.screenshot(path=str(ARTIFACTS / "call_search.png"), full_page=True)
        browser.close()
    assert "ringing → connected → ended" in final, final
    assert "AI-generated" in summary and "Dana Whitfield" in summary, summary
    assert "Dana Whitfield" in search and "webinar" in search.lower(), search
