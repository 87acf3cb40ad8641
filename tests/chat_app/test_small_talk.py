"""Thanks, goodbyes, a stray "yes" and what a call of some length costs (found using the
app as a rep in a browser: "thanks!" got "Sorry, I didn't understand that" and the whole
help text; "how much would a 10 minute call cost" was not understood). Each is answered
without a tool and is free; a "yes" with a confirmation pending still answers it."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.messages import HumanMessage

from chat_app.agent import TOOLS, build_agent
from chat_app.llm.messages import message_text
from chat_app.llm.offline import OfflineChatModel
from chat_app.llm.offline_router import small_talk
from chat_app.turns import TurnStatus, answer_message
from tests.chat_app.helpers import funded_rep

NAMES = frozenset(t.name for t in TOOLS)
AGENT = build_agent(OfflineChatModel())


def _reply(text: str) -> str:
    reply = OfflineChatModel(tool_names=NAMES).respond([HumanMessage(content=text)])
    assert reply.tool_calls == [], (text, reply.tool_calls)
    return message_text(reply)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("thanks!", small_talk.THANKS_REPLY),
        ("Thank you so much", small_talk.THANKS_REPLY),
        ("great, thanks", small_talk.THANKS_REPLY),
        ("thanks, that's all for now!", small_talk.THANKS_REPLY),
        ("bye", small_talk.BYE_REPLY),
        ("ok", small_talk.ACK_REPLY),
        ("no thanks", small_talk.ACK_REPLY),
        ("yes", small_talk.NOTHING_PENDING),
        ("nope", small_talk.NOTHING_PENDING),
    ],
)
def test_small_talk_gets_a_short_reply(text: str, said: str) -> None:
    assert _reply(text) == said


@pytest.mark.parametrize(
    ("text", "opening"),
    [
        ("how much would a 10 minute call cost", "A 10-minute call costs 600 credits"),
        ("what does a 30-second call cost?", "A 30-second call costs 30 credits"),
        ("cost of a half an hour call", "A half-hour call costs 1,800 credits"),
        ("how much does a five min call cost", "A five-minute call costs 300 credits"),
        ("how many credits is an hour long call", "A one-hour call costs 3,600 credits"),
    ],
)
def test_what_a_call_costs(text: str, opening: str) -> None:
    body = _reply(text)
    assert body.startswith(opening), body
    assert "A call nobody answers costs nothing" in body and "Nothing was charged" in body


@pytest.mark.parametrize(
    "text",
    ["ok call her", "thanks, call Dana Whitfield about the renewal", "yes call him", "credits?"],
)
def test_a_request_beside_small_talk_is_not_small_talk(text: str) -> None:
    assert small_talk.reply(text) is None


async def test_thanks_is_free_in_a_real_turn(db) -> None:
    actor = await funded_rep(db, 5000)
    result = await answer_message(db, AGENT, actor, text="thanks!", message_id=str(uuid.uuid4()))
    assert result.status is TurnStatus.ANSWERED
    assert (result.body, result.cost_mc) == (small_talk.THANKS_REPLY, 0)
