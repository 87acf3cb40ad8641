"""Periods and days as people write them ('since October 1', 'Q3', '16–22 Nov',
'11/16 and 11/22', 'last Tuesday'), read against today into what
`insights.analytics.parse_period` and the consent tools take.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta

from core.words import NUMBER_WORDS

# Counts written in words or digits: 'the last ten calls', 'last 3 weeks'.
COUNT_WORDS = "|".join(NUMBER_WORDS)


def count_in(word: str) -> int | None:
    """The number a count word or digits stand for (None: not a count)."""
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word)


_MONTH_NUMBERS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m and m.lower() != "may"
}

_MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november"
    r"|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
)

_DAY = r"(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?"


def _day(month: str, day: str, year: str | None, today: date) -> date | None:
    """A date written without a year is the latest one not after today."""
    try:
        found = date(int(year) if year else today.year, _MONTH_NUMBERS[month], int(day))
    except (KeyError, ValueError):
        return None
    if not year and found > today:
        found = found.replace(year=found.year - 1)
    return found


_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}

_ON_DAY = re.compile(
    r"\b(?:(?P<iso>\d{4}-\d{2}-\d{2})|(?P<ago>\d{1,2}|a|one|two|three|four|five|six|seven"
    r"|ten) (?P<unit>days?|weeks?) ago|(?:last |on |this past )(?P<weekday>monday|tuesday"
    r"|wednesday|thursday|friday|saturday|sunday)|(?:on )?"
    + _MONTH.replace("(", "(?P<m1>", 1)
    + r"\.? (?P<d1>\d{1,2})(?:st|nd|rd|th)?(?:,? (?P<y1>\d{4}))?"
    + r"|(?:on )?(?:the )?(?P<dom>\d{1,2})(?:st|nd|rd|th)? (?:of )?"
    + _MONTH.replace("(", "(?P<m2>", 1)
    + r"|(?P<nm>\d{1,2})/(?P<nd>\d{1,2})(?:/(?P<ny>\d{2,4}))?"
    + r"|(?P<yesterday>yesterday))\b"
)


def obtained_at(text: str, today: date) -> str | None:
    """When consent was given, if the message says: 'yesterday', 'on Nov 20',
    '2026-11-14', 'last Tuesday', 'three days ago' (an ISO date)."""
    match = _ON_DAY.search(" ".join(text.lower().replace("’", "'").split()))
    if match is None:
        return None
    found: date | None
    if match.group("iso"):
        try:
            found = date.fromisoformat(match.group("iso"))
        except ValueError:
            return None
    elif match.group("yesterday"):
        found = today - timedelta(days=1)
    elif match.group("ago"):
        word = match.group("ago")
        count = count_in(word) or 1
        found = today - timedelta(days=count * (7 if match.group("unit").startswith("w") else 1))
    elif match.group("weekday"):
        back = (today.weekday() - _WEEKDAYS[match.group("weekday")]) % 7 or 7
        found = today - timedelta(days=back)
    elif match.group("nm"):
        found = _numeric_day(match.group("nm"), match.group("nd"), match.group("ny"), today)
    elif match.group("dom"):
        found = _day(match.group("m2"), match.group("dom"), None, today)
    else:
        found = _day(match.group("m1"), match.group("d1"), match.group("y1"), today)
    return found.isoformat() if found and found <= today else None


_ISO_RANGE = re.compile(
    r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|to|–|—|-|and|through|until)\s*(\d{4}-\d{2}-\d{2})"
)

_SINCE_ISO = re.compile(r"\b(?:since|from|after)\s+(\d{4}-\d{2}-\d{2})\b")

_SINCE_DAY = re.compile(rf"\b(?:since|from|after|starting)\s+(?:the\s+)?{_MONTH}\.?\s+{_DAY}\b")

_BETWEEN_DAYS = re.compile(
    rf"\b(?:between|from)\s+{_MONTH}\.?\s+{_DAY}\s+(?:and|to|until|through|-)\s+"
    rf"(?:{_MONTH}\.?\s+)?{_DAY}\b"
)

# US-style numeric dates: 'between 11/16 and 11/22', 'from 11/1/2026 to 11/15/2026'.
_BETWEEN_NUMERIC = re.compile(
    r"(?:\b(?:between|from)\s+)?(\d{1,2})([/.])(\d{1,2})(?:[/.](\d{2,4}))?\s*(?:and|to|until"
    r"|through|-|–|—)\s*(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b"
)

# A span of days in one month: '16–22 Nov', 'Nov 16-22'.
_DAY_SPAN = re.compile(
    r"\b(?:(?:from\s+|between\s+)?(?P<d1>\d{1,2})(?:st|nd|rd|th)?\s*(?:[–—-]|to|and|until"
    r"|through)\s*(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?"
    + _MONTH.replace("(", "(?P<m1>", 1)
    + r"|"
    + _MONTH.replace("(", "(?P<m2>", 1)
    + r"\.?\s+(?P<e1>\d{1,2})(?:st|nd|rd|th)?\s*[–—-]\s*(?P<e2>\d{1,2})(?:st|nd|rd|th)?)\b"
)

_SINCE_NUMERIC = re.compile(r"\b(?:since|from|after)\s+(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")

_LAST_N = re.compile(
    r"\b(?:last|past|previous)\s+(\d{1,3}|" + COUNT_WORDS + r")\s+(day|week|month)s?\b"
)

_PAST_UNIT = re.compile(r"\b(?:the )?past (day|week|month|year)\b")

_FIXED_PERIODS = (
    ("so far this month", "this month"),
    ("month to date", "this month"),
    ("this quarter", "this quarter"),
    ("last quarter", "last quarter"),
    ("this month", "this month"),
    ("last month", "last month"),
    ("this week", "this week"),
    ("last week", "last week"),
    ("this year", "this year"),
    ("last year", "last year"),
    ("yesterday", "yesterday"),
    ("today", "today"),
)

_QUARTER = re.compile(
    r"\b(?:q([1-4])|(first|second|third|fourth) quarter)(?:\s+(?:of\s+)?(\d{4}))?\b"
)

_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4}

_WEEKDAY = (
    r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu(?:rs?)?|fri)"
)
_SINCE_WEEKDAY = re.compile(
    rf"\b(?:since|from|after)\s+(?:last\s+|this\s+(?:past\s+)?)?{_WEEKDAY}\b"
)
# 'the calls from last Friday': that day's calls, unless a range goes on ('from last
# Friday to today', 'from last Friday on').
_FROM_LAST_WEEKDAY = re.compile(
    rf"\bfrom\s+last\s+{_WEEKDAY}\b(?!\s+(?:on|onwards?|until|till|through|to|up to)\b)"
)
_ON_WEEKDAY = re.compile(
    rf"\b(?:on|last|this past|from)\s+{_WEEKDAY}(?:'s)?\b|^\s*{_WEEKDAY}(?:'s)?\b"
    rf"|\b(?:calls|dials)\s+{_WEEKDAY}\b"  # 'calls fri'
)
_TODAY_PARTS = re.compile(
    r"\b(?:this (?:morning|afternoon|evening)|tonight|earlier today|so far today)\b"
)
_SHORT_WEEKDAYS = {
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
}


def _weekday_back(word: str, today: date, *, before_today: bool) -> date:
    """The latest `word` day on or before today (strictly before, with `before_today`)."""
    number = _WEEKDAYS.get(word, _SHORT_WEEKDAYS.get(word, 0))
    back = (today.weekday() - number) % 7
    return today - timedelta(days=back or (7 if before_today else 0))


def _relative_days(lowered: str, today: date) -> str | None:
    """'since Tuesday' → that Tuesday..today; 'on Friday', 'last Friday' → that day;
    'this morning' → today (None: no such words)."""
    if _TODAY_PARTS.search(lowered):
        return "today"
    if match := _FROM_LAST_WEEKDAY.search(lowered):
        day = _weekday_back(match.group(1), today, before_today=True)
        return f"{day}..{day}"
    if match := _SINCE_WEEKDAY.search(lowered):
        first = _weekday_back(match.group(1), today, before_today=False)
        return f"{first}..{today}"
    if match := _ON_WEEKDAY.search(lowered):
        word = match.group(1) or match.group(2) or match.group(3)
        day = _weekday_back(word, today, before_today=lowered[match.start() :].startswith("last"))
        return f"{day}..{day}"
    return _dated(lowered, today)


_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)"
_ANY_MONTH = _MONTH.replace("(", "(?:", 1)
_FRAGMENT = (
    rf"((?:the\s+)?(?:{_ORDINAL}(?:\s+of\s+{_ANY_MONTH})?|{_ANY_MONTH}\.?\s+\d{{1,2}}"
    r"(?:st|nd|rd|th)?(?![\d:]))"
    r"|\d{1,2}\s+(?:days?|weeks?)\s+ago|(?:the\s+)?day\s+before\s+yesterday)"
)
_SINCE_FRAGMENT = re.compile(rf"\b(?:since|from|after|starting)\s+{_FRAGMENT}")
_BETWEEN_FRAGMENTS = re.compile(rf"\bbetween\s+{_FRAGMENT}\s+and\s+{_FRAGMENT}")
_ON_FRAGMENT = re.compile(
    rf"\b(?:on|for)\s+{_FRAGMENT}|\b(\d{{1,2}}\s+(?:days?|weeks?)\s+ago|day before yesterday)"
)


def _dated(lowered: str, today: date) -> str | None:
    """Days read with dateparser, against today in the user's zone: 'since the 3rd',
    'on Nov 20', 'between the 2nd and the 9th', '3 days ago', 'the day before yesterday'."""
    if match := _BETWEEN_FRAGMENTS.search(lowered):
        first, last = _parsed(match.group(1), today), _parsed(match.group(2), today)
        return f"{first}..{last}" if first and last and first <= last else None
    if match := _SINCE_FRAGMENT.search(lowered):
        first = _parsed(match.group(1), today)
        return f"{first}..{today}" if first else None
    if match := _ON_FRAGMENT.search(lowered):
        day = _parsed(match.group(1) or match.group(2), today)
        return f"{day}..{day}" if day else None
    return None


def _parsed(fragment: str, today: date) -> date | None:
    """The day `fragment` names, not after today ('the 3rd': this month's, else last
    month's; anything else: dateparser, preferring the past)."""
    bare = re.fullmatch(r"(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)", fragment.strip())
    if bare:
        day = int(bare.group(1))
        for months_back in (0, 1):
            year, month = divmod(today.year * 12 + today.month - 1 - months_back, 12)
            if day <= calendar.monthrange(year, month + 1)[1]:
                found = date(year, month + 1, day)
                if found <= today:
                    return found
        return None
    import dateparser  # type: ignore[import-untyped]  # ~0.4 s: only when a date is named

    settings = {"RELATIVE_BASE": datetime.combine(today, time(12)), "PREFER_DATES_FROM": "past"}
    parsed = dateparser.parse(fragment, languages=["en"], settings=settings)
    return parsed.date() if parsed is not None and parsed.date() <= today else None


_IN_MONTH = re.compile(rf"\b(?:in|for|during|of|over)\s+{_MONTH}\b(?:\s+(\d{{4}}))?")


def _numeric_day(
    month: str, day: str, year: str | None, today: date, *, day_first: bool = False
) -> date | None:
    """'11/16' (month/day, US order; '18/11' day first, as no month is 18; with
    `day_first`, '16.11' as Europe writes it), optionally with '/2026' or '/26'."""
    if day_first or int(month) > 12:
        month, day = day, month
    full = None if year is None else int(year) + (2000 if len(year) == 2 else 0)
    try:
        found = date(full or today.year, int(month), int(day))
    except ValueError:
        return None
    if full is None and found > today:
        found = found.replace(year=found.year - 1)
    return found


# Shorthand and common misspellings of period words, as reps and managers type them.
_SHORTHAND = tuple(
    (re.compile(rf"\b(?:{short})\b"), long)
    for short, long in (
        (r"ytd|y\.t\.d\.?|year to date", "this year"),
        (r"mtd|m\.t\.d\.?", "month to date"),
        (r"qtd|quarter to date", "this quarter"),
        (r"wtd|week to date", "this week"),
        (r"wks|weeks", "weeks"),
        (r"wk|wek|weeek|wkk", "week"),
        (r"mos|mths|mnths|months", "months"),
        (r"mo|mth|mnth|moth|monht", "month"),
        (r"qtr|quater|quartr", "quarter"),
        (r"yrs", "years"),
        (r"yr", "year"),
        (r"yday|yest|ystday|yesterdy|yesturday|yesteday", "yesterday"),
        (r"tdy|2day|tday", "today"),
        (r"lst|lsat|lasst|laast", "last"),
        (r"prev", "previous"),
        (r"ths|tihs|thsi", "this"),
        (r"thru", "through"),
        # 'since the start of october' → 'since october 1' (also 'from the …')
        (
            r"(?:(?<=since )|(?<=from ))the (?:start|beginning) of ((?:jan|febr)uary|march|april"
            r"|may|june|july|august|september|october|november|december)",
            r"\1 1",
        ),
        # A manager's two letters: 'cr by rep lw', 'calls tw', 'credits lm'.
        (r"lw", "last week"),
        (r"tw", "this week"),
        (r"lm", "last month"),
        (r"lq", "last quarter"),
        (r"tq", "this quarter"),
        (r"(?<=last )(\d{1,3}) ?d", r"\1 days"),
        (r"(?<=last )(\d{1,3}) ?w", r"\1 weeks"),
        (r"l(\d{1,3})d", r"last \1 days"),
    )
)


def expand_shorthand(lowered: str) -> str:
    """'conn rate last wk' → 'conn rate last week'; 'calls ytd' → 'calls this year'."""
    for pattern, long in _SHORTHAND:
        lowered = pattern.sub(long, lowered)
    return lowered


def period_named(text: str, today: date) -> str | None:
    """The period a message names, in a form `insights.analytics.parse_period` reads
    (shorthand such as 'last wk', 'ytd', 'mtd', 'q3' included)."""
    lowered = expand_shorthand(" ".join(text.lower().replace("’", "'").split()))
    if match := _ISO_RANGE.search(lowered):
        return f"{match.group(1)}..{match.group(2)}"
    if match := _BETWEEN_DAYS.search(lowered):
        first = _day(match.group(1), match.group(2), match.group(3), today)
        last_month = match.group(4) or match.group(1)
        last = _day(last_month, match.group(5), match.group(6) or match.group(3), today)
        if first and last:
            return f"{first}..{last}"
    if match := _DAY_SPAN.search(lowered):
        month = match.group("m1") or match.group("m2")
        first = _day(month, match.group("d1") or match.group("e1"), None, today)
        last = _day(month, match.group("d2") or match.group("e2"), None, today)
        if first and last and first <= last:
            return f"{first}..{last}"
    if match := _BETWEEN_NUMERIC.search(lowered):
        dotted = match.group(2) == "."  # 16.11.2026: day first
        year = match.group(4)
        first = _numeric_day(match.group(1), match.group(3), year, today, day_first=dotted)
        last = _numeric_day(
            match.group(5), match.group(6), match.group(7) or year, today, day_first=dotted
        )
        if first and last:
            return f"{first}..{last}"
    if match := _SINCE_NUMERIC.search(lowered):
        first = _numeric_day(match.group(1), match.group(2), match.group(3), today)
        if first:
            return f"{first}..{today}"
    if match := _SINCE_ISO.search(lowered):
        return f"{match.group(1)}..{today}"
    if match := _SINCE_DAY.search(lowered):
        first = _day(match.group(1), match.group(2), match.group(3), today)
        if first:
            return f"{first}..{today}"
    if match := _LAST_N.search(lowered):
        count = NUMBER_WORDS.get(match.group(1)) or int(match.group(1))
        return f"last {count} {match.group(2)}{'s' if count != 1 else ''}"
    if match := _PAST_UNIT.search(lowered):
        return {"day": "today", "week": "last 7 days", "month": "last 30 days"}.get(
            match.group(1), "last 12 months"
        )
    for phrase, period in _FIXED_PERIODS:
        if re.search(rf"\b{phrase}\b", lowered):
            return period
    if found := _relative_days(lowered, today):
        return found
    if match := _QUARTER.search(lowered):
        quarter = int(match.group(1) or _QUARTER_WORDS[match.group(2)])
        year = int(match.group(3)) if match.group(3) else today.year
        first = date(year, 3 * quarter - 2, 1)
        if not match.group(3) and first > today:
            first = first.replace(year=year - 1)  # 'Q4' in March: last year's
        last = date(first.year, 3 * quarter, calendar.monthrange(first.year, 3 * quarter)[1])
        return f"{first}..{min(last, today)}"
    if match := _IN_MONTH.search(lowered):
        name = calendar.month_name[_MONTH_NUMBERS[match.group(1)]]
        return f"{name} {match.group(2)}" if match.group(2) else name
    return None
