"""A chat's welcome reaches the page even when the page replaced its socket right after
opening it, against a real `klosesales serve`.

Chainlit's page opens its socket once its settings have loaded; on a busy machine the
settings' second load (with the chosen chat profile) lands after that, and the page
opens a second socket with the same chat session, dropping the first. Seen in a
browser: socket A connects and sends `connection_successful`, the page drops A 44 ms
later, socket B restores the session. `on_chat_start` ran for A and its welcome went
to A, which nobody listened to any more; Chainlit starts a chat only once, so B got
nothing and the page stayed empty. The server now sends the welcome again to a chat
that comes back before its first message: the same steps and buttons (same ids), so a
page that did see it still shows it once."""

from __future__ import annotations

from typing import Any

from accounts.models import Role
from core.db import Database
from tests.accounts.helpers import make_member
from tests.multiprocess.chat import Chat, chat_cookies, open_chat


def _buttons_shown(*logs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The buttons a page holds after these `action` / `remove_action` events, as
    Chainlit's page keeps them (an action is appended; a removal drops the first one
    with that id)."""
    shown: list[dict[str, Any]] = []
    for log in logs:
        for kind, action in log:
            if kind == "action":
                shown.append(action)
            else:
                ids = [a["id"] for a in shown]
                if action["id"] in ids:
                    shown.pop(ids.index(action["id"]))
    return [a["id"] for a in shown]


async def _steps_until(chat: Chat, step_id: str) -> list[dict[str, Any]]:
    """The new steps the chat gets, up to and including the one with `step_id`."""
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["id"] != step_id:
        seen.append(await chat.step_where(lambda s: True, event="new_message"))
    return seen


async def test_a_chat_whose_first_socket_was_dropped_still_gets_its_welcome(
    live_server: str, db: Database
) -> None:
    rep = await make_member(db, Role.REP)
    cookies = await chat_cookies(live_server, live_server, db, rep)
    async with open_chat(live_server, live_server, cookies) as first:
        welcome = await first.text_starting("Hi ")
        # on_chat_start's own step ends after the welcome and its buttons were sent.
        await first.step_where(lambda s: s.get("name") == "on_chat_start", event="update_message")
        starters = _buttons_shown(first.buttons)
        assert starters, "the welcome has its starter buttons"
        session_id = first.session_id
    # The page dropped that socket before it showed anything, and comes back on another.
    async with open_chat(live_server, live_server, cookies, session_id=session_id) as again:
        steps = await _steps_until(again, welcome["id"])
        assert steps[-1]["output"] == welcome["output"]
        # The page files a step under its parent, and drops one whose parent it lacks.
        assert welcome["parentId"] in [s["id"] for s in steps[:-1]]
        for _ in starters:
            await again.action_named("starter")
        # A page that saw nothing of the first socket, and one that saw all of it.
        assert _buttons_shown(again.buttons) == starters
        assert _buttons_shown(first.buttons, again.buttons) == starters
