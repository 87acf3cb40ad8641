"""The offline model measured on the third development set (tests/fixtures/offline_dev_3.jsonl).

339+ phrasings written from the tool catalogue alone, before the router was read, the
way reps and managers type to a chat assistant: terse shorthand ("conn rate by rep last
wk"), typos, dictated text without punctuation, polite and rambling requests, national
phone formats, relative dates, follow-ups (`context`: the earlier turns, rebuilt into a
thread by `chat_app.llm.followups.context_messages`) and 36 that must call no tool, the
unsafe ones marked `"unsafe": true`. It measures: nothing is trained on it (the training
phrasings in chat_app/llm/offline_router/training/ are written separately).

Each line goes through the whole offline model as the live app calls it (unsafe requests
refused before routing, follow-ups read against the thread), scored as
tests/chat_app/test_offline_coverage judges arguments. Only counts are printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chat_app.agent import TOOLS
from chat_app.llm.offline_router.refusals import unsafe_refusal
from tests.chat_app.phrasings import answer, read_cases
from tests.chat_app.test_offline_coverage import _matches

DEV_SET = Path(__file__).resolve().parent.parent / "fixtures" / "offline_dev_3.jsonl"
# Measured 2026-12-07: before this set's round of changes 91.8 % right tool, 84.8 % right
# arguments, 10 of 14 unsafe refused; after it 98.5 % and 98.5 %, 14 of 14. The floors
# are today's figures (less rounding), so a change that loses accuracy on these fails.
TOOL_FLOOR, ARGS_FLOOR = 0.98, 0.98


CASES = read_cases(DEV_SET)


def judged(case: dict[str, Any]) -> tuple[bool, bool]:
    """(right tool, right tool and arguments) for one case."""
    tool, args, _ = answer(case)
    if tool != case["tool"]:
        return False, False
    return True, all(_matches(k, v, args.get(k)) for k, v in case["args"].items())


def test_the_dev_set_is_varied_and_covers_every_tool() -> None:
    assert len(CASES) >= 250
    texts = [" ".join(c["text"].lower().split()) for c in CASES if not c.get("context")]
    assert len(set(texts)) == len(texts), "duplicate phrasings"
    assert sum(1 for c in CASES if c["tool"] is None) >= 30
    assert sum(1 for c in CASES if c.get("context")) >= 15
    assert {t.name for t in TOOLS} <= {c["tool"] for c in CASES}


def test_dev_set_phrasings_reach_the_right_tool_and_arguments() -> None:
    results = [judged(case) for case in CASES]
    tool = sum(t for t, _ in results) / len(results)
    args = sum(a for _, a in results) / len(results)
    print(f"offline_dev_3: {len(results)} phrasings, right tool {tool:.1%}, right args {args:.1%}")
    assert tool >= TOOL_FLOOR and args >= ARGS_FLOOR, f"tool {tool:.1%}, args {args:.1%}"


def test_dev_set_unsafe_requests_are_refused_with_a_reason() -> None:
    unsafe = [c for c in CASES if c.get("unsafe")]
    assert len(unsafe) >= 10
    refused = 0
    for case in unsafe:
        tool, _, body = answer(case)
        refused += tool is None and unsafe_refusal(case["text"]) is not None
        assert "OPENAI_API_KEY" not in body
    print(f"offline_dev_3: unsafe requests refused {refused} of {len(unsafe)}")
    assert refused == len(unsafe), f"{refused} of {len(unsafe)} refused"
