"""The seeded rep's contacts in a real browser (issue 18): with none yet, "list my
contacts" says how to add some; a CSV attached with the paperclip is previewed (columns
mapped, rows to import, each rejected row with its reason), imported only after "Yes,
continue", and "list my contacts" then answers with a table of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat_app.seed import seed_demo
from tests.e2e.browser import ARTIFACTS, CHROMIUM, REPLIES, ask, launch, on_database, sign_in
from tests.telephony.helpers import number_in


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_the_seeded_rep_lists_contacts_and_imports_a_csv(live_server, database):
    from playwright.sync_api import expect, sync_playwright

    seeded = on_database(database, lambda db: seed_demo(db, reset_passwords=True))
    rep = next(u for u in seeded.users if u.role == "rep")
    csv = (
        "Full name,Phone,Company\n"
        f"Imogen Attwater,{number_in('415')},Northwind\n"
        f"Bastian Quell,{number_in('212')},Globex\n"
        "Nobody Dialable,12,Acme\n"
    ).encode()
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        sign_in(page, live_server, rep.email, rep.password or "", rep.mobile)
        expect(page.locator(REPLIES).first).to_be_visible(timeout=30_000)

        # The seeded rep starts with no contacts of their own: told how to add some, free.
        first = ask(page, "list my contacts")
        assert "attach a CSV to import" in first and "no charge" in first, first

        page.set_input_files(
            "#upload-button-input",
            files=[{"name": "leads.csv", "mimeType": "text/csv", "buffer": csv}],
        )
        expect(page.locator("#attachments")).to_contain_text("leads.csv", timeout=30_000)
        page.fill("#chat-input", "import these contacts")
        expect(page.locator("#chat-submit")).to_be_enabled(timeout=30_000)  # uploaded
        page.click("#chat-submit")
        preview = page.get_by_text("Import contacts from leads.csv?")
        expect(preview).to_be_visible(timeout=60_000)
        expect(page.get_by_text("2 rows will be imported")).to_be_visible()
        expect(
            page.get_by_text("Full name → name, Phone → phone, Company → company")
        ).to_be_visible()
        expect(page.get_by_text("line 4 (Nobody Dialable, 12)", exact=False)).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "contacts_import_preview.png"), full_page=True)
        page.get_by_role("button", name="Yes, continue").click()
        done = page.get_by_text("Imported 2 contacts; rejected 1 row")
        expect(done).to_be_visible(timeout=60_000)

        after = ask(page, "list my contacts")
        tables = page.locator('[data-step-type="assistant_message"] table')
        expect(tables.last).to_contain_text("Imogen Attwater")
        page.screenshot(path=str(ARTIFACTS / "contacts_imported.png"), full_page=True)
        browser.close()
    assert "Imogen Attwater" in after and "Bastian Quell" in after, after
    assert "Consent" in after and "Last call" in after and "none" in after, after
    assert "Nobody Dialable" not in after
