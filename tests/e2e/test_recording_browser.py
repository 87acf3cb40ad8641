"""A rep asks in the chat to hear their last call: the answer carries an audio player
whose source is the app's own recording URL, and the browser plays it (the recording
the simulated carrier spoke with espeak-ng). The call's page plays it too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from accounts.models import Role
from core.db import Database
from telephony import calls
from telephony.models import Call
from telephony.provider import SIMULATED_FROM, Telephony
from telephony.simulator import speech
from telephony.simulator.carrier import Plan, SimulatedCarrier
from tests.accounts.helpers import Member, make_member
from tests.conftest import TWILIO_TEST_TOKEN
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch, sign_in
from tests.telephony.helpers import add_contact, fund, number_callable_now


async def _rep_with_a_recorded_call(database: Database, base: str) -> tuple[Member, Call]:
    """A rep whose last call (simulated, answered) has its recording. The number is
    inside calling hours right now and the gate judges by the real clock: whichever
    dispatcher dials the queued request (this one, or the server's after a stale claim),
    the call is allowed at any time of day the test runs."""
    db = Database(url=database.url, embedded=False)
    carrier = SimulatedCarrier(auth_token=TWILIO_TEST_TOKEN, pace_s=0, seed=5)
    telephony = Telephony(
        provider=carrier,
        auth_token=TWILIO_TEST_TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=base,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )
    try:
        rep = await make_member(db, Role.REP)
        await fund(db, rep.actor.workspace_id, 1000)
        contact = await add_contact(
            db, rep.actor, name="Dana Whitfield", phone=number_callable_now()
        )
        carrier.plan_next(contact.phone_e164, Plan(persona="interested"))
        placed = await calls.place_call(db, rep.actor, contact.id, telephony, purpose="the renewal")
        assert placed.twilio_sid is not None
        await carrier.wait(placed.twilio_sid)
        for _ in range(200):
            async with db.session() as session:
                call = await session.get(Call, placed.id, populate_existing=True)
                assert call is not None
                if call.settled_at is not None and call.recording_url:
                    return rep, call
            await asyncio.sleep(0.1)
        raise AssertionError("the call's recording never arrived")
    finally:
        await telephony.aclose()
        await db.dispose()


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
@pytest.mark.skipif(not speech.available(), reason="needs espeak-ng (scripts/test.sh)")
def test_the_recording_plays_in_the_chat_and_on_the_call_page(answering_server, database):
    from playwright.sync_api import expect, sync_playwright

    rep, call = asyncio.run(_rep_with_a_recorded_call(database, answering_server))
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
