"""The offline model's slot extractors read arguments the way reps and managers type
them (issue 17, item 3): shorthand periods ('last wk', 'ytd', 'mtd'), metric shorthand
('conn rate'), names typed in lower case inside run-on text without punctuation, new
numbers in national formats after 'its'/'new cell', and time zones named by region or
city. Each case is checked on the extractor alone, whatever tool the classifier picks.
"""

from __future__ import annotations

from datetime import date

import pytest

from chat_app.llm.offline_router.analytics import analytics_args
from chat_app.llm.offline_router.calls import place_call_args
from chat_app.llm.offline_router.contacts import consent_args
from chat_app.llm.offline_router.contacts_admin import (
    contact_only_args,
    dnc_args,
    edit_contact_args,
    list_contacts_args,
    revoke_args,
)
from chat_app.llm.offline_router.dates import period_named
from chat_app.llm.offline_router.entities import lower_name
from chat_app.llm.offline_router.route import unsupported
from chat_app.llm.offline_router.time_zone import time_zone_args

TODAY = date(2026, 11, 29)


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("conn rate last wk", "last week"),
        ("calls ytd by rep", "this year"),
        ("talk time mtd", "this month"),
        ("credits spent qtd", "this quarter"),
        ("pickup rate yday", "yesterday"),
        ("avg call length last mo", "last month"),
        ("calls by day last 2 wks", "last 2 weeks"),
        ("objections this qtr", "this quarter"),
        ("connect rate last 14d", "last 14 days"),
        # The shorthand never eats a word written in full.
        ("how many calls last month", "last month"),
        ("calls over the last 3 months", "last 3 months"),
        ("connect rate q3", "2026-07-01..2026-09-30"),
    ],
)
def test_shorthand_periods(text: str, period: str) -> None:
    assert period_named(text, TODAY) == period


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("conn rate last wk", {"metrics": ["connect_rate"], "period": "last week"}),
        (
            "# calls this wk per rep",
            {"metrics": ["calls"], "period": "this week", "dimension": "rep"},
        ),
        # 'avg' opens the question: it is no rep's name.
        ("avg call length last mo", {"metrics": ["avg_duration_s"], "period": "last month"}),
    ],
)
def test_manager_shorthand_reads_metric_and_period(text: str, args: dict[str, object]) -> None:
    assert analytics_args(text, TODAY) == args


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("remove kwame mensah from contacts pls", "kwame mensah"),
        ("take hamza qureshi out of my contacts", "hamza qureshi"),
        ("delete yusuf demir's contact", "yusuf demir"),
        ("mateo rossi took back his consent", "mateo rossi"),
        ("undo the consent for leilani kahale", "leilani kahale"),
    ],
)
def test_lower_case_names_in_run_on_text(text: str, who: str) -> None:
    assert contact_only_args(text)["contact"] == who
    assert revoke_args(text)["contact"] == who


def test_a_reason_after_the_name_is_not_part_of_it() -> None:
    assert revoke_args("revoke consent for kwame he withdrew over email")["contact"] == "kwame"


@pytest.mark.parametrize(
    ("text", "args"),
    [
        (
            "kwame mensah has a new cell 212 555 0188 pls update",
            {"contact": "kwame mensah", "phone": "212 555 0188"},
        ),
        (
            "Bao Nguyen's number changed it's 415.555.0190 now",
            {"contact": "Bao Nguyen", "phone": "415.555.0190"},
        ),
        (
            "the number we have for Tariq Aziz is wrong the right one is 713 555 0102",
            {"contact": "Tariq Aziz", "phone": "713 555 0102"},
        ),
        (
            "update aiko tanakas phone to (646) 555-0142",
            {"contact": "aiko tanaka", "phone": "(646) 555-0142"},
        ),
        (
            "Dmitri Volkov is at Copperline HVAC now",
            {"contact": "Dmitri Volkov", "company": "Copperline HVAC"},
        ),
        (
            "note for Leilani Kahale - prefers calls after lunch",
            {"contact": "Leilani Kahale", "notes": "prefers calls after lunch"},
        ),
    ],
)
def test_edits_typed_the_way_reps_type(text: str, args: dict[str, str]) -> None:
    assert edit_contact_args(text) == args


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("have i already got mateo rossi as a contact", {"query": "mateo rossi"}),
        ("is Kwame Mensah in my contacts", {"query": "Kwame Mensah"}),
        ("did we add Ingrid Solberg already?", {"query": "Ingrid Solberg"}),
        ("who have i not rung yet", {"called": "never"}),
        ("contacts w/o consent", {"consent": "none"}),
        # A misspelt 'contacts' is not a name to look up.
        ("show contcts", {}),
    ],
)
def test_contact_lookups(text: str, args: dict[str, str]) -> None:
    assert list_contacts_args(text) == args


def test_dnc_number_and_reason_in_run_on_text() -> None:
    assert dnc_args("add 917 555 0112 to dnc reason: asked to be removed") == {
        "phone": "917 555 0112",
        "reason": "asked to be removed",
    }


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("trnscript for omar", "omar"),
        ("what objections did niamh byrne raise", "niamh byrne"),
        ("was hamza qureshi positive or negative on the call", "hamza qureshi"),
    ],
)
def test_calls_named_in_lower_case(text: str, who: str) -> None:
    assert lower_name(text) == who


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("set my tz to pacific", "America/Los_Angeles"),
        ("put me on central", "America/Chicago"),
        ("change my timezone to eastern time", "America/New_York"),
        ("im in chicago now update my time zone", "America/Chicago"),
        ("i relocated to sao paulo change my time zone", "America/Sao_Paulo"),
        ("my time zone should be mumbai", "Asia/Kolkata"),
    ],
)
def test_time_zones_by_region_or_city(text: str, zone: str) -> None:
    assert time_zone_args(text, TODAY) == {"time_zone": zone}


@pytest.mark.parametrize(
    ("text", "no_tool_does_it"),
    [
        # A contact named after 'delete', a misspelt 'contact', a CSV for Excel: tools do these.
        ("delete Ingrid Solberg", False),
        ("can you delete dmitri volkov", False),
        ("delete contakt for Marcus Bel", False),
        ("export contacts to excel pls", False),
        # What no tool does stays refused before the classifier.
        ("delete my account", True),
        ("delete the recording", True),
        ("delete everything", True),
        ("export my calls to salesforce", True),
    ],
)
def test_what_no_tool_does_is_told_from_a_contact_to_delete(
    text: str, no_tool_does_it: bool
) -> None:
    assert unsupported(text) is no_tool_does_it


def test_consent_given_by_a_lower_case_name_in_dictated_text() -> None:
    text = "bjorn lindqvist said yes to calls on the phone verbal consent please log it"
    assert consent_args(text, TODAY)["contact"] == "bjorn lindqvist"


def test_a_call_to_end_named_in_lower_case() -> None:
    assert lower_name("hang up on siobhan kelly the ai is looping") == "siobhan kelly"


# Measured once when the file was written (91.9 % right tool and arguments, 94.6 % right
# tool): phrasings never used for training or for choosing anything.
VALIDATION_2_FLOOR = 0.90


def test_the_second_validation_set_stays_above_its_floor() -> None:
    import json
    from pathlib import Path

    from tests.chat_app.test_offline_coverage import outcome

    path = Path(__file__).resolve().parent.parent / "fixtures" / "offline_validation_2.jsonl"
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    assert len(cases) >= 30
    misses = [why for case in cases for ok, why in [outcome(case)] if not ok]
    share = 1 - len(misses) / len(cases)
    assert share >= VALIDATION_2_FLOOR, f"{share:.1%}:\n" + "\n".join(misses)


def test_a_dictated_call_request_keeps_the_ask_out_of_the_purpose() -> None:
    text = (
        "so i talked to my manager and she wants me to follow up with Priyanka Sharma "
        "about the pilot can you call her"
    )
    assert place_call_args(text)["purpose"] == "the pilot"
    assert place_call_args("call Dana about the renewal pls")["purpose"] == "the renewal"


def test_who_on_the_team_is_a_breakdown_by_rep() -> None:
    args = analytics_args("who on my team had the best connect rate last mo", TODAY)
    assert args == {"metrics": ["connect_rate"], "period": "last month", "dimension": "rep"}
