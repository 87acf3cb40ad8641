"""Follow-ups typed the way reps type them (issue 17, items 2 and 3): shorthand periods
('and last wk?', 'same for ytd'), a period alone ('last week?'), 'what abt', a name in
lower case ('what about kwame?'), 'em', and a short question about the call just
discussed ('and the transcript?'), each read against the conversation before it — and
the contact just discussed is the one a revoke, delete or do-not-call request means."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from chat_app.agent import TOOLS
from chat_app.llm.followups import context_messages, resolve

NAMES = frozenset(t.name for t in TOOLS)
TODAY = date(2026, 12, 7)
ANALYTICS = [
    {
        "user": "connect rate per rep this week",
        "tool": "analytics",
        "args": {"metrics": ["connect_rate"], "period": "this week", "dimension": "rep"},
        "about": {},
    }
]
SUMMARY = [
    {
        "user": "summarize my last call",
        "tool": "summarize_call",
        "args": {},
        "about": {"contact": "Dana Whitfield", "call": "7c2e91ab"},
    }
]
RATE = {"metrics": ["connect_rate"], "dimension": "rep"}


def _resolved(before: list[dict[str, Any]], text: str) -> tuple[str | None, dict[str, Any]]:
    found = resolve([*context_messages(before), HumanMessage(text)], NAMES, today=TODAY)
    assert found is not None, text
    return found.tool, found.args


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("and last wk?", RATE | {"period": "last week"}),
        ("what abt last mo", RATE | {"period": "last month"}),
        ("same for ytd", RATE | {"period": "this year"}),
        ("ok and yday", RATE | {"period": "yesterday"}),
        ("last week?", RATE | {"period": "last week"}),
        (
            "what about kwame?",
            {"metrics": ["connect_rate"], "period": "this week", "rep": "kwame"},
        ),
        (
            "and for priya pls",
            {"metrics": ["connect_rate"], "period": "this week", "rep": "priya"},
        ),
    ],
)
def test_one_argument_changed_in_shorthand(text: str, args: dict[str, Any]) -> None:
    assert _resolved(ANALYTICS, text) == ("analytics", args)


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ("and the transcript?", "get_transcript", {"call": "7c2e91ab"}),
        ("whats the transcript", "get_transcript", {"call": "7c2e91ab"}),
        ("play the recording of that", "play_recording", {"call": "7c2e91ab"}),
        ("revoke her consent", "revoke_consent", {"contact": "Dana Whitfield"}),
        ("delete her", "delete_contact", {"contact": "Dana Whitfield"}),
        ("add her to dnc", "add_dnc", {"phone": "Dana Whitfield"}),
    ],
)
def test_the_call_or_contact_just_discussed(text: str, tool: str, args: dict[str, Any]) -> None:
    got_tool, got = _resolved(SUMMARY, text)
    assert got_tool == tool
    assert {k: got.get(k) for k in args} == args


def test_em_is_the_contact_just_discussed() -> None:
    tool, args = _resolved(SUMMARY, "call em back about the renewal")
    assert tool == "place_call"
    assert args["contact"] == "Dana Whitfield"
    assert args["purpose"] == "the renewal"
