"""A contact named with a typo is found (issue 17, item 3: fuzzy matching of names
against the user's contacts), with either model: the tools resolve the name, so
"summarize my call with Jordon Lee" or "call jordn about …" reach Jordan Lee. Only the
contacts the user may see are compared; a name like no one's is still not found; two
equally close names are asked about, never guessed. Real PostgreSQL, no mocks."""

from __future__ import annotations

import pytest

from accounts.models import Role
from core.errors import NotFound
from tests.accounts.helpers import make_member
from tests.telephony.helpers import add_contact
from tools.call_refs import AmbiguousReference
from tools.contact_refs import resolve_contact


async def test_a_misspelt_name_is_matched_to_the_closest_visible_contact(db) -> None:
    rep = await make_member(db, Role.REP)
    other = await make_member(db, Role.REP, workspace_id=rep.actor.workspace_id)
    jordan = await add_contact(db, rep.actor, name="Jordan Lee")
    await add_contact(db, rep.actor, name="Priya Raman")
    await add_contact(db, other.actor, name="Marcus Bell")  # another rep's: not visible
    async with db.session() as session:
        for typed in ("Jordon Lee", "jordan lea", "Jordn", "JORDAN LE"):
            found = await resolve_contact(session, rep.actor, typed)
            assert found.id == jordan.id, typed
        with pytest.raises(NotFound):
            await resolve_contact(session, rep.actor, "Xavier Quint")
        with pytest.raises(NotFound):
            await resolve_contact(session, rep.actor, "Marcus Bel")  # not theirs to see


async def test_two_equally_close_names_are_asked_about(db) -> None:
    rep = await make_member(db, Role.REP)
    await add_contact(db, rep.actor, name="Dana Lee")
    await add_contact(db, rep.actor, name="Dana Lea")
    async with db.session() as session:
        with pytest.raises(AmbiguousReference):
            await resolve_contact(session, rep.actor, "Dana Leo")
