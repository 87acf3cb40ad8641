"""Chat uploads against a real `klosesales serve`, the way Chainlit's frontend sends
them (a socket session, then POST /chat/project/file): only a CSV of at most 5 MB is
taken, and the file Chainlit wrote under `.files/` is gone once its message is
answered. Before: any type up to 500 MB × 20, kept until the chat session ended."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import socketio

from tests.accounts.helpers import client, make_member, sign_in
from tests.conftest import REPO_ROOT
from tests.telephony.helpers import fund

FILES = REPO_ROOT / ".files"  # Chainlit's upload folder under the app root
WAIT_S = 60  # only a guard against a hang: every wait ends on an event
CSV = b"name,phone\nAna Lima,+14155550100\n"


async def _cookies(base: str, db) -> dict[str, str]:
    member = await make_member(db)
    await fund(db, member.actor.workspace_id, 1000)
    async with client(base) as http:
        await sign_in(http, db, member)
        token = await http.post("/chat/auth/header", headers={"origin": base})
        assert token.status_code == 200, token.text
        return {
            "ks_session": http.cookies["ks_session"],
            "access_token": http.cookies["access_token"],
        }


@asynccontextmanager
async def _chat(base: str, cookies: dict[str, str]) -> AsyncIterator[tuple[str, Any]]:
    """A connected chat socket: (its session id, a queue of assistant messages)."""
    session_id = str(uuid.uuid4())
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sio = socketio.AsyncClient(reconnection=False)
    sio.on(
        "new_message",
        lambda step: answers.put_nowait(step) if step.get("type") == "assistant_message" else None,
    )
    await sio.connect(
        base,
        socketio_path="/chat/ws/socket.io",
        transports=["websocket"],
        wait_timeout=WAIT_S,
        headers={"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
        auth={
            "sessionId": session_id,
            "clientType": "webapp",
            "userEnv": "{}",
            "chatProfile": None,
            "threadId": None,
        },
    )
    try:
        await sio.emit("connection_successful")
        await asyncio.wait_for(answers.get(), WAIT_S)  # the greeting: the chat has started
        yield session_id, (sio, answers)
    finally:
        await sio.disconnect()


async def _upload(
    base: str, cookies: dict[str, str], session_id: str, name: str, data: bytes, mime: str
) -> httpx.Response:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    async with httpx.AsyncClient(base_url=base, timeout=60, headers={"cookie": cookie}) as http:
        return await http.post(
            f"/chat/project/file?session_id={session_id}", files={"file": (name, data, mime)}
        )


async def test_only_a_small_csv_is_accepted(live_server, db):
    cookies = await _cookies(live_server, db)
    async with _chat(live_server, cookies) as (session_id, _):
        refused = {
            "html": await _upload(live_server, cookies, session_id, "x.html", b"<b>", "text/html"),
            "text": await _upload(live_server, cookies, session_id, "x.txt", b"hi", "text/plain"),
            "exe as csv": await _upload(live_server, cookies, session_id, "x.exe", CSV, "text/csv"),
            "binary": await _upload(
                live_server, cookies, session_id, "x.bin", b"\0" * 10, "application/octet-stream"
            ),
        }
        big = await _upload(
            live_server,
            cookies,
            session_id,
            "big.csv",
            CSV * (6 * 1024 * 1024 // len(CSV)),
            "text/csv",
        )
        ok = await _upload(live_server, cookies, session_id, "contacts.csv", CSV, "text/csv")
    assert {k: r.status_code for k, r in refused.items()} == dict.fromkeys(refused, 400), {
        k: r.text for k, r in refused.items()
    }
    assert big.status_code == 413
    assert ok.status_code == 200, ok.text
    assert not list((FILES / session_id).glob("*.html")) if (FILES / session_id).exists() else True


def _stored(session_id: str, file_id: str) -> list[Path]:
    return list((FILES / session_id).glob(f"{file_id}*"))


async def test_a_handled_upload_is_deleted_once_its_message_is_answered(live_server, db):
    cookies = await _cookies(live_server, db)
    async with _chat(live_server, cookies) as (session_id, (sio, answers)):
        uploaded = await _upload(live_server, cookies, session_id, "contacts.csv", CSV, "text/csv")
        assert uploaded.status_code == 200, uploaded.text
        file_id = uploaded.json()["id"]
        assert len(_stored(session_id, file_id)) == 1  # Chainlit wrote it to disk
        await sio.emit(
            "client_message",
            {
                "message": {
                    "id": str(uuid.uuid4()),
                    "name": "User",
                    "type": "user_message",
                    "output": "how many credits do I have?",
                    "createdAt": datetime.now(UTC).isoformat(),
                },
                "fileReferences": [{"id": file_id}],
            },
        )
        while "Balance:" not in str((await asyncio.wait_for(answers.get(), WAIT_S)).get("output")):
            pass  # a notice may come first: wait for the answer itself
        assert _stored(session_id, file_id) == []
