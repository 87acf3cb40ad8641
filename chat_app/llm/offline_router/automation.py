"""Arguments for the follow-up and integration tools (issue 20):

- `callback_settings_args`: "call booked callbacks back automatically" →
  {"callback_mode": "call"}; "just remind me of callbacks" → {"callback_mode":
  "remind"}; "offer the hand-off when the goal is reached" → {"handoff_on_goal":
  "yes"}; a question about the settings → {} (the tool shows them);
- `webhook_args`: "send call events to https://hooks.example.com/x" → {"action":
  "add", "url": …, "events": […]}; "remove the webhook https://…" → {"action":
  "remove", "receiver": …}; "webhook delivery log" → {"action": "log"}; else
  {"action": "list"}.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"']+|\b[a-z0-9.-]+\.[a-z]{2,}/[^\s<>\"']*", re.I)
_RECEIVER_ID = re.compile(r"\b([0-9a-f]{8})\b")
_REMOVE = re.compile(r"\b(?:remove|delete|stop|drop|disable|turn off|unsubscribe|get rid of)\b")
_LOG = re.compile(
    r"\b(?:log|logs|deliveries|delivery|delivered|failed|failing|retries|retry|status)\b"
)
_EVENTS = {
    "call.completed": re.compile(
        r"\b(?:call\.completed|completed calls?|calls? (?:end|ended|complete|completed|finish)"
        r"|call events?|end of (?:each |every )?call)\b"
    ),
    "call.insights_ready": re.compile(r"\b(?:insights?|summar(?:y|ies))\b"),
    "campaign.finished": re.compile(r"\bcampaigns?\b"),
    "contact.opted_out": re.compile(
        r"\b(?:opt[- ]?outs?|opted[- ]out|do[- ]not[- ]call|unsubscribes?)\b"
    ),
}
_ALL_EVENTS = re.compile(r"\b(?:all|every|everything|any) (?:the )?(?:events?|kinds?)\b")

_CALL = re.compile(
    r"\b(?:automatic(?:ally)?|auto[- ]?(?:call|dial)|auto(?:matic)?[- ]?callbacks?"
    r"|call (?:them |prospects |people )?back"
    r"|dial (?:them )?back|places? (?:the )?(?:call|calls)"
    r"|(?:mode|setting|callbacks?) to (?:auto(?:matic)? )?calls?|schedule(?:d)? (?:a )?calls?"
    r"|the (?:ai|agent|bot) (?:should |to )?call|ai calls?|calls? at the (?:booked )?time)\b"
)
_REMIND = re.compile(r"\b(?:remind(?:er|ers)?|notify me|ping me|tell me|let me (?:know|call))\b")
_GOAL = re.compile(
    r"\b(?:goal|hand[- ]?off|handoff|transfer|connect|(?:put|patch) (?:them|prospects|people"
    r"|the prospect|callers) through|hand (?:them|prospects|people|the prospect|callers|it)"
    r" (?:over|off|to me)|warm)\b"
)
_GOAL_OFF = re.compile(
    r"\b(?:don'?t|do not|never|stop|no longer|only\b.*\bwhen (?:they )?ask|turn off|disable"
    r"|switch off)\b|(?::|\bto|\bis)\s*(?:off|no|false|disabled)\s*[.!]*$"
)


def callback_settings_args(text: str, today: date) -> dict[str, Any]:
    words = " ".join(text.lower().replace("’", "'").split())
    args: dict[str, Any] = {}
    remind = _REMIND.search(words)
    call = _CALL.search(words)
    if remind:  # "don't auto-dial, just remind me" / "remind me instead of calling"
        args["callback_mode"] = "remind"
    elif call:
        args["callback_mode"] = "call"
    if _GOAL.search(words) and (
        "goal" in words
        or "hand" in words
        or "transfer" in words
        or "connect" in words
        or "through" in words
    ):
        args["handoff_on_goal"] = "no" if _GOAL_OFF.search(words) else "yes"
    changing = re.search(r"\b(?:change|switch|set|make|turn)\b", words) and not re.match(
        r"(?:are|is|were|was)\b(?:(?!\b(?:change|switch|make|turn)\b).)*$", words
    )  # 'are callbacks set to remind me …?' asks how they are set
    if re.search(r"^(?:what|which|how|show|are|is|do|does)\b|\?$", words) and not changing:
        return {}
    return args


def webhook_args(text: str, today: date) -> dict[str, Any]:
    words = " ".join(text.replace("’", "'").split())
    lowered = words.lower()
    url_match = _URL.search(words)
    url = url_match.group(0).rstrip(".,;)") if url_match else None
    if _REMOVE.search(lowered):
        receiver = url
        if receiver is None:
            found = _RECEIVER_ID.search(lowered)
            receiver = found.group(1) if found else None
        return {"action": "remove", "receiver": receiver} if receiver else {"action": "list"}
    if url is not None:
        events = (
            []
            if _ALL_EVENTS.search(lowered)
            else [name for name, pattern in _EVENTS.items() if pattern.search(lowered)]
        )
        args: dict[str, Any] = {"action": "add", "url": url}
        if events:
            args["events"] = events
        return args
    if _LOG.search(lowered):
        return {"action": "log"}
    return {"action": "list"}
