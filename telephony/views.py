"""Twilio's side of the app: the call webhooks and the ConversationRelay websocket.

Every webhook, and the relay websocket's handshake, checks X-Twilio-Signature (the
`twilio` SDK's `RequestValidator`) against the URL Twilio signed — rebuilt from
`PUBLIC_BASE_URL`, never the request's Host — before anything is read or stored: a
bad or missing signature is answered 403. A callback we cannot read is answered 400;
one for a call we do not know is stored for review and answered 200.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response
from sqlalchemy import select

from core.db import Database
from core.settings import Settings
from telephony import callbacks, twiml
from telephony.models import Call, CallStatus, Contact
from telephony.provider import Telephony
from telephony.twilio import signature
from telephony.voice.agent import OpenAIConfig, build_voice_agent
from telephony.voice.brief import CallBrief
from telephony.voice.relay import RelayConversation

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
EMPTY_TWIML = twiml.empty()
HANGUP_TWIML = twiml.hangup()


def _twiml(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/xml")


def _plain(message: str, status: int) -> Response:
    return Response(message + "\n", status_code=status, media_type="text/plain")


def openai_config(settings: Settings) -> OpenAIConfig | None:
    if not settings.openai_live or settings.openai_api_key is None:
        return None
    return OpenAIConfig(
        api_key=settings.openai_api_key.get_secret_value(),
        model=settings.openai_model,
        base_url=settings.openai_base_url,
    )


def build_router(
    db: Database,
    telephony: Telephony,
    settings: Settings,
    *,
    on_call_ended: Callable[[uuid.UUID], Awaitable[None]] | None = None,
) -> APIRouter:
    """`on_call_ended(call_id)` runs once a call is settled (post-call work is queued);
    its failure is logged and never fails the webhook."""
    router = APIRouter()

    async def signed_form(request: Request) -> dict[str, str] | Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _plain("Callback too large.", 413)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return _plain("Callback body is not UTF-8.", 400)
        url = telephony.signed_url(request.url.path, request.url.query)
        if not telephony.signature_ok(url, pairs, request.headers.get(signature.HEADER)):
            log.warning("refused a Twilio callback to %s: bad or missing signature", url)
            return _plain("Invalid X-Twilio-Signature.", 403)
        return dict(pairs)

    def endpoint(
        apply: Callable[[str | None, dict[str, str]], Awaitable[callbacks.Applied]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            form = await signed_form(request)
            if isinstance(form, Response):
                return form
            try:
                await apply(request.query_params.get("call"), form)
            except callbacks.MalformedCallback as exc:
                return _plain(f"Malformed callback: {exc}", 400)
            return _twiml(EMPTY_TWIML)

        return handle

    async def status(call_ref: str | None, form: dict[str, str]) -> callbacks.Applied:
        applied = await callbacks.apply_status(db, call_ref, callbacks.parse_status(form))
        if applied.result == "settled" and applied.call_id and on_call_ended is not None:
            try:
                await on_call_ended(applied.call_id)
            except Exception:
                log.exception("post-call work for %s could not be queued", applied.call_id)
        return applied

    async def amd(call_ref: str | None, form: dict[str, str]) -> callbacks.Applied:
        return await callbacks.apply_amd(db, call_ref, form, telephony.sessions.on_machine)

    async def recording(call_ref: str | None, form: dict[str, str]) -> callbacks.Applied:
        return await callbacks.apply_recording(db, call_ref, form)

    router.add_api_route("/webhooks/twilio/status", endpoint(status), methods=["POST"])
    router.add_api_route("/webhooks/twilio/amd", endpoint(amd), methods=["POST"])
    router.add_api_route("/webhooks/twilio/recording", endpoint(recording), methods=["POST"])

    @router.post("/webhooks/twilio/relay-ended")
    async def relay_ended(request: Request) -> Response:
        """`<Connect action>`: the relay session ended; the call is over."""
        form = await signed_form(request)
        if isinstance(form, Response):
            return form
        return _twiml(HANGUP_TWIML)

    @router.websocket("/voice/relay")
    async def relay(websocket: WebSocket) -> None:
        # ConversationRelay signs its handshake like a webhook: the wss:// URL, no body.
        url = telephony.signed_ws_url(websocket.url.path, websocket.url.query)
        if not telephony.signature_ok(url, None, websocket.headers.get(signature.HEADER)):
            log.warning("refused a relay websocket: bad or missing X-Twilio-Signature")
            await websocket.close(code=1008)
            return
        call_id = callbacks.parse_call_id(websocket.query_params.get("call"))
        token = websocket.query_params.get("token")
        if call_id is None or not telephony.relay_token_ok(call_id, token):
            log.warning("refused a relay websocket: bad call id or token")
            await websocket.close(code=1008)
            return
        async with db.session() as session:
            call = await session.get(Call, call_id)
            contact = (
                await session.scalar(select(Contact).where(Contact.id == call.contact_id))
                if call is not None
                else None
            )
        if call is None or contact is None or CallStatus(call.status).terminal:
            await websocket.close(code=1008)
            return
        brief = CallBrief.from_json(call.brief)
        tz_name = contact.time_zones[0] if contact.time_zones else "UTC"
        agent = build_voice_agent(
            brief,
            now=lambda: datetime.now(UTC),
            tz=ZoneInfo(tz_name),
            openai=openai_config(settings),
        )
        await websocket.accept()
        conversation = RelayConversation(
            websocket, db, call, contact, agent, wait_for_speech=telephony.live,
            paced_by_speech=not telephony.live,
        )  # fmt: skip
        telephony.sessions.register(call_id, conversation)
        try:
            await conversation.run()
        except Exception as exc:  # the socket closed (WebSocketDisconnect) or broke
            if type(exc).__name__ != "WebSocketDisconnect":
                log.exception("relay %s failed", call_id)
        finally:
            telephony.sessions.unregister(call_id, conversation)

    return router
