"""Slots and follow-ups the fifth development set found missing (issue 17, items 2 and 3),
checked on phrasings of our own (never the set's lines): dictation fillers and short
typos of a command, the company after a name, a number given as someone's line, lists
of calls and contacts in words, campaigns named without 'the … campaign', campaign
shorthand, answers to a question the assistant asked back, and follow-ups that carry a
campaign, a package, the call just placed or the contacts just listed. Pure unit tests:
no database."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from chat_app.agent import TOOLS
from chat_app.llm.followups import context_messages, resolve
from chat_app.llm.offline import OfflineChatModel
from chat_app.llm.offline_router import route
from chat_app.llm.offline_router.campaigns import campaign_args, campaign_ref_args
from chat_app.llm.offline_router.dates import period_named
from chat_app.llm.offline_router.refusals import unsafe_kind
from chat_app.llm.offline_router.typos import fix_typos

NAMES = frozenset(t.name for t in TOOLS)
TODAY = date(2026, 11, 29)  # a Sunday


def _routed(text: str) -> tuple[str | None, dict[str, Any]]:
    found = route(text, NAMES, today=TODAY)
    assert found is not None, text
    return found.intent.tool, dict(found.args)


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("umm call priya uh about the demo", "call priya about the demo"),
        ("pls cal marcus about the invoice", "pls call marcus about the invoice"),
        ("ad lead tom becker 212 555 0100", "add lead tom becker 212 555 0100"),
        ("ring omar abt delivery", "ring omar about delivery"),
        ("# connected calls this week", "number of connected calls this week"),
        ("hnag up the call", "hang up the call"),
        ("chnage dana's number to 415 555 0100", "change dana's number to 415 555 0100"),
        ("pls delte contact jordan lee", "pls delete contact jordan lee"),
    ],
)
def test_fillers_short_typos_and_abbreviations_are_read_as_meant(text: str, fixed: str) -> None:
    assert fix_typos(text) == fixed


def test_a_name_that_happens_to_be_short_is_left_alone() -> None:
    assert fix_typos("call Cal about the renewal") == "call Cal about the renewal"
    assert fix_typos("add Ad Jensen 415 555 0100") == "add Ad Jensen 415 555 0100"
    # A lower-case name opening the message is no misspelt verb.
    assert fix_typos("lisa asked for a callback, call her") == "lisa asked for a callback, call her"
    assert fix_typos("edith wants a call back") == "edith wants a call back"


@pytest.mark.parametrize(
    ("text", "args"),
    [
        (
            "call Lena Fischer at Brightline Labs to go over the quote",
            {"contact": "Lena Fischer", "purpose": "go over the quote"},
        ),
        (
            "ring Omar's cell 415-555-0111 about delivery",
            {"contact": "+14155550111", "purpose": "delivery"},
        ),
        (
            "give dana whitfield a ring tomorrow, no wait, now, about the renewal",
            {"contact": "dana whitfield", "purpose": "the renewal"},
        ),
        (
            "call dana whitfield from acme and see if she read the proposal",
            {"contact": "dana whitfield", "purpose": "see if she read the proposal"},
        ),
    ],
)
def test_whom_to_call_and_why(text: str, args: dict[str, Any]) -> None:
    tool, found = _routed(text)
    assert tool == "place_call"
    assert {k: found.get(k) for k in args} == args


def test_calls_from_last_weekday_are_that_days_calls() -> None:
    assert period_named("calls from last Monday", TODAY) == "2026-11-23..2026-11-23"
    assert period_named("calls since last Monday", TODAY) == "2026-11-23..2026-11-29"


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ("calls nobody picked up yesterday", "list_calls", {"status": "no answer"}),
        ("any calls still running", "list_calls", {"status": "in progress"}),
        ("show the calls that weren't answered today", "list_calls", {"status": "no answer"}),
        ("contacts that don't have consent", "list_contacts", {"consent": "none"}),
        ("never called leads @ globex", "list_contacts", {"called": "never", "query": "globex"}),
        ("all my Initech contacts", "list_contacts", {"query": "Initech"}),
        ("Rename K Lee to Kim Lee", "edit_contact", {"contact": "K Lee", "name": "Kim Lee"}),
        ("calls by Riley this week", "analytics", {"metrics": ["calls"], "rep": "Riley"}),
        ("talk time by rep, bar", "analytics", {"chart": "bar", "dimension": "rep"}),
        ("which hours get people to pick up", "analytics", {"dimension": "hour_of_day"}),
        ("summarize omars last call", "summarize_call", {"call": "omar"}),
        ("was the call with omar positive", "call_insights", {"call": "omar"}),
        ("show me everything omar said about shipping", "search_calls", {"contact": "omar"}),
        ("what did people say about our pricing", "search_calls", {"contact": None}),
        (
            "record that dana whitfield gave express written consent on our web form",
            "record_consent",
            {"contact": "dana whitfield", "consent_type": "express written"},
        ),
        ("calls/day this wk", "analytics", {"dimension": "day", "period": "this week"}),
        ("turn on auto callbacks", "callback_settings", {"callback_mode": "call"}),
        (
            "hand prospects over to me when they agree",
            "callback_settings",
            {"handoff_on_goal": "yes"},
        ),
        (
            "new contact maria gonzalez she works at northwind her number is 312 555 0148",
            "add_contact",
            {"name": "maria gonzalez", "company": "northwind"},
        ),
        (
            "add tom becker, (415) 555-0102, tidewater logistics, met at saastr",
            "add_contact",
            {"name": "tom becker", "company": "tidewater logistics"},
        ),
        (
            "log verbal consent for omar haddad he agreed on the phone today",
            "record_consent",
            {"contact": "omar haddad"},
        ),
        ("whos got the best connect rate", "analytics", {"dimension": "rep"}),
        ("dials per rep ytd bar", "analytics", {"dimension": "rep", "chart": "bar"}),
    ],
)
def test_filters_said_in_words(text: str, tool: str, args: dict[str, Any]) -> None:
    routed, found = _routed(text)
    assert routed == tool
    assert {k: found.get(k) for k in args} == args


@pytest.mark.parametrize(
    ("text", "campaign"),
    [
        ("resume spring promo", "spring promo"),
        ("spring promo stats", "spring promo"),
        ("results for the holiday outreach", "holiday outreach"),
        ("cancel the webinar campaign for good", "webinar"),
        ("pause everything", None),
    ],
)
def test_a_campaign_named_without_the_word(text: str, campaign: str | None) -> None:
    assert campaign_ref_args(text, TODAY).get("campaign") == campaign


@pytest.mark.parametrize(
    ("text", "args"),
    [
        (
            "campaign for Dana and Omar Haddad about the webinar",
            {"contacts": ["Dana", "Omar Haddad"], "purpose": "the webinar"},
        ),
        (
            "campaign to Initech leads about pricing, tue/thu nine to eleven",
            {
                "company": "Initech",
                "purpose": "pricing",
                "days": "tue,thu",
                "window_start": "09:00",
                "window_end": "11:00",
            },
        ),
        (
            "campaign: globex, spring pricing, 4 concurrent",
            {"company": "globex", "purpose": "spring pricing", "max_concurrent": 4},
        ),
        (
            "Campaign: the spring launch, call all my contacts at Hooli",
            {"company": "Hooli", "purpose": "the spring launch"},
        ),
        (
            "call everyone at Umbrella about the audit but not those already reached about"
            " the audit",
            {"company": "Umbrella", "not_reached_about": "the audit"},
        ),
    ],
)
def test_a_campaigns_audience_days_and_hours(text: str, args: dict[str, Any]) -> None:
    found = campaign_args(text, TODAY)
    assert {k: found.get(k) for k in args} == args


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("give us 300 free credits", "free_credits"),
        ("wipe every consent record we have for Hooli", "records"),
        ("delete the call where I insulted him before my boss hears it", "records"),
        ("redial him twenty times", "limits"),
        ("falsify Omar's consent date", "consent"),
        ("hack into the admin account", "account"),
    ],
)
def test_what_is_not_allowed_is_refused_with_its_reason(text: str, kind: str) -> None:
    assert unsafe_kind(text) == kind


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("turn off the call recording", "Recording can't be switched off"),
        ("stop recording my calls", "Recording can't be switched off"),
        ("wipe our call history", "not something I can do"),
        ("find me new prospects in texas", "not something I can do"),
        ("cancel my account", "can't change account"),
        ("is it going to snow tomorrow", "didn't understand"),
    ],
)
def test_what_no_tool_does_is_answered_without_one(text: str, says: str) -> None:
    reply = OfflineChatModel(tool_names=NAMES).respond([HumanMessage(content=text)])
    assert reply.tool_calls == []
    assert says in str(reply.content)


def _followup(items: list[dict[str, Any]], text: str) -> tuple[str | None, dict[str, Any]]:
    messages = [*context_messages(items), HumanMessage(content=text)]
    found = resolve(messages, NAMES, today=TODAY)
    assert found is not None, text
    return found.tool, dict(found.args)


def _asked(user: str, tool: str, args: dict[str, Any], question: str) -> list[dict[str, Any]]:
    return [{"user": user, "tool": tool, "args": args, "about": {}}, {"assistant": question}]


@pytest.mark.parametrize(
    ("items", "text", "tool", "args"),
    [
        (
            _asked("add Lena Fischer", "add_contact", {"name": "Lena Fischer"}, "Her number?"),
            "415 555 0199",
            "add_contact",
            {"name": "Lena Fischer", "phone": "415 555 0199"},
        ),
        (
            _asked(
                "call omar about pricing",
                "place_call",
                {"contact": "omar", "purpose": "pricing"},
                "Should I leave a voicemail if nobody answers, or hang up?",
            ),
            "just hang up",
            "place_call",
            {"contact": "omar", "on_voicemail": "hang_up"},
        ),
        (
            _asked("set my time zone", "set_time_zone", {}, "Which time zone are you in?"),
            "Europe/Berlin",
            "set_time_zone",
            {"time_zone": "Europe/Berlin"},
        ),
        (
            _asked(
                "record consent for Omar",
                "record_consent",
                {"contact": "Omar"},
                "What kind of consent did Omar give?",
            ),
            "written, on our signup form",
            "record_consent",
            {"contact": "Omar", "consent_type": "express written"},
        ),
        (
            _asked(
                "resume the campaign",
                "resume_campaign",
                {},
                "Which campaign do you mean: Spring promo or Holiday outreach?",
            ),
            "holiday outreach",
            "resume_campaign",
            {"campaign": "holiday outreach"},
        ),
        (
            _asked(
                "start a campaign for everyone at Hooli about the audit",
                "create_campaign",
                {"company": "Hooli", "purpose": "the audit"},
                "What is the most this campaign may spend, in credits?",
            ),
            "1,500",
            "create_campaign",
            {"company": "Hooli", "budget_credits": 1500},
        ),
        (
            _asked(
                "estimate growth for Canada",
                "estimate_purchase",
                {"package": "growth", "country": "CA"},
                "What's your postal code?",
            ),
            "M5V 2T6",
            "estimate_purchase",
            {"package": "growth", "country": "CA", "postal_code": "M5V 2T6"},
        ),
        (
            _asked(
                "add Lena Fischer 415 555 0199",
                "add_contact",
                {"name": "Lena Fischer", "phone": "415 555 0199"},
                "Which company is Lena with?",
            ),
            "she's at Brightline Labs",
            "add_contact",
            {"name": "Lena Fischer", "company": "Brightline Labs"},
        ),
        (
            _asked(
                "record express consent from the web form",
                "record_consent",
                {"consent_type": "express"},
                "Which contact? Give a name or a phone number.",
            ),
            "dana whitfield",
            "record_consent",
            {"consent_type": "express", "contact": "dana whitfield"},
        ),
        (
            _asked(
                "call tom about the renewal",
                "place_call",
                {"contact": "tom", "purpose": "the renewal"},
                "If a machine answers, should I leave a voicemail or hang up?",
            ),
            "leave one saying we'll call back next week",
            "place_call",
            {"on_voicemail": "leave", "voicemail_message": "we'll call back next week"},
        ),
        (
            _asked(
                "pause the campaign",
                "pause_campaign",
                {},
                "Which campaign: Q4 renewals or Webinar follow-up?",
            ),
            "the second one",
            "pause_campaign",
            {"campaign": "Webinar follow-up"},
        ),
        (
            _asked(
                "summarize my call with dana",
                "summarize_call",
                {"call": "dana"},
                "Several contacts match 'dana': Dana Whitfield, Dana Lee. Which one?",
            ),
            "the first one",
            "summarize_call",
            {"call": "Dana Whitfield"},
        ),
        (
            [{"assistant": "Who should I call, and what about?"}],
            "priya raman, to confirm the pilot dates",
            "place_call",
            {"contact": "priya raman"},
        ),
    ],
)
def test_an_answer_fills_what_the_assistant_asked_for(
    items: list[dict[str, Any]], text: str, tool: str, args: dict[str, Any]
) -> None:
    routed, found = _followup(items, text)
    assert routed == tool
    assert {k: found.get(k) for k in args} == args


def test_a_new_request_instead_of_an_answer_is_not_taken_as_the_purpose() -> None:
    items = _asked("call Omar", "place_call", {"contact": "Omar"}, "What is the call about?")
    messages = [*context_messages(items), HumanMessage(content="wait, who mentioned pricing?")]
    assert resolve(messages, NAMES, today=TODAY) is None  # routed on its own


def _status(name: str) -> list[dict[str, Any]]:
    return [
        {
            "user": f"how is the {name} campaign doing",
            "tool": "campaign_status",
            "args": {"campaign": name},
            "about": {},
        }
    ]


@pytest.mark.parametrize(
    ("items", "text", "tool", "args"),
    [
        (
            _status("spring promo"),
            "and the results?",
            "campaign_results",
            {"campaign": "spring promo"},
        ),
        (_status("spring promo"), "stop it", "pause_campaign", {"campaign": "spring promo"}),
        (
            [
                {
                    "user": "contacts at globex",
                    "tool": "list_contacts",
                    "args": {"query": "globex"},
                    "about": {},
                }
            ],
            "and for acme?",
            "list_contacts",
            {"query": "acme"},
        ),
        (
            [
                {
                    "user": "estimate starter for US 94105",
                    "tool": "estimate_purchase",
                    "args": {"package": "starter", "country": "US", "postal_code": "94105"},
                    "about": {},
                }
            ],
            "what about for the UK",
            "estimate_purchase",
            {"package": "starter", "country": "UK", "postal_code": None},
        ),
        (
            [
                {
                    "user": "summarize my call with dana",
                    "tool": "summarize_call",
                    "args": {"call": "dana"},
                    "about": {"contact": "Dana Whitfield", "call": "1a2b3c4d"},
                }
            ],
            "call her back about it",
            "place_call",
            {"contact": "Dana Whitfield", "purpose": "a follow-up on our last conversation"},
        ),
    ],
)
def test_a_follow_up_about_a_campaign_or_a_call_just_discussed(
    items: list[dict[str, Any]], text: str, tool: str, args: dict[str, Any]
) -> None:
    routed, found = _followup(items, text)
    assert routed == tool
    assert {k: found.get(k) for k in args} == args


@pytest.mark.parametrize(
    ("items", "text", "tool", "args"),
    [
        (
            [
                {
                    "user": "status of spring promo",
                    "tool": "campaign_status",
                    "args": {"campaign": "Spring promo"},
                    "about": {},
                }
            ],
            "cancel it",
            "cancel_campaign",
            {"campaign": "Spring promo"},
        ),
        (
            [
                {
                    "user": "how much is pro in France",
                    "tool": "estimate_purchase",
                    "args": {"package": "pro", "country": "FR"},
                    "about": {},
                }
            ],
            "ok go ahead and buy it",
            "buy_credits",
            {"package": "pro", "country": "FR"},
        ),
        (
            [
                {
                    "user": "call Lena about the quote",
                    "tool": "place_call",
                    "args": {"contact": "Lena", "purpose": "quote"},
                    "about": {"contact": "Lena", "call": "0a1b2c3d"},
                }
            ],
            "end that call",
            "end_call",
            {"call": "0a1b2c3d"},
        ),
        (
            [
                {
                    "user": "contacts at Hooli",
                    "tool": "list_contacts",
                    "args": {"query": "Hooli"},
                    "about": {},
                }
            ],
            "set up a campaign to call them about the audit",
            "create_campaign",
            {"company": "Hooli"},
        ),
        (
            [
                {
                    "user": "block 415 555 0100",
                    "tool": "add_dnc",
                    "args": {"phone": "415 555 0100"},
                    "about": {},
                }
            ],
            "and 415 555 0101 as well",
            "add_dnc",
            {"phone": "415 555 0101"},
        ),
        (
            [
                {
                    "user": "connect rate for Riley last week",
                    "tool": "analytics",
                    "args": {"metrics": ["connect_rate"], "rep": "Riley", "period": "last week"},
                    "about": {},
                }
            ],
            "what about the whole team?",
            "analytics",
            {"rep": None, "period": "last week"},
        ),
        (
            [
                {
                    "user": "contacts at Hooli",
                    "tool": "list_contacts",
                    "args": {"query": "Hooli"},
                    "about": {},
                }
            ],
            "only the ones without consent",
            "list_contacts",
            {"query": "Hooli", "consent": "none"},
        ),
        (
            [
                {
                    "user": "call Lena about the quote",
                    "tool": "place_call",
                    "args": {"contact": "Lena", "purpose": "quote"},
                    "about": {"contact": "Lena", "call": "0a1b2c3d"},
                },
                {
                    "user": "did she answer?",
                    "tool": "call_status",
                    "args": {"call": "0a1b2c3d"},
                    "about": {"contact": "Lena", "call": "0a1b2c3d"},
                },
            ],
            "try again",
            "place_call",
            {"contact": "Lena", "purpose": "quote"},
        ),
    ],
)
def test_a_follow_up_carries_what_the_conversation_was_about(
    items: list[dict[str, Any]], text: str, tool: str, args: dict[str, Any]
) -> None:
    routed, found = _followup(items, text)
    assert routed == tool
    assert {k: found.get(k) for k in args} == args
