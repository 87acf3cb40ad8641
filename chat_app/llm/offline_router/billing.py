"""Credit packages, billing countries and postal codes in a message ('the pro pack for
US 94105', 'billing is Netherlands 1012 AB'): the arguments of estimate_purchase and
buy_credits, and the new mobile of change_mobile.
"""

from __future__ import annotations

import re
from typing import Any

from billing.purchases import BillingAddressInvalid, parse_country
from chat_app.llm.offline_router.entities import PHONE, trim, word_set

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

_NOT_A_BARE_PACKAGE = _NOT_A_PACKAGE | word_set(
    "credits some me us it them now please for another extra additional with how history"
    " before after today tomorrow we i you they here there again"
    " of to again is that this a an my our"
    " on at in left held hold available remaining spent due owed"
)

# The packages on sale (migration 0006 seeds them); any other is still read from
# "the X pack / plan / bundle" or "500 credits".
CATALOG_PACKAGES = ("starter", "growth", "pro")

_CATALOG_PACKAGE = re.compile(r"\b(" + "|".join(CATALOG_PACKAGES) + r")\b(?!['’-])")


def catalog_packages(text: str) -> list[str]:
    """The packages of the catalog a message names, in order, each once."""
    found: list[str] = []
    for match in _CATALOG_PACKAGE.finditer(text.lower()):
        if match.group(1) not in found:
            found.append(match.group(1))
    return found


def package_named(text: str) -> str:
    lowered = text.lower()
    named = catalog_packages(lowered)
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
_US_STATES = word_set(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH"
    " NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR"
)

_STATE_ZIP = re.compile(r"\b([A-Z]{2}),?\s+(\d{5}(?:-\d{4})?)\b")

_POSTAL = re.compile(
    r"\b(?:postal code|postcode|post code|zip code|zip|code postal|plz|cap|cep|cp|pin ?code)"
    r"\s*(?::|is|=)?\s*"
    r"([A-Za-z0-9]*\d[A-Za-z0-9]*"
    r"(?:[ -](?=[A-Za-z0-9]*\d)[A-Za-z0-9]{2,4}|(?<=\b\d{4}) (?-i:[A-Z]{2}))?)\b",  # '1012 AB'
    re.IGNORECASE,
)

# A postal code right after the country, behind a comma: 'Germany, 10115', 'UK, SW1A 1AA'.
_POSTAL_AFTER = re.compile(
    r",\s*([A-Za-z0-9]*\d[A-Za-z0-9]*(?: (?=[A-Za-z]*\d)[A-Za-z0-9]{3,4})?)(?=[\s?.!,;]|$)"
)


def _postal_words(words: list[str]) -> str | None:
    """A postal code at the start of `words`: '94105', 'SW1A 1AA', 'M5V 2T6' ('please'
    and the like after it are not part of it)."""
    words = [trim(w) for w in words[:2]]
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


# Country codes typed in lower case that are no everyday word ('us' is one: 'for us').
_LOWER_CODES = {"uk": "GB", "usa": "US"}


def _tail_country(text: str) -> str | None:
    """A country the message ends with, without a lead word ('… with tax uk')."""
    words = [trim(w) for w in text.split()][-3:]
    for start in range(len(words)):
        tail = words[start:]
        if len(tail) == 1 and tail[0] in _LOWER_CODES:
            return _LOWER_CODES[tail[0]]
        found = _country_of(tail)
        if found is not None and not found[1]:
            return found[0]
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
    if "country" not in place and (tail := _tail_country(text)):
        place = {"country": tail}  # 'price of starter with tax uk', 'zip 94110 US'
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


def purchase_args(text: str) -> dict[str, Any]:
    return {"package": package_named(text), **_place(text)}


def mobile_args(text: str) -> dict[str, Any]:
    match = PHONE.search(text)
    return {"new_mobile": match.group(0).strip()} if match else {"new_mobile": ""}
