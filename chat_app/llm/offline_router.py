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


# --- calls, contacts and insights -------------------------------------------------------

_CALL_ID = re.compile(r"\b([0-9a-f]{8})(?:-[0-9a-f-]{4,})?\b", re.IGNORECASE)
_CONSENT_TYPES = (
    ("existing relationship", "existing relationship"),
    ("existing business relationship", "existing relationship"),
    ("express written", "express written"),
    ("written", "express written"),
    ("express", "express"),
    ("verbal", "express"),
)
_NAME_STOP = (
    r"(?=\s+(?:about|to|regarding|re|for|from|via|on|at|with|gave|who|company|go|went)\b"
    r"|[,.;:?!]|$)"
)


def _strip(text: str) -> str:
    return text.strip(" ,.;:!?\"'").strip()


def _contact_args(text: str) -> dict[str, Any]:
    phone = _PHONE.search(text)
    args: dict[str, Any] = {"name": "", "phone": phone.group(0).strip() if phone else ""}
    head = text[: phone.start()] if phone else text
    head = re.sub(
        r"^\s*(?:please\s+)?(?:add|create|save|new)\s+(?:a\s+)?(?:new\s+)?(?:contact|prospect|lead)?\s*(?:named|called|:)?\s*",
        "",
        head,
        flags=re.IGNORECASE,
    )
    args["name"] = _strip(re.split(r"\s+(?:at|from|with|phone|number|on)\s*$", head.strip())[0])
    tail = text[phone.end() :] if phone else ""
    company = re.search(
        r"(?:\bat|\bfrom|\bcompany:?|\bworks? (?:at|for))\s+([^,.;]+)", tail or text, re.IGNORECASE
    )
    if company:
        args["company"] = _strip(company.group(1))
    return args


def _consent_args(text: str) -> dict[str, Any]:
    lowered = text.lower()
    kind = next((k for cue, k in _CONSENT_TYPES if cue in lowered), "express")
    contact = re.search(r"\bfor\s+(.+?)" + _NAME_STOP, text, re.IGNORECASE)
    if contact is None:
        contact = re.match(
            r"^\s*(.+?)\s+(?:gave|has given|agreed|consented)\b", text, re.IGNORECASE
        )
    source = re.search(
        r"\b(?:from|via|on|through|at)\s+(?:the\s+|a\s+|our\s+)?([^,;?!]+?)\s*[.?!]*$",
        text,
        re.IGNORECASE,
    )
    return {
        "contact": _strip(contact.group(1)) if contact else "",
        "consent_type": kind,
        "source": _strip(source.group(1)) if source else "stated by the rep in chat",
    }


def _place_call_args(text: str) -> dict[str, Any]:
    phone = _PHONE.search(text)
    if phone:
        contact = phone.group(0).strip()
    else:
        match = re.search(
            r"\b(?:call|ring|phone|dial)\s+(?:to\s+)?(.+?)" + _NAME_STOP, text, re.IGNORECASE
        )
        contact = _strip(match.group(1)) if match else ""
    purpose = re.search(r"\b(?:about|regarding|re:?|to)\s+(.+?)\s*[.?!]*$", text, re.IGNORECASE)
    if phone and purpose and purpose.start() < phone.start():
        purpose = re.search(
            r"\b(?:about|regarding|re:?|to)\s+(.+?)\s*[.?!]*$", text[phone.end() :], re.IGNORECASE
        )
    return {
        "contact": contact,
        "purpose": _strip(purpose.group(1)) if purpose else "a quick introduction",
    }


def _call_ref(text: str) -> dict[str, Any]:
    found = _CALL_ID.search(text)
    if found and any(ch.isdigit() for ch in found.group(1)):
        return {"call": found.group(1)}
    phone = _PHONE.search(text)
    if phone:
        return {"call": phone.group(0).strip()}
    who = re.search(r"\b(?:with|to|for)\s+(.+?)" + _NAME_STOP, text, re.IGNORECASE)
    if who and _strip(who.group(1)).lower() not in ("me", "my", "it", "that", "this"):
        return {"call": _strip(who.group(1))}
    return {}


_SEARCH_LEAD = re.compile(
    r"^\s*(?:please\s+)?(?:search|find|look)\s+(?:through\s+|in\s+)?(?:my\s+|our\s+|the\s+)?"
    r"(?:calls?|transcripts?)\s*(?:for|about|where|that|mentioning|with)?\s*"
    r"|^\s*(?:who|which calls?)\s+(?:mentioned|said|talked about|asked about|brought up)\s+",
    re.IGNORECASE,
)


def _search_args(text: str) -> dict[str, Any]:
    query = _SEARCH_LEAD.sub("", text).strip(" ?!.\"'")
    return {"query": query or text.strip()}


_STATUSES = {
    "failed": "failed",
    "busy": "busy",
    "unanswered": "no answer",
    "no answer": "no answer",
    "missed": "no answer",
    "completed": "completed",
    "finished": "completed",
}


def _list_calls_args(text: str) -> dict[str, Any]:
    lowered = text.lower()
    args: dict[str, Any] = {}
    for cue, status in _STATUSES.items():
        if cue in lowered:
            args["status"] = status
            break
    ref = _call_ref(text).get("call")
    if ref:
        args["contact"] = ref
    return args


_METRIC_CUES = (
    ("connect rate", "connect_rate"),
    ("connection rate", "connect_rate"),
    ("talk time", "talk_time_s"),
    ("average duration", "avg_duration_s"),
    ("avg duration", "avg_duration_s"),
    ("how long", "avg_duration_s"),
    ("credits spent", "credits_spent"),
    ("spend", "credits_spent"),
    ("opt out", "opt_outs"),
    ("opt-out", "opt_outs"),
    ("outcome", "outcomes"),
    ("objection", "objections"),
    ("connected", "connected"),
    ("calls", "calls"),
)
_DIMENSION_CUES = (
    ("by rep", "rep"),
    ("per rep", "rep"),
    ("each rep", "rep"),
    ("by day", "day"),
    ("per day", "day"),
    ("daily", "day"),
    ("by week", "week"),
    ("per week", "week"),
    ("weekly", "week"),
    ("by month", "month"),
    ("per month", "month"),
    ("monthly", "month"),
    ("by outcome", "outcome"),
    ("by objection", "objection"),
    ("by hour", "hour_of_day"),
    ("hour of day", "hour_of_day"),
    ("time of day", "hour_of_day"),
    ("by company", "company"),
    ("per company", "company"),
)
_PERIODS = (
    "last 30 days",
    "last 7 days",
    "last 90 days",
    "this quarter",
    "last quarter",
    "this month",
    "last month",
    "this week",
    "last week",
    "this year",
    "yesterday",
    "today",
)


def _analytics_args(text: str) -> dict[str, Any]:
    lowered = text.lower()
    metrics: list[str] = []
    rest = lowered
    for cue, metric in _METRIC_CUES:
        if cue in rest:
            if metric not in metrics:
                metrics.append(metric)
            rest = rest.replace(cue, " ")
    dimension = next((d for cue, d in _DIMENSION_CUES if cue in lowered), None)
    if dimension == "outcome" and "outcomes" in metrics:
        metrics.remove("outcomes")
    if dimension == "objection" and "objections" in metrics:
        metrics.remove("objections")
    if not metrics:
        metrics = ["calls"]
    period = next((p for p in _PERIODS if p in lowered), "this month")
    args: dict[str, Any] = {"metrics": metrics, "period": period}
    if dimension:
        args["dimension"] = dimension
    return args


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
        },
        examples=("add a contact Jane Doe +1 415 555 0123 at Acme",),
        extract=_contact_args,
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
            "call": 0.55,
            "place a call": 1.0,
            "make a call": 1.0,
            "ring": 0.6,
            "dial": 0.8,
            "phone": 0.3,
            "about": 0.1,
        },
        examples=("call Jane Doe about the spring promotion",),
        extract=_place_call_args,
    ),
    Intent(
        name="call_status",
        tool="call_status",
        cues={
            "status": 0.9,
            "how is the call": 1.0,
            "is the call": 0.8,
            "still ringing": 1.0,
            "did they answer": 1.0,
            "did the call": 0.8,
            "last call": 0.3,
            "my last call": 0.5,
            "cost": 0.2,
        },
        examples=("what's the status of my last call",),
        extract=_call_ref,
    ),
    Intent(
        name="end_call",
        tool="end_call",
        cues={
            "hang up": 1.0,
            "end the call": 1.0,
            "end call": 1.0,
            "stop the call": 1.0,
            "cancel the call": 1.0,
            "end my call": 1.0,
        },
        examples=("hang up",),
        extract=_call_ref,
    ),
    Intent(
        name="list_calls",
        tool="list_calls",
        cues={
            "list my calls": 1.0,
            "my calls": 0.8,
            "recent calls": 1.0,
            "list calls": 1.0,
            "show calls": 0.9,
            "call history": 1.0,
            "calls with": 0.8,
            "which calls": 0.8,
            "failed calls": 1.0,
            "busy calls": 1.0,
            "missed calls": 1.0,
            "unanswered calls": 1.0,
            "completed calls": 1.0,
            "calls": 0.3,
            "search": -1.0,
        },
        examples=("list my calls", "show calls with Jane Doe", "show my failed calls"),
        extract=_list_calls_args,
    ),
    Intent(
        name="get_transcript",
        tool="get_transcript",
        cues={
            "transcript": 1.0,
            "what was said": 1.0,
            "what did they say": 1.0,
            "word for word": 0.9,
        },
        examples=("show the transcript of my last call",),
        extract=_call_ref,
    ),
    Intent(
        name="search_calls",
        tool="search_calls",
        cues={
            "search": 1.0,
            "find calls": 1.0,
            "who mentioned": 1.0,
            "who said": 1.0,
            "who talked about": 1.0,
            "which calls mentioned": 1.0,
            "mentioned": 0.6,
            "talked about": 0.6,
        },
        examples=("search my calls for pricing objections", "who mentioned a competitor"),
        extract=_search_args,
    ),
    Intent(
        name="summarize_call",
        tool="summarize_call",
        cues={
            "summary": 1.0,
            "summarize": 1.0,
            "summarise": 1.0,
            "how did the call go": 1.0,
            "how did my call": 1.0,
            "recap": 0.9,
        },
        examples=("summarize my last call",),
        extract=_call_ref,
    ),
    Intent(
        name="call_insights",
        tool="call_insights",
        cues={
            "insights": 1.0,
            "insight": 1.0,
            "next steps": 1.0,
            "sentiment": 1.0,
            "what objections": 1.0,
        },
        examples=("insights for my call with Jane",),
        extract=_call_ref,
    ),
    Intent(
        name="analytics",
        tool="analytics",
        cues={
            "connect rate": 1.0,
            "connection rate": 1.0,
            "analytics": 1.0,
            "talk time": 1.0,
            "how many calls": 1.0,
            "calls per": 1.0,
            "calls by": 1.0,
            "by rep": 0.7,
            "per rep": 0.7,
            "stats": 0.7,
            "statistics": 0.8,
            "report": 0.5,
            "chart": 0.7,
            "average duration": 0.9,
            "opt outs": 0.8,
            "objections": 0.6,
            "outcomes": 0.6,
            "credits spent": 0.9,
        },
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
