"""Finding the rep (a member of the user's team) a user means: "me", a name or part of
it, or an email. A name that is a contact's and no rep's is pointed at the contact's
calls; several matches → the user is asked which one."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select

from accounts.models import User
from core.errors import KloseError
from core.markdown import md_escape
from telephony.access import visible_contacts
from telephony.models import Contact
from tools.context import AgentContext

_EVERYONE = frozenset({"all", "everyone", "team", "all reps"})
_ME = frozenset({"me", "my", "mine", "myself"})


class UnknownRep(KloseError, ValueError):
    """No rep, or more than one, matches the words given; nothing was run."""


async def rep_named(ctx: AgentContext, rep: str | None) -> uuid.UUID | None:
    """The id of the team member `rep` names in the user's workspace (the user for
    "me"), or None for no one or everyone; UnknownRep when none or several match."""
    if not rep or rep.strip().lower() in _EVERYONE:
        return None
    wanted = rep.strip().lower()
    if wanted in _ME:
        return ctx.actor.user_id
    async with ctx.db.session() as session:
        users = (
            await session.scalars(
                select(User).where(
                    User.workspace_id == ctx.actor.workspace_id,
                    or_(
                        func.lower(User.email) == wanted,
                        func.lower(User.name).contains(wanted, autoescape=True),
                    ),
                )
            )
        ).all()
        contact = None
        if not users:  # "Riley's calls" where Riley is a contact, not a rep
            contact = await session.scalar(
                select(Contact.name)
                .where(
                    visible_contacts(ctx.actor),
                    func.lower(Contact.name).contains(wanted, autoescape=True),
                )
                .order_by(Contact.name)
                .limit(1)
            )
    if not users:
        hint = (
            f" {md_escape(contact)} is one of your contacts: for calls with them, ask "
            f"“show calls with {md_escape(contact)}”."
            if contact
            else ""
        )
        raise UnknownRep(f"There is no rep matching '{md_escape(rep)}' in your workspace.{hint}")
    if len(users) > 1:
        names = "; ".join(f"{md_escape(u.name)} ({md_escape(u.email)})" for u in users)
        raise UnknownRep(f"Which rep do you mean: {names}?")
    return users[0].id
