"""Recordings are personal audio: the app fetches them only from the carrier, with the
account's credentials kept to the carrier's host, and the simulated store takes
uploads only from the carrier (signed) and serves them only to the account."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from core.db import Database
from core.settings import Settings
from telephony import recordings
from telephony.models import Call
from telephony.provider import SIMULATED_FROM, Telephony
from telephony.simulator.recordings import SimRecording, upload_url
from telephony.twilio import signature
from tests.conftest import TWILIO_TEST_TOKEN
from tests.http_double import serve_in_thread
from tests.telephony.helpers import Recorder

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-not-a-real-secret-0000"
AUDIO = b"ID3" + bytes(range(256)) * 40  # what the media host serves


class LiveRecorder(Recorder):
    live = True


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@pytest.fixture(scope="module")
def media_host() -> Iterator[tuple[list[dict[str, str]], str]]:
    """Twilio's media host (another origin): records the headers it was sent."""
    seen: list[dict[str, str]] = []

    async def media(request: Request) -> Response:
        seen.append(dict(request.headers))
        return Response(AUDIO, media_type="audio/mpeg")

    with serve_in_thread(Starlette(routes=[Route("/media/{name}", media)])) as base:
        yield seen, base


@pytest.fixture(scope="module")
def twilio_api(
    media_host: tuple[list[dict[str, str]], str],
) -> Iterator[tuple[list[dict[str, str]], str]]:
    """api.twilio.com: a recording's media is a redirect to the media host, for the
    account's basic auth only."""
    seen: list[dict[str, str]] = []
    good = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()

    async def recording(request: Request) -> Response:
        seen.append(dict(request.headers))
        if request.headers.get("authorization") != good:
            return Response("unauthorized", status_code=401)
        name = request.path_params["name"]
        return RedirectResponse(f"{media_host[1]}/media/{name}", status_code=302)

    path = "/2010-04-01/Accounts/{account}/Recordings/{name}"
    with serve_in_thread(Starlette(routes=[Route(path, recording)])) as base:
        yield seen, base


def _telephony(provider: Recorder, base: str = "https://klose.example") -> Telephony:
    return Telephony(
        provider=provider,
        auth_token=TOKEN,
        from_e164=SIMULATED_FROM,
        public_base_url=base,
        max_call_seconds=600,
        ring_timeout_s=30,
        reconcile_after_s=120,
    )


def _live_settings(api_base: str) -> Settings:
    return Settings(
        twilio_account_sid=ACCOUNT,
        twilio_auth_token=TOKEN,
        twilio_from_number="+14155550100",
        twilio_api_base=api_base,
    )


def _call(url: str) -> Call:
    return Call(id=uuid.uuid4(), recording_sid=_sid("RE"), recording_url=url)


async def test_a_live_recording_is_fetched_with_credentials_kept_to_twilio(
    twilio_api: tuple[list[dict[str, str]], str], media_host: tuple[list[dict[str, str]], str]
) -> None:
    call = _call(f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{_sid('RE')}")
    source = recordings.media_source(
        call, _telephony(LiveRecorder()), _live_settings(twilio_api[1])
    )
    assert source.url == f"{call.recording_url}.mp3" and source.content_type == "audio/mpeg"
    media = await recordings.open_media(source)
    body = b"".join([chunk async for chunk in media.chunks()])
    assert body == AUDIO and media.content_type == "audio/mpeg"
    assert twilio_api[0][-1]["authorization"].startswith("Basic ")
    # The redirect left Twilio's host: the account's credentials did not follow it.
    assert "authorization" not in media_host[0][-1]


async def test_wrong_credentials_or_a_missing_recording_is_a_clear_refusal(
    twilio_api: tuple[list[dict[str, str]], str],
) -> None:
    call = _call(f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{_sid('RE')}")
    source = recordings.media_source(
        call, _telephony(LiveRecorder()), _live_settings(twilio_api[1])
    )
    wrong = recordings.MediaSource(
        source.url, (ACCOUNT, "wrong"), source.content_type, twilio_api[1]
    )
    with pytest.raises(recordings.RecordingUnavailable, match="no longer has"):
        await recordings.open_media(wrong)
    gone = recordings.MediaSource(
        source.url, source.auth, source.content_type, "http://127.0.0.1:9"
    )
    with pytest.raises(recordings.RecordingUnavailable, match="could not be fetched"):
        await recordings.open_media(gone)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/2010-04-01/Accounts/AC1/Recordings/RE1",
        "http://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        "https://api.twilio.com.evil.example/Recordings/RE1",
        "http://169.254.169.254/latest/meta-data",
    ],
)
def test_a_stored_url_that_is_not_twilios_is_never_fetched(url: str) -> None:
    with pytest.raises(recordings.RecordingUnavailable):
        recordings.media_source(
            _call(url), _telephony(LiveRecorder()), _live_settings("http://127.0.0.1:9")
        )


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/simulator/recordings/RE1",
        "https://klose.example/simulator/recordings/RE1/../../account/team",
        "https://klose.example/account/team",
    ],
)
def test_a_simulated_url_outside_the_store_is_never_fetched(url: str) -> None:
    with pytest.raises(recordings.RecordingUnavailable):
        recordings.media_source(_call(url), _telephony(Recorder()), Settings())


async def _stored(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(SimRecording)) or 0)


def _upload_body() -> bytes:
    return json.dumps(
        {"call_sid": _sid("CA"), "duration_s": 1.0, "audio": "UklGRg==", "timeline": []}
    ).encode()


async def test_a_forged_upload_to_the_simulated_store_is_refused(
    db: Database, live_server: str
) -> None:
    before = await _stored(db)
    body = _upload_body()
    async with httpx.AsyncClient(timeout=30) as http:
        url = upload_url(live_server, _sid("RE"), body)
        for headers, content in [
            ({}, body),  # unsigned
            ({signature.HEADER: signature.compute(url, None, "not-the-token")}, body),
            # signed, but another body than the one whose hash the URL carries
            ({signature.HEADER: signature.compute(url, None, TWILIO_TEST_TOKEN)}, body + b" "),
        ]:
            answer = await http.post(url, content=content, headers=headers)
            assert answer.status_code == 403, answer.text
        assert await _stored(db) == before
        # The carrier's own signature is accepted: the check is not a blanket refusal.
        signed = {signature.HEADER: signature.compute(url, None, TWILIO_TEST_TOKEN)}
        assert (await http.post(url, content=body, headers=signed)).status_code == 201
    assert await _stored(db) == before + 1
    assert hashlib.sha256(body).hexdigest() in url
