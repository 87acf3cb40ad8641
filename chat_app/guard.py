"""Nothing under /chat is served without a session that passed the second factor.

An ASGI middleware in front of the mounted Chainlit app: every HTTP request and every
websocket handshake under /chat needs a valid `ks_session` cookie (accounts/sessions.py:
signed, not revoked, user active, workspace active). Pages without one are redirected
to /account/login; other requests get 401 and websockets are closed before they open.
When terms changed and the user has not accepted the version in force, pages go to
/account/terms/accept and everything else gets 403. Chainlit's own static assets (the
app's JavaScript and CSS, which hold no data) are the only exception.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.types import ASGIApp, Receive, Scope, Send

from accounts import audit, terms
from accounts.sessions import Signer, check_session, token_from_cookie_header
from core.db import Database

log = logging.getLogger(__name__)

PUBLIC_PREFIXES = ("/chat/assets/", "/chat/favicon", "/chat/logo", "/chat/public/")


def _cookie(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            return token_from_cookie_header(value.decode("latin-1"))
    return None


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
        token = _cookie(scope)
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
                    session, audit.SESSION_REJECTED, actor_label="session cookie",
                    ip=ip, target=path[:300], detail={"reason": check.reason},
                )  # fmt: skip
                await session.commit()
        if check.user is not None and pending_terms is None:
            scope.setdefault("state", {})["klose_session_id"] = str(check.session_id)
            await self.app(scope, receive, send)
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
