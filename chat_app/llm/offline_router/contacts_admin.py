"""The arguments of the contact-admin tools, read from a message without a model:
list_contacts (text, consent state, never called, how many), edit_contact (who, and
the new name, number, company or notes), delete_contact and revoke_consent (who, and
why), and the do-not-call tools (which number, and why). Each extractor is
`(text, today) -> dict`; import_contacts, export_contacts and list_dnc take none.
"""

from __future__ import annotations

import re
from datetime import date
from difflib import SequenceMatcher
from typing import Any

from chat_app.llm.offline_router.dates import COUNT_WORDS, count_in
from chat_app.llm.offline_router.entities import (
    PHONE,
    PRONOUNS,
    person_names,
    plain_name,
    trim,
    word_set,
)

# --- list_contacts ------------------------------------------------------------------------

_NEVER_CALLED = re.compile(
    r"\b(?:not (?:been |yet )?called(?: yet)?|never[- ](?:been )?called|haven'?t (?:yet )?called"
    r"|have not (?:yet )?called|hasn'?t been called|haven'?t been called|have not been called"
    r"|haven'?t i called|have i not called|not contacted|uncalled|yet to (?:be )?call"
    r"|didn'?t call|no calls?(?: yet)?|without (?:a |any )?calls?|not (?:yet )?dialed"
    r"|never (?:been )?dialed|not reached out|not (?:yet )?(?:rung|phoned|reached)"
    r"|nobody (?:has )?(?:called|rung|dialed)|no one (?:has )?(?:called|rung|dialed))\b",
    re.IGNORECASE,
)
_CALLED = re.compile(
    r"\b(?:already called|i'?ve called|we'?ve called|have called|been called|called before"
    r"|called already|that i called|i called|we called|with (?:a )?calls?|contacted)\b",
    re.IGNORECASE,
)
_REVOKED = re.compile(
    r"\b(?:revoked|withdrew|withdrawn|withdrawal|pulled (?:their )?consent|opted out)\b", re.I
)
_NO_CONSENT = re.compile(
    r"(?:\b(?:without|no|missing|lacking|need|needs|needing|lack|lacks)|\bw/o)\s+(?:any\s+)?"
    r"consent\b"
    r"|\bconsent (?:missing|pending|not (?:yet )?(?:recorded|given|on (?:file|record)))\b"
    r"|\b(?:haven'?t|have not|hasn'?t|has not|not yet|never) (?:given |recorded |got )?"
    r"(?:consent|consented)\b|\bunconsented\b"
    r"|\b(?:don'?t|do not|doesn'?t|does not|didn'?t|did not|haven'?t|hasn'?t) (?:yet )?(?:have|got"
    r"|give|gave) (?:any |their |us )?(?:consent|permission)\b",
    re.IGNORECASE,
)
_GRANTED = re.compile(
    r"\b(?:with|w/?|have|has|having|gave|given)\s+(?:their\s+|valid\s+|active\s+)?consent\b"
    r"|\bconsented\b|\bconsent (?:on (?:file|record)|recorded|granted|given)\b|\bopted in\b"
    r"|\bcallable\b|\bready to call\b|\bi can call\b",
    re.IGNORECASE,
)
_LIMIT = re.compile(
    r"\b(?:top|first|last|only|just|show(?: me)?|list)\s+(\d{1,3}|" + COUNT_WORDS + r")\b", re.I
)
_COUNT = re.compile(
    r"\b(\d{1,3}|" + COUNT_WORDS + r")\s+(?:of my\s+)?(?:contacts|leads|prospects|people)\b", re.I
)
_QUERY = re.compile(
    r"\b(?:at|from|with the company|company|companies|named|called|matching|containing"
    r"|whose name (?:is|contains)|who work(?:s)? (?:at|for)|working at|for)\s+"
    r"(?P<q>[A-Za-z0-9][\w&'’.\- ]*?)\s*(?=$|[,;?!]|\s+(?:who|that|with|without|and|i|we"
    r"|not|never|please|in|have|has|whose)\b|\.(?:\s|$))",
    re.IGNORECASE,
)
# The company before the noun, or after an '@': 'my Brightline contacts', 'contacts @ acme'.
_QUERY_BEFORE = re.compile(
    r"\b(?:my|our|the|all)\s+(?P<q>[A-Z][\w&'’.-]*(?:\s+[A-Z][\w&'’.-]*){0,2})\s+(?:contacts"
    r"|leads|prospects|people|folks)\b"
    r"|@\s*(?P<at>[A-Za-z0-9][\w&'’.-]*(?:\s+[A-Z][\w&'’.-]*){0,2})",
)
_NOT_QUERY = frozenset(
    {
        "me",
        "my",
        "all",
        "the",
        "this",
        "the list",
        "my list",
        "consent",
        "a call",
        "calls",
        "call",
        "everyone",
        "anyone",
        "them",
        "last week",
        "this week",
        "today",
        "now",
        "yet",
        "before",
        "csv",
        "a csv",
        "my contacts",
        "contacts",
    }
)


# Words typed around a name that are no one's name (beside the router's vocabulary).
_NOT_A_NAME = word_set(
    """
    pls plz rn u ur tz dnc anymore doesnt dont didnt took back pulled gives opted dupe
    duplicate wrong person entry retired emailed withdrew withdraw revoke revoked undo trash
    wipe del erase remove delete rename spelling moved works changed jobs got out off list
    system saved already consents asking asked email phone number over yesterday today
    again longer any1 anybody someone somebody guy gal entry typo fix correct update edit
    rung rang ringing phoned dialed dialled reached pinged texted
    """
)
# A word the user wrote without its apostrophe before what is theirs ("tanakas phone").
_BARE_POSSESSIVE = re.compile(
    r"(?<=[a-z]{3})s\s+(?=(?:phone|number|mobile|cell|company|notes?|consent|contact)\b)"
)


_OFTEN_MISSPELT = ("contacts", "contact", "prospects", "leads", "number", "consent", "delete")


def _misspelt(word: str) -> bool:
    """Whether `word` is a typo of a word said around names ('contcts')."""
    return any(SequenceMatcher(None, word, w).ratio() >= 0.8 for w in _OFTEN_MISSPELT)


def lower_contact(text: str) -> str:
    """The first run of one to three lower-case words that can only be a name
    ('remove kwame mensah from contacts pls' → 'kwame mensah'), or ''."""
    cleaned = _BARE_POSSESSIVE.sub(" ", re.sub(r"['’]s\b", "", text))
    run: list[str] = []
    for word in re.findall(r"[\w'’-]+", cleaned):
        if word.islower() and word not in _NOT_A_NAME and plain_name(word) and not _misspelt(word):
            run.append(word)
            if len(run) == 3:
                break
        elif run:
            break
    return " ".join(run)


_LOOKUP = re.compile(
    r"\b(?:find|look ?up|search|where is|show|do (?:we|i) (?:already )?(?:have|got)|have (?:we|i)"
    r"|already|is there|check if|is \S+(?: \S+)? in|saved|added|in (?:my|our) contacts)\b",
    re.IGNORECASE,
)


def list_contacts_args(text: str, today: date | None = None) -> dict[str, Any]:
    """'contacts at Acme I haven't called yet' → {'query': 'Acme', 'called': 'never'}."""
    args: dict[str, Any] = {}
    if _REVOKED.search(text):
        args["consent"] = "revoked"
    elif _NO_CONSENT.search(text):
        args["consent"] = "none"
    elif _GRANTED.search(text):
        args["consent"] = "granted"
    if _NEVER_CALLED.search(text):
        args["called"] = "never"
    elif _CALLED.search(text) and not re.search(
        r"\b(?:contacts?|people|leads)\s+called\s+[A-Z]", text
    ):
        args["called"] = "called"
    for found in [*_QUERY.finditer(text), *_QUERY_BEFORE.finditer(text)]:
        query = trim(found.group("q") or found.groupdict().get("at") or "")
        if query and query.lower() not in _NOT_QUERY and not query.lower().startswith("consent"):
            args["query"] = query
            break
    else:
        names = [n for n in names_in(text) if n.lower() not in _NOT_QUERY]
        lookup = _LOOKUP.search(text)
        if lookup and names:
            args["query"] = names[0]
        elif lookup and lookup.group(0).lower() != "show" and (query := lower_contact(text)):
            args["query"] = query
    limit = _LIMIT.search(text) or _COUNT.search(text)
    if limit:
        count = count_in(limit.group(1).lower())
        if count:
            args["limit"] = count
    return args


# --- one contact: edit, delete, revoke consent ----------------------------------------------

_CONTACT_AFTER = re.compile(
    r"\b(?:contact|lead|prospect|for|of|delete|remove|erase|drop|rename|edit|update|change"
    r"|fix|correct|revoke|withdraw)\s+(?:the\s+)?(?:contact\s+)?(?:for\s+)?"
    r"(?P<who>[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|van|de|der|bin|la|le|del|da))*)",
)


_COMMAND = re.compile(
    r"^(?:rename|delete|remove|erase|drop|edit|update|change|fix|correct|revoke|withdraw"
    r"|contact|please)\s+",
    re.IGNORECASE,
)
_LOWER_AFTER = re.compile(
    r"\b(?:contact|lead|prospect)\s+(?:for\s+)?(?P<who>[a-z][a-z'’-]+(?:\s+[a-z][a-z'’-]+){0,2})"
    r"\s*[.,;!?]?\s*$"
)


def names_in(text: str) -> list[str]:
    """Capitalised names in `text`, less pronouns and an opening command ('Rename …')."""
    found = []
    for name, _, _ in person_names(text):
        name = re.sub(r"['’]s$", "", _COMMAND.sub("", name))
        if name and name.lower() not in PRONOUNS and not _COMMAND.match(name + " "):
            found.append(name)
    return found


def contact_ref(text: str) -> str:
    """The contact meant: a phone number, else a capitalised name, else ''."""
    phone = PHONE.search(text)
    if phone:
        return phone.group(0).strip()
    names = names_in(text)
    if names:
        return names[0]
    found = _CONTACT_AFTER.search(text) or _LOWER_AFTER.search(text)
    if found:
        return re.sub(r"['’]s$", "", found.group("who"))
    return lower_contact(text)


def contact_only_args(text: str, today: date | None = None) -> dict[str, Any]:
    """delete_contact: {'contact': who}."""
    who = lower_subject(text) if not PHONE.search(text) and not names_in(text) else None
    who = who or contact_ref(text)
    who = _TRAILING_WORDS.sub("", f" {who}").strip() if who else ""  # 'valentina cruz pls'
    return {"contact": who} if who else {}


_TRAILING_WORDS = re.compile(
    r"(?:\s+(?:pls|plz|please|thanks|thx|asap|now|too|again|anymore|hes|shes|theyre"
    r"|he's|she's|they're|he|she|they))+$",
    re.IGNORECASE,
)
_LOWER = r"([a-z][a-z'’-]*(?:\s+[a-z][a-z'’-]*){0,2}?)"
# Where a lower-case name sits in a request about one contact: 'dnc raj patel', 'put
# sofia rossi on the list', 'take raj patel off …', 'aisha khan asked us to stop',
# 'talked to laura chen, she …', 'pull consent on aisha khan she …'.
_LOWER_SUBJECT = (
    re.compile(rf"^\s*(?:pls\s+|please\s+)?(?:un-?)?dnc\s+{_LOWER}\s*(?:pls|please)?[.!]*$"),
    re.compile(rf"\b(?:put|add|take|get|move)\s+{_LOWER}\s+(?:on|onto|to|off|from|out of)\b"),
    re.compile(
        rf"\b(?:delete|remove|erase|trash|drop)\s+(?:the\s+)?(?:contact\s+)?{_LOWER}"
        rf"(?=\s+(?:from|hes|shes|he|she|they|as|because|since|wrong|duplicate|not)\b|\s*[,.;!]|$)"
    ),
    re.compile(
        rf"^\s*{_LOWER}\s+(?:asked|said|says|wants|told|doesn'?t|does not|requested|emailed"
        rf"|replied|texted|withdrew|took back|revoked|no longer|hung up|is not|isn'?t)\b"
    ),
    re.compile(
        rf"\b(?:talked|spoke|spoken|chatted)\s+(?:to|with)\s+{_LOWER}"
        rf"(?=\s+(?:she|he|they|and|who|today|yesterday)\b|\s*[,.;]|$)"
    ),
    re.compile(
        rf"\b(?:consent|opt ?in)\s+(?:for|on|of|from)\s+{_LOWER}"
        rf"(?=\s+(?:she|he|they|and|who|because|as|today|yesterday|by)\b|\s*[,.;!]|$)"
    ),
)


def lower_subject(text: str) -> str | None:
    """The contact a request about one contact names in lower case, at one of the places
    a name goes (`_LOWER_SUBJECT`), or None."""
    for pattern in _LOWER_SUBJECT:
        for match in pattern.finditer(text):
            name = plain_name(_TRAILING_WORDS.sub("", match.group(1)))
            if name and not any(w in _NOT_A_NAME for w in name.split()):
                return name
    return None


_NEW_PHONE = re.compile(
    r"\b(?:number|phone|mobile|cell)\b[^+\d]{0,60}?(?:\b(?:to|is|it's|its|for|now)\s+|:\s*)"
    r"(?P<p>\+?\(?\d[\d\s().-]{6,}\d)",
    re.I,
)
# 'has a new cell 212 555 0188', 'update greta lind phone +1 212 555 0123': the number
# straight after the words (what an edit sets; 'change A to B' is read first).
_NEW_PHONE_BARE = re.compile(
    r"\b(?:new\s+)?(?:phone\s+)?(?:number|phone|mobile|cell)\s+(?P<p>\+?\(?\d[\d\s().-]{6,}\d)",
    re.I,
)
_NEW_NAME = re.compile(
    r"\b(?:rename\s+.+?\s+to|name\s+(?:to|should be|is now)|name of\s+.+?\s+to"
    r"|(?:fix|change|correct|update|edit)\s+(?:the\s+)?(?:name|spelling)\s+(?:of\s+)?.+?\s+to)\s+"
    r"(?P<n>[^,;.!?]+)",
    re.IGNORECASE,
)
_NEW_COMPANY = re.compile(
    r"\b(?:company|employer)\s+(?:of|for)\s+(?P<who>.+?)\s+(?:to|is now|should be|is)\s+"
    r"(?P<c>[^,;.!?]+)"
    r"|\b(?:company|employer|works? (?:at|for) now|moved to|now works? (?:at|for)|now at"
    r"|(?<=[a-z] )is (?:now )?(?:at|with)(?= [A-Z])|joined|works (?:at|for))"
    r"(?:\s+(?:to|is now|should be|is))?\s+(?P<c2>[^,;.!?]+)",
    re.IGNORECASE,
)
_TRAILING_FILLER = re.compile(r"(?:\s+(?:now|pls|please|instead|these days|too))+$", re.I)
_NEW_NOTES = re.compile(
    r"\b(?:notes?)\b(?:\s+(?:to|for|on|of)\s+(?P<who>[^:]+?))?\s*(?::|\s[-—–]\s|saying|that|to say"
    r"|to)\s*"
    r"(?P<n>.+?)\s*$",
    re.IGNORECASE,
)


def edit_contact_args(text: str, today: date | None = None) -> dict[str, Any]:
    """'change Dana Lee's number to 415 555 0199' → {'contact': 'Dana Lee', 'phone': …}."""
    args: dict[str, Any] = {}
    new_phone = _NEW_PHONE.search(text)
    phones = list(PHONE.finditer(text))
    if new_phone is None and len(phones) > 1:  # 'change +1 415 555 0100 to +1 415 555 0199'
        new_phone = re.search(r"\bto\s+(?P<p>" + re.escape(phones[1].group(0)) + ")", text)
    if new_phone is None:
        new_phone = _NEW_PHONE_BARE.search(text)
    head = text[: new_phone.start("p")] if new_phone else text
    if new_phone:
        args["phone"] = new_phone.group("p").strip()
        if len(phones) > 1 and phones[0].start() < new_phone.start("p"):
            args["contact"] = phones[0].group(0).strip()
    new_name = _NEW_NAME.search(text)
    if new_name:
        args["name"] = trim(new_name.group("n"))
        head = text[: new_name.start("n")]
    company = _NEW_COMPANY.search(text)
    if company and not new_name:
        value = _TRAILING_FILLER.sub("", trim(company.group("c") or company.group("c2") or ""))
        if value.lower() in ("nothing", "none", "empty", "blank"):
            value = ""
        args["company"] = value
        head = company.group("who") or text[: company.start()]
    notes = _NEW_NOTES.search(text)
    if notes and not company and not new_name and not new_phone:
        args["notes"] = trim(notes.group("n"))
        head = notes.group("who") or text[: notes.start()]
    if "contact" not in args:
        names = [n for n in names_in(head) if n != args.get("name")]
        if names:
            args["contact"] = names[0]
        else:
            found = _CONTACT_AFTER.search(head)
            if found:
                args["contact"] = re.sub(r"['’]s$", "", found.group("who"))
            elif who := lower_contact(head):
                args["contact"] = who
    return args


_REASON = re.compile(
    r"(?:\s+[-—–]\s+|[,;:]\s*|\s+)(?:because|since|as|reason(?:\s+is)?:?|why:?|due to|after)"
    r"\s+(?P<r>.+?)\s*[.!]?$"
    r"|[.;,:]\s+(?P<s>(?:she|he|they|customer|client|the customer|added|wrong|it was|it's"
    r"|the number|number|duplicate|typo|test)\b.+?)\s*[.!]?$"
    r"|\s+[-—–]\s+(?P<d>.+?)\s*[.!]?$"
    # Dictated without punctuation: 'revoke consent for marcus bell he asked us to stop calling'.
    r"|\s(?P<t>(?:she|he|they)\s+(?:asked|said|told|requested|wants|wanted|no longer|doesn'?t"
    r"|does not|didn'?t|did not|hung up|opted|withdrew)\b.+?)\s*[.!]?$",
    re.IGNORECASE,
)


_NOT_A_REASON = re.compile(r"^(?:do not call|do-not-call|dnc|revoked|withdrawn)\b", re.I)


def _reason(text: str) -> str:
    found = _REASON.search(text)
    if not found:
        return ""
    reason = trim(next((g for g in found.groups() if g), ""))
    return "" if _NOT_A_REASON.match(reason) else reason


def revoke_args(text: str, today: date | None = None) -> dict[str, Any]:
    """revoke_consent: {'contact': who, 'reason': how they withdrew it (when said)}."""
    args = contact_only_args(text)
    reason = _reason(text)
    if reason:
        args["reason"] = reason
    return args


def dnc_args(text: str, today: date | None = None) -> dict[str, Any]:
    """add_dnc / remove_dnc: {'phone': the number as written (or the contact's name),
    'reason': why (when said)}."""
    args: dict[str, Any] = {}
    phone = PHONE.search(text)
    if phone:
        args["phone"] = phone.group(0).strip()
    else:  # 'put Omar Haddad on the do-not-call list': the contact's number
        names = [n for n in names_in(text) if n.lower() not in ("dnc", "do", "put", "add")]
        if names:
            args["phone"] = names[0]
        elif who := lower_subject(text):
            args["phone"] = who  # 'dnc raj patel', 'sofia rossi asked … add her to dnc'
    reason = _reason(text[phone.end() :] if phone else text)
    if reason:
        args["reason"] = reason
    return args


def no_args(text: str, today: date | None = None) -> dict[str, Any]:
    """import_contacts, export_contacts, list_dnc: nothing to read."""
    return {}
