"""Chainlit sees the `ks_session`'s user and nobody else (issue 15, item 1).

Against a real `klosesales serve`: user A (workspace 1) signs in and sends her own
`ks_session` together with user B's (workspace 2) Chainlit token, in every place
Chainlit reads one (the `access_token` cookie, its chunked form, `Authorization:
Bearer`). No REST route and no socket may reveal or change B's threads, and a token
from a session that was signed out is worth nothing.
"""

from __future__ import annotations

import uuid

import pytest
import socketio
from chainlit.context import init_http_context
from chainlit.message import Message
from sqlalchemy import text

from accounts import service as accounts
from accounts import sessions
from accounts.models import Role
from chat_app.history import ChatFiles, build_history
from tests.accounts.helpers import make_member
from tests.security.chainlit_client import (
    SignedIn,
    chat_socket,
    raw_client,
    sign_in_to_chat,
)

SECRET = "B's pipeline: Dana at Acme wants 30% off"


async def _thread_of(db, owner: SignedIn) -> str:
    """A thread of `owner`'s with one message, written through Chainlit's data layer."""
    thread_id = str(uuid.uuid4())
    init_http_context(thread_id=thread_id)
    history = build_history(db.url, ChatFiles(db))
    try:
        persisted = await history.get_user(owner.member.email)
        assert persisted is not None  # /chat/auth/header created it
        await history.update_thread(thread_id, name="B secret plans", user_id=persisted.id)
        question = Message(content=SECRET, author=owner.member.email, type="user_message")
        await history.create_step(question.to_dict())
    finally:
        await history.engine.dispose()
    return thread_id


async def _thread_row(db, thread_id: str) -> tuple[str, str] | None:
    async with db.session() as session:
        row = (
            await session.execute(
                text("SELECT name, CAST(metadata AS text) FROM chat_ui.threads WHERE id = :t"),
                {"t": thread_id},
            )
        ).first()
    return (str(row[0]), str(row[1])) if row is not None else None


@pytest.fixture
async def a_and_b(live_server, db):
    a = await make_member(db, Role.REP)
    b = await make_member(db, Role.REP)
    assert a.actor.workspace_id != b.actor.workspace_id
    alice = await sign_in_to_chat(live_server, db, a, "Alice Attacker")
    bea = await sign_in_to_chat(live_server, db, b, "Bea Victim")
    return alice, bea, await _thread_of(db, bea)


def _carriers(jwt: str) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Every way Chainlit 2.12 reads its token: cookie, chunked cookie, bearer header."""
    return [
        ({"access_token": jwt}, {}),
        ({"access_token_0": jwt[:40], "access_token_1": jwt[40:]}, {}),
        ({}, {"authorization": f"Bearer {jwt}"}),
    ]


async def _assert_b_is_out_of_reach(base: str, db, alice: SignedIn, bea: SignedIn, tid: str):
    before = await _thread_row(db, tid)
    for cookies, headers in _carriers(bea.chainlit_jwt):
        jar = {"ks_session": alice.session_cookie, **cookies}
        async with raw_client(base, jar, headers) as http:
            who = await http.get("/chat/user")
            assert who.status_code == 200, who.text
            assert who.json()["identifier"] == alice.member.email, (cookies, headers)

            listed = await http.post(
                "/chat/project/threads", json={"pagination": {"first": 50}, "filter": {}}
            )
            assert listed.status_code == 200, listed.text
            assert tid not in listed.text and SECRET not in listed.text

            read = await http.get(f"/chat/project/thread/{tid}")
            assert read.status_code in (401, 403, 404), read.status_code
            assert SECRET not in read.text

            for method, path, body in (
                ("PUT", "/chat/project/thread", {"threadId": tid, "name": "pwned"}),
                ("PUT", "/chat/project/thread/share", {"threadId": tid, "isShared": True}),
                ("DELETE", "/chat/project/thread", {"threadId": tid}),
            ):
                changed = await http.request(method, path, json=body)
                assert changed.status_code in (401, 403, 404), (method, path, changed.text)

            # Chainlit's own "log in with a JWT" route must not mint a cookie for B.
            minted = await http.post(
                "/chat/auth/jwt", headers={"authorization": f"Bearer {bea.chainlit_jwt}"}
            )
            assert minted.status_code == 401, minted.text
            assert "access_token" not in minted.cookies
    assert await _thread_row(db, tid) == before  # not renamed, shared or deleted


async def test_another_users_token_reveals_nothing_on_any_route(live_server, db, a_and_b):
    alice, bea, tid = a_and_b
    await _assert_b_is_out_of_reach(live_server, db, alice, bea, tid)
    # B herself still sees her thread (the fix did not cut the owner off).
    async with raw_client(live_server, {"ks_session": bea.session_cookie}) as http:
        own = await http.get(f"/chat/project/thread/{tid}")
        assert own.status_code == 200 and SECRET in own.text


async def test_a_token_is_worth_nothing_once_its_session_ends(live_server, db, a_and_b):
    alice, bea, tid = a_and_b
    async with raw_client(live_server, {"ks_session": bea.session_cookie}) as http:
        out = await http.post("/account/logout")
        assert out.status_code == 303
    # The token alone, or with the signed-out session: refused outright.
    for jar in (
        {"access_token": bea.chainlit_jwt},
        {"ks_session": bea.session_cookie, "access_token": bea.chainlit_jwt},
    ):
        async with raw_client(live_server, jar) as http:
            assert (await http.get("/chat/user")).status_code == 401
            assert (await http.get(f"/chat/project/thread/{tid}")).status_code == 401
    # With someone else's live session: still nothing of B's.
    await _assert_b_is_out_of_reach(live_server, db, alice, bea, tid)


async def test_revoking_every_session_ends_the_token_too(live_server, db, a_and_b):
    """Password reset, removal and suspension end sessions with end_all_sessions."""
    alice, bea, tid = a_and_b
    async with db.session() as session:
        user = await accounts.get_user(session, bea.member.actor.user_id)
        assert user is not None
        await sessions.end_all_sessions(session, user)
        await session.commit()
    async with raw_client(
        live_server, {"ks_session": bea.session_cookie, "access_token": bea.chainlit_jwt}
    ) as http:
        assert (await http.get("/chat/user")).status_code == 401
    await _assert_b_is_out_of_reach(live_server, db, alice, bea, tid)


async def test_socket_with_another_users_token_is_refused_or_is_the_session_user(
    live_server, db, a_and_b
):
    alice, bea, tid = a_and_b
    jar = {"ks_session": alice.session_cookie, "access_token": bea.chainlit_jwt}
    # Resuming B's thread is refused: the socket's user is A, not the token's B.
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with chat_socket(live_server, jar, thread_id=tid):
            pass
    # A plain chat is A's own: greeted as A, never as B.
    async with chat_socket(live_server, jar) as chat:
        greeting = await chat.next_message("Hi ")
    assert greeting["output"].startswith(f"Hi {alice.name}!"), greeting["output"]
    assert bea.name not in greeting["output"]


async def test_a_chat_runs_on_its_own_session_not_on_the_last_one_signed_in(
    live_server, db, a_and_b
):
    """B on a laptop and then on a phone; the phone signs out. The laptop's chat goes
    on (its identity is its own session, not whatever Chainlit stored for the email
    last), and the phone's token is worth nothing on the laptop's session."""
    _, laptop, _ = a_and_b
    phone = await sign_in_to_chat(live_server, db, laptop.member, laptop.name)
    async with raw_client(live_server, {"ks_session": phone.session_cookie}) as http:
        assert (await http.post("/account/logout")).status_code == 303
    for token in (laptop.chainlit_jwt, phone.chainlit_jwt):
        jar = {"ks_session": laptop.session_cookie, "access_token": token}
        async with chat_socket(live_server, jar) as chat:
            greeting = await chat.next_message("Hi ")
            assert greeting["output"].startswith(f"Hi {laptop.name}!"), greeting["output"]
            await chat.send("how many credits do I have?")
            answer = await chat.next_answer()
        assert "session has ended" not in answer["output"], answer["output"]
        assert "credits" in answer["output"], answer["output"]
