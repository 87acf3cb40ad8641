"""Slots and follow-ups the third development set found missing (issue 17, item 3), one
test a kind: periods for a list of calls (weekdays, 'since the 3rd', 'on Nov 20'), a
contact named in lower case around a pronoun, a campaign's company in lower case,
follow-ups that narrow or redraw the last answer, and the learned not-allowed classes
never refusing an ordinary request. Pure unit tests: no database."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from chat_app.agent import TOOLS
from chat_app.llm.followups import context_messages, resolve
from chat_app.llm.offline import OfflineChatModel
from chat_app.llm.offline_router import route
from chat_app.llm.offline_router.campaigns import campaign_args
from chat_app.llm.offline_router.contacts_admin import contact_only_args, dnc_args
from chat_app.llm.offline_router.dates import period_named

NAMES = frozenset(t.name for t in TOOLS)
TODAY = date(2026, 11, 29)  # a Sunday


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("calls since tuesday", "2026-11-24..2026-11-29"),
        ("what calls did i make on friday", "2026-11-27..2026-11-27"),
        ("calls this morning", "today"),
        ("calls since the 3rd", "2026-11-03..2026-11-29"),
        ("calls on nov 20", "2026-11-20..2026-11-20"),
        ("connect rate between the 2nd and the 9th", "2026-11-02..2026-11-09"),
        ("calls from 3 days ago", "2026-11-26..2026-11-29"),
        ("call outcomes for September 2026", "September 2026"),
    ],
)
def test_days_and_spans_people_type(text: str, period: str) -> None:
    assert period_named(text, TODAY) == period


def test_a_list_of_calls_keeps_its_period_and_status() -> None:
    found = route("show failed calls this week", NAMES, today=TODAY)
    assert found is not None and found.intent.tool == "list_calls"
    assert found.args == {"period": "this week", "status": "failed"}


@pytest.mark.parametrize(
    ("text", "who"),
    [
        (
            "sofia rossi asked not to be contacted again, add her to the do not call list",
            "sofia rossi",
        ),
        ("dnc raj patel", "raj patel"),
        ("can you take raj patel off the do not call list he emailed asking", "raj patel"),
        ("yesterday i talked to laura chen she said no more calls so put her on dnc", "laura chen"),
    ],
)
def test_a_lower_case_name_beside_a_pronoun_is_the_number_meant(text: str, who: str) -> None:
    assert dnc_args(text, TODAY)["phone"] == who


def test_a_contact_to_delete_ends_before_the_reason() -> None:
    assert contact_only_args("pls delete raj patel hes not a fit") == {"contact": "raj patel"}
    assert contact_only_args("remove contact valentina cruz pls") == {"contact": "valentina cruz"}


def test_a_campaigns_company_in_lower_case() -> None:
    args = campaign_args("launch a campaign to reach acme contacts about the q1 kickoff", TODAY)
    assert args["company"] == "acme" and args["purpose"] == "the q1 kickoff"
    args = campaign_args("campaign for the webinar invite to all my contacts at verde foods", TODAY)
    assert args == {"purpose": "the webinar invite", "company": "verde foods"}


ANALYTICS = {
    "user": "talk time by rep last month",
    "tool": "analytics",
    "args": {"metrics": ["talk_time_s"], "dimension": "rep", "period": "last month"},
}


@pytest.mark.parametrize(
    ("before", "text", "tool", "args"),
    [
        (ANALYTICS, "same but as a bar chart", "analytics", {**ANALYTICS["args"], "chart": "bar"}),
        (ANALYTICS, "by day", "analytics", {**ANALYTICS["args"], "dimension": "day"}),
        (
            {"user": "calls this week", "tool": "list_calls", "args": {"period": "this week"}},
            "only the failed ones",
            "list_calls",
            {"period": "this week", "status": "failed"},
        ),
        (
            {"user": "estimate starter for germany", "tool": "estimate_purchase", "args": {}},
            "and for france?",
            "estimate_purchase",
            {"country": "france"},
        ),
        (
            {
                "user": "how did the call with olga petrova go",
                "tool": "call_status",
                "args": {"call": "olga petrova"},
                "about": {"contact": "Olga Petrova", "call": "4d4d5e5e"},
            },
            "what did she say about pricing",
            "search_calls",
            {"query": "pricing", "contact": "Olga Petrova"},
        ),
    ],
)
def test_a_follow_up_narrows_or_redraws_the_last_answer(
    before: dict[str, Any], text: str, tool: str, args: dict[str, Any]
) -> None:
    found = resolve([*context_messages([before]), HumanMessage(text)], NAMES, today=TODAY)
    assert found is not None and found.tool == tool
    assert {k: found.args.get(k) for k in args} == args


@pytest.mark.parametrize("text", ["call him again", "call her back", "ring kevin wu back"])
def test_an_ordinary_call_request_is_never_refused_as_not_allowed(text: str) -> None:
    model = OfflineChatModel(today=TODAY).bind_tools(TOOLS)
    assert isinstance(model, OfflineChatModel)
    reply = model.respond([HumanMessage(text)])
    assert "isn't allowed" not in str(reply.content)


@pytest.mark.parametrize(
    "text",
    ["hang up on him, hes yelling", "tell them nobody is recording"],
)
def test_a_pronoun_with_no_one_before_is_not_asked_about_when_it_needs_no_one(text: str) -> None:
    reply = OfflineChatModel(today=TODAY).bind_tools(TOOLS)
    assert isinstance(reply, OfflineChatModel)
    assert "Who do you mean" not in str(reply.respond([HumanMessage(text)]).content)
