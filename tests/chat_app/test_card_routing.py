"""The offline model sends call reviews and time-zone changes where they belong:
"show my last call" to the call card (call_status), "show call <id>" to that call's
card, "set my time zone to central time" to set_time_zone with the IANA name."""

from __future__ import annotations

import pytest

from chat_app.agent import TOOLS
from chat_app.llm.offline_router import route

TOOL_NAMES = frozenset(t.name for t in TOOLS)


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        ("show my last call", "call_status", {}),
        ("Show me my last call", "call_status", {}),
        ("status of call 7c2e91ab", "call_status", {"call": "7c2e91ab"}),
        ("show call 7c2e91ab", "call_status", {"call": "7c2e91ab"}),
        ("set my time zone to central time", "set_time_zone", {"time_zone": "America/Chicago"}),
        ("my time zone is PT", "set_time_zone", {"time_zone": "America/Los_Angeles"}),
        ("change my timezone to London", "set_time_zone", {"time_zone": "Europe/London"}),
    ],
)
def test_reviews_and_zone_changes_reach_their_tool(text, tool, args) -> None:
    found = route(text, TOOL_NAMES)
    assert found is not None and found.intent.tool == tool, found
    assert {k: v for k, v in found.args.items() if v is not None} == args
