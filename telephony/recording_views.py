"""A call's recording and detail page, for the people who may see the call.

- `GET /calls/{call_id}/recording` — the recording's audio, streamed through the app
  (telephony/recordings.py) to the signed-in rep whose contact it is, a manager of the
  same workspace or an admin. Not signed in: 401. A call the viewer may not see (another
  rep's, another workspace's, or none): 404, the same answer as for no such call. A
  call without a recording: 404 with the reason. The carrier unreachable: 502.
  Never cached (`private, no-store`): it is personal audio.
- `GET /calls/{call_id}` — the call's detail page: what happened, the recording in an
  `<audio>` element pointing at the route above, and the transcript with each turn's
  time from the start of the call. Not signed in: to the sign-in page and back.

The simulated carrier's recording store (telephony/simulator/recordings.py) is served
from here too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from accounts.deps import OptionalActor, sign_in_first
from accounts.models import Role
from accounts.service import Actor
from billing.money import credits_label
from core.errors import NotFound
from core.timezones import format_local
from core.web.deps import DbSession, SettingsDep, runtime_of
from core.web.pages import Page, templates_for
from core.web.routes import PageRoute
from telephony import recordings
from telephony.calls import transcript
from telephony.models import CallStatus, Contact
from telephony.numbers import format_phone
from telephony.simulator.recordings import router as simulator_router

TEMPLATES = templates_for(__file__)
NO_STORE: Final = {"Cache-Control": "private, no-store"}
SPEAKERS: Final = {"agent": "AI agent", "prospect": "Prospect", "system": "·"}

router = APIRouter(route_class=PageRoute)  # a refused sign-in is a redirect, not a 500
router.include_router(simulator_router)


def _plain(message: str, status: int) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain", headers=NO_STORE)


def _call_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


@router.get("/calls/{call_id}/recording")
async def call_recording(
    call_id: str, request: Request, actor: OptionalActor, session: DbSession, settings: SettingsDep
) -> Response:
    if actor is None:
        return _plain("Sign in first.", 401)
    wanted = _call_id(call_id)
    if wanted is None:
        return _plain("No such call.", 404)
    telephony = runtime_of(request).telephony
    try:
        call = await recordings.playable_call(session, actor, wanted)
        if not recordings.has_recording(call):
            return _plain(await recordings.no_recording_reason(session, call, telephony), 404)
        source = recordings.media_source(call, telephony, settings)
    except NotFound:
        return _plain("No such call.", 404)
    except recordings.RecordingUnavailable as exc:
        return _plain(str(exc), 404)
    await session.close()  # the database is not needed while the audio streams
    try:
        media = await recordings.open_media(source)
    except recordings.RecordingUnavailable as exc:
        return _plain(str(exc), 502)
    headers = dict(NO_STORE)
    if media.length is not None:
        headers["Content-Length"] = str(media.length)
    return StreamingResponse(
        media.chunks(),
        media_type=media.content_type,
        headers=headers,
        background=BackgroundTask(media.aclose),
    )


@dataclass(frozen=True)
class TurnLine:
    at: str
    speaker: str
    text: str
    interrupted: bool


def _offset(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 60:02d}:{whole % 60:02d}"


@router.get("/calls/{call_id}")
async def call_page(
    call_id: str,
    request: Request,
    actor: Annotated[Actor, Depends(sign_in_first())],
    session: DbSession,
) -> Response:
    page = Page(TEMPLATES, request)
    wanted = _call_id(call_id)
    try:
        if wanted is None:
            raise NotFound("No such call.")
        call = await recordings.playable_call(session, actor, wanted)
    except NotFound:
        return page.message(404, "No such call", "There is no call here that you can see.")
    contact = await session.get(Contact, call.contact_id)
    turns = await transcript(session, call)
    status = CallStatus(call.status)
    parts = [
        f"{contact.name if contact else 'Contact'} ({format_phone(call.phone_e164)})",
        format_local(call.created_at, actor.time_zone, year=True),  # the viewer's own time
        status.label,
    ]
    if call.duration_s is not None and status is CallStatus.COMPLETED:
        parts.append(f"{call.duration_s} s")
    if call.cost_mc is not None:
        parts.append(f"cost {credits_label(call.cost_mc)}")
    if call.outcome:
        parts.append(f"outcome: {call.outcome.replace('_', ' ')}")
    start = turns[0].started_at if turns else None
    lines = [
        TurnLine(
            _offset((t.started_at - start).total_seconds()) if start else "00:00",
            SPEAKERS.get(t.speaker, t.speaker),
            t.text,
            t.interrupted,
        )
        for t in turns
    ]
    telephony = runtime_of(request).telephony
    playable = recordings.has_recording(call)
    why = None if playable else await recordings.no_recording_reason(session, call, telephony)
    response = page(
        "call.html",
        short_id=str(call.id)[:8],
        summary=" · ".join(parts),
        recording_url=recordings.recording_path(call.id) if playable else None,
        no_recording=why,
        manager=actor.role in (Role.MANAGER, Role.ADMIN),
        turns=lines,
    )
    response.headers.update(NO_STORE)
    return response
