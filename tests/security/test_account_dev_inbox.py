"""Issue 15, item 7: no simulated second factor beside a live provider.

Live telephony without live Verify used to fall back to simulated codes and a public
`/account/dev-inbox` that hands them out. Now the dev inbox exists only when every
provider is simulated, and live telephony without live Verify does not start.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from accounts.deps import get_otp
from accounts.otp.factory import OtpConfigError, build_otp
from accounts.views import router
from core.settings import Settings
from core.web.deps import get_database, get_settings
from tests.conftest import serve_app

LIVE_TELEPHONY: dict[str, Any] = {
    "twilio_account_sid": "AC" + "1" * 32,
    "twilio_auth_token": "t" * 32,
    "twilio_from_number": "+14155550100",
}


def test_live_telephony_without_verify_is_refused(db):
    with pytest.raises(OtpConfigError) as refused:
        build_otp(Settings(_env_file=None, **LIVE_TELEPHONY), db)
    message = str(refused.value)
    assert "Live telephony needs live Twilio Verify" in message
    assert "TWILIO_VERIFY_SERVICE_SID" in message


def test_serve_refuses_to_start_with_live_telephony_and_no_verify(database, tmp_path):
    env = {k.upper(): v for k, v in LIVE_TELEPHONY.items()}
    with pytest.raises(RuntimeError) as failed, serve_app(database, tmp_path, env):
        pass
    assert "Live telephony needs live Twilio Verify" in str(failed.value)
    assert "Traceback" not in str(failed.value)  # one clear line, not a crash


async def _inbox_status(db, settings: Settings) -> int:
    app = FastAPI()
    app.include_router(router)
    otp = build_otp(settings, db)
    app.dependency_overrides.update(
        {get_settings: lambda: settings, get_database: lambda: db, get_otp: lambda: otp}
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return (await http.get("/account/dev-inbox")).status_code


@pytest.mark.parametrize(
    "live",
    [
        {"paddle_api_key": "pdl_live_key", "paddle_webhook_secret": "pdl_ntfset_secret"},
        {"openai_api_key": "sk-test"},
    ],
    ids=["live payments", "live chat model"],
)
async def test_the_dev_inbox_is_gone_when_any_provider_is_live(db, live):
    assert await _inbox_status(db, Settings(_env_file=None, **live)) == 404


async def test_the_dev_inbox_is_there_when_everything_is_simulated(db):
    assert await _inbox_status(db, Settings(_env_file=None)) == 200
