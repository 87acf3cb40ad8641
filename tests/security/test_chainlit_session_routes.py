"""Chainlit's chat-session routes and socket events (issue 15, items 1 and 14), against
a real `klosesales serve`: an unknown chat session is a clear 4xx, not a 500; editing
a sent message is off and never brings back the old answer; an open socket ends with
its session."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from accounts.models import Role
from tests.accounts.helpers import make_member
from tests.security.chainlit_client import SignedIn, chat_socket, raw_client, sign_in_to_chat

EDIT_REFUSED = "Sent messages can't be edited: send the corrected question as a new message."


@pytest.fixture
async def alice(live_server, db) -> SignedIn:
    return await sign_in_to_chat(live_server, db, await make_member(db, Role.REP), "Alice Attacker")


def _browser(user: SignedIn) -> dict[str, str]:
    """The cookies a signed-in browser holds: our session and Chainlit's token."""
    return {"ks_session": user.session_cookie, "access_token": user.chainlit_jwt}


def _action(session_id: str) -> dict:
    return {
        "sessionId": session_id,
        "action": {"name": "starter", "payload": {"message": "hi"}, "id": "a1", "forId": "m1"},
    }


def _element(session_id: str) -> dict:
    element = {"id": "e1", "type": "custom", "name": "x", "display": "inline", "props": {}}
    return {"sessionId": session_id, "element": element}


async def test_an_unknown_chat_session_is_a_4xx_not_a_500(live_server, db, alice):
    unknown = str(uuid.uuid4())
    async with raw_client(live_server, _browser(alice)) as http:
        for method, path, body in (
            ("POST", "/chat/project/action", _action(unknown)),
            ("PUT", "/chat/project/element", _element(unknown)),
            ("DELETE", "/chat/project/element", _element(unknown)),
        ):
            answer = await http.request(method, path, json=body)
            assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
            assert "no longer open" in answer.json()["detail"]
        # A body without a session id is Chainlit's own validation error.
        bad = await http.post("/chat/project/action", json={"action": {}})
        assert bad.status_code == 422


async def test_an_action_reaches_only_its_own_users_open_chat(live_server, db, alice):
    bea = await sign_in_to_chat(live_server, db, await make_member(db, Role.REP), "Bea Victim")
    session_id = str(uuid.uuid4())
    async with chat_socket(live_server, _browser(bea), session_id=session_id) as chat:
        await chat.next_message("Hi ")
        async with raw_client(live_server, _browser(alice)) as http:
            theirs = await http.post("/chat/project/action", json=_action(session_id))
            assert theirs.status_code in (401, 403, 404), theirs.text
        async with raw_client(live_server, _browser(bea)) as http:
            mine = await http.post("/chat/project/action", json=_action(session_id))
            assert mine.status_code == 200, mine.text


async def _stored_output(db, message_id: str) -> str | None:
    async with db.session() as session:
        return await session.scalar(
            text("SELECT output FROM chat_ui.steps WHERE id = :i"), {"i": message_id}
        )


async def test_editing_a_sent_message_is_off_and_never_replays_the_old_answer(
    live_server, db, alice
):
    async with chat_socket(live_server, _browser(alice)) as chat:
        await chat.next_message("Hi ")
        question = await chat.send("how many credits do I have?")
        first = await chat.next_answer()
        assert "credits" in first["output"]
        # A client that sends an edit anyway (the button is hidden) is told to send a
        # new message; the old answer does not come back as an answer to the new text.
        await chat.client.emit(
            "edit_message", {"message": {"id": question, "output": "what packages are there?"}}
        )
        after = await chat.next_answer()
        assert after["output"] == EDIT_REFUSED, after["output"]
    assert await _stored_output(db, question) == "how many credits do I have?"
    async with raw_client(live_server, _browser(alice)) as http:
        settings = await http.get("/chat/project/settings")
        assert settings.status_code == 200
        assert settings.json()["features"]["edit_message"] is False  # no edit button


async def test_an_open_socket_ends_with_its_session(live_server, db, alice):
    async with chat_socket(live_server, _browser(alice)) as chat:
        await chat.next_message("Hi ")
        async with raw_client(live_server, _browser(alice)) as http:
            assert (await http.post("/account/logout")).status_code == 303
        await chat.send("how many credits do I have?")
        # The socket's next frame finds the session ended: closed, and nothing answered.
        outcome = await chat.answer_or_disconnect()
        assert outcome is None, outcome["output"]
        assert chat.disconnected.is_set()


async def test_chainlits_own_logout_ends_the_klosesales_session(live_server, db, alice):
    """The chat's "Logout" menu posts to /chat/logout: that must sign the user out of
    Klosesales too, or the next visit to /chat walks straight back in."""
    async with raw_client(live_server, _browser(alice), {"origin": live_server}) as http:
        assert (await http.get("/chat/user")).status_code == 200
        out = await http.post("/chat/logout")
        assert out.status_code == 200, out.text
        assert 'ks_session=""' in out.headers.get("set-cookie", "")
    async with raw_client(live_server, _browser(alice)) as http:
        assert (await http.get("/chat/user")).status_code == 401
    async with db.session() as session:
        still_open = await session.scalar(
            text("SELECT count(*) FROM user_sessions WHERE user_id = :u AND revoked_at IS NULL"),
            {"u": alice.member.actor.user_id},
        )
    assert still_open == 0
