"""The arguments of add_contact (name, number, company, notes) and record_consent (who,
which kind, where, how, the exact wording, when).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import phonenumbers

from billing.purchases import BillingAddressInvalid, parse_country
from chat_app.llm.offline_router.calls import said_text
from chat_app.llm.offline_router.dates import obtained_at
from chat_app.llm.offline_router.entities import (
    NAME_STOP,
    NOT_NAMES,
    PHONE,
    PRONOUNS,
    person_names,
    plain_name,
    trim,
)

# The kind named outright wins over one read from how it was given ('express consent,
# signed paper form' is express, as the user said).
_CONSENT_TYPES = (
    ("existing business relationship", "existing relationship"),
    ("existing relationship", "existing relationship"),
    ("express written", "express written"),
    ("written express", "express written"),
    ("existing customer", "existing relationship"),
    ("current customer", "existing relationship"),
    ("express", "express"),
    ("written", "express written"),
    ("in writing", "express written"),
    ("signed", "express written"),
    ("verbal", "express"),
)

_COMPANY_CUES = (
    re.compile(r"\b(?:company|employer|org|organi[sz]ation)(?:\s+is|:)?\s+([^,.;()/|—–]+)", re.I),
    re.compile(r"\bworks? (?:at|for)\s+([^,.;()/|—–]+)", re.IGNORECASE),
    re.compile(r"\(([^)\d]+)\)"),
    re.compile(r"\b(?:at|from|of|with)\s+([A-Z][^,.;()+\d/|—–?!]*)"),
)

_COMPANY_END = re.compile(
    r"\s+(?:phone|mobile|number|tel|telephone|cell|to my|in my|and|please|her|his|their|she|he"
    r"|they"
    # 'from Harbor Light Fitness at the show yesterday': where and when we met is not it.
    r"|at (?:the|a|an|our) (?:show|conference|expo|event|booth|fair|meetup|summit|trade ?show)"
    r"|yesterday|today|last (?:week|night|month)|this (?:morning|afternoon|week))\b.*$",
    re.IGNORECASE,
)


def _company(text: str, name: str, name_end: int) -> str | None:
    for cue in _COMPANY_CUES:
        for match in cue.finditer(text):
            company = trim(_COMPANY_END.sub("", match.group(1)))
            if company and company != name:
                return company
    # 'New contact: Marcus Bell, (415) 555-0188, Acme Corp': a capitalised part on its own.
    for part in re.split(r"[,/|—–]| - ", text[name_end:]):
        part = trim(part)
        if (
            part
            and part[0].isupper()
            and not PHONE.search(part)
            and part.split()[0].lower() not in NOT_NAMES
        ):
            return part
    return None


_NOTES = re.compile(
    r"[,;.—–-]?\s*\b(?:notes?|remarks?|comments?)\b\s*(?::|-|—|that|say(?:s|ing)?)?\s+(.+?)\s*$",
    re.IGNORECASE,
)

_REGION_HINT = re.compile(
    r"\(([A-Za-z .]{2,30})\)|\b([A-Za-z]{2})\s+(?:mobile|number|cell|phone)\b"
    r"|\b(?:in|from)\s+(?:the\s+)?([A-Za-z][A-Za-z .]{1,30}?)\s*$"
)


def _phone_text(text: str, phone: re.Match[str]) -> str:
    """The number as written, or in E.164 when it is written nationally ('07700 900318')
    and the message names its country ('(UK)', 'UK mobile')."""
    number = phone.group(0).strip()
    if not number.startswith("0"):
        return number
    for hint in _REGION_HINT.finditer(text):
        said = next(g for g in hint.groups() if g).strip()
        if said.lower() in NOT_NAMES or said.lower() in PRONOUNS:
            continue  # 'my number', 'us number' … are not countries here
        try:
            region = parse_country(said)
            parsed = phonenumbers.parse(number, region)
        except (BillingAddressInvalid, phonenumbers.NumberParseException):
            continue
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return number


_AT_COMPANY = re.compile(r"\b(?:at|from|with|works at|works for|of)\s+$", re.IGNORECASE)


def contact_args(text: str) -> dict[str, Any]:
    notes = _NOTES.search(text)
    if notes:
        text = text[: notes.start()]  # what the notes say is neither name nor company
    phone = PHONE.search(text)
    args: dict[str, Any] = {"name": "", "phone": _phone_text(text, phone) if phone else ""}
    names = [
        n for n in person_names(text) if not phone or n[1] < phone.start() or n[1] > phone.end()
    ]
    # 'the office manager at Pinecrest Dental, Jolene Marsh': the company is not the contact.
    people = [n for n in names if not _AT_COMPANY.search(text[: n[1]])]
    if people and people != names:
        names = people
    if phone and names and names[0][1] > phone.end():
        # The name normally comes first: 'add contact Mark Will, 212 555 0100, at SaaStr',
        # 'add noah fischer +49 30 901820 company Kranich GmbH'.
        head = _contact_head(text[: phone.start()])
        if head and (head[0].isupper() or plain_name(head)):
            names = [(head, 0, phone.start())]
    if names:
        args["name"], _, name_end = names[0]
    else:
        args["name"] = _contact_head(text[: phone.start()] if phone else text)
        name_end = phone.start() if phone else len(text)
    company = _company(text, args["name"], name_end)
    lower = _LOWER_COMPANY.search(text[: phone.start()]) if phone and not names else None
    if company is None and lower and trim(lower.group(1)):
        company = trim(lower.group(1))
    if company is None and phone:
        # 'pls add marie-claire dubois 503 555 0137 from acme paints'
        after = re.match(
            r"\s*,?\s*(?:(?:he|she)(?:'s|s| is)\s+|works\s+)?(?:from|at|of|with|for)\s+"
            r"([^,.;()+\d?!/|—–]+?)\s*[.?!]*$",
            text[phone.end() :],
            re.IGNORECASE,
        )
        # 'pls add helen okafor 202.555.0161 bright smile', '…, tidewater logistics, met at …'
        bare = re.match(r"\s*,?\s*([a-z][\w&'’ -]*?)\s*(?:,|[.?!]*$)", text[phone.end() :])
        if after:
            company = trim(after.group(1))
        elif (
            bare
            and len(bare.group(1).split()) <= 5
            and not (set(bare.group(1).lower().split()) & (NOT_NAMES | _NOT_COMPANY_WORDS))
        ):
            company = trim(bare.group(1))  # pls add helen okafor 202.555.0161 bright smile
    if company:
        args["company"] = company
    if notes:
        args["notes"] = trim(notes.group(1))
    return args


# Words after a number that say what it is, not where the contact works ('uk number').
_NOT_COMPANY_WORDS = frozenset(
    {"please", "pls", "thanks", "number", "mobile", "cell", "phone", "landline", "line", "direct"}
)


def _contact_head(head: str) -> str:
    """The words before the number, less the order: 'add contact Mark Will,' → 'Mark Will'."""
    head = re.sub(
        r"^\s*(?:(?:please|pls|plz|kindly|(?:can|could|would|will) (?:you|u))\s+)*"
        # 'got a new lead chloe martin …', 'just met a prospect: …', 'add …'
        r"(?:(?:add|create|save|new|put)\s+|(?:i\s+)?(?:got|have|met|found)\s+(?=(?:a\s+|an\s+|"
        r"this\s+)?(?:new\s+|hot\s+|warm\s+)*(?:contact|prospect|lead)\b))"
        r"(?:a\s+|this\s+|the\s+)?(?:new\s+)?(?:\w+\s+(?=(?:contact|prospect|lead)\b))?"
        r"(?:contact|prospect|lead)?\s*(?:named|called|for|:)?\s*",
        "",
        head,
        flags=re.IGNORECASE,
    )
    # 'his name is ben carter phone number …': the name, not how it was introduced.
    introduced = r"^\s*(?:(?:his|her|their|the)\s+)?name(?:'s|’s|\s+is|:)\s*"
    head = re.sub(introduced, "", head, flags=re.IGNORECASE)
    # 'jake miller from summit roofing cell': the name ends where the company or number starts.
    return trim(_HEAD_END.split(head.strip())[0])


_HEAD_END = re.compile(
    r"\s+(?:(?:his|her|their|the)\s+(?=(?:phone|number|cell|mobile|tel)\b))?(?:at|from|with"
    r"|works at|works for|phone|number|cell|mobile|tel|on|she|he|they|she's|he's|they're)\b|,",
    re.I,
)
# A lower-case company before the number: 'jake miller from summit roofing cell 720 …'.
_LOWER_COMPANY = re.compile(
    r"\b(?:from|at|with|works at|works for)\s+([a-z][\w&'’ -]*?)\s*"
    r"(?:,|\s(?:cell|mobile|phone|number|tel|on|her|his|their|she|he|they)\b|$)"
)


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


DEFAULT_SOURCE = "stated by the rep in chat"  # no source named in the message


def _consent_source(text: str, contact: str = "") -> str:
    url = _URL.search(text)
    if url:
        return url.group(0)
    stated = _STATED_SOURCE.search(text)
    if stated and trim(stated.group("source")):
        return trim(stated.group("source"))
    found = _SOURCE.search(text)
    while found is not None:  # each lead in turn: 'in person at the SaaStr booth'
        source = trim(found.group("source"))
        # 'the paper consent form at the roadshow': where, not what was signed; 'consent
        # from Dmitri Volkov via …': who, not where.
        if source and not _NOT_A_SOURCE.match(source) and not source.startswith(contact or "\0"):
            return source
        found = _SOURCE.search(text, found.start() + 1)
    return DEFAULT_SOURCE


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


def _listed_source(text: str, method: str) -> str | None:
    """Where consent was given, from a list after a colon ('…: express written, signed
    paper form, Raleigh vet conference, 11/21/2026'): the one item that is neither the
    kind of consent, the method, a date nor a number."""
    _, colon, listed = text.partition(":")
    if not colon:
        return None
    for item in (trim(part) for part in listed.split(",")):
        lowered = item.lower().replace("-", " ")
        if (
            not item
            or any(cue in lowered for cue, _ in _CONSENT_TYPES)
            or (method and method.lower() in lowered)
            or _CONSENT_METHOD.search(item)
            or re.search(r"\d", item)
        ):
            continue
        return item
    return None


def consent_args(text: str, today: date) -> dict[str, Any]:
    lowered = text.lower()
    kind = next((k for cue, k in _CONSENT_TYPES if cue in lowered.replace("-", " ")), "express")
    names = person_names(text)
    # 'She filled in a form at the booth. Record consent for Fatima Al-Sayed.'
    named_for = [n for n in names if re.search(r"\b(?:for|of|from)\s+$", text[: n[1]], re.I)]
    contact = (named_for or names)[0][0] if names else ""
    phone = PHONE.search(text)
    if phone and (not names or phone.start() < names[0][1]):
        contact = phone.group(0).strip()
    if not contact:
        # Shorthand: 'consent hana sato express web form' — the name right after 'consent'.
        short = re.match(
            r"^\s*(?:(?:record|log|add|save)\s+)?consent\s+(?:for\s+)?([a-z][\w'’-]*(?:\s+[a-z][\w'’-]*)?)"
            r"(?=\s+(?:express|written|existing|verbal|from|via|at|on|source|signed|web|online|by"
            r"|in|over|through)\b|\s*[,;:]|\s*$)",
            text,
        )
        if short and plain_name(short.group(1)):
            contact = str(plain_name(short.group(1)))
    if not contact:
        found = re.search(r"\bfor\s+(.+?)" + NAME_STOP, text, re.IGNORECASE)
        if found is None:
            found = re.match(
                r"^\s*(?:(?:please\s+)?(?:record|log|note|save|add)\s+(?:that\s+)?)?"
                r"(.+?)\s+(?:gave|has given|agreed|consented|said yes|ok'?d|okayed|signed"
                r"|opted[ -]in)\b",
                text,
                re.IGNORECASE,
            )
        if found and trim(found.group(1)).lower() not in PRONOUNS:
            contact = trim(found.group(1))
    # 'consent for chidi okafor - existing relationship': the name ends at the dash.
    contact = trim(re.split(r"\s+[-—–]\s*|\s*[—–:]\s*", contact)[0]) if contact else ""
    args = {"contact": contact, "consent_type": kind, "source": _consent_source(text, contact)}
    method = _CONSENT_METHOD.search(text)
    listed = _listed_source(text, method.group(0) if method else "")
    if args["source"] == DEFAULT_SOURCE and listed:
        args["source"] = listed
    elif args["source"] == DEFAULT_SOURCE and method:
        args["source"] = method.group(0)  # 'express, web form': how is where it was given
    if method:
        args["method"] = method.group(0)
        # 'a signed paper form at the showroom': the method, then where.
        where = re.match(
            re.escape(method.group(0)) + r"\s+(?:at|on|in|via|from)\s+(?:the\s+|our\s+|a\s+)?(.+)",
            args["source"],
            re.IGNORECASE,
        )
        if where:
            args["source"] = trim(where.group(1))
    labelled = re.search(r"\bwording\s*(?:was|is|:)?\s*(?=[\"“'‘])", text, re.IGNORECASE)
    wording = _WORDING.search(text)
    if labelled and said_text(text[labelled.end() :]):
        args["wording"] = said_text(text[labelled.end() :])
    elif wording:
        args["wording"] = wording.group(1)
    elif single := re.search(r"(?:^|[\s:])'([^']{12,}?)'(?=[\s,.;!?]|$)", text):
        args["wording"] = single.group(1)
    obtained = obtained_at(text, today)
    if obtained:
        args["obtained_at"] = obtained
    return args
