"""Answers to a question the assistant asked back: which argument the question asked
for, and that argument read from the answer.

The assistant (the offline tools or the full model) asks for what a request left out in
its own words: "What's Jake Morrison's phone number?", "Which type of consent is it?",
"Which time zone should I use?", "If a machine answers, should I leave a voicemail or
hang up?", "Which campaign: …?", "What should the campaign's calls be about?", "Where
did Leo give consent?", "Why may it be called again?", "What is the most this campaign
may spend, in credits?". `asked_for` recognises the arguments from the question's words;
`answer_args` reads one from the reply with the router's own parsers (a phone number as
typed, which the tool reads with phonenumbers in the user's region; consent types; IANA
time zones from the zone's words; call ids), so the previous tool call is repeated with
that argument filled in (chat_app.llm.followups). A reply by position ("the second one")
picks among the options the question listed (`chosen_option`).

An argument of a fixed form (a number, a choice, a zone, a call id, a budget) is
*typed*: a short reply that reads as one is the answer even if it also reads as a request
("hang up" to the voicemail question). A free-text argument (a purpose, a source, a
reason, a campaign's name, a company) is taken only when the reply is not a new request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from chat_app.llm.offline_router.entities import CALL_ID, PHONE, trim

# The argument holding a phone number, per tool.
_PHONE_KEY = {
    "add_contact": "phone",
    "edit_contact": "phone",
    "add_dnc": "phone",
    "remove_dnc": "phone",
    "change_mobile": "new_mobile",
    "place_call": "contact",
}
_CALL_TOOLS = frozenset(
    {
        "call_status",
        "summarize_call",
        "call_insights",
        "get_transcript",
        "play_recording",
        "end_call",
    }
)
_CAMPAIGN_TOOLS = frozenset(
    {"pause_campaign", "resume_campaign", "cancel_campaign", "campaign_status", "campaign_results"}
)
_REASON_TOOLS = frozenset({"add_dnc", "remove_dnc", "revoke_consent"})

_CONSENT_TYPES = (
    (
        r"existing (?:business )?relationship|existing customer|current customer|been a customer",
        "existing relationship",
    ),
    (r"express written|written express|written|in writing|signed", "express written"),
    (r"express|verbal", "express"),
)
_VOICEMAIL_HANG_UP = re.compile(
    r"\b(?:hang up|hang-up|hangup|just hang up|no (?:message|voicemail|vm)|don'?t leave|do not"
    r" leave|skip (?:it|the voicemail)|drop (?:it|the call)|disconnect)\b",
    re.IGNORECASE,
)
_VOICEMAIL_LEAVE = re.compile(
    r"\b(?:leave (?:a |one |the )?(?:voicemail|message|vm)?|voicemail|message)\b", re.IGNORECASE
)
_SAYING = re.compile(r"\b(?:saying|that says|telling (?:them|him|her))\s*:?\s*(.+)$", re.I)
_LEADING_FILLER = re.compile(
    r"^(?:(?:it'?s|it is|that'?s|that is|the one|this one|i mean|i meant|um|uh|ok|okay|so"
    r"|well|oh|sure|yes|yeah)[\s,:]+)+",
    re.IGNORECASE,
)


def _clean(text: str) -> str:
    return trim(_LEADING_FILLER.sub("", " ".join(text.split())))


def _phone(text: str, tool: str, day: date) -> dict[str, Any] | None:
    found = PHONE.search(text)
    key = _PHONE_KEY.get(tool)
    return {key: found.group(0).strip()} if found and key else None


def _consent_type(text: str, tool: str, day: date) -> dict[str, Any] | None:
    lowered = text.lower().replace("-", " ")
    for cue, kind in _CONSENT_TYPES:
        if re.search(rf"\b(?:{cue})\b", lowered):
            return {"consent_type": kind}
    return None


def _time_zone(text: str, tool: str, day: date) -> dict[str, Any] | None:
    from chat_app.llm.offline_router.time_zone import time_zone_args

    found = time_zone_args(f"set my time zone to {_clean(text)}", day)
    return found or None


def _voicemail(text: str, tool: str, day: date) -> dict[str, Any] | None:
    if _VOICEMAIL_HANG_UP.search(text):
        return {"on_voicemail": "hang_up"}
    if _VOICEMAIL_LEAVE.search(text):
        saying = _SAYING.search(text)
        said = trim(saying.group(1)) if saying else ""
        return {"on_voicemail": "leave", **({"voicemail_message": said} if said else {})}
    return None


def _call(text: str, tool: str, day: date) -> dict[str, Any] | None:
    found = CALL_ID.search(text)
    if found and any(ch.isdigit() for ch in found.group(1)):
        return {"call": found.group(1)}
    return None


def _campaign(text: str, tool: str, day: date) -> dict[str, Any] | None:
    name = re.sub(r"^(?:the|my|our)\s+|\s+(?:campaign|one)$", "", _clean(text), flags=re.I)
    return {"campaign": name} if name and len(name.split()) <= 6 else None


def _purpose(text: str, tool: str, day: date) -> dict[str, Any] | None:
    said = re.sub(
        r"^(?:(?:it'?s|it is|they'?re|we'?re)\s+)?(?:about|regarding|re:?|concerning|for)\s+",
        "",
        _clean(text),
        flags=re.I,
    )
    return {"purpose": said} if said else None


def _source(text: str, tool: str, day: date) -> dict[str, Any] | None:
    said = re.sub(
        r"^(?:(?:they|he|she|it)\s+(?:signed up|opted in|agreed|consented|filled (?:it|one) in"
        r"|ticked the box)\s+)?(?:at|on|via|through|from|in|by)\s+",
        "",
        _clean(text),
        flags=re.I,
    )
    return {"source": said} if said else None


def _reason(text: str, tool: str, day: date) -> dict[str, Any] | None:
    said = re.sub(r"^(?:because|since|as)\s+", "", _clean(text), flags=re.I)
    return {"reason": said} if said else None


def _budget(text: str, tool: str, day: date) -> dict[str, Any] | None:
    found = re.search(r"(\d{1,3}(?:,\d{3})+|\d+)\s*(k\b)?", text, re.I)
    if found is None:
        return None
    amount = int(found.group(1).replace(",", "")) * (1000 if found.group(2) else 1)
    return {"budget_credits": amount} if amount > 0 else None


def _postal_code(text: str, tool: str, day: date) -> dict[str, Any] | None:
    said = _clean(text)
    found = re.fullmatch(
        r"(?:(?:it'?s|zip|postal code|postcode)\s*:?\s*)?([A-Za-z0-9][A-Za-z0-9 -]{1,9})", said
    )
    if found is None or not any(ch.isdigit() for ch in found.group(1)):
        return None
    return {"postal_code": found.group(1).strip()}


def _company(text: str, tool: str, day: date) -> dict[str, Any] | None:
    said = re.sub(
        r"^(?:(?:she|he|they)(?:'s|'re| is| are| works?| work)?\s+)?(?:(?:at|with|from|for)\s+)?",
        "",
        _clean(text),
        flags=re.I,
    )
    return {"company": said} if said and len(said.split()) <= 5 else None


def _goal(text: str, tool: str, day: date) -> dict[str, Any] | None:
    said = re.sub(r"^(?:to|the goal is to|try to|aim to)\s+", "", _clean(text), flags=re.I)
    return {"goal": said} if said else None


def _name(text: str, tool: str, day: date) -> dict[str, Any] | None:
    said = re.sub(
        r"^(?:(?:her|his|their) name is|(?:she|he)'?s|(?:it'?s))\s+", "", _clean(text), flags=re.I
    )
    if not said or len(said.split()) > 4 or any(ch.isdigit() for ch in said):
        return None
    return {"name": said}


def _person(text: str, tool: str, day: date) -> dict[str, Any] | None:
    from chat_app.llm.followups import PERSON_ARG

    key = PERSON_ARG.get(tool)
    said = re.sub(r"^(?:the one (?:at|from|with)|i mean|i meant)\s+", "", _clean(text), flags=re.I)
    if key is None or key == "rep" or not said or len(said.split()) > 4:
        return None
    if found := PHONE.search(said):
        return {key: found.group(0).strip()}
    if any(ch.isdigit() for ch in said):
        return None
    return {key: said}


Reader = Callable[[str, str, date], dict[str, Any] | None]


@dataclass(frozen=True)
class Slot:
    """One argument the assistant may ask for: the question's words, the tools that
    take it (None: any tool with a reader for it), how to read it, and whether it is
    `typed` (of a fixed form, see the module docstring)."""

    name: str
    asked: re.Pattern[str]
    tools: frozenset[str] | None
    read: Reader
    typed: bool


SLOTS: tuple[Slot, ...] = (
    Slot(
        "phone",
        re.compile(r"\b(?:phone|mobile|cell)?\s*number\b|\bphone\b|\bmobile\b", re.I),
        frozenset(_PHONE_KEY),
        _phone,
        True,
    ),
    Slot(
        "consent_type",
        re.compile(r"\b(?:type|kind|sort) of consent\b|\bwhich consent\b|express written,", re.I),
        frozenset({"record_consent"}),
        _consent_type,
        True,
    ),
    Slot(
        "time_zone",
        re.compile(r"\btime ?zone\b", re.I),
        frozenset({"set_time_zone"}),
        _time_zone,
        True,
    ),
    Slot(
        "voicemail",
        re.compile(r"\bvoice ?mail\b|\banswering machine\b|\bmachine answers\b", re.I),
        frozenset({"place_call", "create_campaign"}),
        _voicemail,
        True,
    ),
    Slot(
        "call",
        re.compile(r"\bwhich (?:one|call)\b|\bwhich of (?:them|these|those)\b", re.I),
        _CALL_TOOLS,
        _call,
        True,
    ),
    Slot(
        "budget",
        re.compile(r"\bspend\b|\bbudget\b|\bhow many credits\b", re.I),
        frozenset({"create_campaign"}),
        _budget,
        True,
    ),
    Slot(
        "postal_code",
        re.compile(r"\bpostal code\b|\bpost ?code\b|\bzip\b", re.I),
        frozenset({"estimate_purchase", "buy_credits"}),
        _postal_code,
        True,
    ),
    Slot(
        "campaign",
        re.compile(r"\bwhich campaign\b", re.I),
        _CAMPAIGN_TOOLS,
        _campaign,
        False,
    ),
    Slot(
        "purpose",
        re.compile(r"\babout\?|\bwhat (?:is|are|should|will) .{0,40}\babout\b|\bpurpose\b", re.I),
        frozenset({"place_call", "create_campaign"}),
        _purpose,
        False,
    ),
    Slot(
        "source",
        re.compile(
            r"\bwhere did .{0,40}\b(?:consent|opt|agree|sign)|\bhow did .{0,40}\b(?:consent|opt in"
            r"|agree)|\bsource\b",
            re.I,
        ),
        frozenset({"record_consent"}),
        _source,
        False,
    ),
    Slot(
        "goal",
        re.compile(r"\bgoal\b|\bwhat should (?:it|the call|the ai|the agent) achieve\b", re.I),
        frozenset({"place_call", "create_campaign"}),
        _goal,
        False,
    ),
    Slot(
        "company",
        re.compile(r"\bcompany\b|\bwhere does .{0,30}\bwork\b", re.I),
        frozenset({"add_contact"}),
        _company,
        False,
    ),
    Slot(
        "name",
        re.compile(r"\bname\b|\bwho is it\b", re.I),
        frozenset({"add_contact"}),
        _name,
        False,
    ),
    Slot(
        "person",
        re.compile(
            r"\bwhich (?:contact|person|lead|prospect|customer)\b|\bwho(?:m)? (?:do you mean|is it"
            r"|was it|should i)\b|\bwhose\b",
            re.I,
        ),
        None,
        _person,
        False,
    ),
    Slot(
        "reason",
        re.compile(r"\bwhy\b|\breason\b", re.I),
        _REASON_TOOLS,
        _reason,
        False,
    ),
)


def asked_for(question: str, tool: str) -> tuple[Slot, ...]:
    """The arguments of `tool` that the assistant's `question` may ask for, most
    specific first; () when it is no question, or none that this module reads."""
    if "?" not in question:
        return ()
    return tuple(
        s for s in SLOTS if (s.tools is None or tool in s.tools) and s.asked.search(question)
    )


TYPED_WORDS = 6  # a typed answer is short: longer replies are read as requests first


_ORDINALS = {"first": 0, "1st": 0, "1": 0, "second": 1, "2nd": 1, "2": 1, "third": 2}
_ORDINALS |= {"3rd": 2, "3": 2, "last": -1, "latter": -1, "former": 0}
_ORDINAL = re.compile(
    r"^(?:the\s+|option\s+|number\s+|#)?(?P<n>" + "|".join(_ORDINALS) + r")(?:\s+(?:one|option"
    r"|campaign|contact|call))?(?:\s+(?:please|pls))?[\s.!]*$",
    re.IGNORECASE,
)
# The options a question lists: 'Which campaign: Q4 renewals or Webinar follow-up?'.
_OPTIONS = re.compile(r"(?::|\bmean)\s*(?P<options>[^:?]+?)\s*(?:\?|\.(?:\s|$))")


def chosen_option(text: str, question: str) -> str:
    """`text`, or the option it picks by position among those `question` lists ('the
    second one' → 'Webinar follow-up')."""
    picked = _ORDINAL.match(_clean(text))
    listed = _OPTIONS.search(question)
    if picked is None or listed is None:
        return text
    options = [o for o in re.split(r"\s*,\s*(?:or\s+)?|\s+or\s+", listed.group("options")) if o]
    index = _ORDINALS[picked.group("n").lower()]
    return options[index] if len(options) >= 2 and index < len(options) else text


# A voicemail answer may be long when it says what to leave: 'leave one saying …'.
_VOICEMAIL_OPENING = re.compile(
    r"^(?:(?:ok|okay|yes|yeah|sure|just|please)[\s,]+)*(?:leave|hang)\b", re.I
)


def answer_args(
    slot: Slot, text: str, tool: str, day: date, question: str = ""
) -> dict[str, Any] | None:
    """The argument `slot` read from the reply `text` to `question`, or None when the
    reply does not give it."""
    text = chosen_option(text, question)
    long = len(text.split()) > TYPED_WORDS
    if (
        slot.typed
        and long
        and slot.name != "phone"
        and (slot.name != "voicemail" or not _VOICEMAIL_OPENING.match(text))
    ):
        return None
    return slot.read(text, tool, day)
