"""Twilio's side of the app: the call webhooks and the ConversationRelay websocket.

Every webhook, and the relay websocket's handshake, checks X-Twilio-Signature (the
`twilio` SDK's `RequestValidator`) against the URL Twilio signed — rebuilt from
`PUBLIC_BASE_URL`, never the request's Host — before anything is read or stored
(telephony/deps.py `TwilioForm`, `RelayCall`): a bad or missing signature is
answered 403. A callback we cannot read is answered 400; one for a call we do not
know is stored for review and answered 200.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketException, status
from fastapi.responses import Response
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from core.db import Database
from core.web.deps import DatabaseDep, SettingsDep, get_database
from core.web.routes import PageRoute, Refusal
from telephony import callbacks, handoff, twiml
from telephony.deps import (
    RelayCall,
    TelephonyDep,
    TwilioForm,
    VoiceModel,
    get_call_ended,
    get_telephony,
    plain,
    resolve,
    signed_form,
)
from telephony.deps import openai_config as openai_config  # re-exported (jobs, tools)
from telephony.models import Call, CallStatus, Contact
from telephony.provider import Telephony
from telephony.voice.agent import OpenAIConfig, build_voice_agent
from telephony.voice.brief import CallBrief
from telephony.voice.relay import RelayConversation

log = logging.getLogger(__name__)

EMPTY_TWIML = twiml.empty()
HANGUP_TWIML = twiml.hangup()

# A refusal from a dependency (bad signature, too large) is the response it carries.
router = APIRouter(route_class=PageRoute, include_in_schema=False)
CallRef = Annotated[str | None, Query(alias="call")]
STATUS_PATH = "/webhooks/twilio/status"


def _twiml(body: str, status_code: int = 200) -> Response:
    return Response(body, status_code=status_code, media_type="application/xml")


def _malformed(exc: callbacks.MalformedCallback) -> Response:
    return plain(f"Malformed callback: {exc}", 400)


@router.post(STATUS_PATH)
async def call_status(request: Request) -> Response:
    """A call's progress; its final status settles the call's credits once. Then
    `on_call_ended(call_id)` queues the post-call work; its failure is logged and never
    fails the webhook. The busiest webhook takes its services with `resolve` (the same
    ones, overrides included) rather than FastAPI's dependencies, which cost it more
    than the rest of the request; a refusal (`Refusal`) is answered by `PageRoute`."""
    form = await signed_form(request, await resolve(request, get_telephony))
    db = await resolve(request, get_database)
    try:
        applied = await callbacks.apply_status(
            db, request.query_params.get("call"), callbacks.parse_status(form)
        )
    except callbacks.MalformedCallback as exc:
        return _malformed(exc)
    if applied.result == "settled" and applied.call_id:
        on_call_ended = await resolve(request, get_call_ended)
        try:
            await on_call_ended(applied.call_id)
        except Exception:
            log.exception("post-call work for %s could not be queued", applied.call_id)
    return _twiml(EMPTY_TWIML)


class StatusLane:
    """Serves Twilio's status webhook (`POST STATUS_PATH`, the busiest request by far)
    straight to `call_status`, past the middlewares added before it and the routing:
    the OAuth session cookie, the chat guard (only /chat), FastAPI's routing (an
    included router is matched twice) and its endpoint machinery cost a callback more
    than its signature check and its database call together (bench/README.md). What
    the route would answer, this answers: the same handler, a `Refusal` as its
    response, and an exception through the app's own handler for it
    (`app.exception_handlers`: a database outage is a 503) — any other exception goes
    on up, a 500 as before. Every other request passes through untouched.

    Installed by chat_app/server.py inside the same-origin check and the security
    headers (they still apply); the route stays registered (in-process tests serve
    the bare router)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_status_callback(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await call_status(request)
        except Refusal as refusal:
            response = refusal.response
        except Exception as exc:
            response = await _handled(request, exc)
        await response(scope, receive, send)


def _is_status_callback(scope: Scope) -> bool:
    if scope["type"] != "http" or scope.get("method") != "POST":
        return False
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path == STATUS_PATH


async def _handled(request: Request, exc: Exception) -> Response:
    """The app's answer to `exc` (its handler for the nearest class), or `exc` raised."""
    handlers = getattr(request.app, "exception_handlers", {})
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            result = handler(request, exc)
            answer: Response = await result if inspect.isawaitable(result) else result
            return answer
    raise exc


@router.post("/webhooks/twilio/amd")
async def answering_machine(
    form: TwilioForm, db: DatabaseDep, telephony: TelephonyDep, call: CallRef = None
) -> Response:
    """Asynchronous answering-machine detection: stored, and told to the call's relay
    conversation on whichever process holds it."""
    try:
        await callbacks.apply_amd(db, call, form, telephony.sessions.on_machine)
    except callbacks.MalformedCallback as exc:
        return _malformed(exc)
    return _twiml(EMPTY_TWIML)


@router.post("/webhooks/twilio/recording")
async def recording(form: TwilioForm, db: DatabaseDep, call: CallRef = None) -> Response:
    """The call's recording is ready (its sid, duration and media URL are stored)."""
    try:
        await callbacks.apply_recording(db, call, form)
    except callbacks.MalformedCallback as exc:
        return _malformed(exc)
    return _twiml(EMPTY_TWIML)


@router.post("/webhooks/twilio/relay-ended")
async def relay_ended(
    form: TwilioForm,
    db: DatabaseDep,
    telephony: TelephonyDep,
    settings: SettingsDep,
    call: CallRef = None,
) -> Response:
    """`<Connect action>`: the relay session ended. With a hand-off asked for in
    `HandoffData`, `<Dial>` the rep (telephony/handoff.py); else the call is over."""
    return _twiml(
        await handoff.relay_ended(
            db,
            telephony,
            callbacks.parse_call_id(call),
            form,
            ring_timeout_s=settings.handoff_ring_timeout_s,
            callback_delay=timedelta(minutes=settings.handoff_callback_delay_min),
        )
    )


@router.post(handoff.WHISPER_PATH)
async def handoff_whisper(form: TwilioForm, db: DatabaseDep, call: CallRef = None) -> Response:
    """`<Number url>`: what the rep hears before the prospect is put through."""
    return _twiml(await handoff.whisper(db, callbacks.parse_call_id(call)))


@router.post(handoff.DIAL_ENDED_PATH)
async def handoff_ended(
    form: TwilioForm, db: DatabaseDep, settings: SettingsDep, call: CallRef = None
) -> Response:
    """`<Dial action>`: the rep's leg ended — bridged and done, or missed (fallback and
    a callback booked)."""
    return _twiml(
        await handoff.dial_ended(
            db,
            callbacks.parse_call_id(call),
            form,
            callback_delay=timedelta(minutes=settings.handoff_callback_delay_min),
        )
    )


async def _live_call(db: Database, call_id: uuid.UUID) -> tuple[Call, Contact]:
    """The call and its contact while the call is still going; else the socket is
    closed with 1008."""
    async with db.session() as session:
        call = await session.get(Call, call_id)
        contact = (
            await session.scalar(select(Contact).where(Contact.id == call.contact_id))
            if call is not None
            else None
        )
    if call is None or contact is None or CallStatus(call.status).terminal:
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION)
    return call, contact


def _conversation(
    websocket: WebSocket,
    db: Database,
    telephony: Telephony,
    found: tuple[Call, Contact],
    openai: OpenAIConfig | None,
) -> RelayConversation:
    """The voice agent for the call's brief, in the callee's first time zone, talking
    over `websocket` (paced by speech on the simulated carrier)."""
    call, contact = found
    tz_name = contact.time_zones[0] if contact.time_zones else "UTC"
    agent = build_voice_agent(
        CallBrief.from_json(call.brief),
        now=lambda: datetime.now(UTC),
        tz=ZoneInfo(tz_name),
        openai=openai,
    )
    return RelayConversation(
        websocket,
        db,
        call,
        contact,
        agent,
        wait_for_speech=telephony.live,
        paced_by_speech=not telephony.live,
    )


@router.websocket("/voice/relay")
async def relay(
    websocket: WebSocket,
    call_id: RelayCall,
    db: DatabaseDep,
    telephony: TelephonyDep,
    openai: VoiceModel,
) -> None:
    """ConversationRelay's socket: the voice agent talks with the callee until the
    call ends or the socket closes."""
    found = await _live_call(db, call_id)
    conversation = _conversation(websocket, db, telephony, found, openai)
    await websocket.accept()
    telephony.sessions.register(call_id, conversation)
    try:
        await conversation.run()
    except Exception as exc:  # the socket closed (WebSocketDisconnect) or broke
        if type(exc).__name__ != "WebSocketDisconnect":
            log.exception("relay %s failed", call_id)
    finally:
        telephony.sessions.unregister(call_id, conversation)
