"""A manager manages the team in a real browser: invite, see the link, change a role."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.models import Role
from core.db import Database
from tests.accounts.helpers import Member, make_member, unique_mobile
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch, on_database, sign_in


async def _team(db: Database) -> tuple[Member, Member]:
    manager = await make_member(db, Role.MANAGER)
    rep = await make_member(db, Role.REP, workspace_id=manager.actor.workspace_id)
    return manager, rep


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_manager_invites_and_promotes(live_server, database):
    from playwright.sync_api import expect, sync_playwright

    manager, rep = on_database(database, _team)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, live_server, manager.email, manager.password, manager.mobile)
        page.goto(f"{live_server}/account/team")
        expect(page.locator("#members")).to_contain_text(rep.email)
        page.fill("#email", "new.hire@example.test")
        page.fill("#mobile", unique_mobile())
        page.click("#invite")
        expect(page.locator("#invite-link")).to_contain_text("/account/invite/")
        page.select_option(f'select[aria-label="role of {rep.email}"]', "manager")
        expect(page.locator("#team-notice")).to_contain_text("is now a manager")
        page.screenshot(path=str(ARTIFACTS / "team.png"), full_page=True)
        page.goto(f"{live_server}/account/terms")
        expect(page.locator(".terms h1").first).to_have_text("Klosesales terms of service")
        page.screenshot(path=str(ARTIFACTS / "terms.png"), full_page=True)
        browser.close()
