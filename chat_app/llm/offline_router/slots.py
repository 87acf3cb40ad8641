"""Slot values made exact once a tool's extractor has pulled them out of a message:
phone numbers read with `phonenumbers` in the user's own country, and people named with
a typo matched to the contacts and reps the caller knows (difflib: `rapidfuzz` is not a
dependency).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import phonenumbers

from chat_app.llm.offline_router.entities import CALL_ID, PHONE

PHONE_KEYS = frozenset({"phone", "new_mobile"})
# Arguments that name a person the user already knows (a contact, a rep, a call's party).
PERSON_KEYS = frozenset({"contact", "call", "rep"})
NAME_CUTOFF = 0.8  # how alike (difflib ratio) a typed name and a known one must be


def e164(number: str, region: str) -> str | None:
    """`number` in E.164, read in `region` (an ISO country code) unless it has its own
    country code; None if it is not a possible phone number."""
    try:
        parsed = phonenumbers.parse(number, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def closest_name(typed: str, known: Sequence[str]) -> str | None:
    """The known name `typed` most likely means (case and small typos aside), or None
    when none is close enough. A known first name alone matches too ('lucsa' → 'Lucas
    Moreau' when only one Lucas is known)."""
    wanted = " ".join(typed.lower().split())
    if not wanted or not known:
        return None
    full = {name.lower(): name for name in known}
    match = difflib.get_close_matches(wanted, list(full), n=1, cutoff=NAME_CUTOFF)
    if match:
        return full[match[0]]
    if " " in wanted:
        return None
    firsts: dict[str, list[str]] = {}
    for name in known:
        firsts.setdefault(name.split()[0].lower(), []).append(name)
    match = difflib.get_close_matches(wanted, list(firsts), n=1, cutoff=NAME_CUTOFF)
    if match and len(firsts[match[0]]) == 1:
        return firsts[match[0]][0]
    return None


def refine_args(args: dict[str, Any], region: str, known: Sequence[str]) -> dict[str, Any]:
    """`args` with phone numbers in E.164 (read in `region`) and names of people
    matched to `known` names; anything else, or anything not understood, unchanged."""
    refined = dict(args)
    for key, value in args.items():
        if not isinstance(value, str) or not value.strip():
            continue
        if key in PHONE_KEYS or (key in PERSON_KEYS and PHONE.fullmatch(value.strip())):
            refined[key] = e164(value, region) or value
        elif key in PERSON_KEYS and known and not CALL_ID.fullmatch(value.strip()):
            refined[key] = closest_name(value, known) or value
    return refined
