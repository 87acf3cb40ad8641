"""Maps a user's message to one of the assistant's tools without a language model.

A learned classifier (`classifier`: logistic regression over the message's words,
character n-grams, signals and MiniLM sentence embedding, trained by
scripts/train_intents.py from the labelled phrasings in `training/`) picks the intent;
below its confidence floor, or when 'none' wins, nothing is guessed. Rules stay where
they are rules by nature: what is not allowed is refused before any routing
(`refusals`), what no tool does is refused as not possible (`route`), and a question
never reaches a tool that writes. The winner's extractor pulls the tool's arguments out
of the message (contact names, phone numbers, call ids, periods, package names,
countries and postal codes), and `slots` makes them exact: numbers in the user's
region, misspelt names matched to the people the caller knows.

Modules: `entities` (names, numbers), `dates` (periods and days), `billing`, `contacts`,
`calls` and `analytics` (each tool's arguments), `intents` (what can be asked: each
intent's tool, examples and extractor; its cues are no longer scored), `classifier`
(the learned model), `route` (reading a message and choosing), `slots`, `refusals`
(what is refused, and in which words).
"""

from __future__ import annotations

from chat_app.llm.offline_router.intents import INTENTS, NO_TRANSFER_REPLY, THRESHOLD, Intent
from chat_app.llm.offline_router.route import Route, route

__all__ = ["INTENTS", "NO_TRANSFER_REPLY", "THRESHOLD", "Intent", "Route", "route"]
