"""Arguments the offline model reads that it used to miss (issue 17, item 3), each as a
rule of the slot extractors rather than a phrasing: digits dictated one by one, a name
introduced as "his name is …", a lower-case name before what was said, counts after an
order, no pickup as a machine, a reason dictated without punctuation, a campaign
audience "named …", settings asked about as a question, and follow-ups that change the
figure, the package or the search words. Pure unit tests: no database."""

from __future__ import annotations

from typing import Any

import pytest

from chat_app.llm.offline_router.entities import spoken_digits
from tests.chat_app.phrasings import answer

FOLLOW = {"about": {}}


@pytest.mark.parametrize(
    ("said", "typed"),
    [
        ("four one five five five five zero one two three", "4155550123"),
        ("call plus four four seven seven oh oh nine oh oh one two three", "call +447700900123"),
        ("415 555 0123", "415 555 0123"),  # typed digits are left as typed
        ("top five contacts", "top five contacts"),  # a count is not a number to dial
    ],
)
def test_a_number_dictated_digit_by_digit_is_read_as_digits(said: str, typed: str) -> None:
    assert spoken_digits(said) == typed


CASES: list[tuple[str, str | None, dict[str, Any]]] = [
    (
        "new contact her name is greta lind phone number six four six five five five zero one"
        " four four",
        "add_contact",
        {"name": "greta lind", "phone": "+16465550144"},
    ),
    ("add jonas berg 0161 496 0000 in the uk", "add_contact", {"phone": "+441614960000"}),
    ("what did hana say about the contract", "search_calls", {"contact": "hana"}),
    ("pull up 12 calls", "list_calls", {"limit": 12}),
    ("play lena's recording", "play_recording", {"call": "lena"}),
    (
        "call jonas about the audit and if he doesnt pick up hang up",
        "place_call",
        {"on_voicemail": "hang_up"},
    ),
    (
        "revoke consent for hana sato she said she no longer wants calls",
        "revoke_consent",
        {"reason": "she said she no longer wants calls"},
    ),
    (
        "start a campaign about the audit for prospects named berg",
        "create_campaign",
        {"name_contains": "berg"},
    ),
    ("how do callbacks work for us right now?", "callback_settings", {}),
    ("which webhooks are set up?", "manage_webhooks", {"action": "list"}),
    ("remind me to buy coffee", None, {}),
    # A manager's shorthand.
    ("cr by rep lw", "analytics", {"metrics": "['connect_rate']", "period": "last week"}),
    ("tt by rep mtd", "analytics", {"metrics": "['talk_time_s']", "dimension": "rep"}),
    ("failed calls thurs", "list_calls", {"period": "2026-11-26..2026-11-26"}),
    ("jonas call status", "call_status", {"call": "jonas"}),
    ("consent hana sato express web form", "record_consent", {"contact": "hana sato"}),
    ("call jonas re renewal, leave msg", "place_call", {"on_voicemail": "leave"}),
    # Run-on requests.
    (
        "just got off the phone with hana sato and she asked about the pricing can you call her"
        " back about that",
        "place_call",
        {"contact": "hana sato", "purpose": "the pricing"},
    ),
    ("connect rate since the start of october", "analytics", {"period": "2026-10-01..2026-11-29"}),
    (
        "show me every call i made to greta lind in the last week",
        "list_calls",
        {"contact": "greta lind"},
    ),
]


@pytest.mark.parametrize(("text", "tool", "args"), CASES)
def test_the_argument_is_read(text: str, tool: str | None, args: dict[str, Any]) -> None:
    got_tool, got_args, _ = answer({"text": text})
    assert got_tool == tool
    for key, value in args.items():
        assert str(got_args.get(key)).lower() == str(value).lower(), (key, got_args)


def _after(user: str, tool: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"user": user, "tool": tool, "args": args, **FOLLOW}]


def test_follow_ups_change_the_figure_the_package_and_the_search_words() -> None:
    talk = _after("calls by rep this week", "analytics", {"metrics": ["calls"], "dimension": "rep"})
    assert answer({"text": "same for opt outs", "context": talk})[:2] == (
        "analytics",
        {"metrics": ["opt_outs"], "dimension": "rep"},
    )
    quote = _after("estimate starter for france", "estimate_purchase", {"package": "starter"})
    quote[0]["args"]["country"] = "FR"
    assert answer({"text": "what about growth?", "context": quote})[:2] == (
        "estimate_purchase",
        {"package": "growth", "country": "FR"},
    )
    search = _after("who mentioned discounts", "search_calls", {"query": "discounts"})
    assert answer({"text": "and onboarding?", "context": search})[:2] == (
        "search_calls",
        {"query": "onboarding"},
    )
    recap = _after("summarize my call with hana", "summarize_call", {"call": "hana"})
    assert answer({"text": "now do the same for jonas", "context": recap})[:2] == (
        "summarize_call",
        {"call": "jonas"},
    )


def test_follow_ups_add_a_figure_narrow_to_one_rep_and_refer_to_the_call() -> None:
    rate = _after(
        "connect rate by rep this month",
        "analytics",
        {"metrics": ["connect_rate"], "dimension": "rep", "period": "this month"},
    )
    assert answer({"text": "what about talk time", "context": rate})[:2] == (
        "analytics",
        {"metrics": ["talk_time_s"], "dimension": "rep", "period": "this month"},
    )
    assert answer({"text": "for sam only", "context": rate})[:2] == (
        "analytics",
        {"metrics": ["connect_rate"], "period": "this month", "rep": "sam"},
    )
    calls = _after("calls riley made last week", "analytics", {"metrics": ["calls"]})
    assert answer({"text": "connect rate too", "context": calls})[:2] == (
        "analytics",
        {"metrics": ["calls", "connect_rate"]},
    )
    recap = [
        {
            "user": "summarize my call with jonas berg",
            "tool": "summarize_call",
            "args": {"call": "jonas berg"},
            "about": {"contact": "Jonas Berg", "call": "ab12cd34"},
        }
    ]
    assert answer({"text": "transcript pls", "context": recap})[:2] == (
        "get_transcript",
        {"call": "ab12cd34"},
    )
