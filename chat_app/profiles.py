"""Chat profiles and their starters: what a rep and a manager are shown when a chat
opens, so they see at once what to ask.

A starter never acts. Pressing one sends its `message` — a "how do I …?" question, so
it never collides with a real request typed by the user — and the assistant answers
with the starter's `question` back: what it needs to know, with examples that work as
typed, without running the agent, so nothing is created, dialled or charged
(chat_app.turns). Only starters for free answers (the balance, the packages) have no
question and are answered as typed. Nothing is written
until the user gives real details and confirms.

A profile only chooses the starters and the welcome text; what a user may see and do
always comes from their role in the database, never from the profile they pick.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User
from telephony.models import Contact

REP = "Rep"
MANAGER = "Manager"
GETTING_STARTED = "Getting started"


@dataclass(frozen=True)
class Starter:
    label: str
    message: str
    # The assistant's question back (None: the message is answered, free, as typed).
    question: str | None = None
    # Requests the question suggests, each understood as typed (tests check them).
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    starters: tuple[Starter, ...]


ANSWER_PRICE = "Doing it costs 0.5 credit; this reply was free."

ADD_CONTACT = Starter(
    "Add a contact",
    "How do I add a contact?",
    "Who should I add? Send their name and phone number, and their company if you "
    "like — for example: “add a contact Jane Doe +1 415 555 0123 at Acme”. I'll show "
    "you the details to confirm before anything is saved.",
    ("add a contact Jane Doe +1 415 555 0123 at Acme",),
)
CALL_CONTACT = Starter(
    "Call a contact",
    "How do I call a contact?",
    "Who should I call, and what about? For example: “call Jane Doe about the spring "
    "pricing”. They must be one of your contacts with their consent on record. Before "
    "dialling I check consent, the do-not-call lists and their local calling hours, "
    "show you the cost ceiling (calls cost 1 credit per second) and ask you to confirm.",
    ("call Jane Doe about the spring pricing",),
)
RECENT_CALLS = Starter(
    "My recent calls",
    "How do I see my recent calls?",
    "Just ask, for example: “list my calls”, “show my failed calls” or “show calls "
    "with Jane Doe”. " + ANSWER_PRICE,
    ("list my calls", "show my failed calls", "show calls with Jane Doe"),
)
LAST_CALL_SUMMARY = Starter(
    "Summary of my last call",
    "How do I get a call summary?",
    "Which call? Say “summarize my last call”, or name the contact: “summarize my call "
    "with Jane Doe”. Summaries are AI-generated and may be inaccurate. " + ANSWER_PRICE,
    ("summarize my last call", "summarize my call with Jane Doe"),
)
SEARCH_MY_CALLS = Starter(
    "Search my calls",
    "How do I search my calls?",
    "Tell me what to look for, for example: “search my calls for pricing objections” or "
    "“who mentioned a competitor?”. " + ANSWER_PRICE,
    ("search my calls for pricing objections", "who mentioned a competitor?"),
)
MY_CREDITS = Starter("My credits", "How many credits do I have?")
BUY_CREDITS = Starter("Buy credits", "What packages are there?")

REP_PROFILE = Profile(
    REP,
    "Your contacts and calls: add a contact, record consent, place an AI call, then "
    "read its summary, transcript and insights.",
    (ADD_CONTACT, CALL_CONTACT, RECENT_CALLS, LAST_CALL_SUMMARY, SEARCH_MY_CALLS, MY_CREDITS),
)

MANAGER_PROFILE = Profile(
    MANAGER,
    "Your team's calls: connect rates, outcomes and objections by rep, week or hour, "
    "with charts and CSV downloads; credits and packages.",
    (
        Starter(
            "Connect rate by rep",
            "How do I see the connect rate by rep?",
            "Name the period, for example: “connect rate by rep this month” or “connect "
            "rate by rep last week”. It comes with a chart and a CSV. " + ANSWER_PRICE,
            ("connect rate by rep this month", "connect rate by rep last week"),
        ),
        Starter(
            "Credits spent per week",
            "How do I see the credits spent per week?",
            "Name the period, for example: “credits spent by week this month” or "
            "“credits spent by week last month”. " + ANSWER_PRICE,
            ("credits spent by week this month", "credits spent by week last month"),
        ),
        Starter(
            "Top objections",
            "How do I see the top objections?",
            "Name the period, for example: “calls by objection this month” or “calls by "
            "objection last month”. " + ANSWER_PRICE,
            ("calls by objection this month", "calls by objection last month"),
        ),
        Starter(
            "Search the team's calls",
            "How do I search the team's calls?",
            "Tell me what to look for, for example: “search calls for competitor mentions” "
            "or “who mentioned a discount?”. " + ANSWER_PRICE,
            ("search calls for competitor mentions", "who mentioned a discount?"),
        ),
        BUY_CREDITS,
    ),
)

FIRST_CONTACT = Starter(
    "Add your first contact",
    "How do I add my first contact?",
    "Send their name and phone number, and their company if you like — for example: "
    "“add a contact Jane Doe +1 415 555 0123 at Acme”. I'll show you the details to "
    "confirm before anything is saved. To call them later I also need their consent on "
    "record (how and when they agreed), in your own words.",
    ("add a contact Jane Doe +1 415 555 0123 at Acme",),
)
IMPORT_CSV = Starter(
    "Import contacts from a CSV",
    "How do I import contacts from a CSV?",
    "Attach your CSV with the paperclip below the message box and send it with "
    "“import these contacts”. It needs a header row with a name and a phone column; "
    "company, notes and consent columns are optional. I'll show the columns I matched, "
    "how many rows will be imported and each row I'd skip with the reason, and import "
    "nothing until you confirm. " + ANSWER_PRICE,
    ("import these contacts",),
)

# A workspace of one (its owner, who signed up alone) with no contacts yet: what there
# is to do first. Nothing here needs a team or past calls.
GETTING_STARTED_PROFILE = Profile(
    GETTING_STARTED,
    "A new workspace: add your first contact or import a CSV of them, and buy credits "
    "to place AI calls (1 credit per second).",
    (FIRST_CONTACT, IMPORT_CSV, BUY_CREDITS, MY_CREDITS, CALL_CONTACT),
)

ALL_STARTERS = (
    *MANAGER_PROFILE.starters,
    *REP_PROFILE.starters,
    FIRST_CONTACT,
    IMPORT_CSV,
)


def _key(text: str) -> str:
    return " ".join(text.lower().replace("?", " ").replace(".", " ").split())


_QUESTIONS = {_key(s.message): s.question for s in ALL_STARTERS if s.question is not None}


def starter_reply(text: str) -> str | None:
    """The question a starter's message is answered with (also when typed as is), or
    None for any other message."""
    return _QUESTIONS.get(_key(text))


def profiles_for(role: str, *, solo: bool = False, empty: bool = False) -> list[Profile]:
    """The profiles offered, the default first. Managers and admins get both team
    profiles (manager first); reps get theirs only. `solo`: the user is their
    workspace's only member (who signed up alone) — they are their own rep, so Rep comes
    before Manager; `empty` (no contacts yet) puts Getting started first for anyone."""
    if role in ("manager", "admin"):
        offered = [REP_PROFILE, MANAGER_PROFILE] if solo else [MANAGER_PROFILE, REP_PROFILE]
    else:
        offered = [REP_PROFILE]
    return [GETTING_STARTED_PROFILE, *offered] if empty else offered


@dataclass(frozen=True)
class Workspace:
    """What decides the profiles offered: how many members, whether it has contacts."""

    members: int
    contacts: int

    @property
    def solo(self) -> bool:
        return self.members <= 1

    @property
    def empty(self) -> bool:
        return self.contacts == 0


async def workspace_of(session: AsyncSession, workspace_id: uuid.UUID) -> Workspace:
    """The member and (undeleted) contact counts of a workspace."""
    members = await session.scalar(
        select(func.count()).select_from(User).where(User.workspace_id == workspace_id)
    )
    contacts = await session.scalar(
        select(func.count())
        .select_from(Contact)
        .where(Contact.workspace_id == workspace_id, Contact.deleted_at.is_(None))
    )
    return Workspace(int(members or 0), int(contacts or 0))
