"""The status webhook's short lane (telephony/views.py `StatusLane`) sits inside the
same-origin check and the security headers on a real `klosesales serve`: a
cross-site POST to it is still refused with 403 before it is read, and its answer
still carries the protective headers (chat_app/security.py)."""

from __future__ import annotations

import secrets

import httpx

from telephony.twilio import signature
from tests.conftest import TWILIO_TEST_TOKEN

STATUS = "/webhooks/twilio/status"


def _form() -> dict[str, str]:
    return {
        "AccountSid": "AC" + "5" * 32,
        "CallSid": "CA" + secrets.token_hex(16),
        "CallStatus": "ringing",
        "SequenceNumber": "1",
    }


async def test_the_status_lane_keeps_the_outer_checks(live_server):
    url = f"{live_server}{STATUS}"
    form = _form()
    signed = {signature.HEADER: signature.compute(url, form, TWILIO_TEST_TOKEN)}
    async with httpx.AsyncClient(timeout=30) as http:
        cross = await http.post(
            url, data=form, headers={**signed, "origin": "https://evil.example"}
        )
        ok = await http.post(url, data=form, headers=signed)
    assert cross.status_code == 403 and "PUBLIC_BASE_URL" in cross.text
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/xml"
    for answer in (cross, ok):
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
