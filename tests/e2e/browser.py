"""Browser helpers: launch Debian's Chromium, sign in the way a user does, talk to the
chat, and seed the database from a synchronous browser test."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from core.db import Database

T = TypeVar("T")

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(p: Any) -> Any:
    ARTIFACTS.mkdir(exist_ok=True)
    return p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


def code_from_inbox(browser: Any, base: str, mobile: str) -> str:
    """Read the newest code for `mobile` off the simulated Verify's dev inbox (in a
    separate browser window, as a person would look at their phone)."""
    inbox = browser.new_page()
    inbox.goto(f"{base}/account/dev-inbox")
    code = inbox.locator(f'tr[data-to="{mobile}"] td.code').first.inner_text().strip()
    inbox.close()
    return code


def sign_in(page: Any, base: str, email: str, password: str, mobile: str) -> None:
    """Password, then the texted code; accepts the terms if the app asks for them."""
    from playwright.sync_api import expect

    page.goto(f"{base}/account/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#login")
    expect(page.locator("h1")).to_have_text("Enter your sign-in code")
    page.fill("#code", code_from_inbox(page.context.browser, base, mobile))
    page.click("#verify")
    page.wait_for_load_state()
    if "/account/terms/accept" in page.url:
        page.click("#accept")


# The assistant's messages: its answers, and the live notices between them.
REPLIES = '[data-step-type="assistant_message"] .message-content'
# An answer ends with what it cost and the balance ("— no charge · balance 500
# credits"); a call's live notice ("Call with Dana: ringing → …") does not.
ANSWER_FOOTER = "· balance"


def say(page: Any, text: str) -> None:
    """Type `text` into the chat and send it."""
    page.fill("#chat-input", text)
    page.click("#chat-submit")


def ask(page: Any, text: str, timeout_ms: int = 60_000) -> str:
    """Send `text`, wait for its one answer and return it. Answers are counted by their
    footer, so a live notice arriving meanwhile is never taken for the answer."""
    from playwright.sync_api import expect

    answers = page.locator(REPLIES).filter(has_text=ANSWER_FOOTER)
    before = answers.count()
    say(page, text)
    expect(answers).to_have_count(before + 1, timeout=timeout_ms)
    return str(answers.nth(before).inner_text())


def on_database(database: Database, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on a `Database` of its own in an event loop of its own, and dispose of
    it after: a browser test is synchronous, and the session's engine belongs to
    pytest's loop. Call it outside `sync_playwright()`, which holds a loop too."""

    async def run() -> T:
        db = Database(url=database.url, embedded=False)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())
