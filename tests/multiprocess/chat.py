"""A chat client for the multi-process tests: signs in over HTTP and talks to the
mounted Chainlit app over its socket.io websocket, as the frontend does (websocket
transport only, as .chainlit/config.toml configures it)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import socketio

from core.db import Database
from tests.accounts.helpers import Member, client, sign_in

SOCKET_PATH = "/chat/ws/socket.io"
WAIT_S = 120.0  # a guard against a hang only: every wait ends on an event


async def chat_cookies(base: str, public: str, db: Database, member: Member) -> dict[str, str]:
    """Sign in on the process at `base` (password, then the code) and get Chainlit's
    token as its frontend does: the cookies a browser would then hold."""
    async with client(base) as http:
        await sign_in(http, db, member)
        answer = await http.post("/chat/auth/header", headers={"origin": public})
        assert answer.status_code == 200, answer.text
        return {name: http.cookies[name] for name in ("ks_session", "access_token")}


Answer = Callable[[dict[str, Any]], dict[str, Any] | None]


def answer_yes(ask: dict[str, Any]) -> dict[str, Any]:
    """Press "Yes, continue" on an AskActionMessage (chat_app/app.py `_ask_yes_no`)."""
    step = ask.get("msg", {})
    keys = ask.get("spec", {}).get("keys") or [""]
    return {
        "name": "confirm",
        "payload": {"answer": "yes"},
        "label": "Yes, continue",
        "id": keys[0],
        "forId": step.get("id"),
    }


@dataclass
class Chat:
    """A connected chat. `steps` gets every message step the server sends or updates
    (`new_message` and `update_message`); `asks` every question with buttons; `buttons`
    every button shown or taken away (`action` / `remove_action`), in order."""

    sio: socketio.AsyncClient
    session_id: str
    steps: asyncio.Queue[tuple[str, dict[str, Any]]] = field(default_factory=asyncio.Queue)
    asks: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    actions: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    answer: Answer | None = None
    buttons: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def step_where(
        self, test: Callable[[dict[str, Any]], bool], *, event: str | None = None
    ) -> dict[str, Any]:
        """The next step (of `event`, if given) that passes `test`."""
        while True:
            kind, step = await asyncio.wait_for(self.steps.get(), WAIT_S)
            if (event is None or kind == event) and test(step):
                return step

    async def text_starting(self, prefix: str, *, event: str | None = None) -> dict[str, Any]:
        return await self.step_where(
            lambda s: str(s.get("output", "")).startswith(prefix), event=event
        )

    async def text_containing(self, part: str, *, event: str | None = None) -> dict[str, Any]:
        return await self.step_where(lambda s: part in str(s.get("output", "")), event=event)

    async def send(self, content: str) -> str:
        message_id = str(uuid.uuid4())
        await self.sio.emit(
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

    async def action_named(self, name: str) -> dict[str, Any]:
        """The next button (a Chainlit action) called `name`."""
        while True:
            action = await asyncio.wait_for(self.actions.get(), WAIT_S)
            if action.get("name") == name:
                return action

    async def press(
        self, base: str, public: str, cookies: dict[str, str], action: dict[str, Any]
    ) -> None:
        """Press a message's button, as the frontend does (POST /chat/project/action)."""
        async with client(base) as http:
            answer = await http.post(
                "/chat/project/action",
                json={"action": action, "sessionId": self.session_id},
                headers={"origin": public},
                cookies=cookies,
            )
        assert answer.status_code == 200, answer.text

    async def drop(self) -> None:
        """The connection breaks as a proxy would break it: the websocket closes under
        socket.io and engine.io, with no goodbye from either."""
        closed = asyncio.Event()
        self.sio.on("disconnect", lambda *_: closed.set())
        await self.sio.eio.ws.close()
        await asyncio.wait_for(closed.wait(), WAIT_S)


@contextlib.asynccontextmanager
async def open_chat(
    base: str,
    public: str,
    cookies: dict[str, str],
    *,
    session_id: str | None = None,
    thread_id: str | None = None,
    answer: Answer | None = None,
) -> AsyncIterator[Chat]:
    """Connect to the process at `base` (Origin: the public URL, as a browser sends) and
    start the chat; with the `session_id` of an earlier connection, Chainlit restores
    that session (a reconnect). `answer(ask)` answers questions with buttons (None: a
    question is only recorded in `asks`, never answered)."""
    sio = socketio.AsyncClient(reconnection=False)
    chat = Chat(sio, session_id or str(uuid.uuid4()), answer=answer)
    sio.on("new_message", lambda step: chat.steps.put_nowait(("new_message", step)))
    sio.on("update_message", lambda step: chat.steps.put_nowait(("update_message", step)))

    async def on_ask(data: dict[str, Any]) -> dict[str, Any] | None:
        chat.asks.put_nowait(data)
        if chat.answer is None:
            await asyncio.sleep(WAIT_S * 10)  # never answered (the socket drops first)
            return None
        return chat.answer(data)

    sio.on("ask", on_ask)

    def on_action(action: dict[str, Any]) -> None:
        chat.buttons.append(("action", action))
        chat.actions.put_nowait(action)

    sio.on("action", on_action)
    sio.on("remove_action", lambda action: chat.buttons.append(("remove_action", action)))
    await sio.connect(
        base,
        socketio_path=SOCKET_PATH,
        headers={
            "cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            "origin": public,
        },
        auth={
            "sessionId": chat.session_id,
            "clientType": "webapp",
            "userEnv": "{}",
            "chatProfile": None,
            "threadId": thread_id,
        },
        transports=["websocket"],
        wait_timeout=int(WAIT_S),
    )
    try:
        await sio.emit("connection_successful")
        yield chat
    finally:
        if sio.connected:
            await sio.disconnect()
