"""Contacts and consent: numbers normalised or refused clearly, one contact per number
per workspace, reps see their own contacts and managers the workspace's, consent
records are evidence (only a revocation may be added)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from accounts.models import AuditEvent, Role
from core.errors import NotFound, PermissionDenied
from telephony import consent, contacts
from telephony.consent import ConsentError
from telephony.contacts import ContactError, DuplicateContact
from telephony.models import ConsentType, Contact
from tests.accounts.helpers import make_member

from .helpers import CONSENT_AT, WORDING, add_contact, number_in


async def test_a_contact_gets_its_number_normalised_and_its_time_zones(db):
    rep = await make_member(db, Role.REP)
    async with db.session() as session:
        contact = await contacts.add_contact(
            session,
            rep.actor,
            name="  Dana   Lee ",
            phone="(907) 555-1234",
            company=" Acme ",
            notes="Renewal due in March.",
        )
        await session.commit()
    assert (contact.name, contact.company, contact.phone_e164) == (
        "Dana Lee",
        "Acme",
        "+19075551234",
    )
    assert contact.time_zones == ["America/Adak", "America/Anchorage"]
    assert (contact.owner_id, contact.workspace_id, contact.country) == (
        rep.actor.user_id,
        rep.actor.workspace_id,
        "US",
    )


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("", "A phone number is required."),
        ("call me maybe", "is not a phone number: use the international format"),
        ("+1 555 555 5555", "is not a valid phone number: check the country code"),
        ("12345", "is not a valid phone number"),
        ("+44 20 7946 000", "is not a valid phone number"),
        ("+1 415 555 2671 ext. 12", "calls cannot dial extensions"),
        ("+1 900 555 1234", "is a premium-rate number, which is never called"),
        ("+1 " + "4" * 40, "is too long to be a phone number"),
    ],
)
async def test_invalid_numbers_are_refused_with_a_clear_message(db, phone, message):
    rep = await make_member(db, Role.REP)
    async with db.session() as session:
        with pytest.raises(ContactError, match=message.replace(".", r"\.")):
            await contacts.add_contact(session, rep.actor, name="Dana", phone=phone)
        await session.commit()
        assert await contacts.list_contacts(session, rep.actor) == []


async def test_a_name_is_required(db):
    rep = await make_member(db, Role.REP)
    async with db.session() as session:
        with pytest.raises(ContactError, match=r"A contact needs a name\."):
            await contacts.add_contact(session, rep.actor, name="  ", phone=number_in("415"))


async def test_one_contact_per_number_per_workspace(db):
    rep_a = await make_member(db, Role.REP)
    rep_b = await make_member(db, Role.REP, workspace_id=rep_a.actor.workspace_id)
    number = number_in("415")
    await add_contact(db, rep_a.actor, phone=number, name="Dana Lee")
    async with db.session() as session:
        with pytest.raises(DuplicateContact, match="is already a contact: Dana Lee"):
            await contacts.add_contact(session, rep_a.actor, name="Dana", phone=number)
        # Another rep learns only that someone in the workspace has it.
        with pytest.raises(DuplicateContact, match="already a contact of another rep"):
            await contacts.add_contact(session, rep_b.actor, name="Dana", phone=number)
    other_ws = await make_member(db, Role.REP)
    assert (await add_contact(db, other_ws.actor, phone=number)).phone_e164 == number


async def test_reps_see_only_their_own_contacts_managers_see_the_workspace(db):
    rep_a = await make_member(db, Role.REP)
    ws = rep_a.actor.workspace_id
    rep_b = await make_member(db, Role.REP, workspace_id=ws)
    manager = await make_member(db, Role.MANAGER, workspace_id=ws)
    other_manager = await make_member(db, Role.MANAGER)
    dana = await add_contact(db, rep_a.actor, name="Dana Lee", phone="+14155550142")
    sam = await add_contact(db, rep_b.actor, name="Sam Diaz")
    async with db.session() as session:
        assert [c.id for c in await contacts.list_contacts(session, rep_a.actor)] == [dana.id]
        assert [c.id for c in await contacts.list_contacts(session, rep_b.actor)] == [sam.id]
        assert {c.id for c in await contacts.list_contacts(session, manager.actor)} == {
            dana.id,
            sam.id,
        }
        assert await contacts.list_contacts(session, other_manager.actor) == []
        for actor in (rep_b.actor, other_manager.actor):
            with pytest.raises(NotFound, match=r"No such contact\."):
                await contacts.get_contact(session, actor, dana.id)
            assert await contacts.find_contacts(session, actor, "dana") == []
            assert await contacts.find_contacts(session, actor, "555 0142") == []
            assert await contacts.find_contact_by_phone(session, actor, "+14155550142") is None
            with pytest.raises(NotFound):
                await consent.consents_for(session, actor, dana.id)
            with pytest.raises(NotFound):
                await consent.record_consent(
                    session,
                    actor,
                    dana.id,
                    consent_type="express",
                    source="s",
                    wording="w",
                    method="m",
                    obtained_at=CONSENT_AT,
                )
        assert (await contacts.get_contact(session, manager.actor, dana.id)).id == dana.id
        assert [c.id for c in await contacts.find_contacts(session, manager.actor, "DANA")] == [
            dana.id
        ]
        assert [c.id for c in await contacts.find_contacts(session, rep_a.actor, "acme")] == [
            dana.id
        ]
        assert [c.id for c in await contacts.find_contacts(session, rep_a.actor, "555-0142")] == [
            dana.id
        ]
        found = await contacts.find_contact_by_phone(session, manager.actor, "(415) 555-0142")
        assert found is not None and found.id == dana.id
        assert await contacts.find_contacts(session, manager.actor, "%") == []


async def test_managers_may_add_contacts_for_a_member_reps_may_not(db):
    manager = await make_member(db, Role.MANAGER)
    rep = await make_member(db, Role.REP, workspace_id=manager.actor.workspace_id)
    stranger = await make_member(db, Role.REP)
    async with db.session() as session:
        made = await contacts.add_contact(
            session, manager.actor, name="Kim", phone=number_in("415"), owner_id=rep.actor.user_id
        )
        assert made.owner_id == rep.actor.user_id
        with pytest.raises(PermissionDenied):
            await contacts.add_contact(
                session,
                rep.actor,
                name="Kim",
                phone=number_in("415"),
                owner_id=manager.actor.user_id,
            )
        with pytest.raises(NotFound):
            await contacts.add_contact(
                session,
                manager.actor,
                name="Kim",
                phone=number_in("415"),
                owner_id=stranger.actor.user_id,
            )
        await session.commit()
    async with db.session() as session:
        assert [c.id for c in await contacts.list_contacts(session, rep.actor)] == [made.id]


async def test_consent_keeps_its_evidence(db):
    rep = await make_member(db, Role.REP)
    contact = await add_contact(db, rep.actor, consent=None)
    async with db.session() as session:
        record = await consent.record_consent(
            session,
            rep.actor,
            contact.id,
            consent_type="Express Written",
            source="https://acme.example/demo",
            wording=WORDING,
            method="web form",
            obtained_at=CONSENT_AT,
        )
        await session.commit()
    assert record.type is ConsentType.EXPRESS_WRITTEN
    assert (record.phone_e164, record.attested_by, record.wording) == (
        contact.phone_e164,
        rep.actor.user_id,
        WORDING,
    )
    for statement in (
        "UPDATE consent_records SET wording = 'something else' WHERE id = :id",
        "UPDATE consent_records SET obtained_at = now() WHERE id = :id",
        "DELETE FROM consent_records WHERE id = :id",
    ):
        async with db.session() as session:
            with pytest.raises(DBAPIError, match=r"cannot be changed|never deleted"):
                await session.execute(text(statement), {"id": record.id})
    at = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    async with db.session() as session:
        revoked = await consent.revoke_consent(
            session, rep.actor, contact.id, how="asked by email", at=at
        )
        await session.commit()
    assert [(r.id, r.revoked_at, r.revoked_how) for r in revoked] == [
        (record.id, at, "asked by email")
    ]
    async with db.session() as session:
        with pytest.raises(DBAPIError, match="cannot be changed or undone"):
            await session.execute(
                text(
                    "UPDATE consent_records SET revoked_at = NULL, revoked_how = NULL"
                    " WHERE id = :id"
                ),
                {"id": record.id},
            )
    async with db.session() as session:
        # Nothing left to revoke: no second audit event.
        assert await consent.revoke_consent(session, rep.actor, contact.id, how="again") == []
        await session.commit()
        events = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "consent_revoked", AuditEvent.target == str(contact.id)
                )
            )
        ).all()
    assert len(events) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"consent_type": "verbal-ish"}, "Unknown consent type 'verbal-ish'"),
        ({"wording": " "}, "needs its exact wording"),
        ({"source": ""}, "needs its source"),
        ({"method": ""}, "needs its method"),
        ({"obtained_at": datetime(2026, 1, 1)}, "needs a time zone"),
        ({"obtained_at": datetime.now(UTC) + timedelta(days=1)}, "is in the future"),
    ],
)
async def test_incomplete_consent_is_refused(db, overrides, message):
    rep = await make_member(db, Role.REP)
    contact = await add_contact(db, rep.actor, consent=None)
    fields = {
        "consent_type": "express",
        "source": "trade show",
        "wording": WORDING,
        "method": "signed card",
        "obtained_at": CONSENT_AT,
    } | overrides
    async with db.session() as session:
        with pytest.raises(ConsentError, match=message):
            await consent.record_consent(session, rep.actor, contact.id, **fields)
        assert await consent.consents_for(session, rep.actor, contact.id) == []


async def test_contact_rows_are_checked_by_the_database_too(db):
    rep = await make_member(db, Role.REP)
    async with db.session() as session:
        session.add(
            Contact(
                workspace_id=rep.actor.workspace_id,
                owner_id=rep.actor.user_id,
                name="X",
                phone_e164="4155550100",
                time_zones=[],
            )
        )
        with pytest.raises(DBAPIError, match="phone_e164"):
            await session.flush()
