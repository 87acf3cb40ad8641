"""The arguments of the analytics tool: metrics, the breakdown, the period and the rep."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from chat_app.llm.offline_router.dates import period_named
from chat_app.llm.offline_router.entities import LOWER_RUN, NOT_NAMES, person_names, plain_name

_METRIC_CUES = (
    (
        r"connect(?:ion)? rates?|pick ?up rates?|answer rates?|\bconn?\.? ?(?:rate|%)|\bcx rate"
        r"|connect ?%|pick ?up ?%|answer ?%|\bconnect(?:ion)? ra?te?\b"
        r"|\bconnect(?:s|ed)? (?:best|most|the most)"
        r"|\bpick(?:s|ed)? up (?:best|most|the most)"
        # typed in a hurry: 'conect rate', 'connnect rate', 'conection rate', 'connect rte'
        r"|\bcon{1,3}e?ct?(?:ion)?s? ?r(?:a|e)?te?s?\b|\bcon{1,3}ect(?:ion)? %"
        r"|\bcr\b(?=\s+(?:by|per|for|this|last|today|yesterday|mtd|qtd|ytd|wtd|lw|tw|lm)\b|\s*$)",
        "connect_rate",
    ),
    (
        r"call (?:volume|count)s?|number of calls|calls (?:made|placed)|\bdials\b"
        r"|(?<!connected )(?<!answered )(?<!completed )(?<!failed )\bcalls\s*(?:and|&|plus|\+)\s"
        r"|\s(?:and|&|plus|\+)\s*calls\b"
        r"|\b(?:daily|weekly|monthly|total) calls\b|#\s*(?:of )?calls"
        r"|\bcalls (?:mtd|ytd|qtd|wtd)\b",
        "calls",
    ),
    (
        r"talk ?time|time (?:spent )?talking|\btalktime"
        r"|\btt\b(?=\s+(?:by|per|for|this|last|today|yesterday|mtd|qtd|ytd|wtd|lw|tw|lm)\b|\s*$)",
        "talk_time_s",
    ),
    (
        r"(?:average|avg|mean|typical) (?:call )?(?:duration|length|call time|dur\b)"
        r"|how long (?:are|were|do|did) (?:my |our |the )?calls",
        "avg_duration_s",
    ),
    (
        r"credits? (?:spent|used)|\bspen[dt]\b|\bspending\b|\bburn(?:ed|t|ing)?\b|\bwent through\b"
        r"|\bused up\b|\bcredits? (?:did|have) (?:we|i) use",
        "credits_spent",
    ),
    (r"opt[- ]?outs?|opted out", "opt_outs"),
    (r"\bobjections?\b", "objections"),
    (r"\boutcomes?\b", "outcomes"),
    (r"\bconnected\b|\bconnects\b|\banswered\b|\bpicked up\b", "connected"),
)

_DIMENSION_CUES = (
    (
        r"\b(?:by|per|for each|each|across|among|between|for every|every) (?:sales ?)?reps?\b"
        r"|\brep by rep\b|\bleaderboard\b|\bwhich reps?\b|\bwho (?:on|in) (?:my|our|the) team\b"
        r"|\b(?:best|top|top[ -]performing|best[ -]performing|strongest|weakest|worst)"
        r" (?:sales ?)?(?:reps?|performers?|sellers?|callers?)\b"
        r"|\bwho(?:'s|s| has| had)? (?:had|has|got|made|did) the (?:best|most|highest|lowest|worst"
        r"|fewest)\b|/\s*reps?\b",
        "rep",
    ),
    (r"\b(?:by|per|each|every) day\b|\bdaily\b|\bday by day\b|/\s*day\b", "day"),
    (r"\b(?:by|per|each|every) week\b|\bweekly\b|\bweek by week\b|/\s*(?:week|wk)\b", "week"),
    (r"\b(?:by|per|each|every) month\b|\bmonthly\b|\bmonth by month\b|/\s*(?:month|mo)\b", "month"),
    (r"\b(?:by|per|each|every|for each) outcome\b", "outcome"),
    (r"\b(?:by|per|each|every|for each) objection\b", "objection"),
    (
        r"\btime of (?:the )?day\b|\b(?:by|per|each|every) hour\b|\bhour of (?:the )?day\b"
        r"|\bhourly\b|\bwhat time\b|\bbest time\b|\b(?:best|which|what|worst) hours?\b"
        r"|\bwhen in the day\b|\bhours? of (?:the )?day\b",
        "hour_of_day",
    ),
    (r"\b(?:by|per|each|every|for each) (?:company|account)\b", "company"),
)

# What ends 'for Jenna' as a rep: 'for Jenna's calls', 'for Jenna?', 'for Jenna this week'.
_FOR_REP_END = (
    r"\s*(?:calls?\b|[?.!,]|$"
    r"|(?=\s+(?:this|last|today|yesterday|in|since|for|during|over|from|between|so far)\b))"
)

_REP = re.compile(
    r"\b(?:did|has|have)\s+(?P<a>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)\s+"
    r"(?:make|made|place|placed|do|done|have|had|get|got|log|logged|book|booked|burn|burned|burnt"
    r"|spend|spent|use|used|talk|talked|connect|connected)\b"
    r"|\bfor (?:rep\s+)?(?P<b>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)(?:'s)?"
    + _FOR_REP_END
    + r"|\b(?P<c>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)'s\s+(?:calls|connect|talk|average|numbers"
    r"|stats|outcomes|objections)\b"
)


def _rep(text: str) -> str | None:
    email = re.search(r"\b(?:rep|for|by)\s+([\w.+-]+@[\w-]+(?:\.[\w-]+)+)", text)
    if email:
        return email.group(1)
    for match in _REP.finditer(text):
        name = match.group("a") or match.group("b") or match.group("c")
        if name and name.split()[0].lower() not in NOT_NAMES:
            return re.sub(r"['’]s$", "", name)
    for pattern in _LOWER_REPS:  # 'how many calls did jenna make last week'
        for found in pattern.finditer(text):
            name = plain_name(found.group(1))
            if name and name.split()[0].lower() not in _NOT_REPS:
                return name
    return None


# Shorthand that opens a manager's question and is no rep's name ('avg call length').
_NOT_REPS = frozenset({"avg", "tot", "total", "conn", "cx", "num", "no", "pct"})

_LOWER_REPS = (
    re.compile(
        rf"\b(?:did|has|have)\s+{LOWER_RUN}\s+(?:make|made|place|placed|do|done|have|had|get"
        rf"|got|log|logged|book|booked|burn|burned|spend|spent|use|used|talk|talked|connect)\b"
    ),
    re.compile(rf"\bfor (?:rep\s+)?{LOWER_RUN}(?:['’]s)?" + _FOR_REP_END),
    re.compile(
        rf"^\s*{LOWER_RUN}['’]?s?\s+(?=(?:avg|average|talk|connect|calls|call|credits|numbers"
        rf"|nums|stats|metrics)\b|#s?\b|#s?\s)"
    ),
    # 'how many calls taylor placed last week', 'the calls jenna made'
    re.compile(
        rf"\b(?:calls|dials)\s+{LOWER_RUN}\s+(?:has\s+|have\s+)?(?:made|placed|logged|did|booked)\b"
    ),
)


_RANKING = r"\b(?:best|top|strongest|weakest|worst|performing|performers?)\b"


def analytics_args(text: str, today: date) -> dict[str, Any]:
    lowered = " ".join(text.lower().replace("’", "'").split())
    metrics: list[str] = []
    for cue, metric in _METRIC_CUES:
        if re.search(cue, lowered) and metric not in metrics:
            metrics.append(metric)
    dimension = next((d for cue, d in _DIMENSION_CUES if re.search(cue, lowered)), None)
    if dimension is None and re.search(r"\bby (?:type|kind|category|reason)\b", lowered):
        dimension = next((m[:-1] for m in metrics if m in ("objections", "outcomes")), None)
    # 'objections by type' counts calls per objection: the breakdown is the metric.
    if dimension == "outcome" and "outcomes" in metrics:
        metrics.remove("outcomes")
    if dimension == "objection" and "objections" in metrics:
        metrics.remove("objections")
    if (
        "connect_rate" in metrics
        and "connected" in metrics
        and not re.search(r"\bconnected calls\b|\bcalls (?:that )?connected\b", lowered)
    ):
        metrics.remove("connected")
    if not metrics:
        # 'who is my best rep': how well, beside how much.
        ranked = dimension == "rep" and re.search(_RANKING, lowered)
        metrics = ["calls", "connected", "connect_rate"] if ranked else ["calls"]
    args: dict[str, Any] = {"metrics": metrics, "period": period_named(text, today) or "this month"}
    if dimension:
        args["dimension"] = dimension
    rep = _rep(text)
    if rep is None and re.search(r"\b(?:he|she|his|her)\b", lowered):
        named = person_names(text)  # 'Marcus's been quiet. How much talk time did he log?'
        rep = named[0][0] if named else None
    if rep:
        args["rep"] = rep
    return args
