"""CSV import of contacts (with their consent) and of do-not-call numbers.

Good rows are imported; every other row is reported with its line number and every
problem found in it (not just the first), and nothing of it is stored. A file that
cannot be read as a table at all (not UTF-8, no name or phone column, too big) is
refused as a whole with ImportRefused. The caller commits.

Contact columns (header names are matched without regard to case, spaces or hyphens,
with a few common aliases):

    name*, phone*, company, notes, owner_email,
    consent_type, consent_source, consent_wording, consent_method, consent_at

A row with no consent column filled is imported without consent (calls to it are
refused until consent is recorded). A row with any consent column filled needs them
all: type (existing_relationship, express, express_written), source, exact wording,
method and time (ISO 8601; without an offset it is read as UTC).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Role, User
from accounts.service import Actor
from core.errors import PermissionDenied
from telephony.access import TelephonyInputError
from telephony.consent import (
    MAX_METHOD_CHARS,
    MAX_SOURCE_CHARS,
    MAX_WORDING_CHARS,
    ConsentError,
    check_obtained_at,
    new_consent,
    parse_consent_time,
    parse_consent_type,
)
from telephony.contacts import (
    MAX_COMPANY_CHARS,
    MAX_NAME_CHARS,
    MAX_NOTES_CHARS,
    DuplicateContact,
    duplicate_message,
    existing_contacts,
    insert_contact,
)
from telephony.dnc import DncError, add_to_dnc, dnc_numbers, normalise_dnc_number
from telephony.models import DncEntry, DncSource
from telephony.numbers import DEFAULT_REGION, InvalidPhone, PhoneInfo, parse_phone

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 10_000
MAX_REASON_CHARS = 1000

CONTACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full_name", "contact", "contact_name"),
    "phone": ("phone", "phone_number", "number", "mobile", "telephone", "tel", "e164"),
    "company": ("company", "company_name", "organisation", "organization", "account"),
    "notes": ("notes", "note", "comments"),
    "owner_email": ("owner_email", "owner", "rep_email", "rep"),
    "consent_type": ("consent_type", "consent"),
    "consent_source": ("consent_source",),
    "consent_wording": ("consent_wording", "consent_text", "consent_language"),
    "consent_method": ("consent_method",),
    "consent_at": (
        "consent_at",
        "consent_time",
        "consent_date",
        "consented_at",
        "consent_obtained_at",
    ),
}
CONSENT_FIELDS = (
    "consent_type",
    "consent_source",
    "consent_wording",
    "consent_method",
    "consent_at",
)
DNC_COLUMNS: dict[str, tuple[str, ...]] = {
    "phone": CONTACT_COLUMNS["phone"],
    "reason": ("reason", "notes", "note"),
}


class ImportRefused(TelephonyInputError):
    """The whole file was refused; nothing was imported."""


@dataclass(frozen=True)
class Problem:
    code: str  # missing_name, bad_phone, duplicate_in_file, unknown_consent_type, ...
    message: str


@dataclass(frozen=True)
class RejectedRow:
    line: int
    name: str
    phone: str
    problems: tuple[Problem, ...]

    @property
    def codes(self) -> set[str]:
        return {p.code for p in self.problems}

    def describe(self) -> str:
        who = ", ".join(part for part in (self.name, self.phone) if part) or "empty"
        problems = "; ".join(p.message.rstrip(".") for p in self.problems)
        return f"line {self.line} ({who}): {problems}."


@dataclass(frozen=True)
class ImportedRow:
    line: int
    id: uuid.UUID | int  # the contact's id, or the do-not-call entry's
    name: str
    phone_e164: str
    consent_id: uuid.UUID | None = None
    warnings: tuple[str, ...] = ()


@dataclass
class ImportReport:
    imported: list[ImportedRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    what: str = "contact"

    @property
    def warnings(self) -> list[str]:
        return [f"line {row.line}: {w}" for row in self.imported for w in row.warnings]

    def describe(self) -> str:
        lines = [
            f"Imported {len(self.imported)} {self.what}{'s' * (len(self.imported) != 1)}; "
            f"rejected {len(self.rejected)} row{'s' * (len(self.rejected) != 1)}."
        ]
        if self.ignored_columns:
            lines.append("Ignored columns: " + ", ".join(self.ignored_columns) + ".")
        if self.rejected:
            lines.append("Rejected:")
            lines += [f"- {row.describe()}" for row in self.rejected]
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"- {w}" for w in self.warnings]
        return "\n".join(lines)


# --- reading the file ---------------------------------------------------------------


def _key(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", header.strip().lower().lstrip("\ufeff"))


def _text(data: str | bytes) -> str:
    if isinstance(data, bytes):
        if len(data) > MAX_IMPORT_BYTES:
            raise ImportRefused(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportRefused(
                "The file is not UTF-8 text: save it as 'CSV UTF-8' and import it again."
            ) from None
    if len(data.encode()) > MAX_IMPORT_BYTES:
        raise ImportRefused(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    return data.lstrip("\ufeff")


def _delimiter(text: str) -> str:
    """The header line's most used separator: comma, semicolon or tab."""
    header = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=lambda sep: (header.count(sep), sep == ","))


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, str]
    # Columns whose cell held a NUL character (removed from `values`): PostgreSQL
    # cannot store one, so such a row is rejected on its own, never the whole file.
    nul_columns: tuple[str, ...] = ()

    def nul_problems(self) -> list[Problem]:
        return [
            Problem("nul_character", f"the {column} contains a NUL character")
            for column in self.nul_columns
        ]


def _without_nul(cell: str) -> str:
    return cell.replace("\x00", "")


def _rows(
    data: str | bytes, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> tuple[Iterator[_Row], tuple[str, ...], dict[str, str]]:
    """The file's data rows as {column: value} with line numbers, the ignored headers,
    and how the file's headers map to our columns ({column: header as written})."""
    text = _text(data)
    if not text.strip():
        raise ImportRefused("The file is empty.")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ImportRefused(f"The file is not a readable CSV table: {exc}.") from None
    index: dict[str, int] = {}
    ignored: list[str] = []
    aliases = {alias: name for name, names in columns.items() for alias in names}
    for position, raw in enumerate(header):
        name = aliases.get(_key(_without_nul(raw)))
        if name is None:
            if _without_nul(raw).strip():
                ignored.append(_without_nul(raw).strip())
            continue
        if name in index:
            raise ImportRefused(f"The file has two {name} columns ({raw.strip()!r}).")
        index[name] = position
    missing = [name for name in required if name not in index]
    if missing:
        raise ImportRefused(
            "The file needs a header row with "
            + " and ".join(f"a {name} column" for name in missing)
            + f"; found: {', '.join(h.strip() for h in header if h.strip()) or 'nothing'}."
        )

    def rows() -> Iterator[_Row]:
        count = 0
        previous_end = reader.line_num
        try:
            for record in reader:
                start = previous_end + 1
                previous_end = reader.line_num
                if not any(cell.strip() for cell in record):
                    continue
                count += 1
                if count > MAX_IMPORT_ROWS:
                    raise ImportRefused(
                        f"The file has more than {MAX_IMPORT_ROWS} rows: split it and "
                        "import the parts."
                    )
                cells = {
                    name: record[pos] if pos < len(record) else "" for name, pos in index.items()
                }
                yield _Row(
                    start,
                    {name: _without_nul(cell).strip() for name, cell in cells.items()},
                    tuple(name for name, cell in cells.items() if "\x00" in cell),
                )
        except csv.Error as exc:
            raise ImportRefused(
                f"Line {reader.line_num} cannot be read as CSV: {exc}. Nothing was imported."
            ) from None

    mapped = {name: _without_nul(header[pos]).strip() for name, pos in index.items()}
    return rows(), tuple(ignored), mapped


def _read_all(
    data: str | bytes, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> tuple[list[_Row], tuple[str, ...], dict[str, str]]:
    rows, ignored, mapped = _rows(data, columns, required)
    return list(rows), ignored, mapped


# --- contacts -----------------------------------------------------------------------


@dataclass
class _Checked:
    row: _Row
    problems: list[Problem] = field(default_factory=list)
    name: str = ""
    phone: PhoneInfo | None = None
    owner: User | None = None
    consent_at: datetime | None = None

    def add(self, code: str, message: str) -> None:
        self.problems.append(Problem(code, message))


async def _members_by_email(session: AsyncSession, actor: Actor) -> dict[str, User]:
    result = await session.scalars(
        select(User).where(User.workspace_id == actor.workspace_id, User.status == "active")
    )
    return {user.email.lower(): user for user in result.all()}


def _check_lengths(checked: _Checked) -> None:
    values = checked.row.values
    limits = {
        "company": MAX_COMPANY_CHARS,
        "notes": MAX_NOTES_CHARS,
        "consent_source": MAX_SOURCE_CHARS,
        "consent_wording": MAX_WORDING_CHARS,
        "consent_method": MAX_METHOD_CHARS,
    }
    for column, limit in limits.items():
        if len(values.get(column, "")) > limit:
            checked.add("too_long", f"the {column} has more than {limit} characters")


def _check_consent(checked: _Checked, now: datetime) -> None:
    values = checked.row.values
    if not any(values.get(name) for name in CONSENT_FIELDS):
        return
    missing = [
        name.removeprefix("consent_")
        for name in CONSENT_FIELDS
        if name != "consent_type" and not values.get(name)
    ]
    if not values.get("consent_type"):
        checked.add("missing_consent_type", "consent details are given but no consent type")
    else:
        try:
            parse_consent_type(values["consent_type"])
        except ConsentError as exc:
            checked.add("unknown_consent_type", str(exc))
    if missing:
        what = ", ".join("time" if m == "at" else m for m in missing)
        checked.add("incomplete_consent", f"the consent is missing its {what}")
    if values.get("consent_at"):
        try:
            checked.consent_at = check_obtained_at(parse_consent_time(values["consent_at"]), now)
        except ConsentError as exc:
            code = "consent_in_future" if "future" in str(exc) else "bad_consent_time"
            checked.add(code, str(exc))


@dataclass
class ContactImportPlan:
    """What importing a contacts CSV would do, before anything is written: how the
    file's columns map to ours, the rows that would be imported, and every rejected row
    with its reasons. `import_planned` carries it out."""

    columns: dict[str, str]  # our column -> the file's header
    ignored_columns: tuple[str, ...]
    ready: list[_Checked]
    rejected: list[RejectedRow]
    dnc: dict[str, list[DncEntry]]
    now: datetime

    @property
    def ready_count(self) -> int:
        return len(self.ready)

    def warnings_for(self, checked: _Checked) -> list[str]:
        warnings: list[str] = []
        if checked.consent_at is None:
            warnings.append("no consent recorded: calls will be refused until it is")
        for entry in self.dnc.get(checked.phone.e164 if checked.phone else "", []):
            where = "the platform-wide" if entry.platform else "this workspace's"
            warnings.append(f"on {where} do-not-call list: calls will be refused")
        return warnings


async def plan_contacts_csv(
    session: AsyncSession,
    actor: Actor,
    data: str | bytes,
    *,
    default_region: str = DEFAULT_REGION,
    now: datetime | None = None,
) -> ContactImportPlan:
    """Read and check a contacts CSV without writing anything (ImportRefused when the
    file as a whole cannot be imported). Numbers without a '+' are read as numbers of
    `default_region` (the user's own country)."""
    when = now or datetime.now(UTC)
    rows, ignored, mapped = _read_all(data, CONTACT_COLUMNS, ("name", "phone"))
    members = await _members_by_email(session, actor)
    first_line_of: dict[str, int] = {}
    checked_rows: list[_Checked] = []

    for row in rows:
        checked = _Checked(row, row.nul_problems())
        values = row.values
        name = " ".join(values.get("name", "").split())
        if not name:
            checked.add("missing_name", "the name is missing")
        elif len(name) > MAX_NAME_CHARS:
            checked.add("too_long", f"the name has more than {MAX_NAME_CHARS} characters")
        checked.name = name
        raw_phone = values.get("phone", "")
        if not raw_phone:
            checked.add("missing_phone", "the phone number is missing")
        else:
            try:
                checked.phone = parse_phone(raw_phone, default_region=default_region)
            except InvalidPhone as exc:
                checked.add("bad_phone", str(exc))
        if checked.phone is not None:
            first = first_line_of.setdefault(checked.phone.e164, row.line)
            if first != row.line:
                checked.add(
                    "duplicate_in_file",
                    f"the same phone number as line {first} ({checked.phone.display})",
                )
        owner_email = values.get("owner_email", "").lower()
        if owner_email:
            owner = members.get(owner_email)
            if owner is None:
                checked.add("unknown_owner", f"no active member of this workspace is {owner_email}")
            elif owner.id != actor.user_id and actor.role is Role.REP:
                checked.add("owner_not_allowed", "a rep can only import contacts of their own")
            else:
                checked.owner = owner
        _check_lengths(checked)
        _check_consent(checked, when)
        checked_rows.append(checked)

    # Numbers already in the workspace, and do-not-call hits, in two queries.
    numbers = sorted({c.phone.e164 for c in checked_rows if c.phone is not None})
    dnc = await dnc_numbers(session, actor.workspace_id, numbers)
    existing = await existing_contacts(session, actor.workspace_id, numbers)
    for checked in checked_rows:
        found = existing.get(checked.phone.e164) if checked.phone is not None else None
        if found is not None:
            checked.add("already_a_contact", duplicate_message(actor, found))

    plan = ContactImportPlan(mapped, ignored, [], [], dnc, when)
    for checked in checked_rows:
        if checked.problems or checked.phone is None:
            values = checked.row.values
            plan.rejected.append(
                RejectedRow(
                    checked.row.line,
                    checked.name or values.get("name", ""),
                    values.get("phone", ""),
                    tuple(checked.problems),
                )
            )
        else:
            plan.ready.append(checked)
    return plan


async def import_planned(
    session: AsyncSession, actor: Actor, plan: ContactImportPlan
) -> ImportReport:
    """Write the plan's ready rows (a number added meanwhile is rejected then)."""
    report = ImportReport(ignored_columns=plan.ignored_columns, rejected=list(plan.rejected))
    for checked in plan.ready:
        values = checked.row.values
        assert checked.phone is not None  # a ready row has a number
        try:
            contact = await insert_contact(
                session,
                actor,
                owner_id=checked.owner.id if checked.owner else actor.user_id,
                workspace_id=actor.workspace_id,
                name=checked.name,
                phone=checked.phone,
                company=" ".join(values.get("company", "").split()) or None,
                notes=values.get("notes", ""),
            )
        except DuplicateContact as exc:  # added concurrently
            report.rejected.append(
                RejectedRow(
                    checked.row.line,
                    checked.name,
                    values.get("phone", ""),
                    (Problem("already_a_contact", str(exc)),),
                )
            )
            continue
        consent_id: uuid.UUID | None = None
        if checked.consent_at is not None:
            consent = new_consent(
                actor,
                workspace_id=contact.workspace_id,
                contact_id=contact.id,
                phone_e164=contact.phone_e164,
                consent_type=values["consent_type"],
                source=values["consent_source"],
                wording=values["consent_wording"],
                method=values["consent_method"],
                obtained_at=checked.consent_at,
                now=plan.now,
            )
            session.add(consent)
            await session.flush()
            consent_id = consent.id
        report.imported.append(
            ImportedRow(
                checked.row.line,
                contact.id,
                contact.name,
                contact.phone_e164,
                consent_id,
                tuple(plan.warnings_for(checked)),
            )
        )
    report.rejected.sort(key=lambda row: row.line)
    return report


async def import_contacts_csv(
    session: AsyncSession,
    actor: Actor,
    data: str | bytes,
    *,
    default_region: str = DEFAULT_REGION,
    now: datetime | None = None,
) -> ImportReport:
    """Import contacts (and their consent) from CSV; see the module's docstring."""
    plan = await plan_contacts_csv(session, actor, data, default_region=default_region, now=now)
    return await import_planned(session, actor, plan)


# --- do-not-call numbers --------------------------------------------------------------


async def import_dnc_csv(
    session: AsyncSession,
    actor: Actor,
    data: str | bytes,
    *,
    platform: bool = False,
    default_region: str = DEFAULT_REGION,
    now: datetime | None = None,
) -> ImportReport:
    """Add the numbers of a CSV (columns: phone*, reason) to the workspace's list (or,
    for an admin, the platform's). A number already listed is counted as imported."""
    if platform and actor.role is not Role.ADMIN:
        raise PermissionDenied("Only a platform admin can change the platform-wide list.")
    when = now or datetime.now(UTC)
    rows, ignored, _ = _read_all(data, DNC_COLUMNS, ("phone",))
    report = ImportReport(ignored_columns=ignored, what="do-not-call number")
    first_line_of: dict[str, int] = {}
    for row in rows:
        raw = row.values.get("phone", "")
        reason = row.values.get("reason", "")
        problems: list[Problem] = row.nul_problems()
        e164 = ""
        if not raw:
            problems.append(Problem("missing_phone", "the phone number is missing"))
        else:
            try:
                e164 = normalise_dnc_number(raw, default_region=default_region)
            except DncError as exc:
                problems.append(Problem("bad_phone", str(exc)))
        if e164:
            first = first_line_of.setdefault(e164, row.line)
            if first != row.line:
                problems.append(
                    Problem("duplicate_in_file", f"the same phone number as line {first}")
                )
        if len(reason) > MAX_REASON_CHARS:
            problems.append(
                Problem("too_long", f"the reason has more than {MAX_REASON_CHARS} characters")
            )
        if problems:
            report.rejected.append(RejectedRow(row.line, "", raw, tuple(problems)))
            continue
        entry = await add_to_dnc(
            session,
            actor,
            e164,
            reason=reason or "imported list",
            source=DncSource.IMPORT,
            platform=platform,
            now=when,
        )
        report.imported.append(ImportedRow(row.line, entry.id, "", e164))
    return report
