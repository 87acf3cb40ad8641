"""The voice agents' side of the warm hand-off: offered when the prospect asks for a
person (or on the goal, if the workspace chose it) only when the rep is reachable;
a yes ends the session for the hand-off, a no asks for a callback time; a rep who is
not reachable is never offered — the agent says so and books a callback instead."""

from __future__ import annotations

import random

import pytest

from telephony.models import CallOutcome
from telephony.simulator.personas import PERSONAS
from telephony.voice import handoff
from telephony.voice.handoff import HandoffPolicy, asks_for_person
from tests.telephony.test_voice_scripted import make_agent, say

REACHABLE = HandoffPolicy(reachable=True)


@pytest.mark.parametrize(
    "text",
    [
        "Can I speak to a real person?",
        "I'd rather talk to a human, please.",
        "Could I talk to someone from your team?",
        "Just put me through to Dana.",
        "Can I talk with Dana?",
        "let me talk to your manager",
        "Is there someone I can speak with?",
        "transfer me please",
    ],
)
def test_asks_for_person(text: str) -> None:
    assert asks_for_person(text, "Dana Lee")


@pytest.mark.parametrize(
    "text",
    ["Is this a robot?", "Are you a real person?", "Sounds good", "Who is Dana?", "No thanks"],
)
def test_not_asking_for_person(text: str) -> None:
    assert not asks_for_person(text, "Dana Lee")


async def test_offer_then_yes_hands_off() -> None:
    agent = make_agent()
    agent.handoff = REACHABLE
    agent.opening()
    offer = await say(agent, "Can I speak to a real person?")
    assert "Shall I put you through?" in offer and "Dana Lee" in offer
    assert not agent.state.end_call
    connecting = await say(agent, "Yes, please.")
    assert "Connecting you to Dana Lee" in connecting
    assert agent.state.handoff == handoff.ASKED and agent.state.end_call
    assert agent.state.outcome == CallOutcome.INTERESTED


async def test_offer_then_no_asks_for_a_callback_time() -> None:
    agent = make_agent()
    agent.handoff = REACHABLE
    agent.opening()
    await say(agent, "Could I talk to someone from your team?")
    answer = await say(agent, "No, not now.")
    assert "call you back" in answer and agent.state.handoff is None
    booked = await say(agent, "Tomorrow at 3pm works.")
    assert agent.state.outcome == CallOutcome.CALLBACK_BOOKED and "will call you" in booked


async def test_unreachable_rep_is_never_offered() -> None:
    agent = make_agent()  # default policy: the rep has no verified mobile
    agent.opening()
    answer = await say(agent, "Can I speak to a real person?")
    assert "can't take calls by phone right now" in answer
    assert "put you through" not in answer and agent.state.handoff is None
    await say(agent, "Thursday at 2pm works.")
    assert agent.state.outcome == CallOutcome.CALLBACK_BOOKED
    assert agent.state.handoff is None


async def test_goal_reached_offers_the_hand_off_when_chosen() -> None:
    for policy, offered in ((HandoffPolicy(True, True), True), (REACHABLE, False)):
        agent = make_agent()
        agent.handoff = policy
        persona = PERSONAS["interested"](random.Random(1))
        said = agent.opening()
        lines = [said]
        for _ in range(12):
            said = await say(agent, persona.hear(said).text or "")
            lines.append(said)
            if agent.state.end_call:
                break
        if offered:
            assert any("is available now" in line for line in lines), lines
            assert agent.state.handoff == handoff.GOAL  # "Sounds good." to the offer
        else:
            assert not any("put you through" in line or "available now" in line for line in lines)
            assert agent.state.outcome == CallOutcome.CALLBACK_BOOKED


async def test_openai_agent_offers_with_fixed_lines() -> None:
    from telephony.voice.agent import OpenAIConfig
    from telephony.voice.openai_agent import OpenAISalesAgent
    from tests.telephony.test_voice_scripted import BRIEF, CHICAGO, NOW

    agent = OpenAISalesAgent(
        BRIEF,
        now=lambda: NOW,
        tz=CHICAGO,
        config=OpenAIConfig(api_key="unused", model="m", base_url="http://127.0.0.1:9"),
    )
    agent.handoff = REACHABLE
    offer = "".join([p async for p in agent.respond("Can I speak to a real person?")])
    assert "Shall I put you through?" in offer
    yes = "".join([p async for p in agent.respond("Sure, go ahead.")])
    assert "Connecting you" in yes and agent.state.handoff == handoff.ASKED
    agent = OpenAISalesAgent(
        BRIEF,
        now=lambda: NOW,
        tz=CHICAGO,
        config=OpenAIConfig(api_key="unused", model="m", base_url="http://127.0.0.1:9"),
    )
    unreachable = "".join([p async for p in agent.respond("Can I speak to a real person?")])
    assert "can't take calls by phone" in unreachable and agent.state.handoff is None
