"""The scripted voice agent: the opening, and whole conversations with every simulated
persona (several seeds each), ending in the outcome the persona is meant to produce."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from telephony.models import CallOutcome
from telephony.simulator.personas import PERSONAS, VOICEMAIL_GREETINGS, PersonaLine
from telephony.voice import intents
from telephony.voice.agent import build_voice_agent, spoken_time
from telephony.voice.brief import CallBrief
from telephony.voice.scripted import ScriptedSalesAgent

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # Monday 2:00 PM in Chicago
BRIEF = CallBrief.build(
    rep_name="Dana Lee",
    company_name="Acme Logistics",
    contact_name="Sam Rivera",
    purpose="Our new route planning tool for regional carriers",
    talking_points=[
        "It cuts fuel costs by about 12 percent",
        "Setup takes under a day",
        "It works with the dispatch software you already use",
    ],
    goal="book a 15-minute demo",
)
EXPECTED = {
    "interested": CallOutcome.CALLBACK_BOOKED,
    "price_objection": CallOutcome.CALLBACK_BOOKED,
    "callback_later": CallOutcome.CALLBACK_BOOKED,
    "not_interested": CallOutcome.NOT_INTERESTED,
    "asks_if_ai": CallOutcome.NOT_INTERESTED,
    "opt_out": CallOutcome.OPTED_OUT,
    "opt_out_keypad": CallOutcome.OPTED_OUT,
}
HUMAN_CLAIM = re.compile(r"\b(?:i am|i'm) (?:a )?(?:real )?(?:human|person)\b", re.IGNORECASE)


def make_agent(brief: CallBrief = BRIEF) -> ScriptedSalesAgent:
    agent = build_voice_agent(brief, now=lambda: NOW, tz=CHICAGO, openai=None)
    assert isinstance(agent, ScriptedSalesAgent)
    return agent


async def say(agent: ScriptedSalesAgent, text: str) -> str:
    pieces = [piece async for piece in agent.respond(text)]
    assert pieces, "a reply is never empty"
    for piece in pieces[:-1]:
        assert piece.endswith((" ", ".", ",", "?", "!", "—")), piece
    return "".join(pieces)


async def converse(name: str, seed: int) -> tuple[ScriptedSalesAgent, list[str]]:
    """Run the agent against a persona for up to 30 turns; the agent's lines."""
    agent = make_agent()
    persona = PERSONAS[name](random.Random(seed))
    said = agent.opening()
    lines = [said]
    for _ in range(30):
        line = persona.hear(said)
        if line.dtmf is not None:
            said = agent.opted_out() if line.dtmf == intents.OPT_OUT_DIGIT else said
        else:
            assert line.text, f"{name} never stays silent"
            said = await say(agent, line.text)
        lines.append(said)
        if agent.state.end_call or line.hang_up:
            break
    return agent, lines


def test_opening_discloses_ai_rep_company_and_recording() -> None:
    opening = make_agent().opening()
    for must in ("AI", "Dana Lee", "Acme Logistics", "recorded", "Sam"):
        assert must in opening
    assert "route planning tool for regional carriers" in opening
    assert opening.endswith("?")
    assert opening.startswith(BRIEF.disclosure())


def test_voicemail_names_rep_company_and_purpose_and_ends_the_call() -> None:
    agent = make_agent()
    message = agent.voicemail()
    assert message.startswith(BRIEF.disclosure())
    assert "route planning tool" in message
    assert agent.state.end_call and agent.state.outcome == CallOutcome.VOICEMAIL
    custom = CallBrief.build(
        rep_name="Dana Lee",
        company_name="Acme Logistics",
        contact_name="Sam",
        purpose="Demo follow-up",
        voicemail_message="Please call Dana back at your convenience.",
    )
    assert make_agent(custom).voicemail().endswith("Please call Dana back at your convenience.")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_persona_conversation_reaches_its_outcome(name: str, seed: int) -> None:
    agent, lines = await converse(name, seed)
    state = agent.state
    assert state.outcome == EXPECTED[name], lines
    assert state.end_call, lines
    for line in lines:
        assert not HUMAN_CLAIM.search(line), line
        assert line.count(". ") + line.count("? ") + line.count("! ") <= 1 or line == lines[0]
    if state.outcome == CallOutcome.CALLBACK_BOOKED:
        assert state.callback_at is not None and state.callback_at > NOW
        assert spoken_time(state.callback_at, CHICAGO) in lines[-1]
    else:
        assert state.callback_at is None
    assert state.opt_out == (state.outcome == CallOutcome.OPTED_OUT)
    if name == "price_objection":
        assert state.objections == ["price"]
    if name == "asks_if_ai":
        assert any("I'm an AI assistant, not a real person" in line for line in lines)


async def test_rambler_never_ends_the_call_itself() -> None:
    agent, lines = await converse("rambler", 7)
    assert len(lines) == 31
    assert not agent.state.end_call
    assert agent.state.outcome is None
    assert all(p.rstrip(".") in " ".join(lines) for p in BRIEF.talking_points)
    assert len(set(lines[-6:])) > 1, "asking again uses other words"


def test_personas_are_deterministic_per_seed_and_vary_across_seeds() -> None:
    opening = make_agent().opening()

    def first_lines(name: str, seed: int) -> list[PersonaLine]:
        persona = PERSONAS[name](random.Random(seed))
        return [persona.hear(opening) for _ in range(3)]

    for name in PERSONAS:
        assert first_lines(name, 3) == first_lines(name, 3)
        assert PERSONAS[name](random.Random(0)).name == name
    variants = {first_lines("interested", seed)[0].text for seed in range(20)}
    assert len(variants) > 1
    assert PERSONAS["opt_out"](random.Random(1)).hear(opening) != PersonaLine(
        text="Please stop calling me."
    )
    assert VOICEMAIL_GREETINGS and all(g.strip() for g in VOICEMAIL_GREETINGS)


async def test_opt_out_said_mid_call_ends_it_politely() -> None:
    agent = make_agent()
    agent.opening()
    reply = await say(agent, "Please take me off your list.")
    assert agent.state.opt_out and agent.state.end_call
    assert agent.state.outcome == CallOutcome.OPTED_OUT
    assert "Acme Logistics" in reply and "goodbye" in reply.lower()


@pytest.mark.parametrize("question", ["Who is this?", "Is this a robot?", "Are you a real person?"])
async def test_identity_questions_are_answered_honestly(question: str) -> None:
    agent = make_agent()
    agent.opening()
    reply = await say(agent, question)
    assert "AI assistant" in reply and "not a real person" in reply
    assert "Dana Lee" in reply and "Acme Logistics" in reply
    assert not agent.state.end_call


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("We already use another tool for that.", "competitor"),
        ("I'm not the decision maker.", "authority"),
        ("We don't really need that.", "need"),
        ("That sounds expensive.", "price"),
    ],
)
async def test_objections_get_an_answer_and_are_recorded(text: str, kind: str) -> None:
    agent = make_agent()
    agent.opening()
    reply = await say(agent, text)
    assert agent.state.objections == [kind]
    assert "Dana Lee" in reply and reply.endswith("?")
    assert not agent.state.end_call


async def test_timing_objection_asks_for_a_better_time_then_books_it() -> None:
    agent = make_agent()
    agent.opening()
    reply = await say(agent, "Not a good time, I'm driving.")
    assert "better time" in reply
    reply = await say(agent, "Friday at 9:30am.")
    assert agent.state.objections == ["timing"]
    assert agent.state.outcome == CallOutcome.CALLBACK_BOOKED
    assert agent.state.callback_at == datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
    assert "Friday, December 4 at 9:30 AM" in reply


async def test_a_firm_no_ends_at_once() -> None:
    agent = make_agent()
    agent.opening()
    reply = await say(agent, "No thanks, not interested, goodbye.")
    assert agent.state.end_call and agent.state.outcome == CallOutcome.NOT_INTERESTED
    assert "goodbye" in reply.lower()


async def test_a_goodbye_ends_the_call_and_keeps_the_interest() -> None:
    agent = make_agent()
    agent.opening()
    await say(agent, "Okay, bye!")
    assert agent.state.end_call
    assert agent.state.outcome == CallOutcome.INTERESTED


async def test_interest_without_a_time_ends_as_interested() -> None:
    agent = make_agent()
    agent.opening()
    replies: list[str] = []
    while not agent.state.end_call and len(replies) < 10:
        replies.append(await say(agent, "Sure."))
    assert agent.state.outcome == CallOutcome.INTERESTED
    assert agent.state.end_call
    assert agent.state.callback_at is None
    assert "reach out" in replies[-1]


async def test_price_questions_are_never_answered_with_a_price() -> None:
    agent = make_agent()
    agent.opening()
    reply = await say(agent, "How much does it cost?")
    assert "can't quote prices" in reply
    assert not re.search(r"\$|\d+ ?(?:dollars|per month)", reply)


async def test_interrupted_keeps_only_what_was_heard_and_repeats_an_unheard_point() -> None:
    agent = make_agent()
    agent.opening()
    reply = await say(agent, "Sure, go ahead.")
    assert reply.startswith("It cuts fuel costs")
    agent.interrupted("It cuts fuel")
    assert agent.history[-1] == ("agent", "It cuts fuel")
    assert agent.history[-2] == ("caller", "Sure, go ahead.")
    again = await say(agent, "Sorry, go on.")
    assert again.startswith("It cuts fuel costs by about 12 percent.")
    agent.interrupted("")
    assert agent.history[-1] == ("caller", "Sorry, go on.")


async def test_interrupting_after_the_point_was_heard_moves_on() -> None:
    agent = make_agent()
    agent.opening()
    await say(agent, "Okay.")
    agent.interrupted("It cuts fuel costs by about 12 percent. Does that")
    assert (await say(agent, "Yes.")).startswith("Setup takes under a day.")


async def test_replies_start_within_the_relay_latency_budget() -> None:
    agent = make_agent()
    agent.opening()
    latencies = []
    for text in ["Sure.", "Tell me more?", "Too expensive.", "Okay.", "in two hours"]:
        started = time.perf_counter()
        stream = agent.respond(text)
        await anext(stream)
        latencies.append(time.perf_counter() - started)
        async for _ in stream:
            pass
    assert max(latencies) < 0.05, latencies
    assert sorted(latencies)[len(latencies) // 2] < 0.02, latencies
