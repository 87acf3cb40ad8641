"""Chat profiles and their starters: what a rep and a manager are shown when a chat
opens, so they see at once what to ask.

A profile only chooses the starters and the welcome text; what a user may see and do
always comes from their role in the database, never from the profile they pick.
"""

from __future__ import annotations

from dataclasses import dataclass

REP = "Rep"
MANAGER = "Manager"


@dataclass(frozen=True)
class Starter:
    label: str
    message: str


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    starters: tuple[Starter, ...]


REP_PROFILE = Profile(
    REP,
    "Your contacts and calls: add a contact, record consent, place an AI call, then "
    "read its summary, transcript and insights.",
    (
        Starter("Add a contact", "Add Dana Whitfield at +1 415 555 0134, Acme Corp"),
        Starter("Call a contact", "Call Dana Whitfield about our spring pricing"),
        Starter("My recent calls", "List my calls from this week"),
        Starter("Summary of my last call", "Summarize my last call"),
        Starter("Search my calls", "Search my calls for pricing objections"),
        Starter("My credits", "How many credits do I have?"),
    ),
)

MANAGER_PROFILE = Profile(
    MANAGER,
    "Your team's calls: connect rates, outcomes and objections by rep, week or hour, "
    "with charts and CSV downloads; credits and packages.",
    (
        Starter("Connect rate by rep", "Connect rate by rep this month"),
        Starter("Credits spent per week", "Credits spent by week this month"),
        Starter("Top objections", "Calls by objection this month"),
        Starter("Search the team's calls", "Search calls for competitor mentions"),
        Starter("Buy credits", "What packages are there?"),
    ),
)


def profiles_for(role: str) -> list[Profile]:
    """Managers and admins get both profiles (manager first); reps get theirs only."""
    if role in ("manager", "admin"):
        return [MANAGER_PROFILE, REP_PROFILE]
    return [REP_PROFILE]
