"""The contact services behind the chat tools (issue 18): a CSV is checked without a
write, a deleted contact is kept with its calls, an edit never takes another contact's
number, and only a manager, with a reason, takes a number off the do-not-call list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from core.errors import PermissionDenied
from telephony import contacts, dnc, importing
from telephony.calls import list_calls
from telephony.models import Contact
from tests.accounts.helpers import make_member
from tests.insights.helpers import seed_call
from tests.telephony.helpers import add_contact, number_in


async def test_a_plan_writes_nothing_and_its_import_writes_the_ready_rows(db) -> None:
    rep = (await make_member(db, Role.REP)).actor
    data = f"name,phone\nAna,{number_in('415')}\nBen,not a number\n"
    async with db.session() as session:
        plan = await importing.plan_contacts_csv(session, rep, data)
        count = await session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.workspace_id == rep.workspace_id)
        )
        assert (plan.ready_count, len(plan.rejected), count) == (1, 1, 0)
        assert plan.columns == {"name": "name", "phone": "phone"}
        report = await importing.import_planned(session, rep, plan)
        await session.commit()
    assert [row.name for row in report.imported] == ["Ana"]
    assert [row.line for row in report.rejected] == [3]


async def test_a_deleted_contacts_calls_stay_listed(db) -> None:
    rep = (await make_member(db, Role.REP)).actor
    contact = await add_contact(db, rep, name="Kept Calls")
    await seed_call(db, contact, rep.user_id, at=datetime.now(UTC) - timedelta(hours=1))
    async with db.session() as session:
        await contacts.delete_contact(session, rep, contact.id, reason="left the company")
        await session.commit()
    async with db.session() as session:
        assert await contacts.search_contacts(session, rep) == []
        calls = await list_calls(session, rep)
    assert [c.name for _, c in calls] == ["Kept Calls"]


async def test_an_edit_never_takes_another_contacts_number(db) -> None:
    rep = (await make_member(db, Role.REP)).actor
    first = await add_contact(db, rep, name="First")
    second = await add_contact(db, rep, name="Second")
    async with db.session() as session:
        with pytest.raises(contacts.DuplicateContact):
            await contacts.edit_contact(
                session, rep, second.id, contacts.check_changes(phone=first.phone_e164)
            )


async def test_only_a_manager_with_a_reason_removes_a_dnc_entry(db) -> None:
    manager = (await make_member(db, Role.MANAGER)).actor
    rep = (await make_member(db, Role.REP, workspace_id=manager.workspace_id)).actor
    number = number_in("415")
    async with db.session() as session:
        await dnc.add_to_dnc(session, rep, number, reason="asked")
        await session.commit()
    async with db.session() as session:
        with pytest.raises(PermissionDenied):
            await dnc.remove_from_dnc(session, rep, number, reason="fine now")
        with pytest.raises(dnc.DncError, match="reason is required"):
            await dnc.remove_from_dnc(session, manager, number, reason="  ")
        await dnc.remove_from_dnc(session, manager, number, reason="called us back")
        await session.commit()
    async with db.session() as session:
        assert not await dnc.is_on_dnc(session, manager.workspace_id, number)
        with pytest.raises(dnc.DncError, match="not on this workspace"):
            await dnc.remove_from_dnc(session, manager, number, reason="again")
