"""Chat profiles: reps get theirs only, managers both; every starter button asks for
something the offline model knows how to do (the right tool, not a refusal)."""

import pytest

from chat_app.agent import TOOLS
from chat_app.llm.offline_router import route
from chat_app.profiles import MANAGER, REP, profiles_for

NAMES = frozenset(t.name for t in TOOLS)
EXPECTED = {
    "Add a contact": "add_contact",
    "Call a contact": "place_call",
    "My recent calls": "list_calls",
    "Summary of my last call": "summarize_call",
    "Search my calls": "search_calls",
    "My credits": "check_credits",
    "Connect rate by rep": "analytics",
    "Credits spent per week": "analytics",
    "Top objections": "analytics",
    "Search the team's calls": "search_calls",
    "Buy credits": "list_packages",
}


def test_reps_get_the_rep_profile_only_and_managers_both():
    assert [p.name for p in profiles_for("rep")] == [REP]
    assert [p.name for p in profiles_for("manager")] == [MANAGER, REP]
    assert [p.name for p in profiles_for("admin")] == [MANAGER, REP]


@pytest.mark.parametrize(
    "starter", [s for p in profiles_for("manager") for s in p.starters], ids=lambda s: s.label
)
def test_each_starter_is_understood_offline(starter):
    chosen = route(starter.message, NAMES)
    assert chosen is not None, starter.message
    assert chosen.intent.tool == EXPECTED[starter.label], (starter.message, chosen)
