"""Replies that need no tool and no classifier: thanks and goodbyes, a bare "yes" or
"no" with nothing waiting for it, and what a call of a given length costs.

Read on the whole message, after unsafe requests and follow-ups (a "yes" to a pending
confirmation never gets here) and before routing: "thanks!" used to get "Sorry, I didn't
understand that" and the whole help text. Every reply is free (no tool ran)."""

from __future__ import annotations

import re
from typing import Final

from core.words import NUMBER_WORDS

_THANKS: Final = frozenset({"thanks", "thank", "thx", "ty", "tysm", "cheers", "appreciate"})
_BYE: Final = frozenset({"bye", "goodbye", "later", "cya"})
_ACK: Final = frozenset(
    {"ok", "okay", "k", "alright", "cool", "great", "perfect", "awesome", "nice", "got", "good"}
)
# Words that may stand beside those and change nothing ("thanks so much, that's all").
_FILLER: Final = frozenset(
    {
        "you",
        "so",
        "much",
        "very",
        "a",
        "lot",
        "it",
        "that's",
        "thats",
        "that",
        "is",
        "all",
        "for",
        "now",
        "appreciated",
        "sounds",
        "super",
        "helpful",
        "many",
        "again",
        "then",
        "see",
        "ya",
        "oh",
        "wow",
    }
)
_YES_NO: Final = frozenset({"yes", "yeah", "yep", "yup", "sure", "no", "nope", "nah", "y", "n"})
_WORD = re.compile(r"[a-z']+")

THANKS_REPLY: Final = "You're welcome! Anything else I can do for you?"
BYE_REPLY: Final = "Bye for now — your conversations are kept here for when you come back."
ACK_REPLY: Final = "Anything else I can do for you?"
NOTHING_PENDING: Final = (
    "There's nothing waiting for a yes or no in this conversation right now, so nothing "
    "was done. Tell me what you'd like, e.g. “call Jane Doe about the demo”."
)
# The conversational replies (tests tell them from a refusal).
REPLIES: Final = frozenset({THANKS_REPLY, BYE_REPLY, ACK_REPLY, NOTHING_PENDING})

_UNIT_SECONDS: Final = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600}
_AMOUNT = r"(\d+(?:\.\d+)?|an?|half an?|" + "|".join(sorted(NUMBER_WORDS, key=len)[::-1]) + r")"
_CALL_LENGTH = re.compile(
    _AMOUNT + r"[\s-]*(second|sec|minute|min|hour|hr)s?\b(?:[\s-]*long)?\s+(?:phone\s+)?call",
)
_COST_WORDS = re.compile(r"\b(?:how much|cost|costs|price|charge|charged|credits?)\b")


def reply(text: str) -> str | None:
    """The reply to `text` when it is small talk or a call-cost question, else None."""
    lowered = " ".join(text.lower().replace("’", "'").split())
    words = _WORD.findall(lowered)
    if not words or len(words) > 8:
        return _call_cost(lowered)
    kinds = set(words)
    if kinds <= _YES_NO | {"please", "ok", "okay"} and kinds & _YES_NO:
        return NOTHING_PENDING
    if kinds <= _YES_NO | _THANKS | _FILLER and kinds & _YES_NO and kinds & _THANKS:
        return ACK_REPLY  # "no thanks"
    if not kinds <= _THANKS | _BYE | _ACK | _FILLER:
        return _call_cost(lowered)
    if kinds & _THANKS:
        return THANKS_REPLY
    if kinds & _BYE:
        return BYE_REPLY
    return ACK_REPLY if kinds & _ACK else None


def _call_cost(lowered: str) -> str | None:
    """'how much would a 10 minute call cost': the credits, and how calls are billed."""
    length = _CALL_LENGTH.search(lowered)
    if length is None or not _COST_WORDS.search(lowered):
        return None
    amount, unit = length.group(1), length.group(2)
    seconds = round(_amount(amount) * _UNIT_SECONDS[unit])
    return (
        f"A {_length_said(amount, unit)} call costs {seconds:,} credits: calls cost 1 "
        "credit per second, billed once the call ends on the length the carrier reports "
        "(from when it is answered, by a person or a voicemail, to hang-up). A call nobody "
        "answers costs nothing. Before dialling I show the call's cost ceiling and hold "
        "it; what isn't used is released. "
        "Nothing was charged for this answer."
    )


_UNIT_NAMES: Final = {"sec": "second", "min": "minute", "hr": "hour"}


def _length_said(amount: str, unit: str) -> str:
    """'10-minute', 'one-hour', 'half-hour'."""
    name = _UNIT_NAMES.get(unit, unit)
    if amount.startswith("half"):
        return f"half-{name}"
    return f"{'one' if amount in ('a', 'an') else amount}-{name}"


def _amount(text: str) -> float:
    if text in ("a", "an"):
        return 1.0
    if text.startswith("half"):
        return 0.5
    if text in NUMBER_WORDS:
        return float(NUMBER_WORDS[text])
    return float(text)
