"""Maps a user's message to one of the assistant's tools without a language model.

A message is scored against each intent by weighted cues: phrases of its normalised
text, regular expressions over that text, and signals read from the message (a phone
number, a named credit package, a period, a reference to one call, an order to place a
call …). The highest sum wins. Below `THRESHOLD` nothing is guessed, and neither is
anything no tool does (writing an email, deleting, scheduling …): the model then says
it can't do that offline and how to enable the full one. The winner's extractor pulls
the tool's arguments out of the message: contact names, phone numbers, call ids,
periods, package names, countries and postal codes.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import phonenumbers

from billing.purchases import BillingAddressInvalid, parse_country
from core.words import NUMBER_WORDS

THRESHOLD = 0.5

Extractor = Callable[[str, date], dict[str, Any]]


@dataclass(frozen=True)
class Intent:
    name: str
    tool: str | None  # None: answered without a tool (greetings, help)
    cues: dict[str, float]
    examples: tuple[str, ...] = field(default=())
    # Pulls the tool's arguments out of the message (the message, today's date).
    extract: Extractor | None = None
    # The answer, for intents answered without a tool.
    reply: str | None = None
    # Regular expressions over the normalised message, with their weights.
    patterns: tuple[tuple[str, float], ...] = ()
    # Weights of the signals found in the message (see `_signals`).
    signals: dict[str, float] = field(default_factory=dict)

    def score(self, padded: str, found: frozenset[str]) -> float:
        total = sum(w for cue, w in self.cues.items() if f" {cue} " in padded)
        total += sum(w for pattern, w in self.patterns if re.search(pattern, padded))
        return total + sum(w for name, w in self.signals.items() if name in found)


def _text_only(extract: Callable[[str], dict[str, Any]]) -> Extractor:
    return lambda text, today: extract(text)


def _strip(text: str) -> str:
    return text.strip(" ,.;:!?\"'“”‘’()").strip()


# --- entities ------------------------------------------------------------------------------

# A phone number in any common format: +1 415 555 0134, (415) 555-0134, 415.555.0134 …
_PHONE = re.compile(r"\+?\(?\d[\d\s().-]{6,}\d")
_CALL_ID = re.compile(r"\b([0-9a-f]{8})(?:-[0-9a-f-]{4,})?\b", re.IGNORECASE)


# Words that start with a capital without being (part of) a person's name: sentence
# starts, commands, pronouns, calendar words.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NOT_NAMES = _words(
    """
    a about add after all also am an analyse analyze and any anyone are as ask at average
    be break brief but buy by call calls can cancel change check compare could create cut
    did dial do does end every find for from get give go good great hang has have he hello
    help her hey hi his how how's i i'd i'll i'm i've in insights is it it's just last
    let's list log look make may me met might my need new next no note now of ok okay on
    one or our please place pull purchase put quick reach read record remember ring save
    see set she should show so some start status still stop summarise summarize tell thank
    thanks that that's the their them then there these they this those to today tomorrow
    transcript try update us was we we've were what what's whats when where which who why
    will with would yes yesterday you your
    identify locate provide display generate initiate proceed kindly review fetch retrieve
    open share send email text remove delete export import walk explain calculate confirm
    schedule book assign tag mark flag let lets
    before after during since once while if as because although first also actually btw fyi
    hmm um oh well alright sure cool quick real random anyway morning afternoon evening
    tonight search pull grab dig ping hang terminate drop kill abort just pls thanks cheers
    urgent need want looking trying gonna going recap estimate quote price top change switch
    swap use remind heading prepping prep yo register type source wording consent merge
    another next other new same
    monday tuesday wednesday thursday friday saturday sunday
    january february march april june july august september october november december
    """
)
# Common words that are also parts of names, once a name has begun.
_NAME_PARTICLES = _words("an do may will bill mark van von de la le del da di bin ben")
# Lower-case particles inside a name: 'Jan-Willem van der Berg', 'Ahmad bin Yusuf'.
_LOWER_PARTICLES = _words(
    "van der den de la le du da di del della dos das do von zu ter ten bin bint ibn al el abu y"
)
_PARTICLES_THEN_NAME = re.compile(
    r"(?:(?:" + "|".join(sorted(_LOWER_PARTICLES, key=len, reverse=True)) + r")\s+)+[^\W\d_]*[A-Z]"
)
_WORD_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-])*")  # letters of any script


def _names(text: str) -> list[tuple[str, int, int]]:
    """Runs of capitalised words that look like a person's name ('Dana Whitfield',
    "Tom O'Neill", "Priya's" → 'Priya'), with where they start and end."""
    runs: list[tuple[str, int, int]] = []
    words: list[str] = []
    start = end = 0

    def close() -> None:
        if words:
            runs.append((" ".join(words), start, end))
            words.clear()

    for token in _WORD_TOKEN.finditer(text):
        word = token.group(0)
        possessive = word[-2:] in ("'s", "’s")
        bare = word[:-2] if possessive else word
        common = bare.lower().replace("’", "'") in _NOT_NAMES
        if (
            words
            and bare in _LOWER_PARTICLES
            and not text[end : token.start()].strip()
            and _PARTICLES_THEN_NAME.match(text, token.start())
        ):
            words.append(bare)  # 'Tomás de la Fuente', 'Ahmad bin Yusuf'
            end = token.start() + len(bare)
            continue
        namey = (
            bare[0].isupper()
            # A capitalised common word goes on a name already begun ('Nguyễn Văn An').
            and (not common or (bool(words) and bare.lower() in _NAME_PARTICLES))
            and not (bare.isupper() and len(bare) <= 6)  # 'HIMSS', 'CFO': not names
        )
        if namey and words and text[end : token.start()].strip():
            close()  # punctuation in between: a new run
        if not namey:
            close()
            continue
        if not words:
            start = token.start()
        words.append(bare)
        end = token.start() + len(bare)
        if possessive or len([w for w in words if w not in _LOWER_PARTICLES]) == 4:
            close()
    close()
    return [run for run in runs if not _opens_an_order(text, run)]


_DETERMINER_AFTER = re.compile(
    r"\s+(?:the|a|an|my|our|all|any|every|me|us|this|that|these|those|with|to|for|up|out)\b",
    re.IGNORECASE,
)


def _opens_an_order(text: str, run: tuple[str, int, int]) -> bool:
    """'Identify the objections …': one capitalised word opening a sentence, followed by
    a determiner, is an imperative verb, not a name."""
    name, start, end = run
    if " " in name or text[:start].rstrip()[-1:] not in ("", ".", "!", "?", ";"):
        return False
    return _DETERMINER_AFTER.match(text, end) is not None


_NAME_STOP = (
    r"(?=\s+(?:about|to|regarding|re|for|from|via|on|at|with|gave|who|company|go|went|going"
    r"|and|back|by|now|today|tomorrow|please|so|still|yet|connect|word|this|last|please|again)\b"
    r"|[,.;:?!]|$)"
)
_PRONOUNS = frozenset({"me", "my", "it", "that", "this", "them", "him", "her", "us", "you"})


# --- dates ------------------------------------------------------------------------------

_NUMBERS = NUMBER_WORDS
_MONTH_NUMBERS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m and m.lower() != "may"
}
_MONTH = r"(january|february|march|april|may|june|july|august|september|october|november" \
    r"|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"  # fmt: skip
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


# --- packages and billing places --------------------------------------------------------

_PACKAGE_WORD = re.compile(r"\b([a-z0-9][a-z0-9,]*)\s+(?:credit\s+)?(?:pack|package|plan|bundle)\b")
_CREDIT_COUNT = re.compile(r"\b(\d[\d,]*)\s*(?:credits?|pack)\b")
_NOT_A_PACKAGE = frozenset(
    {
        "the",
        "a",
        "an",
        "this",
        "that",
        "my",
        "your",
        "our",
        "one",
        "which",
        "what",
        "credit",
        "cheapest",
        "biggest",
        "best",
        "more",
        "new",
        "any",
        "other",
        "show",
        "list",
        "see",
        "buy",
        "get",
        "estimate",
        "purchase",
        "order",
        "quote",
        "all",
        "each",
        "every",
        "per",
        "annual",
        "monthly",
        "current",
        "cheaper",
        "bigger",
        "smallest",
        "largest",
        "same",
        "that's",
        "whole",
    }
)


_BARE_PACKAGE = re.compile(
    r"\b(?:estimate|quote(?: me)?(?: for)?|buy|purchase|purchasing|order|get me"
    r"|how much (?:is|for|would|does|will))\s+(?:the\s+)?"
    r"([a-z][a-z0-9]*)\b"
)
_NOT_A_BARE_PACKAGE = _NOT_A_PACKAGE | _words(
    "credits some me us it them now please for another extra additional with how history"
    " before after today tomorrow we i you they here there again"
    " of to again is that this a an my our"
)


# The packages on sale (migration 0006 seeds them); any other is still read from
# "the X pack / plan / bundle" or "500 credits".
CATALOG_PACKAGES = ("starter", "growth", "pro")
_CATALOG_PACKAGE = re.compile(r"\b(" + "|".join(CATALOG_PACKAGES) + r")\b(?!['’-])")


def _catalog_packages(text: str) -> list[str]:
    """The packages of the catalog a message names, in order, each once."""
    found: list[str] = []
    for match in _CATALOG_PACKAGE.finditer(text.lower()):
        if match.group(1) not in found:
            found.append(match.group(1))
    return found


def _package(text: str) -> str:
    lowered = text.lower()
    named = _catalog_packages(lowered)
    if len(named) == 1:
        return named[0]
    for match in _PACKAGE_WORD.finditer(lowered):
        if match.group(1) not in _NOT_A_PACKAGE:
            return match.group(1)
    count = _CREDIT_COUNT.search(lowered)
    if count:
        return count.group(1).replace(",", "")
    bare = _BARE_PACKAGE.search(lowered)
    return bare.group(1) if bare and bare.group(1) not in _NOT_A_BARE_PACKAGE else ""


# A lookahead: every lead is tried ('for the starter pack in the UK').
_PLACE_LEAD = re.compile(
    r"(?:\b|(?<=,)|(?<=[?.!:] )|(?=[—–]))"
    r"(?=(?:billing country|billing(?: address)?(?: is| to|:)?|billed (?:in|to)|address:?|country"
    r"|for|in|from|,|—|–|(?<=[?.!:] ))\s*([^,;?!()—–]+))",
    re.IGNORECASE,
)
# A US state and ZIP code: 'Austin TX 78701', 'in CA 94105-1234'.
_US_STATES = _words(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH"
    " NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR"
)
_STATE_ZIP = re.compile(r"\b([A-Z]{2}),?\s+(\d{5}(?:-\d{4})?)\b")
_POSTAL = re.compile(
    r"\b(?:postal code|postcode|post code|zip code|zip|code postal|plz|cap|cep|cp|pin ?code)"
    r"\s*(?::|is|=)?\s*"
    r"([A-Za-z0-9]*\d[A-Za-z0-9]*"
    r"(?:[ -](?=[A-Za-z0-9]*\d)[A-Za-z0-9]{2,4}|(?<=\d{4}) (?-i:[A-Z]{2}))?)\b",  # '1012 AB'
    re.IGNORECASE,
)


# A postal code right after the country, behind a comma: 'Germany, 10115', 'UK, SW1A 1AA'.
_POSTAL_AFTER = re.compile(
    r",\s*([A-Za-z0-9]*\d[A-Za-z0-9]*(?: (?=[A-Za-z]*\d)[A-Za-z0-9]{3,4})?)(?=[\s?.!,;]|$)"
)


def _postal_words(words: list[str]) -> str | None:
    """A postal code at the start of `words`: '94105', 'SW1A 1AA', 'M5V 2T6' ('please'
    and the like after it are not part of it)."""
    words = [_strip(w) for w in words[:2]]
    if not words or not words[0] or not any(ch.isdigit() for ch in words[0]):
        return None
    if not words[0].isalnum() or len(words[0]) > 10:
        return None
    second = words[1] if len(words) > 1 else ""
    if 2 <= len(second) <= 4 and second.isalnum() and any(ch.isdigit() for ch in second):
        return f"{words[0]} {second}"
    if words[0].isdigit() and len(words[0]) == 4 and len(second) == 2 and second.isupper():
        return f"{words[0]} {second}"  # '1012 AB'
    return words[0]


def _country_of(words: list[str]) -> tuple[str, list[str]] | None:
    """The longest leading words naming a country, and the words after them. A
    two-letter code counts only in capitals ('in' is not India, 'me' not Montenegro)."""
    for end in range(len(words), 0, -1):
        candidate = " ".join(words[:end]).rstrip(".")
        if len(candidate) <= 3 and not candidate.isupper():
            continue
        try:
            parse_country(candidate)
        except BillingAddressInvalid:
            continue
        return candidate, words[end:]
    return None


def _place(text: str) -> dict[str, Any]:
    """'… for US 94105' → country and postal code; 'billing in Germany', 'if I'm in
    France', 'for Canada, postal code M5V 2T6'."""
    place: dict[str, Any] = {}
    for match in _PLACE_LEAD.finditer(text):
        words = match.group(1).split()
        while words and words[0].lower() in ("the", "is", ":", "=", "our", "my", "a", "an"):
            words = words[1:]
        found = _country_of(words)
        if found is None:
            continue
        place = {"country": found[0]}
        rest = found[1]
        code = _postal_words(rest)
        if code:
            place["postal_code"] = code
        elif not rest and (after := _POSTAL_AFTER.match(text, match.end(1))):
            place["postal_code"] = after.group(1)  # 'in Germany, 10115'
    state_zip = _STATE_ZIP.search(text)
    if "country" not in place and state_zip and state_zip.group(1) in _US_STATES:
        place = {"country": "US", "postal_code": state_zip.group(2)}
    postal = _POSTAL.search(text)
    if postal:
        place["postal_code"] = postal.group(1).strip()
    elif "country" in place and "postal_code" not in place:
        shaped = _POSTCODE_SHAPE.search(text)  # 'Leeds, LS1 4AP, United Kingdom'
        if shaped:
            place["postal_code"] = shaped.group(0)
    return place


# Postcodes recognisable without a label: UK, Canada, Ireland (Eircode), Netherlands.
_POSTCODE_SHAPE = re.compile(
    r"\b(?:[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}|[A-Z]\d[A-Z] \d[A-Z]\d"
    r"|[AC-FHKNPRTV-Y]\d{2}(?: ?[AC-FHKNPRTV-Y\d]{4})"
    r"|\d{4} ?[A-Z]{2})\b"
)


def _purchase_args(text: str) -> dict[str, Any]:
    return {"package": _package(text), **_place(text)}


def _mobile_args(text: str) -> dict[str, Any]:
    match = _PHONE.search(text)
    return {"new_mobile": match.group(0).strip()} if match else {"new_mobile": ""}


# --- contacts and consent ------------------------------------------------------------------

_CONSENT_TYPES = (
    ("existing business relationship", "existing relationship"),
    ("existing relationship", "existing relationship"),
    ("existing customer", "existing relationship"),
    ("current customer", "existing relationship"),
    ("express written", "express written"),
    ("written", "express written"),
    ("in writing", "express written"),
    ("signed", "express written"),
    ("express", "express"),
    ("verbal", "express"),
)
_COMPANY_CUES = (
    re.compile(r"\b(?:company|employer|org|organi[sz]ation)(?:\s+is|:)?\s+([^,.;()/|—–]+)", re.I),
    re.compile(r"\bworks? (?:at|for)\s+([^,.;()/|—–]+)", re.IGNORECASE),
    re.compile(r"\(([^)\d]+)\)"),
    re.compile(r"\b(?:at|from|of|with)\s+([A-Z][^,.;()+\d/|—–?!]*)"),
)
_COMPANY_END = re.compile(
    r"\s+(?:phone|mobile|number|tel|telephone|cell|to my|in my|and|please)\b.*$", re.IGNORECASE
)


def _company(text: str, name: str, name_end: int) -> str | None:
    for cue in _COMPANY_CUES:
        for match in cue.finditer(text):
            company = _strip(_COMPANY_END.sub("", match.group(1)))
            if company and company != name:
                return company
    # 'New contact: Marcus Bell, (415) 555-0188, Acme Corp': a capitalised part on its own.
    for part in re.split(r"[,/|—–]| - ", text[name_end:]):
        part = _strip(part)
        if (
            part
            and part[0].isupper()
            and not _PHONE.search(part)
            and part.split()[0].lower() not in _NOT_NAMES
        ):
            return part
    return None


_NOTES = re.compile(
    r"[,;.—–-]?\s*\b(?:notes?|remarks?|comments?)\b\s*(?::|-|—|that|say(?:s|ing)?)?\s+(.+?)\s*$",
    re.IGNORECASE,
)


_REGION_HINT = re.compile(r"\(([A-Za-z .]{2,30})\)|\b([A-Z]{2})\s+(?:mobile|number|cell|phone)\b")


def _phone_text(text: str, phone: re.Match[str]) -> str:
    """The number as written, or in E.164 when it is written nationally ('07700 900318')
    and the message names its country ('(UK)', 'UK mobile')."""
    number = phone.group(0).strip()
    if not number.startswith("0"):
        return number
    for hint in _REGION_HINT.finditer(text):
        try:
            region = parse_country((hint.group(1) or hint.group(2)).strip())
            parsed = phonenumbers.parse(number, region)
        except (BillingAddressInvalid, phonenumbers.NumberParseException):
            continue
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return number


_AT_COMPANY = re.compile(r"\b(?:at|from|with|works at|works for|of)\s+$", re.IGNORECASE)


def _contact_args(text: str) -> dict[str, Any]:
    notes = _NOTES.search(text)
    if notes:
        text = text[: notes.start()]  # what the notes say is neither name nor company
    phone = _PHONE.search(text)
    args: dict[str, Any] = {"name": "", "phone": _phone_text(text, phone) if phone else ""}
    names = [n for n in _names(text) if not phone or n[1] < phone.start() or n[1] > phone.end()]
    # 'the office manager at Pinecrest Dental, Jolene Marsh': the company is not the contact.
    people = [n for n in names if not _AT_COMPANY.search(text[: n[1]])]
    if people and people != names:
        names = people
    if phone and names and names[0][1] > phone.end():
        # The name normally comes first: 'add contact Mark Will, 212 555 0100, at SaaStr'.
        head = _contact_head(text[: phone.start()])
        if head and head[0].isupper():
            names = [(head, 0, phone.start())]
    if names:
        args["name"], _, name_end = names[0]
    else:
        args["name"] = _contact_head(text[: phone.start()] if phone else text)
        name_end = phone.start() if phone else len(text)
    company = _company(text, args["name"], name_end)
    if company is None and phone:
        # 'pls add marie-claire dubois 503 555 0137 from acme paints'
        after = re.match(
            r"\s*,?\s*(?:(?:he|she)(?:'s|s| is)\s+|works\s+)?(?:from|at|of|with|for)\s+"
            r"([^,.;()+\d?!/|—–]+?)\s*[.?!]*$",
            text[phone.end() :],
            re.IGNORECASE,
        )
        bare = re.match(r"\s*,?\s*([a-z][\w&'’ -]*?)\s*[.?!]*$", text[phone.end() :])
        if after:
            company = _strip(after.group(1))
        elif (
            bare
            and len(bare.group(1).split()) <= 5
            and not (
                set(bare.group(1).lower().split()) & (_NOT_NAMES | {"please", "pls", "thanks"})
            )
        ):
            company = _strip(bare.group(1))  # pls add helen okafor 202.555.0161 bright smile
    if company:
        args["company"] = company
    if notes:
        args["notes"] = _strip(notes.group(1))
    return args


def _contact_head(head: str) -> str:
    """The words before the number, less the order: 'add contact Mark Will,' → 'Mark Will'."""
    head = re.sub(
        r"^\s*(?:(?:please|pls|plz|kindly|can you|could you)\s+)*(?:add|create|save|new|put)\s+"
        r"(?:a\s+|this\s+|the\s+)?(?:new\s+)?(?:\w+\s+(?=(?:contact|prospect|lead)\b))?"
        r"(?:contact|prospect|lead)?\s*(?:named|called|for|:)?\s*",
        "",
        head,
        flags=re.IGNORECASE,
    )
    return _strip(re.split(r"\s+(?:at|from|with|phone|number|on)\s*$", head.strip())[0])


_URL = re.compile(
    r"\bhttps?://[^\s,;()<>\"']+[^\s,;()<>\"'.?!]|\bwww\.[^\s,;()<>\"']+\w"
    r"|\b(?:[\w-]+\.)+(?:com|io|org|net|co|app|ai|dev|example)/[^\s,;()<>\"']*[\w/]"
)
# Where consent was given: 'from the web form', 'at the HIMSS booth', 'via our webinar'.
_SOURCE = re.compile(
    r"\b(?:source(?:\s+is|\s+was|:)|filled (?:out|in)|submitted|completed|from|via|on|through"
    r"|at|during|in|over)\s+(?:the\s+|a\s+|an\s+|our\s+|my\s+|their\s+|his\s+|her\s+)?"
    r"(?P<source>(?!\d|the\s+\d|(?:call|phone|yesterday|today|tomorrow|last|this|noon)\b"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d)"
    r"[^,;?!—–()]+?)"
    r"\s*(?=[,;?!—–()]|\.\s|\s+-\s|\s+and\s|\s+(?:yesterday|today|last|this|on\s+\w+day|on\s+\d+"
    r"|(?:on\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d+"
    r"|in\s+(?:january|february"
    r"|march|april|may|june|july|august|september|october|november|december))\b|[.]*$)",
    re.IGNORECASE,
)
_NOT_A_SOURCE = re.compile(
    r"^(?:express|written|verbal|consent|writing|person|record|file|behalf|it|them|him|her)\b", re.I
)


def _consent_source(text: str, contact: str = "") -> str:
    url = _URL.search(text)
    if url:
        return url.group(0)
    stated = _STATED_SOURCE.search(text)
    if stated and _strip(stated.group("source")):
        return _strip(stated.group("source"))
    found = _SOURCE.search(text)
    while found is not None:  # each lead in turn: 'in person at the SaaStr booth'
        source = _strip(found.group("source"))
        # 'the paper consent form at the roadshow': where, not what was signed; 'consent
        # from Dmitri Volkov via …': who, not where.
        if source and not _NOT_A_SOURCE.match(source) and not source.startswith(contact or "\0"):
            return source
        found = _SOURCE.search(text, found.start() + 1)
    return "stated by the rep in chat"


# How consent was given, as written: 'signed paper form', 'web form', 'verbally'.
_CONSENT_METHOD = re.compile(
    r"\b(?:signed (?:paper |consent )?form|paper (?:consent )?form|signed paper|web ?form"
    r"|online form|check ?box|ticked (?:a |the )?box|verbally|in person|over the phone|by phone"
    r"|by email"
    r"|over email|via email|e-?signature|docusign)\b",
    re.IGNORECASE,
)
# The exact words agreed to: 'wording was "I agree …"', or any quoted sentence.
_WORDING = re.compile(
    r"(?:\bwording\s*(?:was|is|:)?\s*|\bagreed to\s*:?\s*|^|\s)[\"“]([^\"”]{12,})[\"”]",
    re.IGNORECASE,
)
_STATED_SOURCE = re.compile(
    r"\b[Ss]ource\b(?:\s+(?:is|was)\b|\s*:)?\s*(?:the\s+|our\s+|a\s+)?"
    r"(?P<source>[^,;?!—–()]+?)\s*(?=[,;?!—–()]|\.\s|\.?$|\s+-\s|\s+and\s)"
)


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


def _obtained_at(text: str, today: date) -> str | None:
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
        count = int(word) if word.isdigit() else _NUMBERS.get(word, 1)
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


def _consent_args(text: str, today: date) -> dict[str, Any]:
    lowered = text.lower()
    kind = next((k for cue, k in _CONSENT_TYPES if cue in lowered.replace("-", " ")), "express")
    names = _names(text)
    # 'She filled in a form at the booth. Record consent for Fatima Al-Sayed.'
    named_for = [n for n in names if re.search(r"\b(?:for|of|from)\s+$", text[: n[1]], re.I)]
    contact = (named_for or names)[0][0] if names else ""
    phone = _PHONE.search(text)
    if phone and (not names or phone.start() < names[0][1]):
        contact = phone.group(0).strip()
    if not contact:
        found = re.search(r"\bfor\s+(.+?)" + _NAME_STOP, text, re.IGNORECASE)
        if found is None:
            found = re.match(
                r"^\s*(.+?)\s+(?:gave|has given|agreed|consented)\b", text, re.IGNORECASE
            )
        if found and _strip(found.group(1)).lower() not in _PRONOUNS:
            contact = _strip(found.group(1))
    args = {"contact": contact, "consent_type": kind, "source": _consent_source(text, contact)}
    method = _CONSENT_METHOD.search(text)
    if method:
        args["method"] = method.group(0)
        # 'a signed paper form at the showroom': the method, then where.
        where = re.match(
            re.escape(method.group(0)) + r"\s+(?:at|on|in|via|from)\s+(?:the\s+|our\s+|a\s+)?(.+)",
            args["source"],
            re.IGNORECASE,
        )
        if where:
            args["source"] = _strip(where.group(1))
    labelled = re.search(r"\bwording\s*(?:was|is|:)?\s*(?=[\"“'‘])", text, re.IGNORECASE)
    wording = _WORDING.search(text)
    if labelled and _said_text(text[labelled.end() :]):
        args["wording"] = _said_text(text[labelled.end() :])
    elif wording:
        args["wording"] = wording.group(1)
    elif single := re.search(r"(?:^|[\s:])'([^']{12,}?)'(?=[\s,.;!?]|$)", text):
        args["wording"] = single.group(1)
    obtained = _obtained_at(text, today)
    if obtained:
        args["obtained_at"] = obtained
    return args


# --- calls -------------------------------------------------------------------------------

_POLITE = (
    r"(?:(?:please|pls|kindly|ok|okay|now|so|hey|(?:can|could|would|will) (?:you|u|it"
    r"|the (?:ai|agent|assistant|bot))|i need you to"
    r"|i want you to|i'?d like you to|i would like you to|i'?d like to|i want to|i need to"
    r"|go ahead and|let'?s|have (?:the )?(?:ai|agent|assistant|bot)"
    r"|get (?:the )?(?:ai|agent|assistant|bot) to),?\s+)*"
)
# An order to place a call, on the normalised message.
_ORDER_TO_CALL = (
    r"^ " + _POLITE + r"(?:(?:call|ring|phone|dial|buzz)(?: up)? "
    r"(?!(?:history|status|log|logs|list|transcript|transcripts|summary|recording|stats|volume"
    r"|insights?|details|notes|recap|outcome|analytics|count|report)\b)"
    r"|give .+? a (?:quick )?(?:call|ring|buzz)\b"
    r"|(?:place|make|start|launch|begin|kick off|initiate|trigger|set up|arrange|line up"
    r"|fire off|do) (?:a|an) (?:(?:new|quick|phone|outbound|short|ai) )*call\b"
    r"|get .+? on the (?:phone|line)\b)"
)
_CALL_VERB = re.compile(
    r"^\s*" + _POLITE + r"(?P<verb>(?:call|ring|phone|dial|buzz)(?:\s+up)?|give"
    r"|(?:place|make|start|launch|begin|kick off|initiate|trigger|set up|arrange|line up"
    r"|fire off|do)\s+(?:a|an)\s+(?:(?:new|quick|phone|outbound|short|ai)\s+)*"
    r"call\s+(?:to|with|for)|reach out to|get in touch with"
    r"|get(?=\s.+?\son\s+the\s+(?:phone|line)))\s+",
    re.IGNORECASE,
)
_PURPOSE_LEAD = re.compile(
    r"^\s*(?:back|by phone|on the phone|on the line|now|today|please|for me|,)*\s*"
    r"(?:about|regarding|concerning|re:?|to|and|so (?:we|i|they) can|in order to"
    r"|for (?:a |an )?(?:quick |short |brief )?(?=\S+(?:-| )(?:in|up|on)\b)|for(?!\s+\d))\s*"
    r"(.+?)\s*[.?!]*$",
    re.IGNORECASE,
)
_PURPOSE_ANYWHERE = re.compile(
    r"\b(?:about|regarding|concerning|re:|purpose:?|reason:?|topic:?|goal:?)\s+(.+?)"
    r"\s*(?=[.?!;]|[—–]|,?\s+if\b|$)",
    re.IGNORECASE,
)
_VOICEMAIL = re.compile(r"\b(?:voicemail|voice mail|answering machine|machine|vm)\b", re.I)
_VOICEMAIL_HANG_UP = re.compile(
    r"\b(?:hang up|hang-up|hangup|drop (?:it|off|the call)|end (?:it|the call)|don'?t leave"
    r"|do not leave|no (?:message|voicemail)|skip (?:it|the voicemail)|just disconnect)\b",
    re.I,
)
_LEAVE = (
    r"\bleave (?:(?:a |an |this |the following |them a |her a |him a )?(?:voicemail|message|vm)"
    r"|this(?=\s*:)|the following(?=\s*:))"
)
_VOICEMAIL_LEAVE = re.compile(_LEAVE + r"\b", re.I)
_VOICEMAIL_SAYING = re.compile(
    _LEAVE + r"\s*(?:saying|that says|telling (?:them|her|him)|:)\s*(.+)$", re.I
)
_TALKING_POINTS = re.compile(
    r"\btalking points?\s*(?::|-|are|include)?\s*(.+?)\s*(?:[.;!?](?:\s|$)|$)", re.I
)


def _said_text(rest: str) -> str:
    """What a voicemail should say: a quoted message whole (commas, full stops and
    apostrophes included), else up to the end of the sentence."""
    rest = rest.strip()
    if rest[:1] in "\"“'‘":
        close = {"“": "”", "‘": "’"}.get(rest[0], rest[0])
        end = rest.rfind(close)
        if end > 0:
            return rest[1:end].strip()
    return _strip(re.split(r"[.;!?](?:\s|$)", rest)[0])


def _voicemail_args(text: str) -> dict[str, Any]:
    """What to do on an answering machine, when the message says."""
    if not _VOICEMAIL.search(text) and not _VOICEMAIL_LEAVE.search(text):
        return {}
    saying = _VOICEMAIL_SAYING.search(text)
    if saying and _said_text(saying.group(1)):
        return {"on_voicemail": "leave", "voicemail_message": _said_text(saying.group(1))}
    if _VOICEMAIL_HANG_UP.search(text):
        return {"on_voicemail": "hang_up"}
    if _VOICEMAIL_LEAVE.search(text):
        return {"on_voicemail": "leave"}
    return {}


def _who(rest: str) -> tuple[str, int]:
    """The contact at the start of `rest` (a number, a name) and where it ends."""
    phone = re.match(r"\s*(" + _PHONE.pattern + ")", rest)
    if phone:
        return phone.group(1).strip(), phone.end()
    names = _names(rest)
    if names and not rest[: names[0][1]].strip():
        return names[0][0], names[0][2]
    plain = re.match(r"\s*(.+?)" + _NAME_STOP, rest, re.IGNORECASE)
    if plain:
        return _strip(plain.group(1)), plain.end()
    return "", 0


_GIVE_THEM_A_CALL = re.compile(
    r"\bgive (?:him|her|them) a (?:quick |short )?(?:call|ring|buzz)\b"
    r"|\b(?:call|ring|phone|dial) (?:him|her|them)(?: up)?\b",
    re.IGNORECASE,
)


def _place_call_args(text: str) -> dict[str, Any]:
    order = _CALL_VERB.match(text)
    give = _GIVE_THEM_A_CALL.search(text)
    if order is None and give is not None and (names := _names(text[: give.start()])):
        # 'Jan-Willem van der Berg — give him a call to reschedule'
        contact, after = names[0][0], text[give.end() :]
    elif order is None:
        phone = _PHONE.search(text)
        if phone:
            contact, after = phone.group(0).strip(), text[phone.end() :]
        else:
            match = re.search(
                r"\b(?:call|ring|phone|dial)\s+(?:to\s+)?(.+?)" + _NAME_STOP, text, re.IGNORECASE
            )
            contact = _strip(match.group(1)) if match else ""
            after = text[match.end() :] if match else ""
    else:
        rest = text[order.end() :]
        given = re.match(r"(.+?)\s+a\s+(?:quick\s+)?(?:call|ring|buzz)\b", rest, re.IGNORECASE)
        if order.group("verb").lower() == "give" and given:
            contact, after = _strip(given.group(1)), rest[given.end() :]
        else:
            contact, end = _who(rest)
            after = rest[end:]
    purpose = _PURPOSE_LEAD.match(after) or _PURPOSE_ANYWHERE.search(after)
    if purpose is None:
        # 'Give Mei Chen a call — check whether she got the contract; …'
        purpose = re.match(r"\s*[,:—–-]+\s*([^;.!?]+?)\s*(?:[;.!?]|,?\s+if\b|$)", after)
    said = _strip(purpose.group(1)) if purpose else ""
    if not said or re.match(r"if\b", said, re.IGNORECASE):
        anywhere = _PURPOSE_ANYWHERE.search(text)  # 'X asked about financing. Call her …'
        said = _strip(anywhere.group(1)) if anywhere else ""
    # 'ask if he wants to reorder office chairs' → 'reorder office chairs'
    said = re.sub(
        r"^(?:ask|check)(?:\s+(?:him|her|them))?\s+(?:if|whether)\s+(?:he|she|they)\s+(?:wants?"
        r"|would like|is interested in|are interested in|needs?)\s+(?:to\s+)?",
        "",
        said,
        flags=re.IGNORECASE,
    )
    # What follows ', if …', ';' or a dash is instructions, not the purpose.
    said = _strip(
        re.split(
            r"\s*(?:[;—–]|\s-\s"
            r"|,\s*if\b|\s+if\s+(?:it's|it is|there's)\b"
            r"|,?\s+(?:and\s+)?if\s+(?:it|you|they|he|she|nobody|no one|there's)\s+"
            r"(?:goes?|gets?|hits?|reach(?:es)?|don't|doesn't|do not|does not|can't|is)\b"
            r"|,?\s+if\s+(?:voicemail|vm|no answer|busy|machine)\b|[.?!]\s|,\s*(?:she|he|they|we|i"
            r"|it|try|aim|(?:the\s+)?goal|don't|do not|no voicemail|leave|hang up|talking points"
            r"|on voicemail)\b|,?\s+and\s+(?:leave|hang up|don't|do not|if)\b)",
            said,
        )[0]
    )
    found = {"contact": contact, "purpose": said or "a quick introduction", **_voicemail_args(text)}
    goal = _GOAL.search(text)
    if goal:
        found["goal"] = _strip(goal.group(1))
    points = _TALKING_POINTS.search(text)
    if points:
        found["talking_points"] = [
            _strip(p) for p in re.split(r"\s*(?:,|;|\band\b|\+)\s*", points.group(1)) if _strip(p)
        ]
    return found


# What the call should achieve: 'goal: book a demo', 'try to book a demo', 'aim to …'.
_GOAL = re.compile(
    r"\b(?:goal(?:\s+is)?(?:\s+to)?\s*:?|try(?:ing)? to|aim(?:ing)? to|objective(?:\s+is)?"
    r"(?:\s+to)?\s*:?|see if (?:you|we) can)\s+([^.;!?]+?)\s*(?:[.;!?]|,?\s+if\b"
    r"|,\s*(?:hang up|leave|don't|do not|and|then|talking points)\b|$)",
    re.IGNORECASE,
)


# Everyday words that are no one's name, beside the router's own cue words: a lower-case
# run of words is read as a name only if it has none of them ('the jorge salas call').
_COMMON = _words(
    """
    sales demo intro introduction discovery follow up first second third quick short long big
    small good bad great recent morning afternoon evening night team client customer prospect
    lead deal renewal pricing price onboarding kickoff check catch weekly monthly daily cold warm
    inbound outbound test trial pilot support billing contract meeting zoom phone video ai bot
    other same whole entire full complete latest last previous earlier later current ongoing
    live active new old real main important urgent follow-up followup callback call calls ones
    one two three four five ten it its they them he she his her their we our us you your i me
    my mine a an the this that these those some any all every each no not and or but so to of in
    on at by for from with without about into over under after before between during again
    still just only also very really quite too more most less least much many few lot lots
    what which who whom whose when where why how was were is are be been being am do does did
    done have has had having will would shall should can could may might must go going gone
    went get got getting make made say said tell told ask asked see seen show shown give given
    take taken put let know think want need like look find use try keep help start end stop
    today tomorrow yesterday week month year quarter day time hour minute minutes hours days
    pls please thanks thank asap fyi btw ok okay yes yeah no nope hey hi hello there here now
    then than as if because while though although whether either neither both such own same
    other another else ever never always often sometimes usually already yet soon right left
    line voicemail message text email note notes number mobile cell office home work company
    account workspace credits credit balance package plan purchase receipt invoice refund
    outcome outcomes objection objections insight insights summary recap transcript status
    sentiment next steps step rep reps manager managers admin owner user users contact contacts
    consent form web signup booth event expo webinar conference paper signed written express
    verbal existing relationship source wording method obtained record log save add create
    """
)


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Words the router reads as something: its cue words, commands and everyday words."""
    words = set(_NOT_NAMES | _COMMON)
    for intent in INTENTS:
        for cue in intent.cues:
            words.update(cue.split())
    return frozenset(words)


def _plain_name(candidate: str) -> str | None:
    """Lower-case words that can only be a name ('jorge salas', "priya's" → 'priya'): one
    to three words, none of them one the assistant reads as anything else."""
    words = re.sub(r"['’]s$", "", candidate.strip()).split()
    if not 1 <= len(words) <= 3:
        return None
    for word in words:
        if not _WORD_TOKEN.fullmatch(word) or word.lower() in _vocabulary():
            return None
    return " ".join(words)


_LOWER = r"[a-z][\w'’-]*"
_LOWER_RUN = rf"({_LOWER}(?:\s+{_LOWER}){{0,2}}?)"
_LOWER_NAME_REFS = (
    # 'list calls w marcus bell', 'the call with priya nair about …'
    re.compile(
        rf"\b(?:with|w/?|to)\s+{_LOWER_RUN}(?=\s*(?:[,.;:?!]|$|\s+(?:call|calls|go|went|pls"
        rf"|please|about|on|last|this|yesterday|today|still|is|was)\b))"
    ),
    # 'the lena fischer call', 'insights for the kevin tran call'
    re.compile(rf"\bthe\s+{_LOWER_RUN}\s+call\b"),
    # "did priya's call connect"
    re.compile(rf"\b{_LOWER_RUN}['’]s\s+(?:last\s+|latest\s+|recent\s+)?calls?\b"),
    # 'is jorge salas still on the line', 'did helen okafor push back …'
    re.compile(
        rf"^\s*(?:is|did|has|was|does)\s+{_LOWER_RUN}\s+(?:still|push|pushed|pick|picked"
        rf"|answer|answered|say|said|mention|mentioned|object|objected|sound|seem|agree|agreed"
        rf"|raise|raised|hang|hung|ask|asked)\b"
    ),
    # 'full transcript jorge salas call pls'
    re.compile(
        rf"\b(?:transcript|summary|recap|insights|status|rundown)\s+(?:of\s+|for\s+|from\s+"
        rf"|on\s+|with\s+)?{_LOWER_RUN}\s*(?:call\s*)?(?:pls|plz|please|asap|thanks)?\s*[.?!]*$"
    ),
)


def _lower_name(text: str) -> str | None:
    """A contact named in lower case, where a name is expected ('status of the call w
    marcus bell'), or None."""
    for pattern in _LOWER_NAME_REFS:
        match = pattern.search(text)
        while match is not None:  # every start: "did priya's call" is tried from 'priya'
            name = _plain_name(match.group(1))
            if name:
                return name
            match = pattern.search(text, match.start() + 1)
    return None


def _call_ref(text: str) -> dict[str, Any]:
    """The call meant: an id, a number, a contact's name; {} for the latest call."""
    found = _CALL_ID.search(text)
    if found and any(ch.isdigit() for ch in found.group(1)):
        return {"call": found.group(1)}
    phone = _PHONE.search(text)
    if phone:
        return {"call": phone.group(0).strip()}
    names = _names(text)
    if names:
        # 'Heading into a meeting with her boss — summarise my call with Camille Laurent'
        after_with = [n for n in names if re.search(r"\b(?:with|to|from)\s+$", text[: n[1]], re.I)]
        return {"call": (after_with or names)[0][0]}
    who = re.search(
        r"\b(?:call|calls|conversation|chat)\s+(?:with|to)\s+(.+?)" + _NAME_STOP,
        text,
        re.IGNORECASE,
    )
    if who and _strip(who.group(1)).lower() not in _PRONOUNS:
        said = _strip(who.group(1))
        if said[:1].isupper() or _plain_name(said):
            return {"call": said}
    lower = _lower_name(text)
    return {"call": lower} if lower else {}


_STATUSES = {
    "failed": "failed",
    "busy": "busy",
    "unanswered": "no answer",
    "no answer": "no answer",
    "no-answer": "no answer",
    "missed": "no answer",
    "completed": "completed",
    "finished": "completed",
    "in progress": "in progress",
    "ongoing": "in progress",
    "live": "in progress",
}


_CALL_COUNT = re.compile(
    r"\b(?:(?:last|latest|recent|past|previous|top|first)\s+(?P<a>\d{1,3}|[a-z]+)(?:\s+\w+)?"
    r"\s+calls|(?P<b>\d{1,3}|" + "|".join(_NUMBERS) + r")\s+(?:most\s+)?(?:recent|latest|last)"
    r"(?:\s+\w+)?\s+calls)\b"
)


def _list_calls_args(text: str) -> dict[str, Any]:
    lowered = text.lower()
    args: dict[str, Any] = {}
    count = _CALL_COUNT.search(lowered) or _HIT_COUNT.search(lowered)
    if count:
        word = count.group("a") or count.group("b")
        limit = int(word) if word.isdigit() else _NUMBERS.get(word)
        if limit and 0 < limit <= 100:
            args["limit"] = limit
    for cue, status in _STATUSES.items():
        if re.search(rf"\b{cue}\b", lowered):
            args["status"] = status
            break
    ref = _call_ref(text).get("call")
    if ref:
        args["contact"] = ref
    return args


_QUOTED = re.compile(r"(?:^|\s)[\"“‘']([^\"”’]+?)[\"”’'](?=[\s?.!,]|$)")
_SEARCH_TRIGGER = re.compile(
    r"\b(?:mentioned|mentioning|mentions?(?: of)?|brought up|bring up|bringing up"
    r"|talked about|talk about|talking about|asked about|ask about|asking about|asked for"
    r"|(?:say|said|mention|mentioned|bring up|brought up) anything (?:about|on|regarding)"
    r"|\bask(?:ed)? (?:us|me|you) (?:to|for|about)"
    r"|complained about|complain about|complaining about|said about|say about|discussed"
    r"|search(?:ed)?(?:\s+\S+){0,5}?\s+for|look(?:ing)?\s+(?:through|in)(?:\s+\S+){0,5}?\s+for"
    r"|find(?:\s+\S+){0,3}?\s+(?:about|for|mentioning)"
    r"|look(?:ing)?\s+for(?:\s+(?:mentions?|anything|talk)\s+(?:of|about|on))?"
    r"|(?:said|say|says|told (?:me|us)|claimed)(?:\s+that)?(?=\s)"
    r"(?:(?:they|he|she|it|we)(?:'re|'s|'d|'ve|’re|’s|’d|’ve|\s+(?:are|were|is|was|had|have|would))?"
    r"(?=\s))?)\s+",
    re.IGNORECASE,
)
# Whose calls: "Priya Raman's calls", "the Tomás Ortega calls", "calls with Dana".
_WHOSE_CALLS = re.compile(
    r"(?P<who>(?:[^\W\d_][\w'’-]*\s+){0,3}[^\W\d_][\w'’-]*?)(?:'s|’s)?\s+"
    r"(?:calls?|conversations?|transcripts?)\b"
)
_SEARCH_SCOPE = re.compile(
    r"\s+(?:in|on|across|from|during)\s+(?:(?:my|our|the|all|any|all of my)\s+)?"
    r"(?P<whose>(?:[\w'’-]+\s+){0,3}?)"
    r"(?:calls?|transcripts?|conversations?)\b(?:\s+with\s+(?P<who>.+?))?\s*[.?!]*$",
    re.IGNORECASE,
)
_SEARCH_LEAD = re.compile(
    r"^\s*(?:please\s+)?(?:search|find|look)\s+(?:through\s+|in\s+)?(?:my\s+|our\s+|the\s+)?"
    r"(?:calls?|transcripts?)\s*(?:for|about|where|that|mentioning|with)?\s*"
    r"|^\s*(?:please\s+)?(?:find|look for|search for|dig up|pull)\s+(?!(?:calls?|my|our)\b)"
    r"|^\s*(?:who|which calls?)\s+(?:mentioned|said|talked about|asked about|brought up)\s+"
    r"|^\s*(?:please\s+)?(?:find|show|list|get)\s+(?:me\s+)?(?:the\s+)?(?:top\s+\d+\s+)?"
    r"(?:calls?|moments?)\s+(?:where|in which|when)\s+(?:(?:someone|anyone|people|customers?"
    r"|prospects?|they)\s+)?(?:(?:said|mentioned|wanted|asked for|asked about|talked about"
    r"|complained about|brought up)\s+)?",
    re.IGNORECASE,
)


_SEARCH_PASSIVE = re.compile(
    r"\b(?:in which|where|when)\s+(.+?)\s+(?:was|were|got|is|are|came up|come up)"
    r"(?:\s+(?:discussed|mentioned|brought up|raised|talked about))?\s*[.?!]*$",
    re.IGNORECASE,
)


# 'lately', 'this month' after what was said: when, not what (search has no period).
_WHEN_SEARCHED = re.compile(
    r"(?:\s+(?:lately|recently|so far|ever|at all|this (?:week|month|quarter|year)|last (?:week"
    r"|month|quarter|year)|today|yesterday|in (?:the )?(?:last|past) \w+ (?:days|weeks|months)))+$",
    re.IGNORECASE,
)


def _search_args(text: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    quoted = _QUOTED.search(text)
    triggers = list(_SEARCH_TRIGGER.finditer(text))
    passive = _SEARCH_PASSIVE.search(text)
    if quoted:
        query = quoted.group(1)
    elif passive and (not triggers or max(m.end() for m in triggers) >= len(text.rstrip(" .?!"))):
        query = passive.group(1)
        triggers = []
    elif triggers:
        last = max(triggers, key=lambda m: m.end())
        query = text[last.end() :]
    else:
        query = _SEARCH_LEAD.sub("", text)
    scope = _SEARCH_SCOPE.search(query)
    if scope:
        if scope.group("who"):
            args["contact"] = _strip(scope.group("who"))
        elif names := _names(scope.group("whose")):
            args["contact"] = names[-1][0]  # 'in the Tomás Ortega calls'
        elif lower := _plain_name(scope.group("whose")):
            args["contact"] = lower  # 'in jorge salas calls'
        query = query[: scope.start()]
    query = re.sub(r"^(?:mentions? of|anything (?:about|on))\s+", "", query.strip(), flags=re.I)
    query = _WHO_SAID.sub("", query)
    with_who = re.search(
        r"\s+(?:with|w/?)\s+(" + _LOWER + r"(?:\s+" + _LOWER + r"){0,2})\s*[.?!]*$", query
    )
    if with_who and _plain_name(with_who.group(1)) and "contact" not in args:
        args["contact"] = _plain_name(with_who.group(1))  # '… on the glove orders w priya nair'
        query = query[: with_who.start()]
    query = _SAID_WHERE.sub("", query)
    query = _HIT_COUNT_TAIL.sub("", query)
    query = _WHEN_SEARCHED.sub("", _strip(query))
    args["query"] = _strip(query) or text.strip()
    if "contact" not in args:
        for whose in _WHOSE_CALLS.finditer(text):
            names = _names(whose.group("who"))
            if names and whose.group("who").endswith(names[-1][0]):
                args["contact"] = names[-1][0]
                break
    if "contact" not in args:
        # A name before what was said is whose calls: 'Has Dana ever mentioned …'.
        said_at = triggers[-1].end() if triggers else (quoted.start() if quoted else 0)
        before = [n for n in _names(text) if n[2] <= said_at]
        if before:
            args["contact"] = before[0][0]
    found = {"query": args["query"], **({"contact": args["contact"]} if "contact" in args else {})}
    hits = _HIT_COUNT.search(text)
    if hits:
        word = (hits.group("a") or hits.group("b")).lower()
        limit = int(word) if word.isdigit() else _NUMBERS.get(word)
        if limit and 0 < limit <= 50:
            found["limit"] = limit
    return found


# 'anyone who raised …', 'customers that mentioned …': who, before what was said.
_WHO_SAID = re.compile(
    r"^(?:anyone|anybody|someone|somebody|people|customers?|prospects?|leads?|any prospects?)"
    r"(?:\s+(?:who|that))?\s+(?:raised|mentioned|said|asked about|asked for|talked about"
    r"|complained about|brought up|had)\s+",
    re.IGNORECASE,
)
# 'on a call that they are already with Allianz' → 'already with Allianz'.
_SAID_WHERE = re.compile(
    r"^(?:(?:on|in|during)\s+(?:a|the|any|our|my)\s+calls?\s+)?(?:that\s+)?"
    r"(?:(?:they|he|she|we|it)(?:'re|'s|’re|’s|\s+are|\s+were|\s+was|\s+is)?\s+)?(?=\S)",
    re.IGNORECASE,
)
_HIT_COUNT_TAIL = re.compile(
    r"[,;]?\s*\b(?:(?:top|first|only|just|max|at most|up to)\s+(?:\d{1,2}|[a-z]+)"
    r"(?:\s+(?:hits|results|matches|quotes))?|\d{1,2}\s+(?:hits|results|matches|quotes))"
    r"(?:\s+only|\s+please)?\s*[.?!]*$",
    re.IGNORECASE,
)
_HIT_COUNT = re.compile(
    r"\b(?:top|first|only|just|max|at most|up to)\s+(?P<a>\d{1,2}|[a-z]+)\b(?:\s+(?:hits|results"
    r"|matches|quotes))?|\b(?P<b>\d{1,3})\s+(?:hits|results|matches|quotes|of them)\b",
    re.IGNORECASE,
)


# --- analytics ---------------------------------------------------------------------------

_METRIC_CUES = (
    (
        r"connect(?:ion)? rates?|pick ?up rates?|answer rates?"
        r"|\bconnect(?:s|ed)? (?:best|most|the most)"
        r"|\bpick(?:s|ed)? up (?:best|most|the most)",
        "connect_rate",
    ),
    (
        r"call (?:volume|count)s?|number of calls|calls (?:made|placed)|\bdials\b"
        r"|(?<!connected )(?<!answered )(?<!completed )(?<!failed )\bcalls\s*(?:and|&|plus|\+)\s"
        r"|\s(?:and|&|plus|\+)\s*calls\b"
        r"|\b(?:daily|weekly|monthly|total) calls\b",
        "calls",
    ),
    (r"talk ?time|time (?:spent )?talking", "talk_time_s"),
    (
        r"(?:average|avg|mean|typical) (?:call )?(?:duration|length|call time)"
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
    (r"\b(?:by|per|for each|each|across|among|between|for every|every) (?:sales ?)?reps?\b"
     r"|\brep by rep\b|\bleaderboard\b", "rep"),
    (r"\b(?:by|per|each|every) day\b|\bdaily\b|\bday by day\b", "day"),
    (r"\b(?:by|per|each|every) week\b|\bweekly\b|\bweek by week\b", "week"),
    (r"\b(?:by|per|each|every) month\b|\bmonthly\b|\bmonth by month\b", "month"),
    (r"\b(?:by|per|each|every|for each) outcome\b", "outcome"),
    (r"\b(?:by|per|each|every|for each) objection\b", "objection"),
    (r"\btime of (?:the )?day\b|\b(?:by|per|each|every) hour\b|\bhour of (?:the )?day\b"
     r"|\bhourly\b|\bwhat time\b|\bbest time\b", "hour_of_day"),
    (r"\b(?:by|per|each|every|for each) (?:company|account)\b", "company"),
)  # fmt: skip
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
    r"\b(?:last|past|previous)\s+(\d{1,3}|" + "|".join(_NUMBERS) + r")\s+(day|week|month)s?\b"
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


def _period(text: str, today: date) -> str | None:
    """The period a message names, in a form `insights.analytics.parse_period` reads."""
    lowered = " ".join(text.lower().replace("’", "'").split())
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
        count = _NUMBERS.get(match.group(1)) or int(match.group(1))
        return f"last {count} {match.group(2)}{'s' if count != 1 else ''}"
    if match := _PAST_UNIT.search(lowered):
        return {"day": "today", "week": "last 7 days", "month": "last 30 days"}.get(
            match.group(1), "last 12 months"
        )
    for phrase, period in _FIXED_PERIODS:
        if re.search(rf"\b{phrase}\b", lowered):
            return period
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


_REP = re.compile(
    r"\b(?:did|has|have)\s+(?P<a>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)\s+"
    r"(?:make|made|place|placed|do|done|have|had|get|got|log|logged|book|booked|burn|burned|burnt"
    r"|spend|spent|use|used|talk|talked|connect|connected)\b"
    r"|\bfor (?:rep\s+)?(?P<b>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)(?:'s)?\s*(?:calls?\b|[?.!,]|$"
    r"|(?=\s+(?:this|last|today|yesterday|in|since|for|during|over|from|between|so far)\b))"
    r"|\b(?P<c>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)'s\s+(?:calls|connect|talk|average|numbers"
    r"|stats|outcomes|objections)\b"
)


def _rep(text: str) -> str | None:
    email = re.search(r"\b(?:rep|for|by)\s+([\w.+-]+@[\w-]+(?:\.[\w-]+)+)", text)
    if email:
        return email.group(1)
    for match in _REP.finditer(text):
        name = match.group("a") or match.group("b") or match.group("c")
        if name and name.split()[0].lower() not in _NOT_NAMES:
            return re.sub(r"['’]s$", "", name)
    for pattern in _LOWER_REPS:  # 'how many calls did jenna make last week'
        for found in pattern.finditer(text):
            if name := _plain_name(found.group(1)):
                return name
    return None


_LOWER_REPS = (
    re.compile(
        rf"\b(?:did|has|have)\s+{_LOWER_RUN}\s+(?:make|made|place|placed|do|done|have|had|get"
        rf"|got|log|logged|book|booked|burn|burned|spend|spent|use|used|talk|talked|connect)\b"
    ),
    re.compile(
        rf"\bfor (?:rep\s+)?{_LOWER_RUN}(?:['’]s)?\s*(?:calls?\b|[?.!,]|$|(?=\s+(?:this|last|today"
        rf"|yesterday|in|since|for|during|over|from|between|so far)\b))"
    ),
    re.compile(rf"^\s*{_LOWER_RUN}['’]?s?\s+(?=(?:avg|average|talk|connect|calls|call|credits)\b)"),
)


def _analytics_args(text: str, today: date) -> dict[str, Any]:
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
        metrics = ["calls"]
    args: dict[str, Any] = {"metrics": metrics, "period": _period(text, today) or "this month"}
    if dimension:
        args["dimension"] = dimension
    rep = _rep(text)
    if rep is None and re.search(r"\b(?:he|she|his|her)\b", lowered):
        named = _names(text)  # 'Marcus's been quiet. How much talk time did he log?'
        rep = named[0][0] if named else None
    if rep:
        args["rep"] = rep
    return args


# --- what the router reads before scoring ----------------------------------------------

# Things no tool does: the model says it can't do them offline rather than guess.
_UNSUPPORTED = re.compile(
    r"^ " + _POLITE + r"(?:(?:write|draft|compose|generate)(?! (?:me |up )?(?:a |an |the )?"
    r"(?:(?:short|quick|brief|one line|two line) )?(?:recap|summary|rundown|tl ?dr)\b)"
    r"|rewrite|translate|delete|remove|erase|schedule|merge|dedupe|deduplicate|combine"
    r"|book|export|import|upload|invite|reset|email|e mail|text|sms|message|tweet)\b"
    r"|\bcreate (?:an? )?(?:invoice|proposal|document|presentation|slide|report|email)s?\b"
    r"|\b(?:do not call|dnc) list\b|\bpassword\b|\bdelete my\b"
    r"|\b(?:summari[sz]e|translate|read|proofread|review) (?:this|that|the|my|a|an) "
    r"(?:pdf|document|doc|article|attachment|file|email|web ?page|link|contract)\b"
    r"|\b(?:change|update|edit) (?:my|the|our) (?:role|e ?mail|name|password|permissions?|company"
    r"|workspace name|logo)\b"
    r"|\b(?:change|update) the e ?mail\b|\be ?mail (?:address )?on my account to\b"
    r"|\b(?:add|invite) (?:my |a |our )?(?:colleague|teammate|coworker|co worker|new rep|user"
    r"|member)"
    r"|\bto (?:the|my|our) (?:workspace|team) as (?:an? )?(?:rep|manager|admin)\b"
    r"|\b(?:change|update|edit|fix|correct) [\w' ]*'s (?:phone|number|mobile|cell|e ?mail|name"
    r"|company|title)\b"
    r"|\b(?:request|issue|process|get|give|want|need) (?:me |us )?(?:a |an )?(?:full |partial )?"
    r"refund\b|\brefund (?:me|us|the|my|our|this|that)\b"
    r"|\b(?:connect|sync|integrate|link|hook up) (?:my |our |with |to |it to |up )?(?:gmail"
    r"|outlook|salesforce|hubspot|slack|calendar|google calendar|crm|pipedrive|zoho|teams)\b"
    r"|^ (?:please )?(?:sync|push|export|upload|log) .* (?:to|into|with) (?:my |our |the )?"
    r"(?:salesforce|hubspot|crm|pipedrive|zoho|gmail|outlook|slack|google sheets|excel)\b"
    r"|\bsend (?:[\w']+ ){0,3}?(?:a |an |the )?(?:text|email|e mail|sms|message|note|pdf|file"
    r"|document|brochure|contract)\b"
    r"|\b(?:add|invite|make) (?!(?:me|i|myself)\b)(?:[\w']+ ){1,3}?as (?:an? )?(?:new )?(?:rep"
    r"|manager|admin|owner|user|member)\b"
    r"|\b(?:switch|move|convert|change) (?:us|me|our (?:plan|account|billing|workspace)) to\b"
)
# A reference to one call ('my last call', 'the call with Dana', 'call 7c2e91ab').
_ONE_CALL = re.compile(
    r"\b(?:the|my|our|this|that|last|latest|recent|current|his|her|their)\s+"
    r"(?:[\w']+\s+){0,3}?(?:call|conversation)\b"
    r"(?!\s+(?:history|log|logs|list|volume|stats|script|rate|rates|outcomes|counts?|analytics"
    r"|data|metrics|numbers|durations|times|activity))"
    r"|\bcall [0-9a-f]{8}\b"
)


# 'Maria asked for a callback. Call her and …': an order to call opening any sentence.
_SENTENCE_ORDER_TO_CALL = re.compile(
    r"(?:^|[.!?;]\s+|[—–]\s*)(?:please\s+|pls\s+|now\s+)?(?:call|ring|phone|dial)\s+"
    r"(?!(?:history|status|log|logs|list|transcript|transcripts|summary|recording|stats|volume"
    r"|insights?|details|notes|recap|outcome|outcomes|analytics|count|report)\b)",
    re.IGNORECASE,
)


def _signals(text: str, padded: str, today: date) -> frozenset[str]:
    found = set()
    if _PHONE.search(text):
        found.add("phone")
    if _package(text):
        found.add("package")
    if len(_catalog_packages(text)) > 1:
        found.add("packages")  # 'starter vs growth': a comparison
    if _period(text, today):
        found.add("period")
    if _ONE_CALL.search(padded):
        found.add("one_call")
    if _QUOTED.search(text):
        found.add("quoted")
    if _SENTENCE_ORDER_TO_CALL.search(text):
        found.add("order_to_call")
    return frozenset(found)


NO_TRANSFER_REPLY = (
    "Credits can't be transferred, sold or cashed out: they belong to the workspace "
    "that bought them and have no cash value. A purchase can be refunded through "
    "Paddle, which takes back the credits it bought."
)

_BUYING = {"buy": -0.6, "purchase": -0.6, "purchases": -0.6, "bought": -0.6, "buying": -0.6}
_PACKAGE_NOUNS = {
    w: -0.5 for w in ("pack", "packs", "package", "packages", "bundle", "bundles", "plan", "plans")
}


INTENTS: tuple[Intent, ...] = (
    Intent(
        name="check_credits",
        tool="check_credits",
        cues={
            "credit": 0.6,
            "credits": 0.6,
            "balance": 0.8,
            "check balance": 0.4,
            "how many": 0.2,
            "how much": 0.2,
            "left": 0.2,
            "remaining": 0.3,
            "running low": 0.4,
            "enough": 0.2,
            "spent": 0.3,
            "spend": 0.3,
            "funds": 0.5,
            "on hold": 0.5,
            "ledger": 0.6,
            "transactions": 0.4,
            "available": 0.1,
            "cost": -0.3,
            "pricing": -0.4,
            "prices": -0.4,
            **_BUYING,
            **_PACKAGE_NOUNS,
        },
        signals={"package": -0.5, "period": -0.2},
        examples=("how many credits do I have?", "what's my balance", "credits left?"),
    ),
    Intent(
        name="list_packages",
        tool="list_packages",
        cues={
            "packages": 0.9,
            "packs": 0.9,
            "bundles": 0.9,
            "plans": 0.7,
            "package": 0.4,
            "pricing": 0.8,
            "prices": 0.8,
            "price list": 1.0,
            "what can i buy": 1.0,
            "options": 0.3,
            "options for": 0.4,
            "buying": 0.3,
            "do you sell": 1.0,
            "you sell": 0.6,
            "cost of credits": 1.0,
            "offer": 0.3,
            "available": 0.2,
            "calls": -0.5,
            "compare": 0.5,
            "difference between": 0.6,
            "what you get": 0.5,
            "what do you get": 0.5,
            "what do i get": 0.5,
            "vs": 0.3,
            "versus": 0.3,
            "include": 0.4,
            "on offer": 0.8,
            "bigger than": 0.8,
            "bigger ones": 0.6,
            "what are the plans": 0.6,
            "how much do they cost": 0.6,
            "larger than": 0.8,
            "smaller than": 0.8,
            "all the options": 0.6,
            "each pack": 0.6,
            "for how much": 0.5,
            "do you get": 0.3,
            "pricing page": -0.8,
            "come in": 0.3,
            "includes": 0.4,
            "each package": 0.6,
            "cheapest": 0.6,
            "get more credits": 0.5,
            "more credits": 0.3,
        },
        patterns=(
            (r" (?:credits?|credit (?:pack|package|bundle)s?) (?:cost|costs|go for) ", 1.0),
            (r" how much (?:are|do|does|is) (?:the )?(?:credits?|a credit) ", 1.2),
            (r" (?:top ?up|topping up|buying|purchase|purchasing|credit|package) options ", 1.2),
            (
                r" options\b.* (?:more|extra|additional) (?:credits|calling time|call time"
                r"|minutes|time|calls) ",
                0.8,
            ),
            (
                r" (?:what|which)(?: \S+){0,4} (?:can|could|should|do) (?:i|we) "
                r"(?:buy|purchase|get|choose) ",
                1.0,
            ),
        ),
        signals={"package": -0.6, "packages": 1.2},
        examples=("what packages are there?", "show me the pricing"),
    ),
    Intent(
        name="estimate_purchase",
        tool="estimate_purchase",
        cues={
            "estimate": 0.9,
            "quote": 0.8,
            "how much would": 0.7,
            "how much will": 0.7,
            "how much is": 0.5,
            "how much does": 0.5,
            "price out": 0.9,
            "ballpark": 0.9,
            "price check": 0.9,
            "pricing it out": 0.9,
            "pricing out": 0.9,
            "the damage": 0.6,
            "after tax": 0.7,
            "with tax": 0.6,
            "if i bought": 0.5,
            "if we bought": 0.5,
            "calculate": 0.6,
            "the price of": 0.6,
            "price for": 0.4,
            "price of": 0.4,
            "price breakdown": 0.9,
            "cost breakdown": 0.9,
            "service fee": 0.9,
            "platform fee": 0.9,
            "fee": 0.4,
            "run me": 0.6,
            "run us": 0.6,
            "set me back": 0.8,
            "set us back": 0.8,
            "final bill": 0.8,
            "final price": 0.8,
            "all in": 0.5,
            "including fees": 0.6,
            "with fees": 0.5,
            "fees": 0.3,
            "what would": 0.2,
            "went with": 0.3,
            "go with": 0.3,
            "would i pay": 0.8,
            "come to": 0.3,
            "tax": 0.5,
            "total": 0.3,
            "cost": 0.2,
        },
        signals={"package": 0.3},
        examples=("estimate the starter pack for US 94105", "how much is the pro pack with tax"),
        extract=_text_only(_purchase_args),
    ),
    Intent(
        name="buy_credits",
        tool="buy_credits",
        cues={
            "buy": 0.9,
            "purchase": 0.7,
            "buying": 0.5,
            "purchasing": 0.7,
            "proceed": 0.3,
            "top up": 0.8,
            "top us up": 0.8,
            "top me up": 0.8,
            "top it up": 0.8,
            "recharge": 0.6,
            "reload": 0.6,
            "checkout": 0.7,
            "check out": 0.7,
            "order": 0.5,
            "get": 0.3,
            "get me": 0.2,
            "want": 0.3,
            "i'll take": 0.6,
            "not buying": -1.5,
            "not buy": -1.5,
            "not purchasing": -1.5,
            "not ready to buy": -1.5,
            "grab": 0.6,
            "let's go with": 0.6,
            "lets go with": 0.6,
            "sign me up": 0.6,
            "sign us up": 0.6,
            "pay for": 0.4,
            "go ahead": 0.2,
        },
        signals={"package": 0.3},
        examples=("buy the starter pack", "buy 500 credits", "top up"),
        extract=_text_only(_purchase_args),
    ),
    Intent(
        name="purchase_history",
        tool="purchase_history",
        cues={
            "what did i buy": 1.5,
            "did i buy": 1.0,
            "purchase history": 1.5,
            "purchases": 1.0,
            "bought": 1.0,
            "purchased": 0.9,
            "receipt": 0.9,
            "receipts": 0.9,
            "invoice": 1.0,
            "invoices": 1.0,
            "refunds": 1.0,
            "refund": 0.8,
            "refunded": 0.8,
            "billing history": 1.2,
            "payment history": 1.2,
            "payments": 0.6,
            "top ups": 0.8,
            "if i bought": -1.0,
            "if we bought": -1.0,
            "payment": 0.5,
            "every payment": 0.6,
            "payment we made": 0.8,
            "we've paid": 0.6,
            "we have paid": 0.6,
            "amount paid": 0.6,
            "payments we made": 0.8,
            "paid for": 0.6,
            "what we paid": 0.7,
            "what i paid": 0.7,
            "expense report": 0.6,
            "expenses": 0.5,
            "accounting": 0.4,
            "finance": 0.3,
        },
        patterns=(
            (r" (?:when|what) did (?:i|we)(?: last)? (?:buy|purchase|top up|pay) ", 1.5),
            (r" did (?:i|we) (?:buy|purchase|pay for|order) ", 1.2),
            (
                r" (?:every|all|each|the|our) (?:\w+ )?(?:top ups?|purchases?|payments?) (?:we|i)"
                r"(?:'ve| have)? (?:made|paid|done|bought)? ?",
                1.2,
            ),
        ),
        examples=("what did I buy?", "show my receipts"),
    ),
    Intent(
        name="my_account",
        tool="my_account",
        cues={
            "my account": 1.0,
            "who am i": 1.0,
            "my profile": 0.9,
            "profile": 0.5,
            "my details": 0.8,
            "my role": 0.9,
            "role": 0.7,
            "my workspace": 0.8,
            "which workspace": 0.9,
            "what workspace": 0.9,
            "logged in": 0.8,
            "signed in": 0.8,
            "my email": 0.8,
            "on my account": 0.3,
            "do you have for me": 0.8,
            "on file": 0.5,
            "account": 0.4,
            "account info": 0.8,
            "account details please": 0.4,
            "account details": 0.8,
            "registered to": 0.6,
            "terms": 0.6,
            "terms version": 0.6,
            "accepted": 0.3,
            "did i accept": 0.4,
            # Money is another tool's business.
            "refund": -0.8,
            "refunds": -0.8,
            "purchases": -0.8,
            "receipts": -0.8,
            "invoices": -0.8,
            "credits": -0.5,
            "balance": -0.5,
        },
        patterns=((r" am i (?:[\w']+ ){0,3}?(?:an? )?(?:admin|rep|manager|owner) ", 1.5),),
        signals={"phone": -1.0},
        examples=("my account", "who am I?"),
    ),
    Intent(
        name="change_mobile",
        tool="change_mobile",
        cues={
            "change my": 0.3,
            "update my": 0.3,
            "switch my": 0.3,
            "set my": 0.3,
            "replace": 0.3,
            "swap": 0.3,
            "number on my account": 0.5,
            "on my profile": 0.4,
            "phone on my": 0.4,
            "switch the": 0.3,
            "change the": 0.2,
            "my number": 0.3,
            "my mobile": 0.4,
            "my cell": 0.4,
            "new mobile": 0.8,
            "new phone": 0.6,
            "new number": 0.6,
            "got a new": 0.4,
            "changed": 0.3,
            "mobile": 0.3,
            "cell": 0.3,
            "phone number": 0.2,
            "number": 0.1,
            "contact": -0.5,
            "contacts": -0.5,
        },
        signals={"phone": 0.4},
        examples=("change my mobile to +1 415 555 2671",),
        extract=_text_only(_mobile_args),
    ),
    Intent(
        name="add_contact",
        tool="add_contact",
        cues={
            "add a contact": 1.0,
            "add contact": 1.0,
            "new contact": 1.0,
            "add a new contact": 1.0,
            "create a contact": 1.0,
            "save a contact": 0.9,
            "add a prospect": 1.0,
            "add a lead": 1.0,
            "add": 0.5,
            "save": 0.4,
            "create": 0.4,
            "contact": 0.3,
            "contacts": 0.3,
            "lead": 0.3,
            "prospect": 0.3,
            "named": 0.2,
            "to my contacts": 0.5,
            "in my contacts": 0.5,
        },
        signals={"phone": 0.4},
        examples=("add a contact Jane Doe +1 415 555 0123 at Acme",),
        extract=_text_only(_contact_args),
    ),
    Intent(
        name="record_consent",
        tool="record_consent",
        cues={
            "consent": 0.9,
            "consented": 0.9,
            "opted in": 0.9,
            "opt in": 0.8,
            "agreed to be called": 1.0,
            "permission to call": 1.0,
            "permission": 0.6,
            "being called": 0.7,
            "to be called": 0.7,
            "said yes": 0.3,
            "verbal": 0.5,
            "ok'd": 0.5,
            "okayed": 0.5,
            "agreed": 0.5,
            "agreeing": 0.5,
            "express written": 0.5,
            "existing business relationship": 0.9,
            "existing relationship": 0.9,
            "existing customer": 0.5,
            "record that": 0.3,
            "record it": 0.3,
            "on record": 0.4,
            "log it": 0.3,
            "filled in": 0.3,
            "filled out": 0.3,
            # Revoking is not recording: no tool does it in chat (do-not-call does).
            "revoke": -2.0,
            "withdraw": -2.0,
            "withdrew": -2.0,
        },
        examples=("record express written consent for Jane Doe from the web form",),
        extract=_consent_args,
    ),
    Intent(
        name="place_call",
        tool="place_call",
        cues={
            "place a call": 1.0,
            "make a call": 1.0,
            "reach out to": 0.6,
            "get in touch with": 0.6,
            "by phone": 0.3,
            "dial": 0.8,
        },
        patterns=(
            (_ORDER_TO_CALL, 1.4),
            (r" give (?:him|her|them) a (?:quick |short )?(?:call|ring|buzz) ", 1.0),
            (r" (?:call|ring|phone|dial) (?:him|her|them)(?: up)? (?!back\b)", 0.8),
            # After a preamble: 'before my 2pm can you ring Siobhan about renewals'.
            (
                r"\b(?:(?:can|could|would|will) (?:you|u) (?:please |pls )?|please |pls |kindly "
                r"|go ahead and )(?:(?:call|ring|phone|dial|buzz)(?: up)?|give) "
                r"(?!(?:history|status|log|logs|list|transcript|summary|recording|stats|volume"
                r"|me|us)\b)",
                1.0,
            ),
        ),
        signals={"order_to_call": 0.6},
        examples=("call Jane Doe about the spring promotion",),
        extract=_text_only(_place_call_args),
    ),
    Intent(
        name="call_status",
        tool="call_status",
        cues={
            "status": 0.9,
            "how is the call": 1.0,
            "how's the call": 1.0,
            "is the call": 0.8,
            "has the call": 0.8,
            "did the call": 0.8,
            "did my call": 0.8,
            "still ringing": 1.0,
            "ringing": 0.5,
            "did they answer": 1.0,
            "pick up": 0.9,
            "picked up": 0.9,
            "answer": 0.5,
            "happening": 0.4,
            "connect": 0.5,
            "go through": 0.5,
            "ended yet": 0.6,
            "on the line": 0.6,
            "yet": 0.2,
            "going": 0.3,
            "in progress": 0.5,
            "where are we with": 0.6,
            "where are we at": 0.6,
            "over yet": 0.8,
            "where's the call": 0.8,
            "where is the call": 0.8,
            "ended already": 0.8,
            "connected yet": 0.8,
            "has it connected": 0.8,
            "check on the call": 0.8,
            "is it ended": 0.8,
            "has it ended": 0.8,
            "which outcome": 0.4,
            "is it over": 0.8,
            "done yet": 0.6,
            "finished yet": 0.8,
            "where are we on": 0.6,
            "just kicked off": 0.5,
            "just placed": 0.5,
            "just started": 0.5,
            "just made": 0.4,
            "just launched": 0.5,
            "how long was": 0.6,
            "what did it cost": 0.6,
            "last call": 0.3,
            "my last call": 0.2,
        },
        patterns=(
            (
                r" (?:did|has|have) [\w' ]+ (?:answer|answered|pick up|picked up|respond"
                r"|responded) ",
                0.5,
            ),
        ),
        signals={"one_call": 0.2},
        examples=("what's the status of my last call",),
        extract=_text_only(_call_ref),
    ),
    Intent(
        name="end_call",
        tool="end_call",
        cues={
            "hang up": 1.2,
            "end call": 1.2,
            "end my call": 1.2,
            "terminate": 0.9,
            "disconnect": 0.9,
            "cut it off": 1.2,
            "cut them off": 1.2,
            "kill it": 1.0,
            "hang it up": 1.2,
            "pull the plug": 1.0,
            "drop the line": 1.2,
            "drop the call": 1.2,
            "get off the line": 1.0,
            "end it": 0.8,
            "end it now": 1.2,
            # 'if it goes to voicemail, hang up' instructs a call about to be placed.
            "voicemail": -1.0,
            "voice mail": -1.0,
            "machine": -0.5,
        },
        patterns=(
            (
                r" (?:end|stop|cancel|terminate|cut|drop|kill|abort|hang up)(?: off)?"
                r" (?:the|my|this|that|our|current|ongoing|live)(?: [\w']+){0,3}? call ",
                1.2,
            ),
            (r" (?:cut|drop|kill|abort|stop|end) (?:it|this|that)(?: off| now| here)? ", 0.4),
            (
                r" (?:end|stop|kill|terminate|hang up|cut|drop|abort)(?: off)? call [0-9a-f]{8} ",
                1.2,
            ),
            (
                r" (?:call|line) (?:to|with) .+ (?:stopped|ended|cut off|terminated|dropped"
                r"|killed) ",
                1.2,
            ),
        ),
        examples=("hang up",),
        extract=_text_only(_call_ref),
    ),
    Intent(
        name="list_calls",
        tool="list_calls",
        cues={
            "list my calls": 1.0,
            "my calls": 0.6,
            "recent calls": 1.0,
            "list calls": 1.0,
            "show calls": 0.9,
            "call history": 1.0,
            "call log": 1.0,
            "calls with": 0.6,
            "calls to": 0.4,
            "which calls": 0.7,
            "what calls": 0.7,
            "failed calls": 1.0,
            "busy calls": 1.0,
            "missed calls": 1.0,
            "unanswered calls": 1.0,
            "completed calls": 1.0,
            "calls": 0.3,
            "list": 0.3,
            "all calls": 0.4,
            "calls placed": 0.4,
            "failed": 0.3,
            "unanswered": 0.3,
            "busy signal": 0.8,
            "anything in progress": 1.0,
            "any calls in progress": 1.0,
            "call list": 0.8,
            "busy ones": 0.6,
            "failed ones": 0.6,
            "got a busy": 0.5,
            "any calls": 0.4,
            "search": -1.0,
        },
        patterns=(
            (
                r" who (?:did|have) (?:i|we) (?:call|called|phone|phoned|ring|rang|dial|dialed) ",
                1.0,
            ),
            (r" calls (?:have|did) (?:i|we) (?:make|made|place|placed) ", 0.6),
            (r" (?:every|all|each) (?:the )?calls? (?:we|i)(?:'ve| have)? (?:made|placed) ", 1.2),
            (
                r" (?:last|latest|recent|past|previous|top|first) (?:\d{1,3}|"
                + "|".join(_NUMBERS)
                + r")(?: \w+)? calls ",
                1.0,
            ),
            (r" (?:\d{1,3}|" + "|".join(_NUMBERS) + r") (?:most )?(?:recent|latest) calls ", 1.0),
            (
                r" (?:show|list|see|view|display)(?: me)?(?: all)?(?: my| our| the)?"
                r"(?: [\w']+)? calls ",
                0.7,
            ),
        ),
        examples=("list my calls", "show calls with Jane Doe", "show my failed calls"),
        extract=_text_only(_list_calls_args),
    ),
    Intent(
        name="get_transcript",
        tool="get_transcript",
        cues={
            "transcript": 1.2,
            "what was said": 1.0,
            "was said": 0.8,
            "what did they say": 1.0,
            "word for word": 1.0,
            "verbatim": 1.0,
            "full conversation": 0.8,
            "text of the conversation": 0.9,
            "text of the call": 0.9,
            "text of my call": 0.9,
        },
        patterns=(
            (r" what exactly did ", 0.8),
            (r" exactly what ", 0.6),
            (r" what [\w' ]+ said (?:on|in|during) (?:the|my|our|that|this|his|her|their) ", 0.8),
            (r" did [\w' ]+ say (?:on|in|during) (?:the|my|our|that|this) ", 0.8),
        ),
        signals={"one_call": 0.2},
        examples=("show the transcript of my last call",),
        extract=_text_only(_call_ref),
    ),
    Intent(
        name="search_calls",
        tool="search_calls",
        cues={
            "search": 1.2,
            "look through": 0.8,
            "find calls": 1.0,
            "find where": 0.8,
            "who mentioned": 1.0,
            "who said": 1.0,
            "mentioned": 0.8,
            "mentioning": 1.0,
            "mentions": 0.8,
            "mention": 0.6,
            "talked about": 0.8,
            "talk about": 0.5,
            "bring up": 0.9,
            "brought up": 0.9,
            "asked about": 0.8,
            "ask about": 0.8,
            "asking about": 0.8,
            "asked for": 0.6,
            "complained about": 0.9,
            "said about": 0.9,
            "say about": 0.9,
            "someone said": 1.0,
            "anyone said": 1.0,
            "every time": 0.4,
            "calls where": 0.5,
            "discussed": 0.6,
            "was discussed": 0.4,
            "were discussed": 0.4,
            "came up": 0.3,
            "locate": 0.3,
            "transcripts": 0.4,
        },
        patterns=(
            (r" (?:find|look for|dig up) .+ (?:in|across|on|from) (?:my|our|all|the) calls ", 1.0),
            (
                r" calls? (?:where|in which|when) .+ (?:came up|come up|was mentioned"
                r"|were mentioned"
                r"|was discussed|were discussed|got mentioned|was raised|were raised) ",
                1.2,
            ),
            (r" (?:say|said|mention|mentioned) anything (?:about|on|regarding) ", 1.0),
            (r" (?:moments?|places?|bits|parts|snippets|quotes|clips) (?:where|when) ", 1.2),
            (
                r" calls? (?:where|in which|when) (?:someone|anyone|people|customers?|prospects?"
                r"|they|a customer|a prospect|the customer|the prospect) ",
                1.2,
            ),
            (
                r" did (?:any|anyone|anybody|someone|a)(?: \w+)? (?:ask|say|mention|bring up"
                r"|complain|talk about|raise) ",
                1.0,
            ),
            (
                r" (?:calls?|prospects?|people|someone|anyone|customers?|leads?|they)"
                r"(?: \w+)? (?:mention|mentioned|talk about|talked about|ask about|asked about"
                r"|bring up|brought up|complain about|complained about|say|said) ",
                0.6,
            ),
        ),
        signals={"quoted": 0.3},
        examples=("search my calls for pricing objections", "who mentioned a competitor"),
        extract=_text_only(_search_args),
    ),
    Intent(
        name="summarize_call",
        tool="summarize_call",
        cues={
            "summary": 1.0,
            "summarize": 1.0,
            "summarise": 1.0,
            "sum up": 1.0,
            "recap": 1.0,
            "gist": 1.0,
            "rundown": 1.0,
            "tl dr": 1.0,
            "tldr": 1.0,
            "brief me": 1.0,
            "highlights": 1.0,
            "key points": 1.0,
            "main points": 1.0,
            "key takeaways": 1.0,
            "takeaways": 0.9,
            "overview": 0.8,
            "debrief": 0.9,
            "short version": 0.9,
            "quick version": 0.9,
            "how did the call go": 1.0,
            "how did my call": 1.0,
            "outcome of": 0.6,
            "what happened": 0.6,
        },
        patterns=(
            (
                r" how did (?:it|that|things|(?:the|my|our|this|that) (?:[\w']+ ){0,3}?"
                r"(?:call|conversation)) .*?\b(?:go|went) ",
                1.0,
            ),
            (r" how (?:my|the|that) (?:\w+ )?call went ", 1.0),
        ),
        signals={"one_call": 0.3},
        examples=("summarize my last call",),
        extract=_text_only(_call_ref),
    ),
    Intent(
        name="call_insights",
        tool="call_insights",
        cues={
            "insights": 1.0,
            "insight": 1.0,
            "next steps": 1.0,
            "next step": 1.0,
            "sentiment": 1.0,
            "what objections": 1.0,
            "objections": 0.5,
            "objection": 0.5,
            "concerns": 0.8,
            "positive or negative": 1.0,
            "pushback": 0.7,
            "object to": 0.8,
            "objected": 0.8,
            "pushed back": 0.7,
            "push back": 0.7,
            "pushing back": 0.7,
            "mood": 0.6,
            "worried": 0.8,
            "worried about": 0.3,
            "concerned": 0.8,
            "hesitant": 0.8,
            "hesitation": 0.8,
            "reservations": 0.8,
            "red flags": 0.8,
            "buying signals": 0.9,
            "when we spoke": 0.5,
            "blocker": 0.8,
            "follow up actions": 0.9,
            "action items": 1.0,
            "follow ups": 0.6,
            "came out of": 0.4,
            "object on": 0.8,
            "object about": 0.8,
            "blockers": 0.8,
            "holding them back": 0.8,
            "holding back": 0.6,
            "raise any": 0.4,
            "raised any": 0.4,
            "analyze": 0.5,
            "analyse": 0.5,
            "break down the call": 0.8,
        },
        signals={"one_call": 0.4, "period": -0.3},
        examples=("insights for my call with Jane",),
        extract=_text_only(_call_ref),
    ),
    Intent(
        name="analytics",
        tool="analytics",
        cues={
            "connect rate": 1.0,
            "connect rates": 1.0,
            "connection rate": 1.0,
            "connected calls": 0.8,
            "call volume": 1.0,
            "call count": 1.0,
            "number of calls": 1.0,
            "weekly": 0.3,
            "daily": 0.3,
            "monthly": 0.3,
            "pickup rate": 1.0,
            "pick up rate": 1.0,
            "answer rate": 1.0,
            "hour of the day": 0.6,
            "best time": 0.5,
            "analytics": 1.0,
            "talk time": 1.0,
            "how many calls": 1.0,
            "calls per": 1.0,
            "calls by": 1.0,
            "by rep": 0.7,
            "per rep": 0.7,
            "across reps": 0.7,
            "stats": 0.7,
            "statistics": 0.8,
            "report": 0.5,
            "chart": 0.7,
            "average": 0.5,
            "duration": 0.3,
            "length": 0.2,
            "opt outs": 0.8,
            "opt out": 0.6,
            "objections": 0.6,
            "outcomes": 0.6,
            "call outcomes": 0.4,
            "each outcome": 0.5,
            "credits spent": 0.9,
            "burn": 0.6,
            "burned": 0.6,
            "burnt": 0.6,
            "burn rate": 0.6,
            "spend on calls": 1.0,
            "spent on calls": 1.0,
            "most often": 0.4,
            "most common": 0.4,
            "time of day": 0.6,
            "per day": 0.4,
            "per week": 0.4,
            "by day": 0.4,
            "by week": 0.4,
            "trend": 0.5,
        },
        patterns=(
            (r" how many\b.*\bcalls? ", 0.8),
            (
                r" (?:by|per|each|across) (?:reps?|day|week|month|outcome|objection|hour|company) ",
                0.5,
            ),
        ),
        signals={"period": 0.4, "one_call": -0.6},
        examples=("connect rate by rep this month",),
        extract=_analytics_args,
    ),
    Intent(
        name="no_transfer",
        tool=None,
        cues={
            "transfer": 1.0,
            "send credits": 1.0,
            "give credits": 0.9,
            "give my credits": 0.9,
            "sell": 0.8,
            "cash out": 1.0,
            "cash": 0.6,
            "withdraw": 1.0,
            "gift": 0.6,
        },
        reply=NO_TRANSFER_REPLY,
    ),
    Intent(
        name="help",
        tool=None,
        cues={
            "help": 0.6,
            "what can you do": 1.0,
            "hello": 0.6,
            "hi": 0.6,
            "hey": 0.6,
            "who are you": 1.0,
        },
    ),
)

_WORD = re.compile(r"[a-z0-9']+")


_DID = re.compile(r"\b(how|what|where|who|why|when)'d\b")


# Shorthand people type, read as the word for scoring ('pls check bal asap').
_SHORTHAND = {
    "acct": "account",
    "bal": "balance",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "tmrw": "tomorrow",
    "msg": "message",
    "vm": "voicemail",
    "convo": "conversation",
    "convos": "conversations",
    "txn": "transactions",
    "txns": "transactions",
    "pkg": "package",
    "pkgs": "packages",
}


def _normalise(text: str) -> str:
    lowered = _DID.sub(r"\1 did", text.lower().replace("’", "'"))  # "how'd it go"
    return " ".join(_SHORTHAND.get(word, word) for word in _WORD.findall(lowered))


@dataclass(frozen=True)
class Route:
    intent: Intent
    score: float
    args: dict[str, Any]


# Tools that change something: never chosen for a message phrased as a question
# ("was the prospect on (212) 555-0147 worried about price?" must not add a contact).
# Polite requests ("can you add…", "could you call…") are not questions here.
_CHANGES = frozenset(
    {"add_contact", "record_consent", "buy_credits", "place_call", "end_call", "change_mobile"}
)
_QUESTION = re.compile(
    r"^ (?:was|were|did|does|is|are|what|what's|whats|who|who's|why|when|which|how|has|had"
    r"|have(?! (?:the )?(?:ai|agent|assistant|bot)\b))\b"
)


_ADDRESSEE = re.compile(r"^\s*(?:for|from|fyi|cc|to)\s+[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)?\s*:\s*")
_PIVOT = re.compile(
    r"\bbut(?:\s+first)?\b|\bfor now\b|\binstead\b|,\s*anyway\b|\bfirst(?:\s+just)?,"
    r"|\bjust\s+(?=(?:tell|show|give|summari[sz]e|call|ring|list|check|add|record|find))",
    re.IGNORECASE,
)
# 'Notes: wants a quote before spring' is what to save, not what to do.
_NOTES_LABELLED = re.compile(r"[.;,—–-]?\s*\bnotes?\s*:", re.IGNORECASE)


def route(text: str, available_tools: frozenset[str], *, today: date | None = None) -> Route | None:
    """The best intent for `text` among those whose tool is available, or None (for
    what offline mode can't do). `today` dates periods such as 'since March 1'."""
    text = _ADDRESSEE.sub("", text)  # 'for Tom: please add …' is Tom's errand, not Tom
    notes = _NOTES_LABELLED.search(text)
    scored = text[: notes.start()] if notes and notes.start() > 0 else text
    # '… his transcript was rough but call Raúl again': the ask is after the pivot.
    pivots = list(_PIVOT.finditer(scored))
    if pivots and len(scored[pivots[-1].end() :].split()) >= 3:
        scored = scored[pivots[-1].end() :]
    padded = f" {_normalise(scored)} "
    if (
        not padded.strip()
        or _UNSUPPORTED.search(padded)
        or _UNSUPPORTED.search(f" {_normalise(text)} ")
    ):
        return None
    day = today or datetime.now(UTC).date()
    found = _signals(scored, padded, day)
    best: Route | None = None
    asking = _QUESTION.match(padded) is not None
    for intent in INTENTS:
        if intent.tool is not None and intent.tool not in available_tools:
            continue
        if asking and intent.tool in _CHANGES:
            continue  # a question never adds, records, buys, dials or hangs up
        score = intent.score(padded, found)
        if score >= THRESHOLD and (best is None or score > best.score):
            best = Route(intent=intent, score=score, args={})
    if best is not None and best.intent.extract is not None:
        best = Route(intent=best.intent, score=best.score, args=best.intent.extract(text, day))
    return best
