"""Typed dependencies for Twilio's webhooks and the ConversationRelay websocket.

- `TelephonyDep`: the process's `Telephony` (carrier, signature checks, relay
  sessions), from the app's runtime (`app.state.runtime`; a test may override
  `get_telephony`).
- `CallEnded`: what runs once a call is settled (chat_app queues its post-call work);
  from the runtime's `call_ended`, or overridden by `get_call_ended`.
- `VoiceModel`: the OpenAI settings of the voice agent, or None (scripted agent).
- `TwilioForm`: the body of a webhook Twilio signed — read, size-checked, decoded and
  checked against X-Twilio-Signature for the URL Twilio signed (rebuilt from
  `PUBLIC_BASE_URL`, never the request's Host). Anything else is turned away before
  the handler runs: too large 413, not UTF-8 400, a bad or missing signature 403.
- `RelayCall`: the call id of a relay websocket whose handshake Twilio signed and
  whose `token` is the call's own; anything else is closed with 1008 before it is
  accepted (the client sees its handshake refused).
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar, cast
from urllib.parse import parse_qsl

from fastapi import Depends, Request, WebSocket, WebSocketException, status
from fastapi.responses import Response
from starlette.requests import HTTPConnection

from core.settings import Settings
from core.web.deps import SettingsDep, runtime_of
from core.web.routes import Refusal
from telephony import callbacks
from telephony.provider import Telephony
from telephony.twilio import signature
from telephony.voice.agent import OpenAIConfig

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024

OnCallEnded = Callable[[uuid.UUID], Awaitable[None]]
T = TypeVar("T")


def plain(message: str, status_code: int) -> Response:
    """A one-line text answer (what Twilio's webhook log shows)."""
    return Response(message + "\n", status_code=status_code, media_type="text/plain")


# The dependencies below are `async def` though they do not await: FastAPI runs a
# plain `def` dependency in a worker thread, a round trip through the thread pool on
# every webhook, for each such dependency.
async def get_telephony(conn: HTTPConnection) -> Telephony:
    telephony: Telephony = runtime_of(conn).telephony
    return telephony


TelephonyDep = Annotated[Telephony, Depends(get_telephony)]


async def get_call_ended(conn: HTTPConnection) -> OnCallEnded:
    ended: OnCallEnded = runtime_of(conn).call_ended
    return ended


CallEnded = Annotated[OnCallEnded, Depends(get_call_ended)]


def openai_config(settings: Settings) -> OpenAIConfig | None:
    """The OpenAI settings the voice agent and insights use; None when not live."""
    if not settings.openai_live or settings.openai_api_key is None:
        return None
    return OpenAIConfig(
        api_key=settings.openai_api_key.get_secret_value(),
        model=settings.openai_model,
        base_url=settings.openai_base_url,
    )


async def voice_model(settings: SettingsDep) -> OpenAIConfig | None:
    return openai_config(settings)


VoiceModel = Annotated[OpenAIConfig | None, Depends(voice_model)]


async def resolve(conn: HTTPConnection, dependency: Callable[[HTTPConnection], Awaitable[T]]) -> T:
    """What FastAPI would inject for `dependency`, a dependency of the connection alone:
    the app's override of it when there is one (`app.dependency_overrides`, called with
    no arguments, as the tests' are), else `dependency(conn)`. For the status webhook,
    Twilio's busiest: FastAPI's per-dependency machinery cost it more than the rest of
    the request did."""
    override = conn.app.dependency_overrides.get(dependency)
    if override is None:
        return await dependency(conn)
    result = override()
    return cast(T, await result if inspect.isawaitable(result) else result)


async def signed_form(request: Request, telephony: TelephonyDep) -> dict[str, str]:
    """The form of a request Twilio signed (see the module docstring), or `Refusal`."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise Refusal(plain("Callback too large.", 413))
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Refusal(plain("Callback body is not UTF-8.", 400)) from None
    url = telephony.signed_url(request.url.path, request.url.query)
    if not telephony.signature_ok(url, pairs, request.headers.get(signature.HEADER)):
        log.warning("refused a Twilio callback to %s: bad or missing signature", url)
        raise Refusal(plain("Invalid X-Twilio-Signature.", 403))
    return dict(pairs)


TwilioForm = Annotated[dict[str, str], Depends(signed_form)]


def relay_call(websocket: WebSocket, telephony: TelephonyDep) -> uuid.UUID:
    # ConversationRelay signs its handshake like a webhook: the wss:// URL, no body.
    url = telephony.signed_ws_url(websocket.url.path, websocket.url.query)
    if not telephony.signature_ok(url, None, websocket.headers.get(signature.HEADER)):
        log.warning("refused a relay websocket: bad or missing X-Twilio-Signature")
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION)
    call_id = callbacks.parse_call_id(websocket.query_params.get("call"))
    token = websocket.query_params.get("token")
    if call_id is None or not telephony.relay_token_ok(call_id, token):
        log.warning("refused a relay websocket: bad call id or token")
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION)
    return call_id


RelayCall = Annotated[uuid.UUID, Depends(relay_call)]
