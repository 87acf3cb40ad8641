"""Maps a user's message to one of the assistant's tools without a language model.

A message is scored against each intent by weighted cues: phrases of its normalised
text, regular expressions over that text, and signals read from the message (a phone
number, a named credit package, a period, a reference to one call, an order to place a
call …). The highest sum wins. Below `THRESHOLD` nothing is guessed, and neither is
anything no tool does (writing an email, deleting, scheduling …): the model then says
why — not possible, or not understood — and what it can do instead (`refusals`, which
also refuses what is not allowed before any routing). The winner's extractor pulls
the tool's arguments out of the message: contact names, phone numbers, call ids,
periods, package names, countries and postal codes.

Modules: `entities` (names, numbers), `dates` (periods and days), `billing`, `contacts`,
`calls` and `analytics` (each tool's arguments), `intents` (what can be asked and how it
scores), `route` (scoring a message), `refusals` (what is refused, and in which words).
"""

from __future__ import annotations

from chat_app.llm.offline_router.intents import INTENTS, NO_TRANSFER_REPLY, THRESHOLD, Intent
from chat_app.llm.offline_router.route import Route, route

__all__ = ["INTENTS", "NO_TRANSFER_REPLY", "THRESHOLD", "Intent", "Route", "route"]
