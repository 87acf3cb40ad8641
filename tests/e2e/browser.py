"""Browser helpers: launch Debian's Chromium, sign in the way a user does."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

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
