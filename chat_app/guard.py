"""Nothing under /chat is served without a session that passed the second factor, and
Chainlit sees that session's user and nobody else.

An ASGI middleware in front of the mounted Chainlit app: every HTTP request and every
websocket handshake under /chat needs a valid `ks_session` cookie (accounts/sessions.py:
signed, not revoked, user active, workspace active). Pages without one are redirected
to /account/login; other requests get 401 and websockets are closed before they open.
When terms changed and the user has not accepted the version in force, pages go to
/account/terms/accept and everything else gets 403. Chainlit's own static assets (the
app's JavaScript and CSS, which hold no data) are the only exception.

Identity. Chainlit 2.12 takes its user from its own JWT: the `access_token` cookie (or
its chunks `access_token_0`, `access_token_1`, …), else `Authorization: Bearer` on its
REST routes, and the same cookie in the socket.io handshake (the connect `auth`
payload carries no token in 2.12). That token lives 15 days and knows nothing of our
logout, so no client-supplied one ever reaches Chainlit: the guard removes every
Chainlit token cookie and the `Authorization` header, and hands Chainlit a token it
mints for this one request from the checked session (`chainlit_user`: the user's email
as identifier, the session id in the metadata; valid `TOKEN_LIFETIME_S`, never sent to
the browser). Another user's token, or one from a session that ended, is ignored: the
only identity Chainlit can see is the session's. The request reaches Chainlit with
exactly one `ks_session`, the checked one, so the app can re-check the session the
chat socket was opened with (chat_app/app.py, `_current_actor`).

Open sockets. Every frame a chat websocket receives re-checks its session; once the
session has ended (logout, password reset, removal, suspension) the socket is closed
with code 4401 and Chainlit sees a disconnect.

Chat-session routes. Chainlit's routes that name an open chat in their JSON body
(`SESSION_ROUTES`) answer 404 unless `sessionId` is an open chat of this user
(Chainlit itself answers an unknown one with a 500).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import jwt
from chainlit.auth.cookie import _auth_cookie_name
from chainlit.auth.jwt import get_jwt_secret
from chainlit.session import WebsocketSession
from chainlit.user import User as ChainlitUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accounts import audit, terms
from accounts.models import User
from accounts.sessions import SESSION_COOKIE, Signer, check_session, token_from_cookie_header
from core.db import Database

log = logging.getLogger(__name__)

PUBLIC_PREFIXES = ("/chat/assets/", "/chat/favicon", "/chat/logo", "/chat/public/")
CHAINLIT_TOKEN_COOKIE = _auth_cookie_name  # "access_token" unless CHAINLIT_AUTH_COOKIE_NAME
TOKEN_LIFETIME_S = 300
# Chainlit routes that look up an open chat by the JSON body's `sessionId`.
SESSION_ROUTES = frozenset(
    {
        ("POST", "/project/action"),
        ("PUT", "/project/element"),
        ("DELETE", "/project/element"),
        ("POST", "/mcp"),
        ("DELETE", "/mcp"),
    }
)
MAX_SESSION_ROUTE_BODY = 1 << 20
Headers = list[tuple[bytes, bytes]]


def chainlit_user(user: User, session_id: uuid.UUID) -> ChainlitUser:
    """The Chainlit user of one of our sessions."""
    return ChainlitUser(
        identifier=user.email,
        display_name=user.name,
        metadata={
            "user_id": str(user.id),
            "workspace_id": str(user.workspace_id),
            "role": user.role,
            "session_id": str(session_id),
        },
    )


def mint_token(user: User, session_id: uuid.UUID) -> str:
    """A Chainlit JWT for this request only (Chainlit's own shape, a short life)."""
    secret = get_jwt_secret()
    if not secret:
        raise RuntimeError("CHAINLIT_AUTH_SECRET is not set (chat_app/server.py sets it)")
    now = datetime.now(UTC)
    claims = {
        **chainlit_user(user, session_id).to_dict(),
        "iat": now,
        "exp": now + timedelta(seconds=TOKEN_LIFETIME_S),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _cookie_parts(headers: Headers) -> list[str]:
    """Every `name=value` of every Cookie header, in order."""
    parts: list[str] = []
    for key, value in headers:
        if key == b"cookie":
            parts.extend(p.strip() for p in value.decode("latin-1").split(";") if p.strip())
    return parts


def _session_token(headers: Headers) -> str | None:
    return token_from_cookie_header("; ".join(_cookie_parts(headers)))


def _is_replaced(part: str) -> bool:
    """Cookies the guard sets itself: any Chainlit token (or chunk) and `ks_session`."""
    name = part.split("=", 1)[0].strip()
    return name == SESSION_COOKIE or name.startswith(CHAINLIT_TOKEN_COOKIE)


def as_session_user(headers: Headers, session_token: str, chainlit_token: str) -> Headers:
    """The request's headers with no client-supplied identity for Chainlit: no
    `Authorization`, no Chainlit token cookie; one Cookie header carrying the checked
    `ks_session` and the minted Chainlit token."""
    kept = [p for p in _cookie_parts(headers) if not _is_replaced(p)]
    cookie = "; ".join(
        [*kept, f"{SESSION_COOKIE}={session_token}", f"{CHAINLIT_TOKEN_COOKIE}={chainlit_token}"]
    )
    rest = [(k, v) for k, v in headers if k not in (b"cookie", b"authorization")]
    return [*rest, (b"cookie", cookie.encode("latin-1"))]


async def _json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _open_chat_of(body: bytes, email: str) -> bool | None:
    """Does the JSON body's `sessionId` name an open chat of `email`'s? None when the
    body has no string `sessionId` (Chainlit answers that itself, with a 422)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    session_id = data.get("sessionId") if isinstance(data, dict) else None
    if not isinstance(session_id, str):
        return None
    chat = WebsocketSession.get_by_id(session_id)
    return chat is not None and chat.user is not None and chat.user.identifier == email


class ChatGuard:
    def __init__(self, app: ASGIApp, *, db: Database, signer: Signer, prefix: str = "/chat"):
        self.app = app
        self.db = db
        self.signer = signer
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        guarded = scope["type"] in ("http", "websocket") and (
            path == self.prefix or path.startswith(self.prefix + "/")
        )
        if not guarded or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers: Headers = list(scope.get("headers", []))
        token = _session_token(headers)
        async with self.db.session() as session:
            check = await check_session(session, self.signer, token)
            pending_terms = (
                await terms.needs_acceptance(session, check.user.id)
                if check.user is not None
                else None
            )
            if check.user is None and token:
                ip = scope.get("client", ("?",))[0] if scope.get("client") else None
                await audit.record(
                    session,
                    audit.SESSION_REJECTED,
                    actor_label="session cookie",
                    ip=ip,
                    target=path[:300],
                    detail={"reason": check.reason},
                )
                await session.commit()
        if check.user is not None and check.session_id is not None and pending_terms is None:
            assert token is not None  # a valid session came from a cookie
            scope = {
                **scope,
                "headers": as_session_user(
                    headers, token, mint_token(check.user, check.session_id)
                ),
            }
            scope.setdefault("state", {})["klose_session_id"] = str(check.session_id)
            if scope["type"] == "websocket":
                await self._serve_socket(scope, receive, send, token)
            else:
                await self._serve_http(scope, receive, send, check.user.email)
            return
        to = (
            "/account/terms/accept"
            if check.user is not None
            else "/account/login?next=" + quote(path if scope["type"] == "http" else self.prefix)
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401 if check.user is None else 4403})
            return
        wants_page = scope.get("method") == "GET" and any(
            k == b"accept" and b"text/html" in v for k, v in scope.get("headers", [])
        )
        if wants_page:
            status, body, headers = 303, b"", [(b"location", to.encode())]
        else:
            status = 401 if check.user is None else 403
            body = (
                b'{"detail": "sign in with your second factor first"}'
                if status == 401
                else (b'{"detail": "accept the current terms first"}')
            )
            headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _serve_http(self, scope: Scope, receive: Receive, send: Send, email: str) -> None:
        """Pass the request on; a chat-session route first has its `sessionId` checked."""
        route = (scope.get("method", ""), scope["path"][len(self.prefix) :].rstrip("/"))
        if route not in SESSION_ROUTES:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_SESSION_ROUTE_BODY:
                await _json(send, 413, "request body too large")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _open_chat_of(body, email) is False:
            await _json(send, 404, "this chat is no longer open: reload the page")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _serve_socket(self, scope: Scope, receive: Receive, send: Send, token: str) -> None:
        """Pass the websocket on; each frame it receives re-checks the session, and the
        socket closes (4401) once the session has ended."""
        closed = False

        async def checked_receive() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.receive" and not await self._still_signed_in(token):
                closed = True
                await send({"type": "websocket.close", "code": 4401})
                return {"type": "websocket.disconnect", "code": 4401}
            return message

        async def checked_send(message: Message) -> None:
            if not closed:
                await send(message)

        await self.app(scope, checked_receive, checked_send)

    async def _still_signed_in(self, token: str) -> bool:
        """Is the socket's session still good? A database that cannot be reached keeps
        the socket (revoking a session needs the database too; every turn checks again)."""
        try:
            async with self.db.session() as session:
                check = await check_session(session, self.signer, token, touch=False)
        except Exception:
            log.warning("could not re-check a chat socket's session", exc_info=True)
            return True
        return check.user is not None
