"""CSV import: good rows are imported with their consent; every rejected row is
reported with its line and every reason; a file that is not a table is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from core.errors import PermissionDenied
from telephony import consent, contacts, dnc
from telephony.importing import (
    MAX_IMPORT_ROWS,
    ImportRefused,
    ImportReport,
    import_contacts_csv,
    import_dnc_csv,
)
from telephony.models import ConsentRecord, ConsentType, Contact, DncEntry, DncSource
from tests.accounts.helpers import make_member

from .helpers import NOON_NY, add_contact, number_in


async def _import(db, actor, data, **kwargs) -> ImportReport:
    async with db.session() as session:
        report = await import_contacts_csv(session, actor, data, now=NOON_NY, **kwargs)
        await session.commit()
        return report


async def _check_stored(db, actor, rep, report, *, good: str, dup: str) -> None:
    """What the import wrote: the good rows with their owner and consent, nothing of a
    rejected row."""
    async with db.session() as session:
        dana = await contacts.find_contact_by_phone(session, actor, good)
        assert dana is not None
        assert (dana.name, dana.company, dana.notes, dana.owner_id) == (
            "Dana Lee",
            "Acme",
            "Renewal, March",
            rep.actor.user_id,
        )
        [record] = await consent.consents_for(session, actor, dana.id)
        assert record.type is ConsentType.EXPRESS_WRITTEN
        assert record.wording == "I agree that Acme may call me, including by AI."
        assert record.obtained_at.isoformat() == "2026-06-01T18:30:00+00:00"
        assert record.attested_by == actor.user_id
        assert record.id == report.imported[0].consent_id
        pat = await contacts.find_contact_by_phone(session, actor, dup)
        assert pat is not None and pat.name == "Pat Kim"
        [pewc] = await consent.consents_for(session, actor, pat.id)
        assert pewc.type is ConsentType.EXPRESS_WRITTEN
        assert pewc.obtained_at.isoformat() == "2026-05-01T00:00:00+00:00"  # read as UTC
        # Nothing of a rejected row was stored.
        count = await session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.workspace_id == actor.workspace_id)
        )
        assert count == 1 + 4


async def test_good_rows_are_imported_and_bad_rows_reported_with_every_reason(db):
    manager = await make_member(db, Role.MANAGER)
    rep = await make_member(db, Role.REP, workspace_id=manager.actor.workspace_id)
    actor = manager.actor
    taken = number_in("415")
    await add_contact(db, rep.actor, phone=taken, name="Already Here")
    blocked = number_in("212")
    async with db.session() as session:
        await dnc.add_to_dnc(session, actor, blocked, reason="asked by email")
        await session.commit()
    good, good2, dup = number_in("305"), number_in("206"), number_in("312")
    csv_text = "\n".join(
        [
            "Name,Company,Phone Number,Notes,Owner Email,Consent Type,Consent Source,"
            "Consent Wording,Consent Method,Consent At,Favourite colour",
            f'Dana Lee,Acme,{good},"Renewal, March",{rep.email},express written,'
            'https://acme.example/form,"I agree that Acme may call me, including by AI.",'
            "web form,2026-06-01T14:30:00-04:00,blue",
            f"Sam Diaz,Globex,{good2},,,,,,,,",  # no consent: imported with a warning
            ",Initech,not a number,,,,,,,,",  # no name and a bad phone
            f"Pat Kim,,{dup},,,pewc,trade show,Yes call me,signed card,2026-05-01,",
            f"Pat Kim again,,{dup},,,,,,,,",  # duplicate of the row above
            f"Lou Ng,,{number_in('415')},,,verbal-ish,x,y,z,2026-05-01,",
            f"Mo Ali,,{number_in('415')},,,express,,,,,",  # incomplete consent
            f"Al Bo,,{number_in('415')},,,express,s,w,m,yesterday,",
            f"Cy Do,,{number_in('415')},,,express,s,w,m,2027-01-01,",
            f"Ed Fu,,{taken},,,,,,,,",
            f"Gi Ha,,{number_in('415')},,nobody@example.test,,,,,,",
            "Ho Io,,,,,,,,,,",
            ",,,,,,,,,,",  # blank: skipped silently
            f"Blocked Person,,{blocked},,,express,s,w,m,2026-05-01,",
        ]
    )
    report = await _import(db, actor, csv_text)

    assert [row.line for row in report.imported] == [2, 3, 5, 15]
    assert report.ignored_columns == ("Favourite colour",)
    by_line = {row.line: row for row in report.rejected}
    assert {line: row.codes for line, row in by_line.items()} == {
        4: {"missing_name", "bad_phone"},
        6: {"duplicate_in_file"},
        7: {"unknown_consent_type"},
        8: {"incomplete_consent"},
        9: {"bad_consent_time"},
        10: {"consent_in_future"},
        11: {"already_a_contact"},
        12: {"unknown_owner"},
        13: {"missing_phone"},
    }
    messages = {line: row.describe() for line, row in by_line.items()}
    assert (
        "line 4 (not a number): the name is missing; 'not a number' is not a phone number"
        in (messages[4])
    )
    assert "the same phone number as line 5" in messages[6]
    assert "Unknown consent type 'verbal-ish'" in messages[7]
    assert "the consent is missing its source, wording, method, time" in messages[8]
    assert "'yesterday' is not a date or time" in messages[9]
    assert "is in the future" in messages[10]
    assert "is already a contact: Already Here" in messages[11]
    assert "no active member of this workspace is nobody@example.test" in messages[12]
    text = report.describe()
    assert text.startswith("Imported 4 contacts; rejected 9 rows.")
    assert "Ignored columns: Favourite colour." in text
    assert "line 3: no consent recorded: calls will be refused until it is" in text
    assert "line 15: on this workspace's do-not-call list: calls will be refused" in text

    await _check_stored(db, actor, rep, report, good=good, dup=dup)


async def test_a_rep_imports_only_contacts_of_their_own(db):
    manager = await make_member(db, Role.MANAGER)
    rep = await make_member(db, Role.REP, workspace_id=manager.actor.workspace_id)
    data = (
        "name;phone;owner_email\n"  # semicolons, as some spreadsheets write
        f"Dana;{number_in('415')};{manager.email}\n"
        f"Sam;{number_in('415')};{rep.email}\n"
        f"Kim;{number_in('415')};\n"
    ).encode()
    report = await _import(db, rep.actor, b"\xef\xbb\xbf" + data)  # with a BOM
    assert [r.line for r in report.imported] == [3, 4]
    assert [(r.line, r.codes) for r in report.rejected] == [(2, {"owner_not_allowed"})]
    async with db.session() as session:
        mine = await contacts.list_contacts(session, rep.actor)
    assert sorted(c.name for c in mine) == ["Kim", "Sam"]


async def test_numbers_without_a_country_code_are_read_as_us_numbers(db):
    rep = await make_member(db, Role.REP)
    report = await _import(db, rep.actor, "name,phone\nDana,(415) 555-0142\nLee,+44 20 7946 0958\n")
    assert [r.phone_e164 for r in report.imported] == ["+14155550142", "+442079460958"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "The file is empty."),
        ("name,company\nDana,Acme\n", "needs a header row with a phone column"),
        ("full name;mobile\n", None),  # aliases: accepted (and nothing to import)
        ("who,what\nx,y\n", "a name column and a phone column; found: who, what"),
        ("name,phone,Phone\n", "two phone columns"),
        (b"name,phone\nJos\xe9,+14155550142\n", "not UTF-8"),
        ("name,phone\n" + "x,1\n" * (MAX_IMPORT_ROWS + 1), "more than 10000 rows"),
    ],
)
async def test_files_that_are_not_a_contact_table_are_refused_whole(db, data, message):
    rep = await make_member(db, Role.REP)
    if message is None:
        report = await _import(db, rep.actor, data)
        assert report.imported == [] and report.rejected == []
        return
    async with db.session() as session:
        with pytest.raises(ImportRefused, match=message):
            await import_contacts_csv(session, rep.actor, data, now=NOON_NY)
        assert await contacts.list_contacts(session, rep.actor) == []


async def test_a_multi_line_cell_keeps_line_numbers_right(db):
    rep = await make_member(db, Role.REP)
    data = f'name,phone,notes\nDana,{number_in("415")},"two\nlines"\nSam,bad,\n'
    report = await _import(db, rep.actor, data)
    assert [r.line for r in report.imported] == [2]
    assert [(r.line, r.codes) for r in report.rejected] == [(4, {"bad_phone"})]


async def test_dnc_import(db):
    manager = await make_member(db, Role.MANAGER)
    rep = await make_member(db, Role.REP, workspace_id=manager.actor.workspace_id)
    contact = await add_contact(db, rep.actor)
    first = number_in("212")
    data = (
        "phone,reason\n"
        f"{contact.phone_e164},complained on LinkedIn\n"
        f"{first},\n"
        f"{first},twice\n"
        "garbage,\n"
    )
    async with db.session() as session:
        with pytest.raises(PermissionDenied):
            await import_dnc_csv(session, manager.actor, data, platform=True)
        report = await import_dnc_csv(session, manager.actor, data, now=NOON_NY)
        await session.commit()
    assert [r.line for r in report.imported] == [2, 3]
    assert [(r.line, r.codes) for r in report.rejected] == [
        (4, {"duplicate_in_file"}),
        (5, {"bad_phone"}),
    ]
    assert report.describe().startswith("Imported 2 do-not-call numbers; rejected 2 rows.")
    async with db.session() as session:
        entries = {
            e.phone_e164: e
            for e in await dnc.list_dnc(session, rep.actor)  # reps may read their list
        }
        assert set(entries) == {contact.phone_e164, first}
        assert entries[first].reason == "imported list"
        assert entries[contact.phone_e164].source == DncSource.IMPORT.value
        # The imported opt-out revoked the contact's consent.
        records = (
            await session.scalars(
                select(ConsentRecord).where(ConsentRecord.contact_id == contact.id)
            )
        ).all()
        assert [r.revoked_how for r in records] == ["do-not-call (import): complained on LinkedIn"]
        total = await session.scalar(
            select(func.count())
            .select_from(DncEntry)
            .where(DncEntry.workspace_id == manager.actor.workspace_id)
        )
        assert total == 2
