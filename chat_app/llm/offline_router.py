"""Maps a user's message to one of the assistant's tools without a language model.

Each intent has weighted cue words and phrases; a message's score for an intent is
the sum of the weights it matches (capped at 1). Below `THRESHOLD` nothing is
guessed: the model says what it can do instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

THRESHOLD = 0.5


@dataclass(frozen=True)
class Intent:
    name: str
    tool: str | None  # None: answered without a tool (greetings, help)
    cues: dict[str, float]
    examples: tuple[str, ...] = field(default=())


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
    return best
