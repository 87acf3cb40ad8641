"""The analytics tool's arguments, with what a manager adds to an analytics question:
the chart kind asked for ("as a pie") and a rep named as the caller ("calls by Riley
last week", "show me Riley's calls").

`analytics_request_args` is `analytics_args` plus:

* `chart`: "pie" (also donut/doughnut), "line" or "bar" when the message asks for one;
  the tool draws it when it suits the data and says why not otherwise;
* `rep` from "calls (made/placed) by <Name>", which reads as the rep who placed them;
* a rep named with no figure asked for ("show me Riley's calls") gets the figures that
  describe a rep's calls at a glance: calls, connect rate (with its counts) and talk time.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Final

from chat_app.llm.offline_router.analytics import _METRIC_CUES, analytics_args
from chat_app.llm.offline_router.entities import NOT_NAMES, word_set

_CHART_CUES: Final = (
    (r"\bpie\b|\bdonut\b|\bdoughnut\b", "pie"),
    # 'calls per day, last 2 weeks, line': the kind alone, last, in shorthand.
    (r"\bline (?:chart|graph|plot)\b|\bas a line\b|\btrend ?line\b|[,\s]line\s*[.!]*$", "line"),
    (
        r"\bbar (?:chart|graph|plot)s?\b|\bas bars\b|\bhistogram\b|\bcolumn chart\b"
        r"|[,\s](?:bars?|columns?)\s*[.!]*$",
        "bar",
    ),
)
# What "by …" names when it is not a person.
_NOT_REPS: Final = word_set(
    """
    rep reps day days week weeks month months outcome outcomes objection objections hour
    hours company companies account accounts type kind category reason time date team
    everyone all each every the a an my our their
    """
)
_BY_NAME: Final = re.compile(
    r"\b(?:calls?|dials)\s+(?:(?:were\s+)?(?:made|placed|done|logged)\s+)?by\s+(?:rep\s+)?"
    r"(?P<name>[A-Za-z][\w'’-]*(?:\s+[A-Z][\w'’-]*)?)",
)
REP_OVERVIEW: Final = ["calls", "connect_rate", "talk_time_s"]
_CALLS_NAMED: Final = re.compile(r"\b(?:calls|dials)\b", re.IGNORECASE)


def chart_kind(text: str) -> str | None:
    """ "pie", "line" or "bar" when the message asks for that kind of chart."""
    lowered = text.lower()
    return next((kind for cue, kind in _CHART_CUES if re.search(cue, lowered)), None)


_DOING: Final = re.compile(
    r"\b[Hh]ow(?:'s|’s| is| has)\s+(?P<name>[A-Z][\w'’-]*)\s+(?:been\s+)?doing\b"
)


def rep_named_by(text: str) -> str | None:
    """The rep in "calls by Riley", "calls made by Riley Chen", "how is Riley doing"
    (None: "calls by day")."""
    for found in (*_BY_NAME.finditer(text), *_DOING.finditer(text)):
        name = found.group("name")
        first = name.split()[0].lower().replace("’", "'")
        if first in _NOT_REPS or first in NOT_NAMES:
            continue
        return re.sub(r"['’]s$", "", name)
    return None


def _asks_for_a_figure(text: str) -> bool:
    lowered = " ".join(text.lower().replace("’", "'").split())
    return bool(re.search(r"\bhow (?:many|much|long)\b", lowered)) or any(
        re.search(cue, lowered) for cue, _ in _METRIC_CUES
    )


def analytics_request_args(text: str, today: date) -> dict[str, Any]:
    """The analytics tool's arguments for `text` (see the module's docstring)."""
    args = analytics_args(text, today)
    if "rep" not in args and (rep := rep_named_by(text)):
        args["rep"] = rep
    if (
        "rep" in args
        and "dimension" not in args
        and not _asks_for_a_figure(text)
        and not _CALLS_NAMED.search(text)  # 'calls by Riley', "Riley's calls": the calls
    ):
        args["metrics"] = list(REP_OVERVIEW)  # 'how is Riley doing', "Riley's numbers"
    if kind := chart_kind(text):
        args["chart"] = kind
    return args
