"""Talking to the mounted Chainlit app the way its frontend does, with whatever
credentials a test chooses: raw cookies and headers for its REST routes, and a
socket.io client for its socket (connect, `connection_successful`, messages)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import socketio
from sqlalchemy import text

from core.db import Database
from tests.accounts.helpers import Member, client, sign_in
from tests.telephony.helpers import fund

SOCKET_PATH = "/chat/ws/socket.io"
WAIT_S = 60  # only a guard against a hang: every wait below ends on an event


@dataclass(frozen=True)
class SignedIn:
    """A member with a live `ks_session` and the Chainlit JWT that session was issued."""

    member: Member
    name: str
    session_cookie: str
    chainlit_jwt: str


async def sign_in_to_chat(base: str, db: Database, member: Member, name: str) -> SignedIn:
    """Sign in (password + code), name the user, and get Chainlit's token the way its
    frontend does (POST /chat/auth/header). The workspace gets credits, so no
    low-balance notice interleaves with the answers a test waits for."""
    await fund(db, member.actor.workspace_id, 500)
    async with db.session() as session:
        await session.execute(
            text("UPDATE users SET name = :n WHERE id = :u"), {"n": name, "u": member.actor.user_id}
        )
        await session.commit()
    async with client(base) as http:
        await sign_in(http, db, member)
        answer = await http.post("/chat/auth/header", headers={"origin": base})
        assert answer.status_code == 200, answer.text
        return SignedIn(member, name, http.cookies["ks_session"], http.cookies["access_token"])


def raw_client(base: str, cookies: dict[str, str], headers: dict[str, str] | None = None):
    """A client that sends exactly these cookies (no jar), as an attacker would."""
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return httpx.AsyncClient(
        base_url=base,
        follow_redirects=False,
        timeout=30,
        headers={"cookie": cookie, "origin": base, **(headers or {})},
    )


@dataclass
class ChatSocket:
    """A connected Chainlit socket; `messages` receives every `new_message` step."""

    client: socketio.AsyncClient
    messages: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    events: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    chat_start_runs: set[str] = field(default_factory=set)

    async def next_message(self, starts_with: str = "") -> dict[str, Any]:
        """The next message whose text starts with `starts_with`."""
        while True:
            step = await asyncio.wait_for(self.messages.get(), WAIT_S)
            if str(step.get("output", "")).startswith(starts_with):
                return step

    def on_new_message(self, step: dict[str, Any]) -> None:
        if step.get("type") == "run" and step.get("name") == "on_chat_start":
            self.chat_start_runs.add(str(step.get("id")))
        self.messages.put_nowait(step)

    async def next_answer(self) -> dict[str, Any]:
        """The next answer to the user: an assistant message, skipping tool steps and
        what the chat start says on its own (the greeting, balance and call notices)."""
        while True:
            step = await asyncio.wait_for(self.messages.get(), WAIT_S)
            if (
                step.get("type") == "assistant_message"
                and step.get("parentId") not in self.chat_start_runs
            ):
                return step

    async def answer_or_disconnect(self) -> dict[str, Any] | None:
        """The next assistant message, or None if the server closes the socket first."""
        answer = asyncio.ensure_future(self.next_answer())
        closed = asyncio.ensure_future(self.disconnected.wait())
        done, pending = await asyncio.wait(
            {answer, closed}, timeout=WAIT_S, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        assert done, "neither an answer nor a disconnect came"
        return answer.result() if answer in done else None

    async def next_event(self, name: str) -> Any:
        while True:
            event, data = await asyncio.wait_for(self.events.get(), WAIT_S)
            if event == name:
                return data

    async def send(self, content: str) -> str:
        """Send a typed message as the frontend does; returns its id."""
        message_id = str(uuid.uuid4())
        await self.client.emit(
            "client_message",
            {
                "message": {
                    "id": message_id,
                    "name": "User",
                    "type": "user_message",
                    "output": content,
                    "createdAt": datetime.now(UTC).isoformat(),
                },
                "fileReferences": None,
            },
        )
        return message_id


@contextlib.asynccontextmanager
async def chat_socket(
    base: str,
    cookies: dict[str, str],
    *,
    thread_id: str | None = None,
    session_id: str | None = None,
) -> AsyncIterator[ChatSocket]:
    """Connect the way Chainlit's frontend does and start the chat (or resume a thread).
    Raises `socketio.exceptions.ConnectionError` when the server refuses the connection."""
    sio = socketio.AsyncClient(reconnection=False)
    chat = ChatSocket(sio)
    sio.on("new_message", chat.on_new_message)
    sio.on("*", lambda event, data=None: chat.events.put_nowait((event, data)))
    sio.on("disconnect", lambda *_: chat.disconnected.set())
    await sio.connect(
        base,
        socketio_path=SOCKET_PATH,
        headers={"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
        auth={
            "sessionId": session_id or str(uuid.uuid4()),
            "clientType": "webapp",
            "userEnv": "{}",
            "chatProfile": None,
            "threadId": thread_id,
        },
        transports=["websocket"],
        wait_timeout=WAIT_S,
    )
    try:
        await sio.emit("connection_successful")
        yield chat
    finally:
        if sio.connected:
            await sio.disconnect()
