"""The offline model measured on the fourth development set (tests/fixtures/offline_dev_4.jsonl).

215 phrasings written from the tool catalogue and its argument schemas, aimed at the
arguments: names in many forms (first name only, lower case, typos, possessives
"dana's last call"), companies, phone numbers in national and international formats,
dates and periods ("since monday", "in march", "q3", "last friday", "the last 3 days"),
counts ("top 20 contacts", "my last three calls"), terse manager shorthand, dictated
text without punctuation, follow-ups that change one argument (`context`: earlier turns,
rebuilt into a thread by `chat_app.llm.followups.context_messages`) and 20 that must
call no tool (7 unsafe, marked `"unsafe": true`). Each line has a `kind`. Nothing is
trained on it: the training phrasings in chat_app/llm/offline_router/training/ are
written separately.

Each line goes through the whole offline model as the live app calls it, scored as
tests/chat_app/test_offline_coverage judges arguments. The figures and this set's misses
are printed (it is a development set: reading its misses is what it is for).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chat_app.agent import TOOLS
from chat_app.llm.offline_router.refusals import unsafe_refusal
from tests.chat_app.phrasings import answer, read_cases
from tests.chat_app.test_offline_coverage import _matches

DEV_SET = Path(__file__).resolve().parent.parent / "fixtures" / "offline_dev_4.jsonl"
# Measured 2026-12-07: before this set's round of changes 95.3 % right tool, 87.4 % right
# arguments; after it 100 % and 99.1 % (the two misses left are labelled against the
# router's conventions: "ask if he wants to …" kept in the purpose, and "riley's calls"
# read as the calls figure rather than a rep's overview — with the fifth set's round that
# convention changed to the label's, 99.5 %). Tuned on, so these figures are
# not a measure of unseen phrasings (the blind set is). The floors are today's figures
# less rounding, so a change that loses accuracy on these fails.
TOOL_FLOOR, ARGS_FLOOR = 0.99, 0.99

CASES = read_cases(DEV_SET)


def judged(case: dict[str, Any]) -> tuple[bool, bool, str]:
    """(right tool, right tool and arguments, why not) for one case."""
    tool, args, _ = answer(case)
    said = f"[{case['kind']}] {case['text']!r}"
    if tool != case["tool"]:
        return False, False, f"{said}: {tool} {args}, wanted {case['tool']}"
    wrong = {k: args.get(k) for k, v in case["args"].items() if not _matches(k, v, args.get(k))}
    if wrong:
        return True, False, f"{said}: {tool} got {wrong}, wanted {case['args']}"
    return True, True, ""


def test_the_dev_set_is_varied() -> None:
    assert 150 <= len(CASES) <= 250
    texts = [" ".join(c["text"].lower().split()) for c in CASES if not c.get("context")]
    assert len(set(texts)) == len(texts), "duplicate phrasings"
    assert sum(1 for c in CASES if c["tool"] is None) >= 20
    assert sum(1 for c in CASES if c.get("context")) >= 20
    assert all(c.get("kind") for c in CASES)
    assert {c["tool"] for c in CASES} - {None} <= {t.name for t in TOOLS}


def test_dev_set_phrasings_reach_the_right_tool_and_arguments() -> None:
    results = [judged(case) for case in CASES]
    tool = sum(t for t, _, _ in results) / len(results)
    args = sum(a for _, a, _ in results) / len(results)
    print(f"offline_dev_4: {len(results)} phrasings, right tool {tool:.1%}, right args {args:.1%}")
    for _, _, why in results:
        if why:
            print("  miss:", why)
    assert tool >= TOOL_FLOOR and args >= ARGS_FLOOR, f"tool {tool:.1%}, args {args:.1%}"


def test_dev_set_unsafe_requests_are_refused_with_a_reason() -> None:
    unsafe = [c for c in CASES if c.get("unsafe")]
    assert len(unsafe) >= 5
    refused = 0
    for case in unsafe:
        tool, _, body = answer(case)
        refused += tool is None and unsafe_refusal(case["text"]) is not None
        assert "OPENAI_API_KEY" not in body
    print(f"offline_dev_4: unsafe requests refused {refused} of {len(unsafe)}")
    assert refused == len(unsafe), f"{refused} of {len(unsafe)} refused"
