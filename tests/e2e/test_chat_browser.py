"""Real HTTP and a real browser against `klosesales serve`."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from chat_app.seed import seed_demo
from tests.e2e.browser import ARTIFACTS, CHROMIUM, REPLIES, ask, launch, on_database, sign_in


def test_healthz_reports_database_and_providers(live_server):
    body = httpx.get(f"{live_server}/healthz").json()
    assert body["database"]["ok"] is True
    assert body["providers"]["chat_model"]["mode"] == "simulated"
    assert set(body["providers"]) == {"telephony", "otp", "payments", "chat_model", "embeddings"}
    root = httpx.get(live_server + "/", follow_redirects=False)
    assert root.status_code == 307
    assert root.headers["location"].endswith("/chat")


def test_wrong_password_is_refused(live_server):
    r = httpx.post(
        f"{live_server}/account/login", data={"email": "nobody@x.test", "password": "wrong"}
    )
    assert r.status_code == 401
    assert "Wrong email or password." in r.text
    assert "ks_pending" not in r.cookies
    # Chainlit's own password login is not available: sign-in needs the second factor.
    chainlit = httpx.post(
        f"{live_server}/chat/login", data={"username": "nobody@x.test", "password": "wrong"}
    )
    assert chainlit.status_code == 401
    assert "access_token" not in chainlit.cookies


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_rep_sees_what_each_answer_cost(live_server, database):
    """Every answer says what it cost: asking the balance is free, and so is an answer
    that found nothing (this rep has no calls yet); the balance stays as it was. (An answer
    that did work, and its 0.5 credit, is the manager's journey.)"""
    from playwright.sync_api import expect, sync_playwright

    seeded = on_database(database, lambda db: seed_demo(db, reset_passwords=True))
    rep = next(u for u in seeded.users if u.role == "rep")
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        sign_in(page, live_server, rep.email, rep.password or "", rep.mobile)
        expect(page.locator(REPLIES).first).to_be_visible(timeout=30_000)

        first = ask(page, "how many credits do I have?")
        calls = ask(page, "list my calls")
        second = ask(page, "how many credits do I have?")
        page.screenshot(path=str(ARTIFACTS / "rep_balance.png"), full_page=True)
        browser.close()
    # The demo workspace is shared by the journeys: its balance is whatever they left.
    found = re.search(r"no charge · balance ([\d,.]+) credits", first)
    assert found, first
    balance = found.group(1)
    assert f"Balance: {balance} credits" in first, first
    assert "No calls found" in calls and f"no charge · balance {balance} credits" in calls, calls
    assert f"Balance: {balance} credits" in second, second
    assert f"no charge · balance {balance} credits" in second, second
