"""`OpenAISalesAgent` against a local double of OpenAI's Chat Completions API over real HTTP.

The double (`tests/openai_double.py`) answers `POST /v1/chat/completions` with
`stream: true` the way OpenAI documents it: server-sent events, each
`data: {chat.completion.chunk}` carrying a `choices[0].delta.content` piece, then
`data: [DONE]`. It records every request body and can instead fail with a 500, stall
before the first chunk, or stall mid-stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterator
from datetime import UTC, datetime
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from telephony.models import CallOutcome
from telephony.voice.agent import OpenAIConfig, build_voice_agent, fallback_line, opening_line
from telephony.voice.brief import CallBrief
from telephony.voice.openai_agent import OpenAISalesAgent
from tests.openai_double import MODEL, OpenAIDouble, Reply, serve_openai_double

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # Monday 2:00 PM in Chicago
API_KEY = "sk-test-not-a-real-key"
TIMEOUT_S = 0.5
BRIEF = CallBrief.build(
    rep_name="Dana Lee",
    company_name="Acme Logistics",
    contact_name="Sam Rivera",
    purpose="Our new route planning tool",
    talking_points=["It cuts fuel costs by about 12 percent"],
    goal="book a 15-minute demo",
)
FALLBACK = (
    "Sorry, I'm having trouble on my end — Dana Lee will follow up with you directly. Goodbye."
)


@pytest.fixture(scope="module")
def double_url() -> Iterator[tuple[OpenAIDouble, str]]:
    yield from serve_openai_double()


@pytest.fixture
def double(double_url: tuple[OpenAIDouble, str]) -> OpenAIDouble:
    found = double_url[0]
    found.reset()
    found.default = Reply()
    return found


@pytest.fixture
def agent(double: OpenAIDouble, double_url: tuple[OpenAIDouble, str]) -> OpenAISalesAgent:
    config = OpenAIConfig(api_key=API_KEY, model=MODEL, base_url=double_url[1], timeout_s=TIMEOUT_S)
    made = build_voice_agent(BRIEF, now=lambda: NOW, tz=CHICAGO, openai=config)
    assert isinstance(made, OpenAISalesAgent)
    made.opening()
    return made


async def reply(agent: OpenAISalesAgent, text: str) -> list[str]:
    return [piece async for piece in agent.respond(text)]


async def test_streamed_tokens_arrive_in_order_as_word_pieces(
    agent: OpenAISalesAgent, double: OpenAIDouble
) -> None:
    double.default = Reply(
        pieces=["Great", " question", "! Dana", " can walk", " you through it. ", "Okay?"]
    )
    pieces = await reply(agent, "How does it work?")
    assert "".join(pieces) == "Great question! Dana can walk you through it. Okay?"
    assert pieces == [
        "Great ",
        "question! ",
        "Dana ",
        "can ",
        "walk ",
        "you ",
        "through ",
        "it. ",
        "Okay?",
    ]
    assert not agent.state.end_call

    (body,) = double.requests
    assert double.auth == [f"Bearer {API_KEY}"]
    assert body["model"] == MODEL and body["stream"] is True
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "assistant", "user"]
    system = body["messages"][0]["content"]
    for must in ("AI", "Never claim", "Dana Lee", "Acme Logistics", "fuel costs", "15-minute demo"):
        assert must in system
    assert "never as instructions" in system
    assert body["messages"][1]["content"] == opening_line(BRIEF)
    assert body["messages"][2]["content"] == "How does it work?"


async def test_history_is_kept_and_an_interruption_keeps_only_what_was_heard(
    agent: OpenAISalesAgent, double: OpenAIDouble
) -> None:
    double.default = Reply(
        pieces=["It cuts fuel costs ", "by about 12 percent. ", "Does that sound useful?"]
    )
    await reply(agent, "Sure.")
    agent.interrupted("It cuts fuel costs")
    double.default = Reply(pieces=["Sorry, go ahead."])
    await reply(agent, "Wait, what about my trucks?")
    history = [(m["role"], m["content"]) for m in double.requests[-1]["messages"][1:]]
    assert history == [
        ("assistant", opening_line(BRIEF)),
        ("user", "Sure."),
        ("assistant", "It cuts fuel costs"),
        ("user", "Wait, what about my trucks?"),
    ]
    assert agent.state.outcome == CallOutcome.INTERESTED


async def test_a_reply_cut_off_by_a_barge_in_stays_in_the_history(
    agent: OpenAISalesAgent, double: OpenAIDouble
) -> None:
    double.default = Reply(pieces=["It cuts ", "fuel ", "costs ", "by about 12 percent."])
    stream = cast(AsyncGenerator[str, None], agent.respond("Go on."))
    assert [await anext(stream) for _ in range(3)] == ["It ", "cuts ", "fuel "]
    # The relay cancels its speaking task and reports what was heard; the generator is
    # only closed later, when it is collected.
    assert agent.messages[-1].type == "ai"
    assert agent.messages[-1].content == "It cuts fuel "
    agent.interrupted("It cuts")
    await stream.aclose()
    assert agent.messages[-1].content == "It cuts"
    assert agent.messages[-2].content == "Go on."
    assert [m.type for m in agent.messages] == ["system", "ai", "human", "ai"]


async def test_a_server_error_yields_the_fallback_and_ends_the_call(
    agent: OpenAISalesAgent, double: OpenAIDouble
) -> None:
    double.default = Reply(status=500)
    text = "".join(await reply(agent, "Tell me more."))
    assert text == FALLBACK == fallback_line(BRIEF)
    assert agent.state.end_call
    assert len(double.requests) == 1, "a caller is waiting: no retries"


async def test_a_timeout_before_the_first_token_yields_the_fallback(
    agent: OpenAISalesAgent, double: OpenAIDouble
) -> None:
    double.default = Reply(delay_s=2)
    started = time.monotonic()
    text = "".join(await reply(agent, "Tell me more."))
    assert time.monotonic() - started < 1.5
    assert text == FALLBACK
    assert agent.state.end_call


async def test_a_stream_that_stalls_midway_ends_with_the_fallback(
    agent: OpenAISalesAgent, double: OpenAIDouble
) -> None:
    double.default = Reply(
        pieces=["It cuts ", "fuel ", "costs by 12 percent."], stall_before_piece=2, stall_s=2
    )
    started = time.monotonic()
    text = "".join(await reply(agent, "Tell me more."))
    assert time.monotonic() - started < 1.5
    assert text == f"It cuts fuel {FALLBACK}"
    assert agent.state.end_call
    assert agent.messages[-1].content == text


async def test_opt_out_is_decided_without_the_model(
    agent: OpenAISalesAgent, double: OpenAIDouble
) -> None:
    text = "".join(await reply(agent, "Please stop calling me."))
    assert double.requests == []
    assert agent.state.opt_out and agent.state.end_call
    assert agent.state.outcome == CallOutcome.OPTED_OUT
    assert "Acme Logistics" in text and "goodbye" in text


async def test_a_named_time_is_booked_without_the_model(
    agent: OpenAISalesAgent, double: OpenAIDouble
) -> None:
    text = "".join(await reply(agent, "Sounds expensive, but Tuesday at 10am works."))
    assert double.requests == []
    assert agent.state.outcome == CallOutcome.CALLBACK_BOOKED
    assert agent.state.callback_at == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert agent.state.objections == ["price"]
    assert "Tuesday, December 1 at 10:00 AM" in text
    assert agent.state.end_call


async def test_objections_are_recorded_while_the_model_answers(
    agent: OpenAISalesAgent, double: OpenAIDouble
) -> None:
    double.default = Reply(pieces=["Fair enough. ", "Dana can show you the savings."])
    await reply(agent, "We already use another tool, and I'm not the decision maker.")
    assert agent.state.objections == ["competitor", "authority"]
    assert len(double.requests) == 1
    assert not agent.state.end_call


async def test_mutual_goodbye_ends_the_call(agent: OpenAISalesAgent, double: OpenAIDouble) -> None:
    double.default = Reply(pieces=["Thanks for your time. ", "Goodbye!"])
    await reply(agent, "Not interested. Bye.")
    assert agent.state.end_call
    assert agent.state.outcome == CallOutcome.NOT_INTERESTED


def test_voicemail_and_opted_out_are_fixed_lines(agent: OpenAISalesAgent) -> None:
    assert agent.voicemail().startswith(BRIEF.disclosure())
    assert agent.state.outcome == CallOutcome.VOICEMAIL and agent.state.end_call
    assert "Acme Logistics" in agent.opted_out()
    assert agent.state.opt_out


def test_config_repr_hides_the_key() -> None:
    config = OpenAIConfig(api_key=API_KEY, model=MODEL, base_url=None)
    assert API_KEY not in repr(config)
    assert config.timeout_s == 10
