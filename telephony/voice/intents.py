"""Deterministic intent detection on a caller's transcribed words.

Pure functions shared by the scripted and the OpenAI voice agents: opt-out,
objections, interest, goodbyes, questions about who (or what) is calling, and
callback times. Nothing here calls a model, so the decisions that matter for
compliance and for the rep (an opt-out, a booked callback) never depend on one.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.words import NUMBER_WORDS


def _dateparser() -> Any:
    """dateparser, imported on first use (~0.4 s: most processes never need it)."""
    import dateparser  # type: ignore[import-untyped]

    return dateparser


OPT_OUT_DIGIT = "9"
OBJECTIONS = ("price", "timing", "competitor", "authority", "need")

_NEGATED = r"(?<!don't )(?<!do not )(?<!never )"
# "Don't call me before noon" asks for another time, not for no calls at all.
_NOT_NOW = (
    r"(?:until|before|today|tonight|now|right now|during|so (?:early|late)"
    r"|this (?:morning|afternoon|evening|week)|in the (?:morning|afternoon|evening))\b"
)
_OPT_OUT = re.compile(
    r"|".join(
        (
            _NEGATED + r"\b(?:stop|quit|cease) (?:calling|phoning|ringing|contacting|bothering)\b",
            r"\b(?:remove|take|delete|drop|scrub|strike) (?:me|us|my (?:phone )?number|this number)"
            r" (?:off|from|out of)\b",
            r"\b(?:don't|do not|never) (?:ever )?(?:call|phone|ring|contact) "
            r"(?:me|us|this number|here)\b(?! (?:back )?" + _NOT_NOW + ")",
            r"\bnever (?:call|contact) (?:me|us)? ?again\b",
            r"\bdo not call (?:list|registry)\b",
            r"\b(?:unsubscribe|opt me out|opt out|lose my number|no more calls)\b",
        )
    )
)

_OBJECTION_PATTERNS: dict[str, re.Pattern[str]] = {
    "price": re.compile(
        r"\b(?:too (?:expensive|pricey|costly|much money)|(?:sounds|is|seems|way) expensive"
        r"|expensive|can't afford|cannot afford|no budget|(?:don't|do not) have (?:the |a |much )?"
        r"budget|not in (?:the|our) budget|out of (?:our |my )?budget|budget is (?:tight|gone)"
        r"|costs? too much|(?:price|pricing|cost) is (?:too )?high|too much for us)\b"
    ),
    "timing": re.compile(
        r"\b(?:not a good time|bad time|not the right time|busy|in a meeting|driving"
        r"|next (?:quarter|year|month)|not right now|not now|maybe later|another time"
        r"|call (?:me )?(?:back )?later|try (?:me )?(?:again )?later)\b"
    ),
    "competitor": re.compile(
        r"\b(?:already (?:use|using|have|work with|working with|got|signed)"
        r"|happy with (?:our|my|the) (?:current |existing )?\w+"
        r"|(?:current|existing) (?:vendor|provider|solution|supplier|system)"
        r"|under contract|locked into|signed with|we use \w+|we're using \w+)\b"
    ),
    "authority": re.compile(
        r"\b(?:not the (?:decision maker|right person|person (?:who|to)|one who)"
        r"|(?:talk|speak|check) (?:to|with) my (?:boss|manager|partner|team|owner|director)"
        r"|not my (?:call|decision|department)|(?:have|need) to (?:check|ask|run it by)"
        r"|(?:boss|manager|owner|director) (?:decides|handles|makes)|procurement)\b"
    ),
    "need": re.compile(
        r"\b(?:(?:don't|do not|doesn't) (?:really )?need|no need|not (?:something|anything) we need"
        r"|no use for|doesn't apply|not relevant|we're all set|we're fine with what)\b"
    ),
}

_NEGATIVE = re.compile(
    r"\b(?:not interested|no interest|no thanks|no thank you|not for (?:us|me)|no way"
    r"|(?:don't|do not) want|not looking|leave me alone|don't bother|nope|nah"
    r"|absolutely not|definitely not|not at all|i'll pass|we'll pass|not really)\b"
    r"|^no\b(?! problem| worries)"
)
_FIRM_NEGATIVE = re.compile(
    r"\b(?:absolutely not|definitely not|not interested at all|leave me alone|no way"
    r"|i said (?:no|i'm not)|really not interested)\b"
)
_UNSURE = re.compile(r"\b(?:not (?:so )?sure|unsure)\b")
_POSITIVE = re.compile(
    r"\b(?:yes|yeah|yep|yup|sure|absolutely|definitely|of course|certainly|interested"
    r"|sounds (?:good|great|interesting|useful|fine|helpful)|tell me more|go ahead|go on"
    r"|okay|ok|alright|all right|that works|works for me|i'd like|i would like|love to"
    r"|happy to|why not|let's do it|i'm listening|couldn't hurt|could work|makes sense)\b"
)
_GOODBYE = re.compile(
    r"\b(?:good ?bye|bye|bye bye|have a (?:good|nice|great) (?:day|one)|take care"
    r"|i have to go|gotta go|hanging up)\b"
)
_IDENTITY = re.compile(
    r"\b(?:who (?:is|'s) (?:this|calling)|who's (?:this|calling)|who are you"
    r"|(?:is this|are you|am i talking to|am i speaking (?:to|with)) (?:a |an )?"
    r"(?:real )?(?:robot|bot|machine|computer|ai|human|person|recording|automated|live person)"
    r"|(?:is this|are you) (?:real|automated|recorded))\b"
)
_PRICE_QUESTION = re.compile(
    r"\b(?:how much|what(?:'s| is| does) (?:it |the )?(?:cost|price|pricing)|pricing|price)\b"
)

_REJECTS = re.compile(r"\b(?:doesn't|does not|won't|will not|can't|cannot) (?:work|do|make)\b")

# Spoken counts: the numbers, and the vaguer ones people say on the phone.
_NUMBER_WORDS = {
    **NUMBER_WORDS,
    "a": 1,
    "an": 1,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "a few": 3,
}
_COUNT = "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True))
_RELATIVE = re.compile(
    rf"\bin (?:about |around )?(?:(?P<half>half an hour)"
    rf"|(?P<n>\d{{1,3}}|{_COUNT}) (?P<unit>minutes?|mins?|hours?|hrs?|days?))\b"
)
_WEEKDAY = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DAY = re.compile(
    rf"\b(?:(?P<dat>day after tomorrow)|(?P<rel>today|tonight|tomorrow)"
    rf"|(?:next |this |on )?(?P<wd>{_WEEKDAY})|(?P<nw>next week)"
    rf"|(?P<md>(?:{_MONTH}) \d{{1,2}})(?:st|nd|rd|th)?)\b"
)
_HOUR_WORDS = {k: v for k, v in _NUMBER_WORDS.items() if k.isalpha() and len(k) > 2 and v <= 12}
_HOUR = "|".join(sorted(_HOUR_WORDS, key=len, reverse=True))
_CLOCK = re.compile(
    rf"\b(?:(?P<h1>\d{{1,2}}|{_HOUR})(?::(?P<m1>\d{{2}}))? ?"
    rf"(?P<ap1>am|pm|o'clock|in the morning|in the afternoon|in the evening)\b"
    rf"|(?:at|around|by|after|about) (?P<h2>\d{{1,2}}|{_HOUR})(?::(?P<m2>\d{{2}}))?"
    rf"(?: ?(?P<ap2>am|pm|o'clock|in the morning|in the afternoon|in the evening))?(?![\w%:])"
    rf"|(?P<h3>\d{{1,2}}):(?P<m3>\d{{2}}))"
)
_PART_OF_DAY = re.compile(r"\b(?:noon|midday|lunch(?:time)?|morning|afternoon|evening|tonight)\b")
_PART_TIMES = {
    "noon": time(12),
    "midday": time(12),
    "lunch": time(12),
    "lunchtime": time(12),
    "morning": time(10),
    "afternoon": time(14),
    "evening": time(17),
    "tonight": time(18),
}
_DEFAULT_TIME = time(10)


def _norm(text: str) -> str:
    """Lower-case speech with plain apostrophes, `a.m.` as `am` and no other punctuation."""
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    lowered = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", lowered)
    lowered = re.sub(r"\bdont\b", "don't", lowered)
    return " ".join(re.sub(r"[^a-z0-9:'%]+", " ", lowered).split())


def is_opt_out(text: str) -> bool:
    """The caller asks not to be called again ("stop calling me", "take me off your list")."""
    return bool(_OPT_OUT.search(_norm(text)))


def objections_in(text: str) -> list[str]:
    """Every sales objection the caller raises (of `OBJECTIONS`), in the order said."""
    words = _norm(text)
    found = [(m.start(), kind) for kind, p in _OBJECTION_PATTERNS.items() if (m := p.search(words))]
    return [kind for _, kind in sorted(found)]


def objection_in(text: str) -> str | None:
    """The sales objection the caller raises first, one of `OBJECTIONS`, or None."""
    found = objections_in(text)
    return found[0] if found else None


def is_negative(text: str) -> bool:
    """The caller declines ("not interested", "no thanks")."""
    return bool(_NEGATIVE.search(_norm(text)))


def is_firm_negative(text: str) -> bool:
    """A decline that should end the call at once ("absolutely not", "no thanks … goodbye")."""
    words = _norm(text)
    return is_negative(words) and bool(_FIRM_NEGATIVE.search(words) or _GOODBYE.search(words))


def is_positive(text: str) -> bool:
    """The caller agrees or shows interest, and does not decline in the same breath."""
    words = _UNSURE.sub(" ", _norm(text))
    return bool(_POSITIVE.search(words)) and not is_negative(words) and not is_opt_out(words)


def is_goodbye(text: str) -> bool:
    """The caller is ending the conversation."""
    return bool(_GOODBYE.search(_norm(text)))


def is_identity_question(text: str) -> bool:
    """The caller asks who is calling or whether the caller is a person or a machine."""
    return bool(_IDENTITY.search(_norm(text)))


def is_price_question(text: str) -> bool:
    """The caller asks what it costs."""
    return bool(_PRICE_QUESTION.search(_norm(text)))


@functools.cache
def warm_up() -> None:
    """Load dateparser's language data once, so the first call does not pay for it."""
    _dateparser().parse("tomorrow", languages=["en"])


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def _parse_day(fragment: str, base: datetime) -> date | None:
    settings = {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base}
    parsed = _dateparser().parse(fragment, languages=["en"], settings=settings)
    return parsed.date() if isinstance(parsed, datetime) else None


def _day(words: str, local_now: datetime) -> date | None:
    """The day a fragment of `words` names, on or after today, or None."""
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    rel = _RELATIVE.search(words)
    if rel and rel.group("unit") and rel.group("unit").startswith("day"):
        return local_now.date() + timedelta(days=_count(rel.group("n")))
    match = _DAY.search(words)
    if match is None:
        return None
    if match.group("dat"):
        return local_now.date() + timedelta(days=2)
    if match.group("rel"):
        return local_now.date() + timedelta(days=1 if match.group("rel") == "tomorrow" else 0)
    if match.group("nw"):
        return _parse_day("monday", midnight)
    if match.group("wd"):
        return _parse_day(match.group("wd"), midnight)
    # A month and day: from yesterday's point of view, so that today's date stays this year.
    return _parse_day(match.group("md"), midnight - timedelta(days=1))


def _clock(words: str, *, day_named: bool) -> time | None:
    """The time of day `words` name ("at 4:30", "3pm", "ten in the morning", "noon").

    An hour in words with nothing after it ("at ten") counts only when nothing else names
    a time and it comes with a day or ends what was said, so "look at ten things" does not.
    """
    matches = list(_CLOCK.finditer(words))
    bare = [m for m in matches if (m.group("h2") or "").isalpha() and not m.group("ap2")]
    usable = [m for m in matches if m not in bare] or [
        m for m in bare if day_named or m.end() == len(words)
    ]
    for match in usable:
        found = _clock_of(match, words)
        if found is not None:
            return found
    part = _PART_OF_DAY.search(words)
    return _PART_TIMES[part.group()] if part else None


def _clock_of(match: re.Match[str], words: str) -> time | None:
    raw_hour = match.group("h1") or match.group("h2") or match.group("h3")
    hour = int(raw_hour) if raw_hour.isdigit() else _HOUR_WORDS[raw_hour]
    minute = int(match.group("m1") or match.group("m2") or match.group("m3") or 0)
    suffix = match.group("ap1") or match.group("ap2") or ""
    if "morning" in words and not suffix:
        suffix = "am"
    elif ("afternoon" in words or "evening" in words) and not suffix:
        suffix = "pm"
    if minute > 59 or hour > 23 or (suffix in ("am", "pm") and not 1 <= hour <= 12):
        return None
    if suffix in ("pm", "in the afternoon", "in the evening") and hour < 12:
        hour += 12
    elif suffix in ("am", "in the morning") and hour == 12:
        hour = 0
    elif suffix not in ("am", "in the morning") and 1 <= hour <= 7:
        hour += 12  # "at 3" on a business call means the afternoon
    return time(hour, minute)


def callback_time(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The future moment the caller names ("tomorrow at 3pm", "in two hours"), in UTC.

    Days and times are read in the callee's time zone `tz`. A time without a day is its
    next occurrence; a day without a time means 10:00. None when nothing names a time
    or the moment is already past.
    """
    words = _norm(text)
    local_now = now.astimezone(tz)
    rel = _RELATIVE.search(words)
    if rel and (rel.group("half") or (rel.group("unit") and not rel.group("unit").startswith("d"))):
        amount = (
            "30 minutes" if rel.group("half") else f"{_count(rel.group('n'))} {rel.group('unit')}"
        )
        settings = {"RELATIVE_BASE": local_now.replace(tzinfo=None)}
        parsed = _dateparser().parse(f"in {amount}", languages=["en"], settings=settings)
        if not isinstance(parsed, datetime):
            return None
        moment = parsed.replace(second=0, microsecond=0, tzinfo=tz)
    else:
        day = _day(words, local_now)
        clock = _clock(words, day_named=day is not None)
        if day is None and clock is None:
            return None
        if day is None:
            day = local_now.date()
            if datetime.combine(day, clock or _DEFAULT_TIME, tz) <= local_now:
                day += timedelta(days=1)
        moment = datetime.combine(day, clock or _DEFAULT_TIME, tz)
    result = moment.astimezone(UTC)
    return result if result > now else None


def agreed_callback_time(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """`callback_time`, unless the caller turns it down ("no, tomorrow at 3 doesn't work")."""
    if is_negative(text) or _REJECTS.search(_norm(text)):
        return None
    return callback_time(text, now, tz)
