"""Follow-ups read against the conversation (chat_app.llm.followups), without a database:
threads built with `context_messages`, the shape an evaluation harness uses, and given
to the offline model as the agent would."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from chat_app.agent import TOOLS
from chat_app.llm import followups
from chat_app.llm.followups import context_messages, exchanges, resolve, yes_no
from chat_app.llm.offline import OfflineChatModel

NAMES = frozenset(t.name for t in TOOLS)
TODAY = date(2026, 12, 7)
MODEL = OfflineChatModel(tool_names=NAMES)

SUMMARY = [
    {
        "user": "summarize my last call",
        "tool": "summarize_call",
        "args": {},
        "about": {"contact": "Dana Whitfield", "call": "7c2e91ab"},
    }
]
ANALYTICS = [
    {
        "user": "connect rate per rep this week",
        "tool": "analytics",
        "args": {"metrics": ["connect_rate"], "period": "this week", "dimension": "rep"},
        "about": {},
    }
]
CONSENT_ASKED = [
    {
        "user": "record express written consent for Jordan Lee from the web form",
        "tool": "record_consent",
        "args": {"contact": "Jordan Lee", "consent_type": "express written", "source": "web form"},
        "about": {"contact": "Jordan Lee"},
    },
    {"assistant": "What exact wording did they agree to? (paste the consent text)"},
]
COUNTRY_ASKED = [
    {
        "user": "estimate the growth pack",
        "tool": "estimate_purchase",
        "args": {"package": "growth"},
        "about": {},
    },
    {
        "assistant": "I need your billing country (and postal code) once to estimate tax: "
        "for example 'estimate the starter pack for US 94105' or 'for GB'."
    },
]
CONFIRM_ASKED = [
    {
        "user": "call Dana Whitfield about pricing",
        "tool": "place_call",
        "args": {"contact": "Dana Whitfield", "purpose": "pricing"},
        "about": {"contact": "Dana Whitfield"},
    },
    {
        "assistant": "Consent on record; inside calling hours.\n\nCall Dana Whitfield (Acme), "
        "+1 212-555-0100 now about: pricing?"
    },
]


def _answer(items: list[dict[str, Any]], text: str) -> AIMessage:
    """What the offline model answers to `text` after the thread `items`."""
    return MODEL.respond([*context_messages(items), HumanMessage(text)])


def _tool_call(items: list[dict[str, Any]], text: str) -> tuple[str, dict[str, Any]] | None:
    answer = _answer(items, text)
    if not answer.tool_calls:
        return None
    return answer.tool_calls[0]["name"], answer.tool_calls[0]["args"]


def test_context_messages_build_the_thread_the_app_stores() -> None:
    messages = context_messages([*SUMMARY, *CONSENT_ASKED])
    kinds = [type(m).__name__ for m in messages]
    assert kinds == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    tool_result = messages[2]
    assert isinstance(tool_result, ToolMessage)
    assert tool_result.artifact == {"about": {"contact": "Dana Whitfield", "call": "7c2e91ab"}}
    # The assistant item is the turn's last words: the question it asked back.
    assert messages[-1].content.startswith("What exact wording")
    read = exchanges(messages)
    assert [(e.tool, e.about.get("contact")) for e in read] == [
        ("summarize_call", "Dana Whitfield"),
        ("record_consent", "Jordan Lee"),
    ]


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        (
            "call them again about the renewal",
            "place_call",
            {"contact": "Dana Whitfield", "purpose": "the renewal"},
        ),
        (
            "call the same contact about pricing",
            "place_call",
            {"contact": "Dana Whitfield", "purpose": "pricing"},
        ),
        ("summarize that call", "summarize_call", {"call": "7c2e91ab"}),
        ("transcript of that call", "get_transcript", {"call": "7c2e91ab"}),
        ("what did she say", "get_transcript", {"call": "7c2e91ab"}),
        ("show calls with them", "list_calls", {"contact": "Dana Whitfield"}),
        ("what about Riley?", "summarize_call", {"call": "Riley"}),
        ("again", "summarize_call", {}),
    ],
)
def test_references_resolve_to_what_the_conversation_was_about(
    text: str, tool: str, args: dict[str, Any]
) -> None:
    assert _tool_call(SUMMARY, text) == (tool, args)


def test_a_request_naming_someone_else_is_not_rewritten() -> None:
    assert _tool_call(SUMMARY, "summarize my last call") == ("summarize_call", {})
    found = _tool_call(SUMMARY, "call Riley Chen about the spring promotion")
    assert found == ("place_call", {"contact": "Riley Chen", "purpose": "the spring promotion"})
    now = _tool_call(SUMMARY, "now call Jordan Lee about pricing")
    assert now == ("place_call", {"contact": "Jordan Lee", "purpose": "pricing"})


@pytest.mark.parametrize(
    ("text", "changed"),
    [
        ("and last week?", {"period": "last week"}),
        ("what about Riley?", {"rep": "Riley"}),
        ("how about last month for Riley", {"period": "last month", "rep": "Riley"}),
    ],
)
def test_one_argument_of_the_previous_question_changes(text: str, changed: dict[str, Any]) -> None:
    found = _tool_call(ANALYTICS, text)
    assert found is not None and found[0] == "analytics"
    expected = {**ANALYTICS[0]["args"], **changed}
    if "rep" in changed:
        expected.pop("dimension")  # one rep, not every rep
    assert found[1] == expected


def test_the_consent_question_takes_the_wording_or_a_new_request() -> None:
    wording = "I agree to receive calls from Acme about my account"
    assert _tool_call(CONSENT_ASKED, wording) == (
        "record_consent",
        {**CONSENT_ASKED[0]["args"], "wording": wording},
    )
    # A new request is handled as one: no consent, whatever the question asked.
    call = _tool_call(CONSENT_ASKED, "call Jordan Lee about our new scheduling software")
    assert call == (
        "place_call",
        {"contact": "Jordan Lee", "purpose": "our new scheduling software"},
    )


def test_the_billing_country_question_takes_a_country_or_a_new_request() -> None:
    assert _tool_call(COUNTRY_ASKED, "Germany") == (
        "estimate_purchase",
        {"package": "growth", "country": "Germany"},
    )
    assert _tool_call(COUNTRY_ASKED, "US 94105") == (
        "estimate_purchase",
        {"package": "growth", "country": "US", "postal_code": "94105"},
    )
    assert _tool_call(COUNTRY_ASKED, "buy the starter pack") == (
        "buy_credits",
        {"package": "starter"},
    )


def test_yes_and_no_answer_the_confirmation_asked() -> None:
    assert _tool_call(CONFIRM_ASKED, "yes") == ("place_call", CONFIRM_ASKED[0]["args"])
    assert _tool_call(CONFIRM_ASKED, "sure, go ahead") == ("place_call", CONFIRM_ASKED[0]["args"])
    declined = _answer(CONFIRM_ASKED, "no")
    assert not declined.tool_calls and declined.content == followups.NOTHING_DONE
    # A yes to nothing asked is not a yes to the last tool.
    assert resolve([*context_messages(SUMMARY), HumanMessage("yes")], NAMES) is None


def test_a_reference_to_no_one_is_asked_back() -> None:
    answer = _answer([], "call him again")
    assert not answer.tool_calls
    assert "Who do you mean by “him”" in str(answer.content)


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("yes", True),
        ("Yep, go ahead", True),
        ("ok", True),
        ("no", False),
        ("cancel", False),
        ("no thanks", False),
        ("yes call Dana about pricing", None),
        ("know what, never", None),
    ],
)
def test_yes_no(text: str, meant: bool | None) -> None:
    assert yes_no(text) is meant


def test_a_new_request_is_told_from_an_answer() -> None:
    assert followups.is_new_request("call Jordan Lee about our software", NAMES, TODAY)
    assert followups.is_new_request("what's my balance?", NAMES, TODAY)
    for answer in ("I agree to be called by Acme about my account", "Germany", "123456"):
        assert not followups.is_new_request(answer, NAMES, TODAY), answer
