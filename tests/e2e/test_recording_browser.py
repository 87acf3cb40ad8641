"""A rep asks in the chat to hear their last call: the answer carries an audio player
whose source is the app's own recording URL, and the browser plays it (the recording
the simulated carrier spoke with espeak-ng). The call's page plays it too."""

from __future__ import annotations

from pathlib import Path

import pytest

from telephony.simulator import speech
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch, on_database, sign_in
from tests.e2e.seeds import rep_with_a_recorded_call


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
@pytest.mark.skipif(not speech.available(), reason="needs espeak-ng (scripts/test.sh)")
def test_the_recording_plays_in_the_chat_and_on_the_call_page(answering_server, database):
    from playwright.sync_api import expect, sync_playwright

    rep, call = on_database(database, lambda db: rep_with_a_recorded_call(db, answering_server))
    src = f"/calls/{call.id}/recording"
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        sign_in(page, answering_server, rep.email, rep.password, rep.mobile)
        replies = page.locator('[data-step-type="assistant_message"] .message-content')
        expect(replies.first).to_be_visible(timeout=30_000)
        page.fill("#chat-input", "play the recording of my last call")
        page.click("#chat-submit")
        expect(page.get_by_text(f"Recording of call {str(call.id)[:8]}").first).to_be_visible(
            timeout=60_000
        )
        player = page.locator(f'audio[src="{src}"]')
        expect(player).to_have_count(1, timeout=30_000)
        # The browser loads it with the rep's session and knows how long it is.
        page.wait_for_function(
            "el => el.readyState >= 1 && el.duration > 0", arg=player.element_handle()
        )
        seconds = player.evaluate("el => el.duration")
        player.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "recording_in_chat.png"), full_page=True)

        detail = page  # the same signed-in session
        detail.goto(f"{answering_server}/calls/{call.id}")
        detail_player = detail.locator(f'audio#recording[src="{src}"]')
        expect(detail_player).to_have_count(1)
        detail.wait_for_function(
            "el => el.readyState >= 1 && el.duration > 0", arg=detail_player.element_handle()
        )
        transcript = detail.locator("#transcript").inner_text()
        detail.screenshot(path=str(ARTIFACTS / "recording_call_page.png"), full_page=True)
        browser.close()
    assert abs(seconds - (call.recording_duration_s or 0)) <= 1.0, seconds
    assert "Casey Member asked me to call about the renewal." in transcript
