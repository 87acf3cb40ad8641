"""How much of what users ask the offline model gets right.

`chat_app/llm/offline_router/training/*.jsonl` holds the labelled phrasings the
classifier is learned from (`classifier.load_examples`), one JSON object a line: `text`,
the `tool` it should reach (null: nothing offline can do, so the model must say why —
not possible, not allowed or not understood — or an answer given without a tool, named
by `intent`) and the `args` that must match (a subset of what the router extracts;
`null` means "left empty": the latest call). Right on these is the training figure;
the honest ones are the validation split `scripts/train_intents.py` reports and the
held-out set below.

Phrasings are read as on `TODAY` ("since March 1" → "2026-03-01..2026-11-29").
Pure unit tests: the router needs no database.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from langchain_core.messages import HumanMessage

from billing.purchases import BillingAddressInvalid, parse_country
from chat_app.agent import TOOLS
from chat_app.llm.messages import message_text
from chat_app.llm.offline import GREETING, OfflineChatModel
from chat_app.llm.offline_router import NO_TRANSFER_REPLY, route, small_talk
from chat_app.llm.offline_router.classifier import load_examples
from insights.analytics import AnalyticsError, parse_period

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TOOL_NAMES = frozenset(t.name for t in TOOLS)
TODAY = date(2026, 11, 29)
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
REQUIRED_ACCURACY = 0.97
# What the call tools read as "the latest call" (tools.call_refs.resolve_call).
LATEST = frozenset({"", "last", "latest", "my last call", "last call", "the last call"})
PHONE_KEYS = frozenset({"phone", "new_mobile"})
FREE_TEXT_KEYS = frozenset({"query", "purpose", "source"})
# Free text may keep a few words around what was asked for ("asked about integrations").
FREE_TEXT_SLACK = 3
_LEADING = re.compile(r"^(?:(?:a|an|the|my|our|her|his|their)\s+)+")


def _cases() -> list[dict[str, Any]]:
    return [{"text": e.text, "tool": e.tool, "args": e.args} for e in load_examples()]


CASES = _cases()


def _text(value: Any) -> str:
    text = str(value).replace("\u2019", "'").lower()
    text = " ".join(text.strip(" \t\n,.;:!?\"'").split())
    return _LEADING.sub("", text)


def _e164(value: Any) -> str | None:
    try:
        number = phonenumbers.parse(str(value), "US")
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _country(value: Any) -> str:
    try:
        return parse_country(str(value))
    except BillingAddressInvalid:
        return _text(value)


def _period(value: Any) -> tuple[datetime, datetime] | str:
    try:
        span = parse_period(str(value), NOW)
    except AnalyticsError:
        return _text(value)
    return span.start, span.end


def _matches(key: str, expected: Any, got: Any) -> bool:
    if expected is None:  # nothing given: the tool's default (the latest call)
        return got is None or _text(got) in LATEST
    if got is None:
        return False
    if key in PHONE_KEYS or (isinstance(expected, str) and expected.startswith("+")):
        number = _e164(expected)  # '+1 415 555 0100' is '+14155550100'
        if number is not None:
            return _e164(got) == number
    if key == "country":
        return _country(got) == _country(expected)
    if key == "postal_code":
        return str(got).replace(" ", "").upper() == str(expected).replace(" ", "").upper()
    if key == "period":
        return _period(got) == _period(expected)
    if key == "metrics":
        return isinstance(got, list) and sorted(got) == sorted(expected)
    if key in FREE_TEXT_KEYS:
        want, have = _text(expected).split(), _text(got).split()
        return set(want) <= set(have) and len(have) <= len(want) + FREE_TEXT_SLACK
    return _text(got) == _text(expected)


def routed_tool(text: str, **given: Any) -> str | None:
    """The tool `text` reaches (None: none), with the shipped or `given` model/embed."""
    found = route(text, TOOL_NAMES, today=TODAY, **given)
    return found.intent.tool if found is not None else None


def outcome(case: dict[str, Any], **given: Any) -> tuple[bool, str]:
    """Whether the router gets `case` right (tool and arguments), and if not, why.
    `given`: a model and embed function in place of the shipped ones (training)."""
    found = route(case["text"], TOOL_NAMES, today=TODAY, **given)
    tool = found.intent.tool if found is not None else None
    args = found.args if found is not None else {}
    if found is not None and tool is None:
        if case["tool"] is None:
            return True, ""  # answered without a tool (a greeting, why credits can't move)
        return False, f"{case['text']!r}: answered by {found.intent.name!r}, wanted {case['tool']}"
    if tool != case["tool"]:
        return False, f"{case['text']!r}: tool {tool}, wanted {case['tool']} (args {args})"
    wrong = {
        key: args.get(key)
        for key, want in case["args"].items()
        if not _matches(key, want, args.get(key))
    }
    if wrong:
        return False, f"{case['text']!r}: {tool} args {wrong}, wanted {case['args']}"
    return True, ""


def test_the_fixture_has_enough_varied_phrasings():
    assert len(CASES) >= 150
    texts = [_text(c["text"]) for c in CASES]
    assert len(set(texts)) == len(texts), "duplicate phrasings"
    assert sum(1 for c in CASES if c["tool"] is None) >= 10


def test_every_tool_is_covered_by_the_fixture():
    counts = {name: sum(1 for c in CASES if c["tool"] == name) for name in TOOL_NAMES}
    assert {c["tool"] for c in CASES} - {None} <= TOOL_NAMES
    thin = {name: n for name, n in counts.items() if n < 6}
    assert not thin, f"tools with fewer than 6 phrasings: {thin}"


def test_the_offline_router_gets_the_tool_and_its_arguments_right():
    outcomes = [outcome(c) for c in CASES]
    misses = [why for ok, why in outcomes if not ok]
    right = len(CASES) - len(misses)
    share = right / len(CASES)
    print(f"offline router: {right}/{len(CASES)} right ({share:.1%})")
    assert share >= REQUIRED_ACCURACY, (
        f"{right}/{len(CASES)} right ({share:.1%}); misses:\n" + "\n".join(misses)
    )


@pytest.mark.parametrize("text", [c["text"] for c in CASES if c["tool"] is None])
def test_what_offline_cannot_do_gets_an_honest_answer(text):
    model = OfflineChatModel(tool_names=TOOL_NAMES)
    reply = model.respond([HumanMessage(content=text)])
    assert not reply.tool_calls, f"{text!r} called {reply.tool_calls}"
    body = message_text(reply)
    assert "OPENAI_API_KEY" not in body  # only an admin hears about it
    if body in (NO_TRANSFER_REPLY, GREETING) or body in small_talk.REPLIES:
        return  # answered without a tool: why credits can't move, hello, you're welcome
    # Why not, in a rep's words: not possible (and the closest thing it can do), not
    # allowed (with the reason), or not understood — free either way.
    honest = ("What I can do", "isn't allowed", "didn't understand")
    assert any(reason in body for reason in honest), body
    assert "Nothing was charged" in body or "no charge" in body


HELD_OUT = FIXTURES / "offline_heldout.jsonl"
# A second validation set for the learned classifier (never trained on). Before it, for
# the old hand-weighted router: the fixture above was tuning data, the router reworked with its
# lines in view (it holds seven rounds of blind sets, each scored once before any fix: 73,
# 83, 77, 87, 86/84, 88/89 and 87/81 % right). These 300 lines are an eighth round,
# written blind by two authors who saw only the tool catalog and these scoring rules,
# never the router: 281/300 (93.7 %) right on first look. They are not for tuning; the
# floor is the target, so a change that costs accuracy on unseen phrasings fails.
HELD_OUT_FLOOR = 0.95


def test_held_out_phrasings_stay_above_their_floor():
    cases = [json.loads(line) for line in HELD_OUT.read_text(encoding="utf-8").splitlines() if line]
    assert len(cases) >= 300
    misses = [why for case in cases for ok, why in [outcome(case)] if not ok]
    share = 1 - len(misses) / len(cases)
    assert share >= HELD_OUT_FLOOR, f"{share:.1%} right on held-out phrasings:\n" + "\n".join(
        misses
    )


@pytest.mark.parametrize(
    "text",
    [
        "was the prospect on (212) 555-0147 worried about timing or budget?",
        "did we add Dana Whitfield +1 415 555 0134 already?",
        "is the growth pack worth buying?",
        "who should I call next?",
    ],
)
def test_a_question_never_changes_anything(text):
    found = route(text, TOOL_NAMES, today=TODAY)
    changing = {"add_contact", "record_consent", "buy_credits", "place_call", "end_call"}
    assert found is None or found.intent.tool not in changing | {"change_mobile"}, found


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        # Names with particles, accents and hyphens stay whole.
        (
            "add Jan-Willem van der Berg +31 20 555 0101, company Polderveld BV",
            "add_contact",
            {"name": "Jan-Willem van der Berg", "company": "Polderveld BV"},
        ),
        (
            "call Ahmad bin Yusuf about the shipment delay",
            "place_call",
            {"contact": "Ahmad bin Yusuf", "purpose": "the shipment delay"},
        ),
        # Notes are neither name nor company.
        (
            "add contact Mark Will, 212 555 0100, notes: met at SaaStr",
            "add_contact",
            {"name": "Mark Will", "notes": "met at SaaStr"},
        ),
        # When consent was given, as an ISO date (today is 2026-11-29, a Sunday).
        (
            "Dev Patel opted in last Tuesday at the roadshow",
            "record_consent",
            {"contact": "Dev Patel", "source": "roadshow", "obtained_at": "2026-11-24"},
        ),
        (
            "log express consent for Zoë Kim, she ticked the box on our signup form on Nov 20",
            "record_consent",
            {"source": "signup form", "obtained_at": "2026-11-20"},
        ),
        # What the call is for, its goal and what to do on a machine, each on its own.
        (
            "call 503-555-0137 about their renewal, don't leave a voicemail",
            "place_call",
            {"purpose": "their renewal", "on_voicemail": "hang_up"},
        ),
        (
            "ring Raj Patel to follow up on the proposal, try to book a demo",
            "place_call",
            {"purpose": "follow up on the proposal", "goal": "book a demo"},
        ),
        (
            "call Lea Roy about pricing; if you get voicemail leave a message saying call me back",
            "place_call",
            {"purpose": "pricing", "voicemail_message": "call me back"},
        ),
        # Periods: quarters and US numeric dates.
        (
            "credits burned in Q3",
            "analytics",
            {"metrics": ["credits_spent"], "period": "2026-07-01..2026-09-30"},
        ),
        (
            "total talk time between 11/16 and 11/22",
            "analytics",
            {"metrics": ["talk_time_s"], "period": "2026-11-16..2026-11-22"},
        ),
        # Counts.
        ("show me my last 10 calls", "list_calls", {"limit": 10}),
        (
            "search for 'too expensive', top 5 hits only",
            "search_calls",
            {"query": "too expensive", "limit": 5},
        ),
        # A package named bare, a country and postal code behind commas.
        (
            "price check on growth for Canada, M5V 2T6",
            "estimate_purchase",
            {"package": "growth", "country": "Canada", "postal_code": "M5V 2T6"},
        ),
        (
            "how much is pro all-in for Austin TX 78701",
            "estimate_purchase",
            {"package": "pro", "country": "US", "postal_code": "78701"},
        ),
    ],
)
def test_the_router_extracts_what_the_message_states(text, tool, args):
    found = route(text, TOOL_NAMES, today=TODAY)
    assert found is not None and found.intent.tool == tool, found
    for key, want in args.items():
        assert _matches(key, want, found.args.get(key)), (key, found.args)


@pytest.mark.parametrize(
    "text",
    [
        "add my colleague Fatima Zahra to the workspace as a rep",
        "change Lucía Fernández's phone number to 312-555-0104",
        "Can you request a refund for the growth package we bought last week?",
        "connect my Gmail so you can log emails",
    ],
)
def test_what_no_tool_does_is_not_forced_onto_one(text):
    assert route(text, TOOL_NAMES, today=TODAY) is None
