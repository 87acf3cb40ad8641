"""A call's recording, heard only through the app by the people who may see the call.

Twilio reports a finished recording by the recording-status callback
(`RecordingUrl`, stored on the call). Nobody is ever sent that URL: the app fetches the
media on demand — `RecordingUrl` + `.mp3` for live Twilio (`.wav` for the simulated
carrier, telephony/simulator/recordings.py) with the account's HTTP basic auth — and
streams it to a viewer who may see the call (`telephony.calls.get_call`: the rep whose
contact it is, a manager of the same workspace, an admin). Anyone else is told there
is no such call.

Fetched on demand, not copied: Twilio already stores the recording; a copy would be a
second store of personal audio to secure, retain and delete (a deletion at Twilio
would not reach it), and a rep plays a recording rarely. The cost is a round trip to
Twilio per play, and no playback while Twilio is unreachable (a clear 502).

Only URLs of the carrier itself are fetched (https://api.twilio.com, or this app's own
simulated store): a stored URL pointing elsewhere is refused, so the server cannot be
made to fetch an arbitrary address with the account's credentials.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.service import Actor
from core.errors import KloseError
from core.settings import Settings
from telephony.calls import get_call
from telephony.models import Call, CallCallback
from telephony.provider import Telephony
from telephony.simulator import speech

if TYPE_CHECKING:
    from aiohttp import ClientResponse, ClientSession

log = logging.getLogger(__name__)

TWILIO_API: Final = "https://api.twilio.com/"
FETCH_TIMEOUT_S: Final = 30.0
CHUNK_BYTES: Final = 64 * 1024


class RecordingUnavailable(KloseError):
    """The call has no recording to play (the message says why, in a rep's words)."""


@dataclass(frozen=True)
class MediaSource:
    """Where a recording's media is and how to ask for it."""

    url: str
    auth: tuple[str, str] = field(repr=False)
    content_type: str
    api_base: str | None = None  # TWILIO_API_BASE: tests point live Twilio at a double


def recording_path(call_id: uuid.UUID) -> str:
    """The app's own URL of a call's recording (what the chat and pages link to)."""
    return f"/calls/{call_id}/recording"


async def no_recording_reason(session: AsyncSession, call: Call, telephony: Telephony) -> str:
    """Why `call` has no recording, for a rep."""
    if call.status != "completed" or not call.answered_at:
        return "This call has no recording: it was never connected."
    reported = await session.scalars(
        select(CallCallback.payload).where(
            CallCallback.call_id == call.id, CallCallback.kind == "recording"
        )
    )
    statuses = {str(p.get("RecordingStatus", "")) for p in reported.all()}
    if statuses & {"absent", "failed"}:
        if not telephony.live:
            return (
                "This call has no recording: the simulated carrier speaks its recordings "
                "with espeak-ng, which was not installed where the call ran."
            )
        return "This call has no recording: the carrier reported none."
    if not telephony.live and not speech.available():
        return (
            "This call has no recording: the simulated carrier makes recordings with "
            "espeak-ng, which is not installed on this server."
        )
    if not statuses:
        return "This call has no recording yet: the carrier has not delivered it."
    return "This call has no recording."


async def playable_call(session: AsyncSession, actor: Actor, call_id: uuid.UUID) -> Call:
    """The call, if `actor` may see it (NotFound otherwise, never "forbidden")."""
    return await get_call(session, actor, call_id)


def has_recording(call: Call) -> bool:
    return bool(call.recording_url and call.recording_sid)


def media_source(call: Call, telephony: Telephony, settings: Settings) -> MediaSource:
    """Where `call`'s recording is fetched from, with which credentials; raises
    RecordingUnavailable when it has none or its URL is not the carrier's."""
    url = call.recording_url
    if not url or call.recording_sid is None:
        raise RecordingUnavailable("This call has no recording.")
    if telephony.live:
        sid, token = settings.twilio_account_sid, settings.twilio_auth_token
        if not url.startswith(TWILIO_API) or sid is None or token is None:
            log.warning("call %s: refused to fetch a recording URL that is not Twilio's", call.id)
            raise RecordingUnavailable("This call's recording cannot be fetched.")
        return MediaSource(
            url + ".mp3",
            (sid, token.get_secret_value()),
            "audio/mpeg",
            api_base=settings.twilio_api_base,
        )
    from telephony.simulator.recording_urls import ACCOUNT_SID as SIM_ACCOUNT_SID
    from telephony.simulator.recording_urls import PATH as SIM_PATH

    store = telephony.public_base_url.rstrip("/") + SIM_PATH + "/"
    if not url.startswith(store) or "/" in url[len(store) :]:
        log.warning("call %s: refused to fetch a recording URL outside the store", call.id)
        raise RecordingUnavailable("This call's recording cannot be fetched.")
    return MediaSource(url + ".wav", (SIM_ACCOUNT_SID, telephony.auth_token), "audio/wav")


@dataclass
class Media:
    """An open recording: its type, length (when known) and its bytes as they come."""

    content_type: str
    length: int | None
    _session: ClientSession
    _response: ClientResponse

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(CHUNK_BYTES):
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        self._response.release()
        await self._session.close()


async def open_media(source: MediaSource) -> Media:
    """Start fetching the recording (the SDK's HTTP stack, aiohttp, with the account's
    basic auth; Twilio's redirect to its media host is followed, and aiohttp drops the
    credentials when it leaves the host). Raises RecordingUnavailable when the carrier
    does not hand it over."""
    # Imported here: aiohttp and the Twilio SDK (~0.5 s) are needed only to play one.
    from aiohttp import BasicAuth, ClientError, ClientSession, ClientTimeout

    from core.twilio_http import TwilioHttp

    url = TwilioHttp(timeout_s=FETCH_TIMEOUT_S, base_url=source.api_base).rebase(source.url)
    session = ClientSession(timeout=ClientTimeout(total=FETCH_TIMEOUT_S))
    try:
        response = await session.get(url, auth=BasicAuth(*source.auth), max_redirects=3)
    except (ClientError, TimeoutError) as exc:
        await session.close()
        log.warning("recording fetch failed: %s", type(exc).__name__)
        raise RecordingUnavailable(
            "The recording could not be fetched from the carrier just now; try again."
        ) from exc
    if response.status != 200:
        response.release()
        await session.close()
        log.warning("recording fetch answered %d", response.status)
        raise RecordingUnavailable("The carrier no longer has this call's recording.")
    kind = response.headers.get("Content-Type", source.content_type).split(";")[0].strip()
    if not kind.startswith("audio/"):
        kind = source.content_type
    return Media(kind, response.content_length, session, response)
