"""Routing a message to an intent: what is read before classifying (the addressee of
an errand, notes, a pivot such as 'but'), what no tool does (a rule: refused before any
guess), the signals a message carries, and the learned classifier's choice among the
intents the caller may reach (`classifier`); below its confidence floor, or when 'none'
wins, nothing is guessed. The winner's extractor fills the arguments (`slots` makes
phone numbers and known names exact).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from chat_app.llm.offline_router.billing import catalog_packages, package_named
from chat_app.llm.offline_router.calls import CALL_NOUNS, POLITE, QUOTED
from chat_app.llm.offline_router.classifier import (
    NONE,
    QUESTION,
    Embed,
    IntentModel,
    shipped_model,
)
from chat_app.llm.offline_router.classifier import embed as classifier_embed
from chat_app.llm.offline_router.dates import period_named
from chat_app.llm.offline_router.entities import PHONE, spoken_digits
from chat_app.llm.offline_router.intents import INTENTS, Intent
from chat_app.llm.offline_router.slots import refine_args
from chat_app.llm.offline_router.typos import fix_typos

# Things no tool does: the model says it can't do them offline rather than guess.
_UNSUPPORTED = re.compile(
    r"^ " + POLITE + r"(?:(?:write|draft|compose|generate)(?! (?:me |up )?(?:a |an |the )?"
    r"(?:(?:short|quick|brief|one line|two line) )?(?:recap|summary|rundown|tl ?dr)\b)"
    r"|rewrite|translate|schedule|merge|dedupe|deduplicate|combine"
    r"|book|invite|reset|email|e mail|text|sms|message|tweet)\b"
    # Deleting, exporting or importing contacts (and the do-not-call list) are tools now.
    r"|^ " + POLITE + r"(?:delete|remove|erase|wipe|purge|scrub|export|import|upload)\b"
    r"(?!(?: [\w']+){0,6}? (?:contacts?|leads?|prospects?|csv|file|spreadsheet|list|dnc"
    r"|do not call|consent|this|these|them|cont[a-z]{2,5}s?|webhooks?|receivers?|endpoints?"
    r"|https?)\b"
    # 'delete ingrid solberg', 'remove dmitri volkov pls': a name is a contact to delete.
    r"|(?! (?:the|my|our|this|that|all|every|a|an|it|everything|everyone|account|recording"
    r"|recordings|call|calls|transcripts?|history|data|workspace|team|user|rep|campaign)\b)"
    r"(?: [a-z][a-z'-]+){1,3}(?: pls| please| plz)?(?: (?:hes|shes|he's|she's|theyre|they're"
    r"|he|she|they|because|since|as|wrong|duplicate|dupe|not|no longer)\b.*)? $)"
    r"|\bcreate (?:an? )?(?:invoice|proposal|document|presentation|slide|report|email)s?\b"
    r"|\bpassword\b|\bdelete my (?!contact|lead|prospect)"
    r"|\b(?:summari[sz]e|translate|read|proofread|review) (?:this|that|the|my|a|an) "
    r"(?:pdf|document|doc|article|attachment|file|email|web ?page|link|contract)\b"
    r"|\b(?:change|update|edit) (?:my|the|our) (?:role|e ?mail|name|password|permissions?|company"
    r"|workspace name|logo)\b"
    r"|\b(?:change|update) the e ?mail\b|\be ?mail (?:address )?on my account to\b"
    r"|\b(?:add|invite) (?:my |a |our )?(?:colleague|teammate|coworker|co worker|new rep|user"
    r"|member)"
    r"|\bto (?:the|my|our) (?:workspace|team) as (?:an? )?(?:rep|manager|admin)\b"
    r"|\b(?:change|update|edit|fix|correct) [\w' ]*'s (?:e ?mail|title)\b"
    r"|\b(?:request|issue|process|get|give|want|need) (?:me |us )?(?:a |an )?(?:full |partial )?"
    r"refund\b|\brefund (?:me|us|the|my|our|this|that)\b"
    r"|\b(?:connect|sync|integrate|link|hook up) (?:my |our |with |to |it to |up )?(?:gmail"
    r"|outlook|salesforce|hubspot|slack|calendar|google calendar|crm|pipedrive|zoho|teams)\b"
    r"|^ (?:please )?(?:sync|push|export|upload|log) .* (?:to|into|with) (?:my |our |the )?"
    r"(?:salesforce|hubspot|crm|pipedrive|zoho|gmail|outlook|slack|google sheets)\b"
    r"|\bsend (?:[\w']+ ){0,3}?(?:a |an |the )?(?:text|email|e mail|sms|message|note|pdf|file"
    r"|document|brochure|contract)\b"
    r"|\b(?:add|invite|make) (?!(?:me|i|myself)\b)(?:[\w']+ ){1,3}?as (?:an? )?(?:new )?(?:rep"
    r"|manager|admin|owner|user|member)\b"
    r"|\b(?:switch|move|convert|change) (?:us|me|our (?:plan|account|billing|workspace)) to\b"
    # Prospecting and closing the account: 'find me new leads in texas', 'cancel my account'.
    r"|\b(?:find|get|generate|source|buy|scrape|give)\s+(?:me\s+|us\s+)?(?:some\s+|a\s+few\s+)?"
    r"(?:new|more|fresh|extra)\s+(?:leads|prospects|customers|contacts|numbers)\b"
    r"|\bneed (?:some |more |new )+(?:leads|prospects|customers)\b"
    r"|\b(?:cancel|close|delete|deactivate|terminate|shut down) (?:my|our|the) (?:account|workspace"
    r"|subscription)\b"
    # Recording every call is not a setting: 'turn off the call recording'.
    r"|\b(?:turn off|switch off|disable|stop|pause|don't|do not) (?:the |all |my |our )*(?:call )?"
    r"(?:recording|recordings|record(?:ing)? (?:the |my |our )?calls)\b"
    # Reminders and to-dos: 'remind me to buy milk', 'set a reminder for 3pm'.
    r"|^ " + POLITE + r"(?:remind me to|set (?:a|an|me a) (?:reminder|alarm|timer)"
    r"|add (?:this |it )?to my (?:to ?do|todo) list)\b"
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
    r"(?!(?:" + CALL_NOUNS + r"|outcomes)\b)",
    re.IGNORECASE,
)


def _signals(text: str, padded: str, today: date) -> frozenset[str]:
    found = set()
    if PHONE.search(text):
        found.add("phone")
    if package_named(text):
        found.add("package")
    if len(catalog_packages(text)) > 1:
        found.add("packages")  # 'starter vs growth': a comparison
    if period_named(text, today):
        found.add("period")
    if _ONE_CALL.search(padded):
        found.add("one_call")
    if QUOTED.search(text):
        found.add("quoted")
    if _SENTENCE_ORDER_TO_CALL.search(text):
        found.add("order_to_call")
    return frozenset(found)


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
CHANGES = frozenset(
    {
        "add_contact",
        "record_consent",
        "buy_credits",
        "place_call",
        "end_call",
        "change_mobile",
        "edit_contact",
        "delete_contact",
        "add_dnc",
        "remove_dnc",
        "revoke_consent",
        "set_time_zone",
    }
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


@dataclass(frozen=True)
class _Read:
    text: str  # the message without an addressee
    scored: str  # the part that says what to do
    whole: str  # `text`, normalised and padded
    padded: str  # `scored`, normalised and padded


def _read(text: str) -> _Read:
    text = _ADDRESSEE.sub("", text)  # 'for Tom: please add …' is Tom's errand, not Tom
    notes = _NOTES_LABELLED.search(text)
    scored = text[: notes.start()] if notes and notes.start() > 0 else text
    # '… his transcript was rough but call Raúl again': the ask is after the pivot.
    pivots = list(_PIVOT.finditer(scored))
    if pivots and len(scored[pivots[-1].end() :].split()) >= 3:
        scored = scored[pivots[-1].end() :]
    whole = f" {_normalise(text)} "
    padded = whole if scored is text else f" {_normalise(scored)} "
    return _Read(text, scored, whole, padded)


def _unsupported(read: _Read) -> bool:
    # What no tool does is refused whether it is the whole message or its last clause.
    return bool(
        _UNSUPPORTED.search(read.whole)
        or (read.padded is not read.whole and _UNSUPPORTED.search(read.padded))
    )


def unsupported(text: str) -> bool:
    """Whether `text` asks for something no tool does (not possible, rather than not
    understood: the offline model says which, chat_app.llm.offline_router.refusals)."""
    return _unsupported(_read(text))


def read_message(text: str, today: date) -> tuple[str, str, frozenset[str]]:
    """What the classifier reads of `text`: the part that says what to do (raw and
    normalised) and the signals it carries, a question among them."""
    read = _read(text)
    found = set(_signals(read.scored, read.padded, today))
    if _QUESTION.match(read.padded) is not None:
        found.add(QUESTION)
    return read.scored, read.padded, frozenset(found)


@functools.cache
def _intents_by_name() -> dict[str, Intent]:
    return {intent.name: intent for intent in INTENTS}


_NONE_INTENT = Intent(name=NONE, tool=None, cues={})


def _intent(name: str) -> Intent:
    # A tool learned from its training file before anyone wrote its `Intent`.
    return _intents_by_name().get(name) or Intent(name=name, tool=name, cues={})


def classify(
    text: str,
    available_tools: frozenset[str],
    *,
    today: date,
    changing: frozenset[str] = CHANGES,
    model: IntentModel | None = None,
    embed: Embed | None = None,
) -> tuple[Intent, float] | None:
    """The most probable intent for `text` among those it may reach, and its
    probability; None when nothing clears the model's floor or 'none' (what no tool
    does) wins. A question never reaches a tool in `changing`."""
    chosen = model or shipped_model()
    scored, padded, found = read_message(text, today)
    if not padded.strip():
        return None
    best: tuple[Intent, float] | None = None
    if chosen.lexical_weights is not None:
        # Words alone settle most messages: the sentence model is loaded only if not.
        best = _best(chosen.probabilities(padded, found, None), available_tools, found, changing)
        if best is not None and (best[1] < chosen.lexical_sure or best[0] is _NONE_INTENT):
            best = None  # not sure, or 'none': the sentence model may know the request
    if best is None:
        shares = chosen.probabilities(padded, found, (embed or classifier_embed)(scored))
        best = _best(shares, available_tools, found, changing)
    if best is None or best[0] is _NONE_INTENT or best[1] < chosen.floor:
        return None
    return best


UNSAFE_PREFIX = "unsafe_"  # the learned classes of what is not allowed (training/unsafe.jsonl)
# Together they must be at least this sure to refuse on their own: an ordinary request
# that merely sounds like one ('call him again') is never refused on a guess.
UNSAFE_SURE = 0.6


def _sure_unsafe(shares: dict[str, float]) -> dict[str, float]:
    """`shares`, less the not-allowed classes unless together they are `UNSAFE_SURE` (the
    rest then renormalised: each intent's probability given that the request is allowed)."""
    unsafe = sum(share for name, share in shares.items() if name.startswith(UNSAFE_PREFIX))
    if unsafe >= UNSAFE_SURE or unsafe >= 1.0:
        return shares
    return {
        name: share / (1.0 - unsafe)
        for name, share in shares.items()
        if not name.startswith(UNSAFE_PREFIX)
    }


# Tools that write only when asked to change something and otherwise show: a question
# may reach them ('what are my callback settings?', 'what webhooks do we have?'), but
# only to show — with a change read out of a question, nothing is guessed.
_SHOWS_UNLESS_CHANGED: dict[str, Any] = {
    "callback_settings": lambda a: not a.get("callback_mode") and not a.get("handoff_on_goal"),
    "manage_webhooks": lambda a: a.get("action", "list") in ("list", "log"),
}


def _best(
    shares: dict[str, float],
    available_tools: frozenset[str],
    found: frozenset[str],
    changing: frozenset[str],
) -> tuple[Intent, float] | None:
    """The most probable intent the message may reach ('none' included)."""
    best: tuple[Intent, float] | None = None
    for name, share in _sure_unsafe(shares).items():
        intent = _intent(name) if name != NONE else _NONE_INTENT
        if intent.tool is not None:
            if intent.tool not in available_tools:
                continue
            if (
                QUESTION in found
                and intent.tool in changing
                and intent.tool not in _SHOWS_UNLESS_CHANGED
            ):
                continue  # a question never adds, records, buys, dials or hangs up
        if best is None or share > best[1]:
            best = (intent, share)
    return best


def route(
    text: str,
    available_tools: frozenset[str],
    *,
    today: date | None = None,
    region: str = "US",
    changing: frozenset[str] = CHANGES,
    contacts: Sequence[str] = (),
    model: IntentModel | None = None,
    embed: Embed | None = None,
) -> Route | None:
    """The best intent for `text` among those whose tool is available, or None (for
    what offline mode can't do, or did not understand). `today` dates periods such as
    'since March 1'; phone numbers without a country code are read in `region` (the
    user's own country); a contact or rep named with a typo is matched against
    `contacts` (names the caller knows). A tool in `changing` is never chosen for a
    question. `model`/`embed` replace the shipped weights and MiniLM (training)."""
    if text.isupper():
        text = text.lower()  # 'ADD CONTACT DIEGO RAMOS …': caps lock names no one
    text = spoken_digits(text)  # dictated: 'four one five five five five zero one …'
    text = fix_typos(text)  # 'trnascript for hana': the command word meant
    read = _read(text)
    if not read.padded.strip() or _unsupported(read):
        return None
    day = today or datetime.now(UTC).date()
    found = classify(text, available_tools, today=day, changing=changing, model=model, embed=embed)
    if found is None:
        return None
    intent, share = found
    args = intent.extract(read.text, day) if intent.extract is not None else {}
    shows = _SHOWS_UNLESS_CHANGED.get(intent.tool or "")
    if shows is not None and not shows(args) and QUESTION in read_message(text, day)[2]:
        return None  # a question that would change settings: not understood, not guessed
    return Route(intent=intent, score=share, args=refine_args(args, region, contacts))
