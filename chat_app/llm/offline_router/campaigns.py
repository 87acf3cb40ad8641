"""The arguments of the campaign tools, from a rep's words.

"Call my contacts at Acme who haven't been reached about the spring renewal, weekdays
10–4 their time, at most 3 at a time, try no-answers again tomorrow, spend at most
2,000 credits" → {"purpose": "the spring renewal", "company": "Acme",
"not_reached_about": "the spring renewal", "days": "weekdays", "window_start":
"10:00", "window_end": "16:00", "max_concurrent": 3, "retry_on": ["no_answer"],
"retry_after_hours": 24, "budget_credits": 2000}. Only what the words say is filled:
the tool's defaults (and its confirmation) cover the rest.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from chat_app.llm.offline_router.entities import word_set

_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a": 1,
    "an": 1,
    "once": 1,
    "twice": 2,
}

_BUDGET = re.compile(
    r"(?:spend|budget(?: of| is)?|cap(?: it)? at|up to|no more than|at most|max(?:imum)?)"
    r"\s+(?:of\s+)?(?:at most\s+|up to\s+)?" + _NUMBER + r"\s*(k\b)?\s*credits?",
    re.IGNORECASE,
)
_BUDGET_ALT = re.compile(_NUMBER + r"\s*(k\b)?\s*credits?\s+(?:budget|max|at most|tops)", re.I)
_CONCURRENT = re.compile(
    r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:calls?\s+)?"
    r"(?:at (?:a|the same) time|at once|in parallel|simultaneous(?:ly)?|concurrent(?:ly)?)",
    re.IGNORECASE,
)
_WINDOW = re.compile(
    r"(?:between\s+|from\s+)?\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(?:-|–|—|to|until|and|till)\s*"
    r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b",
    re.IGNORECASE,
)
_COMPANY = re.compile(
    r"\b(?:at|from)\s+([A-Z][\w&.'-]*(?:\s+(?:&\s+)?[A-Z][\w&.'-]*)*)", re.UNICODE
)
_MY_COMPANY = re.compile(r"\bmy ([A-Z][\w&.'-]*) (?:contacts|leads|prospects|list)\b")
# A company typed in lower case: 'everyone at brightline about …', 'acme contacts'.
_LOWER_COMPANY = re.compile(
    r"\b(?:everyone|everybody|anyone|people|contacts?|leads?|prospects?)\s+(?:at|from)\s+"
    r"([a-z][\w&.'-]*(?:\s+(?!about\b|re\b|regarding\b|for\b|to\b|on\b|with\b|who\b)"
    r"[a-z][\w&.'-]*){0,2}?)(?=\s+(?:about|regarding|re|for|to|on|with|who|that|weekdays"
    r"|every|between|spend|budget|max|at most)\b|\s*[,.;]|$)"
    r"|(?:\b(?:reach|call|for|to|ring|dial)\s+(?:all\s+)?(?:the\s+|my\s+|our\s+)?|(?<=\s))"
    r"([a-z][\w&.'-]*(?:\s+[a-z][\w&.'-]*)?)\s+(?:contacts|leads|prospects|customers)\b"
)
# The audience named before the noun: 'to Globex contacts', 'for all the Initech leads'.
_AUDIENCE = re.compile(
    r"\b(?:to|for|at|call|ring|reach)\s+(?:all\s+)?(?:the\s+|our\s+)?([A-Z][\w&.'-]*(?:\s+[A-Z]"
    r"[\w&.'-]*)*)\s+(?:contacts|leads|prospects|customers|people|accounts)\b"
)
# Named people, two or more: 'a campaign for Jenna, Omar and Luis about …'.
_FOR_PEOPLE = re.compile(
    r"\bcampaign\s+(?:for|to|calling)\s+((?:[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?\s*,\s*)*"
    r"[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?\s*,?\s+and\s+[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)"
    r"(?=\s+(?:about|regarding|re|on|to)\b|\s*[,.;]|$)"
)
# 'a campaign for helix bio about the case study': whom, right before what about.
_CAMPAIGN_FOR = re.compile(
    r"\bcampaign\s+(?:for|to|at)\s+([a-z][\w&.'-]*(?:\s+[a-z][\w&.'-]*){0,2}?)"
    r"(?=\s+(?:about|regarding|re)\b|\s*,)"
)
# Shorthand: 'campaign: acme, renewal reminder, 5 concurrent, …'.
_SHORTHAND = re.compile(
    r"^\s*(?:new\s+)?campaign\s*[:;–—-]\s*(?P<who>[^,;]+?)\s*[,;]\s*(?P<what>[^,;]+?)\s*(?:[,;]|$)",
    re.IGNORECASE,
)
# A purpose said first ('the fall launch'), an audience said second ('call all my contacts').
_NOT_WHO = re.compile(r"^(?:the|a|an|our|my|about|re|to)\b|(?:\S+\s+){3}", re.IGNORECASE)
_NOT_WHAT = re.compile(
    r"^(?:call|ring|dial|reach|phone|to|for|everyone|everybody|all|my|our|contacts|leads)\b",
    re.IGNORECASE,
)
# What is an option, not a purpose, in that shorthand.
_OPTION = re.compile(
    r"\d|\b(?:concurrent|at a time|at once|retry|weekdays?|weekends?|budget|credits?|every day"
    r"|daily|max)\b",
    re.IGNORECASE,
)
_NOT_A_COMPANY = word_set(
    "my all the our these those new old existing other every some any warm cold hot current"
    " active consented uncalled remaining of everyone reach call ring dial phone contact"
    " for to about with on in at from by re regarding named called"
)
_STOP_REACHED = (
    r"(?=,|;|\.|$| on | weekdays| every| between| from \d| at most| spend| try| with a"
    r"| up to| yet\b)"
)
# 'skip anyone we've already reached about the price increase'
_SKIP_REACHED = re.compile(
    r"(?:skip|exclude|except|leave out|not|minus|without)\s+(?:anyone|everyone|anybody|people"
    r"|those|contacts|the ones)\s+(?:(?:we'?ve|we have|we|i'?ve|i have|who'?ve|who have|who were"
    r"|that were|that we'?ve)\s+)?(?:already\s+)?(?:been\s+)?(?:reached|contacted|called|spoken to"
    r"|talked to)\s+(?:about|regarding|re)\s+(.+?)" + _STOP_REACHED,
    re.IGNORECASE,
)
_NOT_REACHED = re.compile(
    r"(?:haven'?t|have not|hasn'?t|weren'?t|not)\s+(?:yet\s+)?(?:been\s+)?"
    r"(?:reached|contacted|called|spoken to|talked to)(?:\s+yet)?\s+(?:about|regarding|re)\s+"
    r"(.+?)" + _STOP_REACHED,
    re.IGNORECASE,
)
_STOP = (
    r"(?=,|;|\.$|$| on weekdays| weekdays| every| between| from \d| at most| spend| try"
    r"| with a| up to| budget| \d+ at a time| \d+ (?:attempts|times|tries)| yet\b"
    r"| (?:to|for|with) (?:all |my |every |the |of |our )*(?:contacts?|everyone|leads|prospects)\b"
    r"| (?:to|for) everyone\b)"
)
_ABOUT = re.compile(r"\b(?:about|regarding|re)\s+(.+?)" + _STOP, re.IGNORECASE)
_FOR = re.compile(r"\b(?:for|to discuss|to talk about|on|campaign:)\s+(.+?)" + _STOP, re.I)
_ANY_CREDITS = re.compile(_NUMBER + r"\s*(k\b)?\s*credits?\b", re.IGNORECASE)
_RETRY_AFTER = re.compile(
    r"(?:again|retry|re-?try|redial|call back)\D{0,40}?(?:after|in|every)\s+"
    r"(\d+|an?|one|two|three|four|five|six|eight|twelve)\s*(hours?|hrs?|days?|minutes?|mins?)",
    re.IGNORECASE,
)
_PER_DAY = re.compile(
    r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twice|once)\s+"
    r"(?:times|attempts|tries|calls)\s+(?:a|per|each)\s+day",
    re.IGNORECASE,
)
_ATTEMPTS = re.compile(
    r"(?:up to|at most|max(?:imum)?(?: of)?)\s+(\d+|two|three|four|five)\s+"
    r"(?:attempts|tries|times)",
    re.IGNORECASE,
)


def _number(raw: str) -> float:
    return float(raw.replace(",", ""))


def _count(raw: str) -> int:
    raw = raw.lower()
    return _WORDS[raw] if raw in _WORDS else int(raw)


def _clock(hour: int, minute: int, meridiem: str | None, *, end: bool, start_hour: int) -> str:
    if meridiem:
        if meridiem.lower() == "pm" and hour < 12:
            hour += 12
        if meridiem.lower() == "am" and hour == 12:
            hour = 0
    elif end and hour <= start_hour and hour < 12:
        hour += 12  # "10–4": 4 in the afternoon
    elif not end and hour < 7:
        hour += 12  # "between 1 and 5": the afternoon
    return f"{hour:02d}:{minute:02d}"


_HOUR_WORDS = {w: str(n) for w, n in _WORDS.items() if w not in ("a", "an", "once", "twice")}
_HOUR_WORDS |= {"eleven": "11", "twelve": "12", "noon": "12"}
# 'nine to five': hours said in words, as dictation types them.
_SPOKEN_RANGE = re.compile(
    r"\b("
    + "|".join(_HOUR_WORDS)
    + r")(\s*(?:am|pm)?\s+(?:to|until|till|-)\s+)("
    + "|".join(_HOUR_WORDS)
    + r")\b",
    re.IGNORECASE,
)


def _window(text: str) -> dict[str, str]:
    text = _SPOKEN_RANGE.sub(
        lambda m: _HOUR_WORDS[m.group(1).lower()] + m.group(2) + _HOUR_WORDS[m.group(3).lower()],
        text,
    )
    for match in _WINDOW.finditer(text):
        h1, m1, p1, h2, m2, p2 = match.groups()
        start_h, end_h = int(h1), int(h2)
        if start_h > 23 or end_h > 23:
            continue
        if p2 and not p1 and p2.lower() == "pm" and start_h < end_h:
            p1 = "pm"
        start = _clock(start_h, int(m1 or 0), p1, end=False, start_hour=0)
        end = _clock(end_h, int(m2 or 0), p2, end=True, start_hour=int(start[:2]))
        return {"window_start": start, "window_end": end}
    return {}


_DAY_ABBREVIATIONS = {
    "mon": "mon",
    "monday": "mon",
    "tue": "tue",
    "tues": "tue",
    "tuesday": "tue",
    "wed": "wed",
    "wednesday": "wed",
    "thu": "thu",
    "thur": "thu",
    "thurs": "thu",
    "thursday": "thu",
    "fri": "fri",
    "friday": "fri",
    "sat": "sat",
    "saturday": "sat",
    "sun": "sun",
    "sunday": "sun",
}
_DAY = "(?:" + "|".join(sorted(_DAY_ABBREVIATIONS, key=len, reverse=True)) + ")"
# 'mon/wed/fri', 'tue and thu', 'mondays, wednesdays and fridays'
_DAY_LIST = re.compile(rf"\b{_DAY}s?(?:\s*(?:/|,|&|\+|\band\b)\s*{_DAY}s?)+\b", re.IGNORECASE)


def _days(text: str) -> str | None:
    low = text.lower()
    if listed := _DAY_LIST.search(low):
        words = re.findall(_DAY, listed.group(0))
        return ",".join(dict.fromkeys(_DAY_ABBREVIATIONS[w] for w in words))
    if re.search(
        r"\b(?:weekdays?|business days|workdays|mon(?:day)?\s*(?:-|–|to)\s*fri(?:day)?)\b", low
    ):
        return "weekdays"
    if re.search(r"\b(?:every day|daily|7 days a week|all week)\b", low):
        return "every day"
    if re.search(r"\bweekends?\b", low):
        return "weekends"
    return None


def _retry(text: str) -> dict[str, Any]:
    low = text.lower()
    out: dict[str, Any] = {}
    outcomes: list[str] = []
    if re.search(r"no[- ]?answers?|unanswered|didn'?t (?:pick up|answer)|don'?t answer", low):
        outcomes.append("no_answer")
    if re.search(r"\bbusy\b", low):
        outcomes.append("busy")
    if re.search(r"voicemails?|machines?", low) and re.search(r"again|retry|re-?try|redial", low):
        outcomes.append("voicemail")
    if re.search(
        r"\b(?:no retries|don'?t retry|do not retry|never retry|only once|one attempt)\b", low
    ):
        return {"retry_on": [], "max_attempts": 1}
    if outcomes and re.search(r"again|retry|re-?try|redial|try", low):
        out["retry_on"] = outcomes
    if "tomorrow" in low or "next day" in low or "the day after" in low:
        out["retry_after_hours"] = 24
    match = _RETRY_AFTER.search(text)
    if match:
        n = _count(match.group(1))
        unit = match.group(2).lower()
        out["retry_after_hours"] = (
            n * 24 if unit.startswith("d") else (n if unit.startswith("h") else round(n / 60, 2))
        )
    per_day = _PER_DAY.search(text)
    if per_day:
        n = _count(per_day.group(1))
        out["max_attempts"] = n
        out["retry_after_hours"] = round(24 / max(n, 1), 2)
        out.setdefault("retry_on", outcomes or ["no_answer"])
    attempts = _ATTEMPTS.search(text)
    if attempts:
        out["max_attempts"] = _count(attempts.group(1))
    return out


_NAME_CONTAINS = re.compile(
    r"\bwhose names? (?:contains?|includes?|has|have|with)\s+['\"“]?([\w'-]+)"
    r"|\bwith ['\"“]?([\w'-]+)['\"”]? in (?:their|the|its) names?\b"
    # 'contacts named smith', 'everyone called Patel'
    r"|\b(?:contacts|leads|prospects|people|everyone|everybody|anyone)\s+(?:(?:who\s+are|that\s+are)"
    r"\s+)?(?:named|called)\s+['\"“]?([\w'-]+)",
    re.IGNORECASE,
)


def _lower_company(text: str) -> str | None:
    """A company named in lower case where a campaign's audience is said, or None."""
    match = _LOWER_COMPANY.search(text)
    while match is not None:  # every start: 'to reach acme contacts' is tried from 'acme'
        name = _clean(match.group(1) or match.group(2) or "")
        if name and not set(name.lower().split()) & _NOT_A_COMPANY:
            return name
        match = _LOWER_COMPANY.search(text, match.start() + 1)
    return None


def _clean(phrase: str) -> str:
    return phrase.strip(" ,.;:!?\"'“”")


def campaign_args(text: str, today: date) -> dict[str, Any]:
    """create_campaign's arguments (only those the message states)."""
    cleaned = " ".join(text.replace("’", "'").split())
    args: dict[str, Any] = {}
    not_reached = _NOT_REACHED.search(cleaned) or _SKIP_REACHED.search(cleaned)
    if not_reached:
        args["not_reached_about"] = _clean(not_reached.group(1))
    about = _ABOUT.search(cleaned) or _FOR.search(cleaned)
    shorthand = _SHORTHAND.match(cleaned)
    if shorthand and (
        _NOT_WHO.match(shorthand.group("who")) or _NOT_WHAT.match(shorthand.group("what"))
    ):
        shorthand = None  # 'Campaign: the fall launch, call all my contacts at …': a purpose first
    if shorthand and not _ABOUT.search(cleaned) and not _OPTION.search(shorthand.group("what")):
        args["purpose"] = _clean(shorthand.group("what"))
    elif about and not (not_reached and about.start() >= not_reached.start()):
        args["purpose"] = _clean(about.group(1))
    elif not_reached:
        args["purpose"] = args["not_reached_about"]
    company = _COMPANY.search(cleaned) or _MY_COMPANY.search(cleaned)
    listed = _FOR_PEOPLE.search(cleaned)
    if listed:
        # 'a campaign for Jenna, Omar and Luis about …': those contacts
        args["contacts"] = [_clean(n) for n in re.split(r"\s*,\s*|\s+and\s+", listed.group(1))]
    elif company and company.group(1).lower() not in {"most", "a", "the"}:
        args["company"] = _clean(company.group(1))
    elif (audience := _AUDIENCE.search(cleaned)) and audience.group(1).lower() not in (
        _NOT_A_COMPANY
    ):
        args["company"] = _clean(audience.group(1))  # 'to Globex contacts'
    elif lower := _lower_company(cleaned):
        args["company"] = lower
    elif (named := _CAMPAIGN_FOR.search(cleaned)) and not (
        set(named.group(1).lower().split()) & _NOT_A_COMPANY
    ):
        args["company"] = _clean(named.group(1))  # 'a campaign for helix bio about …'
    elif shorthand and not (set(shorthand.group("who").lower().split()) & _NOT_A_COMPANY):
        args["company"] = _clean(shorthand.group("who"))  # 'campaign: acme, renewal reminder'

    if named := _NAME_CONTAINS.search(cleaned):
        args["name_contains"] = next(g for g in named.groups() if g)
    days = _days(cleaned)
    if days:
        args["days"] = days
    args.update(_window(cleaned))
    concurrent = _CONCURRENT.search(cleaned)
    if concurrent:
        args["max_concurrent"] = _count(concurrent.group(1))
    budget = _BUDGET.search(cleaned) or _BUDGET_ALT.search(cleaned) or _ANY_CREDITS.search(cleaned)
    if budget:
        amount = _number(budget.group(1)) * (1000 if budget.group(2) else 1)
        args["budget_credits"] = int(amount) if amount == int(amount) else amount
    args.update(_retry(cleaned))
    return args


_DETERMINERS = {"the", "my", "our", "that", "this", "your"}
_GENERIC = {
    "calling",
    "dialing",
    "dialling",
    "outbound",
    "batch",
    "paused",
    "current",
    "latest",
    "last",
    "new",
    "running",
    "call",
    "phone",
    "whole",
}


# A campaign named after the word: 'results for holiday promo', 'campaign: Q4 renewals'.
_NAMED_AFTER = re.compile(
    r"\bcampaigns?\b(?:\s+(?:results?|status|stats|numbers|progress|report|performance))?"
    r"\s*(?:\s(?:for|on|named|called|titled)\s+|:\s*)(?P<name>.+?)\s*[.?!]*$",
    re.IGNORECASE,
)
# Named without the word: 'pause q4 renewals', 'q4 renewals results'.
_BARE_ORDER = re.compile(
    r"^\s*(?:(?:please|pls|plz|ok|okay|now|can you|could you)\s+)*(?:pause|unpause|resume"
    r"|restart|cancel|stop|halt|kill)\s+(?:the\s+)?(?P<name>.+?)"
    r"(?:\s+(?:again|now|please|pls|for now|for a bit|for the moment|for today|asap))*\s*[.?!]*$",
    re.IGNORECASE,
)
_BARE_FIGURES = re.compile(
    r"^\s*(?:(?:show|get|give me|how about)\s+)?(?:the\s+)?(?P<name>.+?)\s+(?:results|stats"
    r"|numbers|progress|performance)\s*(?:so far|pls|please)?\s*[.?!]*$"
    r"|^\s*(?:results|stats|numbers|progress|performance)\s*(?:\s(?:for|of|on)\s+|:\s*)"
    r"(?:the\s+)?(?P<after>.+?)\s*[.?!]*$",
    re.IGNORECASE,
)
# Words that name no campaign ('pause everything', 'cancel that', 'stop the calls').
_NO_NAME = re.compile(
    r"^(?:it|that|this|them|everything|all|all of them|all campaigns|everything running|the"
    r" calls?|calls|calling|dialing|dialling|that one|this one|the one|one|current|running"
    r"|campaigns?|my|our|good|now|a bit|a while)$",
    re.IGNORECASE,
)


def _bare_name(text: str) -> str | None:
    """A campaign named without the word 'campaign' around it, or None."""
    for pattern in (_NAMED_AFTER, _BARE_ORDER, _BARE_FIGURES):
        if found := pattern.search(text):
            name = (found.group("name") or found.groupdict().get("after") or "").strip(" \"'“”‘’,")
            name = re.sub(r"^(?:the|my|our)\s+|\s+(?:campaign|one)$", "", name, flags=re.I)
            name = re.sub(r"\s+for (?:good|now|a (?:bit|while)|the (?:moment|day|week))$", "", name)
            if name and len(name.split()) <= 5 and not _NO_NAME.match(name):
                return name
    return None


def campaign_ref_args(text: str, today: date) -> dict[str, Any]:
    """{"campaign": <its name>} when the message names one ("pause the spring renewal
    campaign": the words between a determiner and "campaign"; "results for holiday
    promo", "pause q4 renewals"); {} for "the campaign", "my calling campaign" (the
    latest)."""
    words = re.findall(r"[\w&'’-]+", text)
    lowered = [w.lower() for w in words]
    if "campaign" not in lowered:
        name = _bare_name(text)
        return {"campaign": name} if name else {}
    before = _named_before(words, lowered)
    if not before and (after := _NAMED_AFTER.search(text)) and (name := _bare_name(after.group(0))):
        return {"campaign": name}
    return before


def _named_before(words: list[str], lowered: list[str]) -> dict[str, Any]:
    """The words between a determiner and 'campaign' ('pause the spring renewal
    campaign'), or {}."""
    end = lowered.index("campaign")
    start = end
    while start > 0 and lowered[start - 1] not in _DETERMINERS:
        start -= 1
        if end - start > 6:
            return {}
    if start == 0:
        return {}  # no "the …" before it: nothing named
    name = [w for w in words[start:end] if w.lower() not in _GENERIC]
    return {"campaign": " ".join(name)} if name else {}
