"""Where the simulated carrier keeps its recordings, as Twilio keeps a call's.

The carrier synthesises a call's recording (telephony/simulator/speech.py) in whichever
process placed the call; every process must be able to serve it, so it is uploaded to
the app and kept in PostgreSQL (`sim_recordings`, migration 0024):

- `POST /simulator/recordings/{sid}?bodySHA256=<hex>` — the carrier's upload: a JSON
  body (the call's sid, the WAV in base64, the timeline of turns), signed like any
  Twilio request with a body: `X-Twilio-Signature` over the URL (which carries the
  body's SHA-256), keyed with the auth token. Bad signature or hash: 403, nothing kept.
- `GET /simulator/recordings/{sid}.wav` — the recording, as Twilio serves
  `RecordingUrl` + `.wav` to an account with HTTP basic auth (Account SID, auth token).
  Anyone else: 401. The app fetches it through the same code as a live recording.

Only while the carrier is simulated: with live Twilio these routes answer 404.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import DateTime, Integer, LargeBinary, String, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.base import Base
from core.web.deps import DatabaseDep, runtime_of
from telephony.simulator.recording_urls import ACCOUNT_SID, PATH, body_hash
from telephony.simulator.recording_urls import recording_url as recording_url
from telephony.simulator.recording_urls import upload_url as upload_url
from telephony.twilio import signature

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES: Final = 48 * 1024 * 1024
SID_CHARS: Final = frozenset("0123456789abcdefABCDEF")


class SimRecording(Base):
    """A simulated call's recording (WAV) and when each turn starts and ends in it."""

    __tablename__ = "sim_recordings"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), nullable=False)
    content_type: Mapped[str] = mapped_column(String(40), nullable=False)
    audio: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    timeline: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class TimelineTurn(BaseModel):
    speaker: str = Field(max_length=20)
    text: str = Field(max_length=5000)
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)


class Upload(BaseModel):
    call_sid: str = Field(pattern=r"^CA[0-9a-f]{32}$")
    duration_s: float = Field(ge=0, le=24 * 3600)
    audio: str
    timeline: list[TimelineTurn] = Field(max_length=500)


def is_sid(sid: str) -> bool:
    return len(sid) == 34 and sid.startswith("RE") and set(sid[2:]) <= SID_CHARS


async def timeline_of(session: AsyncSession, sid: str) -> list[TimelineTurn] | None:
    """The turns of simulated recording `sid`, or None when there is no such recording."""
    raw = await session.scalar(select(SimRecording.timeline).where(SimRecording.sid == sid))
    return None if raw is None else [TimelineTurn.model_validate(t) for t in raw]


def _basic_auth_ok(header: str | None, token: str) -> bool:
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user, ACCOUNT_SID) & hmac.compare_digest(password, token)


router = APIRouter()


def _simulated(request: Request) -> Any | None:
    """The process's telephony when it is the simulated carrier (None: live)."""
    telephony = runtime_of(request).telephony
    return None if telephony.live else telephony


@router.post(PATH + "/{sid}")
async def upload(sid: str, request: Request, db: DatabaseDep) -> Response:
    telephony = _simulated(request)
    if telephony is None or not is_sid(sid):
        return Response(status_code=404)
    body = await request.body()
    if len(body) > MAX_UPLOAD_BYTES:
        return Response("Recording too large.\n", status_code=413, media_type="text/plain")
    url = telephony.signed_url(request.url.path, request.url.query)
    claimed = request.query_params.get("bodySHA256", "")
    if not (
        telephony.signature_ok(url, None, request.headers.get(signature.HEADER))
        and hmac.compare_digest(claimed, body_hash(body))
    ):
        log.warning("refused a simulated recording upload: bad signature or body hash")
        return Response("Invalid X-Twilio-Signature.\n", status_code=403, media_type="text/plain")
    try:
        form = Upload.model_validate_json(body)
        audio = base64.b64decode(form.audio, validate=True)
    except (ValidationError, binascii.Error):
        return Response("Malformed recording.\n", status_code=400, media_type="text/plain")
    async with db.session() as session:
        await session.execute(
            insert(SimRecording)
            .values(
                sid=sid,
                call_sid=form.call_sid,
                content_type="audio/wav",
                audio=audio,
                duration_ms=round(form.duration_s * 1000),
                timeline=[t.model_dump() for t in form.timeline],
            )
            .on_conflict_do_nothing(index_elements=[SimRecording.sid])
        )
        await session.commit()
    return Response(status_code=201)


@router.get(PATH + "/{name}")
async def media(name: str, request: Request, db: DatabaseDep) -> Response:
    """`RE….wav` to the account's basic auth, as Twilio serves a recording's media."""
    telephony = _simulated(request)
    sid, dot, ext = name.partition(".")
    if telephony is None or not is_sid(sid) or (dot and ext != "wav"):
        return Response(status_code=404)
    if not _basic_auth_ok(request.headers.get("authorization"), telephony.auth_token):
        return Response(
            "Authentication required.\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
        )
    async with db.session() as session:
        found = await session.get(SimRecording, sid)
    if found is None:
        return Response("The requested resource was not found.\n", status_code=404)
    return Response(found.audio, media_type=found.content_type)
