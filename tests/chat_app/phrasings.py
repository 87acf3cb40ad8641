"""What the phrasing sets share (tests/fixtures/offline_dev_3.jsonl, tests/fixtures/blind/):
reading a JSON-lines set, and one line's answer from the whole offline model as the live
app calls it (unsafe requests refused before routing, follow-ups read against the thread
`chat_app.llm.followups.context_messages` rebuilds from the line's `context`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

from chat_app.agent import TOOLS
from chat_app.llm.followups import context_messages
from chat_app.llm.messages import message_text
from chat_app.llm.offline import OfflineChatModel
from tests.chat_app.test_offline_coverage import TODAY


def read_cases(path: Path) -> list[dict[str, Any]]:
    """The set's lines, one JSON object each (blank lines skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def answer(case: dict[str, Any]) -> tuple[str | None, dict[str, Any], str]:
    """The tool the offline model calls for `case` (after its `context`), its
    arguments, and the reply's text when it calls none."""
    model = OfflineChatModel(today=TODAY).bind_tools(TOOLS)
    assert isinstance(model, OfflineChatModel)
    thread = context_messages(case.get("context") or [])
    reply = model.respond([*thread, HumanMessage(content=case["text"])])
    if reply.tool_calls:
        call = reply.tool_calls[0]
        return call["name"], dict(call["args"]), ""
    return None, {}, message_text(reply)
