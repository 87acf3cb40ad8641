"""The offline extractor on transcripts in the style of the simulated carrier's personas:
outcome, objections, next steps, sentiment and an extractive summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from insights.extract import GENERATOR, CallFacts, Turn, extract, local_time

NEW_YORK = ZoneInfo("America/New_York")
# Monday 30 November 2026, 3:00 PM in New York.
AT = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
OPENING = (
    "Hi Sam, this is an AI assistant calling on behalf of Dana Lee at Acme Logistics. "
    "This call is recorded. Dana Lee asked me to call about our new route planning tool. "
    "Is now a good time for a quick minute?"
)


def facts(**overrides: object) -> CallFacts:
    base: dict[str, object] = {
        "contact_name": "Sam Rivera",
        "contact_company": "Rivera Freight",
        "status": "completed",
        "purpose": "Our new route planning tool",
        "goal": "book a 15-minute demo",
        "duration_s": 95,
        "answered_by": "human",
        "tz": NEW_YORK,
    }
    return CallFacts(**{**base, **overrides})  # type: ignore[arg-type]


def conversation(*prospect: str, keypad: bool = False) -> list[Turn]:
    """The opening, then each prospect line answered by the agent."""
    turns = [Turn("agent", OPENING, AT)]
    for n, line in enumerate(prospect, start=1):
        turns.append(Turn("prospect", line, AT + timedelta(seconds=20 * n)))
        turns.append(
            Turn("agent", "Got it. Can I ask one more thing?", AT + timedelta(seconds=20 * n + 5))
        )
    if keypad:
        turns.append(Turn("system", "Keypad: 9", AT + timedelta(minutes=2)))
    return turns


def test_interested_prospect_with_a_price_objection() -> None:
    insight = extract(
        facts(),
        conversation(
            "Alright, I'm listening.",
            "Honestly, that sounds expensive for a team our size.",
            "Okay, if it fits what we can spend, I'd like to hear more.",
        ),
    )
    assert insight.outcome == "interested"
    assert insight.objections == ("price",)
    assert insight.next_steps == ("Send pricing details", "Follow up to book a 15-minute demo")
    assert insight.sentiment == "positive"
    assert insight.sentiment_score == pytest.approx(0.5)
    assert insight.generator == GENERATOR
    assert insight.summary.startswith(
        "Call with Sam Rivera of Rivera Freight about our new route planning tool (1 min 35 s)."
    )
    assert "“Honestly, that sounds expensive for a team our size.”" in insight.summary
    assert insight.summary.endswith("Outcome: interested; objections: price.")


def test_callback_named_in_the_transcript_is_booked_in_the_contacts_zone() -> None:
    insight = extract(
        facts(duration_s=40),
        conversation("Bad time, sorry. Try me tomorrow at 3pm.", "Thanks, bye."),
    )
    assert insight.outcome == "callback_booked"
    assert insight.objections == ("timing",)
    assert insight.next_steps == ("Call back on Tue Dec 1 at 3:00 PM ET",)
    assert insight.sentiment == "neutral"
    assert "callback booked for Tue Dec 1 at 3:00 PM ET" in insight.summary


def test_stored_outcome_and_callback_win_over_the_rules() -> None:
    booked = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)  # Thursday 2:00 PM in New York
    insight = extract(
        facts(outcome="callback_booked", callback_at=booked),
        conversation("Sure, go ahead.", "How about Thursday at 2pm?"),
    )
    assert insight.outcome == "callback_booked"
    assert insight.next_steps == ("Call back on Thu Dec 3 at 2:00 PM ET",)
    assert insight.sentiment == "positive"


def test_not_interested_is_negative_and_needs_no_follow_up() -> None:
    insight = extract(
        facts(duration_s=22),
        conversation("No thanks, we're not interested.", "Really, no thanks."),
    )
    assert insight.outcome == "not_interested"
    assert insight.objections == ()
    assert insight.next_steps == ("No follow-up: the prospect declined",)
    assert (insight.sentiment, insight.sentiment_score) == ("negative", -1.0)
    assert "“No thanks, we're not interested.”" in insight.summary


def test_objections_come_from_the_prospect_only() -> None:
    turns = [
        Turn("agent", "Many teams say it is too expensive at first, or that the boss decides.", AT),
        Turn("prospect", "We already use Routific and I'd have to check with my manager.", AT),
        Turn("prospect", "Not interested.", AT + timedelta(seconds=30)),
    ]
    insight = extract(facts(), turns)
    assert insight.objections == ("competitor", "authority")
    assert insight.outcome == "not_interested"
    assert insight.next_steps == ("Find out who makes the decision",)


@pytest.mark.parametrize(
    ("turns", "quoted"),
    [
        (
            conversation("Um, what's this about?", "Please stop calling me."),
            "“Please stop calling me.”",
        ),
        (conversation("Hmm.", keypad=True), "Sam pressed 9 to opt out."),
    ],
    ids=["spoken", "keypad"],
)
def test_opt_out_in_words_or_on_the_keypad(turns: list[Turn], quoted: str) -> None:
    insight = extract(facts(duration_s=18), turns)
    assert insight.outcome == "opted_out"
    assert insight.next_steps == ("Do not call again (the number is on the do-not-call list)",)
    assert insight.sentiment == "negative"
    assert quoted in insight.summary


@pytest.mark.parametrize(
    ("overrides", "outcome", "opening"),
    [
        ({"status": "busy", "duration_s": 0}, "no_answer", "the line was busy"),
        ({"status": "no-answer", "duration_s": 0}, "no_answer", "nobody answered"),
        ({"status": "failed", "duration_s": None}, "no_answer", "the call failed"),
        ({"outcome": "busy", "status": "busy"}, "no_answer", "the line was busy"),
        ({"answered_by": "machine_end_beep"}, "voicemail", "reached voicemail"),
    ],
)
def test_calls_without_a_conversation(
    overrides: dict[str, object], outcome: str, opening: str
) -> None:
    insight = extract(facts(**overrides), [])
    assert insight.outcome == outcome
    assert insight.next_steps == ("Try again later",)
    assert (insight.sentiment, insight.sentiment_score, insight.objections) == ("neutral", 0.0, ())
    assert opening in insight.summary
    assert insight.summary.count(".") >= 2  # who and what about, then the outcome


def test_a_connected_call_where_the_prospect_never_spoke_counts_as_no_answer() -> None:
    assert extract(facts(), [Turn("agent", OPENING, AT)]).outcome == "no_answer"


def test_long_quotes_are_cut_at_a_word() -> None:
    ramble = "So the thing about our warehouse is that " + "we keep stacking boxes " * 20
    insight = extract(facts(), conversation(ramble + "and honestly it sounds expensive."))
    quote = insight.summary.split("“", 1)[1].split("”", 1)[0]
    assert quote.endswith("…") and len(quote) <= 160


def test_local_time_uses_daylight_and_standard_abbreviations() -> None:
    assert local_time(datetime(2026, 7, 1, 16, 30, tzinfo=UTC), NEW_YORK) == (
        "Wed Jul 1 at 12:30 PM ET"
    )
    assert local_time(datetime(2026, 7, 1, 16, 30, tzinfo=UTC), ZoneInfo("Europe/Berlin")) == (
        "Wed Jul 1 at 6:30 PM CEST"
    )
