"""Maps a user's message to one of the assistant's tools without a language model.

Each intent has weighted cue words and phrases; a message's score for an intent is
the sum of the weights it matches (capped at 1). Below `THRESHOLD` nothing is
guessed: the model says what it can do instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from billing.purchases import BillingAddressInvalid, parse_country

THRESHOLD = 0.5


@dataclass(frozen=True)
class Intent:
    name: str
    tool: str | None  # None: answered without a tool (greetings, help)
    cues: dict[str, float]
    examples: tuple[str, ...] = field(default=())
    # Pulls the tool's arguments out of the message.
    extract: Callable[[str], dict[str, Any]] | None = None
    # The answer, for intents answered without a tool.
    reply: str | None = None


_PACKAGE_WORD = re.compile(
    r"\b([a-z0-9][a-z0-9,]*)\s+(?:credit\s+)?(?:pack|package|plan|bundle)s?\b"
)
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
        "one",
        "which",
        "what",
        "credit",
        "cheapest",
        "biggest",
        "best",
    }
)
_PLACE = re.compile(r"\b(?:for|in|from)\s+([^?!]+?)\s*[?.!]*$", re.IGNORECASE)


def _package(text: str) -> str:
    lowered = text.lower()
    for match in _PACKAGE_WORD.finditer(lowered):
        if match.group(1) not in _NOT_A_PACKAGE:
            return match.group(1)
    count = _CREDIT_COUNT.search(lowered)
    return count.group(1).replace(",", "") if count else ""


def _place(text: str) -> dict[str, Any]:
    """'… for US 94105' → country and postal code; the longest leading words that
    name a country are the country, the rest the postal code."""
    match = _PLACE.search(text)
    if match is None:
        return {}
    words = match.group(1).split()
    if words and words[0].lower() == "the":
        words = words[1:]
    for end in range(len(words), 0, -1):
        try:
            parse_country(" ".join(words[:end]))
        except BillingAddressInvalid:
            continue
        place: dict[str, Any] = {"country": " ".join(words[:end])}
        if words[end:]:
            place["postal_code"] = " ".join(words[end:])
        return place
    return {}


def _purchase_args(text: str) -> dict[str, Any]:
    return {"package": _package(text), **_place(text)}


_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


def _mobile_args(text: str) -> dict[str, Any]:
    match = _PHONE.search(text)
    return {"new_mobile": match.group(0).strip()} if match else {"new_mobile": ""}


NO_TRANSFER_REPLY = (
    "Credits can't be transferred, sold or cashed out: they belong to the workspace "
    "that bought them and have no cash value. A purchase can be refunded through "
    "Paddle, which takes back the credits it bought."
)


INTENTS: tuple[Intent, ...] = (
    Intent(
        name="check_credits",
        tool="check_credits",
        cues={
            "credit": 0.6,
            "credits": 0.6,
            "balance": 0.7,
            "how many": 0.2,
            "how much": 0.2,
            "left": 0.2,
            "remaining": 0.3,
            "spent": 0.4,
            "spend": 0.3,
            "funds": 0.5,
            "on hold": 0.5,
            "ledger": 0.6,
            "top up": 0.2,
        },
        examples=("how many credits do I have?", "what's my balance", "credits left?"),
    ),
    Intent(
        name="list_packages",
        tool="list_packages",
        cues={
            "packages": 0.7,
            "package": 0.5,
            "plans": 0.5,
            "pricing": 0.6,
            "prices": 0.6,
            "what can i buy": 1.0,
            "options": 0.2,
        },
        examples=("what packages are there?", "show me the pricing"),
    ),
    Intent(
        name="estimate_purchase",
        tool="estimate_purchase",
        cues={
            "estimate": 0.9,
            "quote": 0.8,
            "how much would": 0.7,
            "how much is": 0.5,
            "how much does": 0.5,
            "tax": 0.4,
            "total": 0.3,
            "cost": 0.2,
            "pack": 0.2,
        },
        examples=("estimate the starter pack for US 94105", "how much is the pro pack with tax"),
        extract=_purchase_args,
    ),
    Intent(
        name="buy_credits",
        tool="buy_credits",
        cues={
            "buy": 0.9,
            "purchase": 0.7,
            "top up": 0.8,
            "checkout": 0.7,
            "order": 0.3,
            "pack": 0.2,
        },
        examples=("buy the starter pack", "buy 500 credits", "top up"),
        extract=_purchase_args,
    ),
    Intent(
        name="purchase_history",
        tool="purchase_history",
        cues={
            "what did i buy": 1.0,
            "did i buy": 1.0,
            "purchase history": 1.0,
            "purchases": 0.9,
            "bought": 0.9,
            "receipt": 0.9,
            "receipts": 0.9,
            "invoice": 0.9,
            "invoices": 0.9,
            "refunds": 0.5,
        },
        examples=("what did I buy?", "show my receipts"),
    ),
    Intent(
        name="my_account",
        tool="my_account",
        cues={
            "my account": 1.0,
            "who am i": 1.0,
            "my profile": 0.9,
            "my details": 0.8,
            "my role": 0.8,
            "my workspace": 0.8,
        },
        examples=("my account", "who am I?"),
    ),
    Intent(
        name="change_mobile",
        tool="change_mobile",
        cues={
            "change my mobile": 1.0,
            "change my phone": 1.0,
            "change my number": 1.0,
            "update my mobile": 1.0,
            "update my number": 1.0,
            "new mobile": 0.8,
            "new phone": 0.7,
            "new number": 0.6,
        },
        examples=("change my mobile to +1 415 555 2671",),
        extract=_mobile_args,
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


def _normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.lower().replace("’", "'")))


@dataclass(frozen=True)
class Route:
    intent: Intent
    score: float
    args: dict[str, Any]


def route(text: str, available_tools: frozenset[str]) -> Route | None:
    """The best intent for `text` among those whose tool is available, or None."""
    padded = f" {_normalise(text)} "
    best: Route | None = None
    for intent in INTENTS:
        if intent.tool is not None and intent.tool not in available_tools:
            continue
        score = min(1.0, sum(w for cue, w in intent.cues.items() if f" {cue} " in padded))
        if score >= THRESHOLD and (best is None or score > best.score):
            best = Route(intent=intent, score=score, args={})
    if best is not None and best.intent.extract is not None:
        best = Route(intent=best.intent, score=best.score, args=best.intent.extract(text))
    return best
