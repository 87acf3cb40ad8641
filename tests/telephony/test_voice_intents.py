"""The deterministic intents the voice agents act on: opt-out, objections, interest,
identity questions and callback times (read in the callee's time zone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from telephony.voice import intents

CHICAGO = ZoneInfo("America/Chicago")
# Monday, November 30 2026, 2:00 PM in Chicago.
NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "Stop calling me.",
        "Please stop calling me.",
        "Remove me from your list.",
        "Can you take me off your list?",
        "Do not call me again.",
        "Don't call me.",
        "Dont call me ever",
        "Put me on your do not call list.",
        "Put me on your do-not-call list.",
        "unsubscribe",
        "Just stop calling!",
        "Remove my number from your list, please.",
        "Quit bothering me.",
        "Stop calling this number.",
        "Never call me again.",
        "Don't call me back.",
        "Don't call me on this number.",
    ],
)
def test_opt_out_phrases_are_recognised(text: str) -> None:
    assert intents.is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "Don't stop.",
        "I can't remove the old system.",
        "Call me back later.",
        "Don't stop calling, this is great.",
        "Stop, let me think.",
        "Can you call me tomorrow?",
        "We took that list off the wall.",
        "Don't call me before noon.",
        "Don't call me back today, try tomorrow at 3.",
        "Please don't call me in the morning.",
        "",
    ],
)
def test_opt_out_does_not_fire_on_ordinary_speech(text: str) -> None:
    assert not intents.is_opt_out(text)


def test_keypad_opt_out_digit() -> None:
    assert intents.OPT_OUT_DIGIT == "9"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("That's too expensive.", "price"),
        ("We have no budget for this.", "price"),
        ("Sounds expensive.", "price"),
        ("We can't afford it right now", "price"),
        ("This is not a good time.", "timing"),
        ("I'm busy right now.", "timing"),
        ("Maybe next quarter.", "timing"),
        ("We already use HubSpot.", "competitor"),
        ("We're happy with our current vendor.", "competitor"),
        ("We're under contract until spring.", "competitor"),
        ("I'm not the decision maker.", "authority"),
        ("You'd have to talk to my boss.", "authority"),
        ("We don't need that.", "need"),
        ("There's no need, we're all set.", "need"),
        ("Honestly we don't need it and it's too expensive.", "need"),
    ],
)
def test_objections_are_classified(text: str, kind: str) -> None:
    assert intents.objection_in(text) == kind
    assert kind in intents.OBJECTIONS


def test_every_objection_in_the_order_said() -> None:
    text = "We already use another tool, it's too expensive, and I'm not the decision maker."
    assert intents.objections_in(text) == ["competitor", "price", "authority"]
    assert intents.objections_in("Sounds great.") == []


@pytest.mark.parametrize(
    "text", ["How much does it cost?", "Sure, go ahead.", "Tell me more.", "Is this a robot?"]
)
def test_no_objection_in_neutral_or_positive_speech(text: str) -> None:
    assert intents.objection_in(text) is None


@pytest.mark.parametrize(
    "text",
    ["Yes.", "Sure, go ahead.", "That sounds good.", "I'm interested.", "No problem, go ahead."],
)
def test_positive(text: str) -> None:
    assert intents.is_positive(text)
    assert not intents.is_negative(text)


@pytest.mark.parametrize(
    "text",
    ["Not interested.", "No thanks.", "No.", "Nope", "Okay, well I'm not interested.", "nah"],
)
def test_negative(text: str) -> None:
    assert intents.is_negative(text)
    assert not intents.is_positive(text)


def test_uncertainty_is_neither_positive_nor_negative() -> None:
    assert not intents.is_positive("I'm not sure.")
    assert not intents.is_negative("I'm not sure.")


def test_firm_negative_needs_a_decline_and_an_ending() -> None:
    assert intents.is_firm_negative("No thanks, not interested, goodbye.")
    assert intents.is_firm_negative("Absolutely not.")
    assert not intents.is_firm_negative("Not interested.")
    assert not intents.is_firm_negative("Okay, bye!")


@pytest.mark.parametrize(
    "text",
    [
        "Who is this?",
        "Who's calling?",
        "Is this a robot?",
        "Are you a real person?",
        "Am I talking to a machine?",
        "Are you human?",
    ],
)
def test_identity_questions(text: str) -> None:
    assert intents.is_identity_question(text)


def test_is_now_a_good_time_is_not_an_identity_question() -> None:
    assert not intents.is_identity_question("Is this a good time to talk about it?")


def test_goodbye_and_price_question() -> None:
    assert intents.is_goodbye("Thanks, bye.")
    assert intents.is_goodbye("Have a good day")
    assert not intents.is_goodbye("Maybe.")
    assert intents.is_price_question("How much does it cost?")
    assert not intents.is_price_question("How does it work?")


def _local(text: str, now: datetime = NOW, tz: ZoneInfo = CHICAGO) -> str | None:
    when = intents.callback_time(text, now, tz)
    if when is None:
        return None
    assert when.tzinfo is not None and when.utcoffset() == timedelta(0)
    assert when > now
    return when.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow at 3pm", "Tue 2026-12-01 15:00"),
        ("Tuesday at 10", "Tue 2026-12-01 10:00"),
        ("Tuesday at 10am works.", "Tue 2026-12-01 10:00"),
        ("next Monday morning", "Mon 2026-12-07 10:00"),
        ("How about Friday afternoon?", "Fri 2026-12-04 14:00"),
        ("in two hours", "Mon 2026-11-30 16:00"),
        ("I'm in a meeting, call me in half an hour", "Mon 2026-11-30 14:30"),
        ("call me back at 4:30", "Mon 2026-11-30 16:30"),
        ("at 9", "Tue 2026-12-01 09:00"),
        ("I'm busy, call me back tomorrow at 3pm", "Tue 2026-12-01 15:00"),
        ("Thursday at 3 p.m.", "Thu 2026-12-03 15:00"),
        ("Friday at 9:30am.", "Fri 2026-12-04 09:30"),
        ("at 8 in the evening", "Mon 2026-11-30 20:00"),
        ("Wednesday, 1:15 works", "Wed 2026-12-02 13:15"),
        ("eleven in the morning on Thursday", "Thu 2026-12-03 11:00"),
        ("how about at three", "Mon 2026-11-30 15:00"),
        ("Friday at two would be great", "Fri 2026-12-04 14:00"),
        ("look at ten things, then call me tomorrow at 4pm", "Tue 2026-12-01 16:00"),
        ("ten in the morning on Wednesday", "Wed 2026-12-02 10:00"),
        ("around noon tomorrow", "Tue 2026-12-01 12:00"),
        ("December 3rd at 11am", "Thu 2026-12-03 11:00"),
        ("November 30 at 4pm", "Mon 2026-11-30 16:00"),
        ("next week", "Mon 2026-12-07 10:00"),
        ("in a couple of days", "Wed 2026-12-02 10:00"),
        ("Monday at 2pm", "Mon 2026-12-07 14:00"),
    ],
)
def test_callback_time_in_the_callees_zone(text: str, expected: str) -> None:
    assert _local(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "call me back later",
        "We already use Salesforce.",
        "today at 9am",
        "we grew 30% last year",
        "we're at 5% growth",
        "look at ten things first",
        "look at a report",
        "we have 3 amigos",
        "",
    ],
)
def test_callback_time_none_when_nothing_or_past(text: str) -> None:
    assert intents.callback_time(text, NOW, CHICAGO) is None


def test_callback_time_depends_on_the_callees_zone() -> None:
    # 2:00 PM in Chicago is 12:00 noon in Los Angeles: "at 1" is today there, 1 PM local.
    la = ZoneInfo("America/Los_Angeles")
    assert _local("at 1", tz=la) == "Mon 2026-11-30 13:00"
    assert intents.callback_time("at 1", NOW, la) == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
    # ...while in Chicago 1 PM has passed, so it is tomorrow's.
    assert _local("at 1") == "Tue 2026-12-01 13:00"


def test_agreed_callback_time_ignores_a_rejected_time() -> None:
    assert intents.agreed_callback_time("No, tomorrow at 3 doesn't work.", NOW, CHICAGO) is None
    assert intents.agreed_callback_time("Tomorrow at 3 won't work", NOW, CHICAGO) is None
    assert intents.agreed_callback_time("Tomorrow at 3 works.", NOW, CHICAGO) == datetime(
        2026, 12, 1, 21, 0, tzinfo=UTC
    )
