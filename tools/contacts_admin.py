"""list_contacts, edit_contact, delete_contact, export_contacts and import_contacts:
a rep's everyday work on their contacts, in chat.

Listing and exporting read (billable: they search the user's contacts); editing,
deleting and importing write, so they only propose (tools.actions) and are charged
only once carried out. Every name, company and note shown is Markdown-escaped (a
contact named ``[x](http://evil)`` shows as those characters), and the export goes
through core.csv_safe (a name starting with ``=`` is not run by a spreadsheet).
Another workspace's contacts, and a rep colleague's, are never found: the services
report them as not found (telephony/access.py).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from langchain.tools import ToolRuntime
from sqlalchemy import func, select

from core.csv_safe import write_csv
from core.errors import KloseError
from core.markdown import md_escape
from core.timezones import format_local
from telephony import contacts as contacts_service
from telephony import importing
from telephony.models import Call
from telephony.numbers import format_phone
from tools import attachments
from tools.actions import Proposal, read_tool, write_tool
from tools.contact_refs import label, resolve_contact
from tools.context import AgentContext, Artifact
from tools.metering import done

DEFAULT_LIMIT = 25
MAX_LIMIT = 200
PREVIEW_REJECTED = 25  # rejected rows listed in an import's preview, the rest counted
CSV_TYPES = ("text/csv", "application/vnd.ms-excel", "text/plain", "application/csv")

CONSENT_LABELS = {"granted": "granted", "none": "none", "revoked": "revoked"}
NO_FILE = (
    "Attach the CSV first: click the paperclip next to the message box, pick your .csv "
    "file (a header row with at least name and phone columns) and send it with "
    "“import these contacts”. Nothing was imported."
)


def _when(ctx: AgentContext, at: datetime | None) -> str:
    return format_local(at, ctx.actor.time_zone) if at else "never"


def _cell(value: object) -> str:
    return md_escape(value) or "—"


def _table(ctx: AgentContext, rows: list[contacts_service.ContactListing]) -> str:
    lines = [
        "| Name | Company | Phone | Consent | Last call |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        c = row.contact
        last = _when(ctx, row.last_call_at)
        if row.last_call_status:
            last += (
                f" ({md_escape(row.last_call_status)}, {row.calls} call{'s' * (row.calls != 1)})"
            )
        lines.append(
            f"| {_cell(c.name)} | {_cell(c.company)} | {format_phone(c.phone_e164)} "
            f"| {CONSENT_LABELS.get(row.consent, row.consent)} | {last} |"
        )
    return "\n".join(lines)


def _filters(query: str | None, consent: str | None, called: str | None) -> str:
    parts = []
    if query and query.strip():
        parts.append(f"matching “{md_escape(query.strip())}”")
    if consent:
        parts.append(f"consent {md_escape(consent)}")
    if called == "never":
        parts.append("not called yet")
    elif called == "called":
        parts.append("called before")
    return ", ".join(parts)


@read_tool(billable=True)
async def list_contacts(
    runtime: ToolRuntime[AgentContext],
    query: str | None = None,
    consent: str | None = None,
    called: str | None = None,
    limit: int | None = None,
) -> str:
    """List or find the user's contacts as a table (name, company, phone, consent, last
    call). `query`: text in the name or company. `consent`: "granted", "none" or
    "revoked". `called`: "never" (not called yet) or "called". `limit`: how many
    (default 25)."""
    ctx = runtime.context
    count = max(1, min(limit or DEFAULT_LIMIT, MAX_LIMIT))
    try:
        async with ctx.db.session() as session:
            rows = await contacts_service.search_contacts(
                session, ctx.actor, query=query, consent=consent, called=called, limit=count + 1
            )
    except KloseError as exc:
        return str(exc)
    which = _filters(query, consent, called)
    if not rows:
        return (
            f"No contacts {which}." if which else "You have no contacts yet."
        ) + " Add one (“add a contact Jane Doe +1 415 555 0123 at Acme”) or attach a CSV to import."
    more = len(rows) > count
    rows = rows[:count]
    head = f"{len(rows)}{'+' if more else ''} contact{'s' * (len(rows) != 1)}"
    head += f" {which}" if which else ""
    tail = (
        f"\n\nShowing the first {count}: narrow it down with a name or company, or export "
        "them all (“export my contacts”)."
        if more
        else ""
    )
    zone = (
        f"Times in {md_escape(ctx.actor.time_zone)}."
        if any(row.last_call_at for row in rows)
        else "None of them has been called yet."
    )
    return done(f"{head}:\n\n{_table(ctx, rows)}\n\n{zone}{tail}")


# --- edit ------------------------------------------------------------------------------


async def _edit(ctx: AgentContext, payload: dict[str, Any]) -> str:
    try:
        changes = contacts_service.check_changes(
            name=payload.get("name"),
            phone=payload.get("phone"),
            company=payload.get("company"),
            notes=payload.get("notes"),
        )
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, payload["contact_id"])
            contact, changed = await contacts_service.edit_contact(
                session, ctx.actor, found.id, changes
            )
            await session.commit()
    except KloseError as exc:
        return f"Not changed: {exc}"
    if not changed:
        return f"Nothing to change: {label(contact)} already has those details."
    fields = ", ".join(field for field, _, _ in changed)
    return done(f"Updated {label(contact)} ({fields}).")


def _shown(field: str, value: str) -> str:
    if field == "phone":
        return format_phone(value) if value else "—"
    return f"“{md_escape(value)}”" if value else "(empty)"


@write_tool(_edit, billable=True)
async def edit_contact(
    runtime: ToolRuntime[AgentContext],
    contact: str,
    name: str | None = None,
    phone: str | None = None,
    company: str | None = None,
    notes: str | None = None,
) -> Proposal | str:
    """Change a contact's name, phone number, company or notes, once the user confirms.
    `contact`: their current name, number or id. Give only the fields that change
    (company "" clears it)."""
    ctx = runtime.context
    if all(v is None for v in (name, phone, company, notes)):
        return (
            "What should change: their name, phone number, company or notes? Nothing was changed."
        )
    try:
        changes = contacts_service.check_changes(
            name=name, phone=phone, company=company, notes=notes, default_region=ctx.actor.region
        )
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, contact)
            changed = changes.describe(found)
            if changes.phone is not None and changes.phone.e164 != found.phone_e164:
                other = await contacts_service.existing_contact(
                    session, found.workspace_id, changes.phone.e164
                )
                if other is not None and other.id != found.id:
                    return f"Not changed: {contacts_service.duplicate_message(ctx.actor, other)}"
    except KloseError as exc:
        return f"Not changed: {exc}"
    if not changed:
        return f"Nothing to change: {label(found)} already has those details."
    lines = [
        f"- {field}: {_shown(field, old)} → {_shown(field, new)}" for field, old, new in changed
    ]
    if any(field == "phone" for field, _, _ in changed):
        lines.append(
            "- Consent on record is for the old number: record consent for the new one "
            "before calling it."
        )
    payload = {"contact_id": str(found.id)}
    payload.update({field: new for field, _, new in changed})
    return Proposal(
        question=f"Change {label(found)}?\n\n" + "\n".join(lines),
        payload=payload,
        declined="Not changed: you declined, so the contact is as it was.",
    )


# --- delete ----------------------------------------------------------------------------


async def _delete(ctx: AgentContext, payload: dict[str, Any]) -> str:
    try:
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, payload["contact_id"])
            shown = label(found)
            await contacts_service.delete_contact(session, ctx.actor, found.id)
            await session.commit()
    except KloseError as exc:
        return f"Not deleted: {exc}"
    return done(
        f"Deleted {shown}. Their consent records and call history are kept, as the law "
        "requires; they are no longer listed and can't be called."
    )


@write_tool(_delete, billable=True)
async def delete_contact(runtime: ToolRuntime[AgentContext], contact: str) -> Proposal | str:
    """Delete a contact, once the user confirms: they are no longer listed or called;
    their consent records and calls stay on record. `contact`: name, number or id."""
    ctx = runtime.context
    try:
        async with ctx.db.session() as session:
            found = await resolve_contact(session, ctx.actor, contact)
            calls = await session.scalar(
                select(func.count()).select_from(Call).where(Call.contact_id == found.id)
            )
    except KloseError as exc:
        return f"Not deleted: {exc}"
    kept = f"{calls} call{'s' * (calls != 1)}" if calls else "no calls"
    return Proposal(
        question=(
            f"Delete the contact {label(found)}? They won't be listed or called again. "
            f"Their consent records and call history ({kept}) are kept, as the law requires."
        ),
        payload={"contact_id": str(found.id)},
        declined="Not deleted: you declined, so the contact is kept.",
    )


# --- export ----------------------------------------------------------------------------


@read_tool(billable=True)
async def export_contacts(runtime: ToolRuntime[AgentContext]) -> str:
    """Export the user's contacts (all they may see) as a CSV file to download."""
    ctx = runtime.context
    async with ctx.db.session() as session:
        rows = await contacts_service.export_rows(session, ctx.actor)
    if not rows:
        return "You have no contacts to export yet. Nothing was charged."
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    name = f"contacts-{stamp}.csv"
    ctx.artifacts.append(
        Artifact("file", name, write_csv(contacts_service.EXPORT_HEADER, rows), "text/csv")
    )
    return done(
        f"Exported {len(rows)} contact{'s' * (len(rows) != 1)}: download {name} below. "
        "Text a spreadsheet would run as a formula is prefixed with ' so it shows as text."
    )


# --- import ----------------------------------------------------------------------------


def _attached_csv() -> attachments.Attachment | None:
    """The CSV attached to this message (its name without control characters)."""
    for file in attachments.current():
        if file.name.lower().endswith(".csv") or file.mime in CSV_TYPES:
            name = "".join(ch for ch in file.name if ch.isprintable())[:200] or "the file"
            return attachments.Attachment(name, file.mime, file.data)
    return None


def _preview(plan: importing.ContactImportPlan, file_name: str) -> str:
    mapped = ", ".join(f"{md_escape(header)} → {column}" for column, header in plan.columns.items())
    lines = [
        f"Import contacts from {md_escape(file_name)}?",
        "",
        f"- Columns: {mapped}.",
    ]
    if plan.ignored_columns:
        lines.append(
            "- Ignored columns: " + ", ".join(md_escape(c) for c in plan.ignored_columns) + "."
        )
    no_consent = sum(1 for row in plan.ready if row.consent_at is None)
    lines.append(
        f"- **{plan.ready_count} row{'s' * (plan.ready_count != 1)} will be imported**"
        + (
            f" ({no_consent} without consent: they can't be called until it is recorded)"
            if no_consent
            else ""
        )
        + "."
    )
    on_dnc = sum(1 for row in plan.ready if row.phone and plan.dnc.get(row.phone.e164))
    if on_dnc:
        lines.append(f"- {on_dnc} of them are on a do-not-call list and won't be called.")
    lines.append(
        f"- {len(plan.rejected)} row{'s' * (len(plan.rejected) != 1)} rejected"
        + (":" if plan.rejected else ".")
    )
    for row in plan.rejected[:PREVIEW_REJECTED]:
        lines.append(f"  - {md_escape(row.describe())}")
    if len(plan.rejected) > PREVIEW_REJECTED:
        lines.append(f"  - … and {len(plan.rejected) - PREVIEW_REJECTED} more.")
    lines += ["", "Nothing is written until you confirm."]
    return "\n".join(lines)


def _summary(report: importing.ImportReport) -> str:
    lines = [
        f"Imported {len(report.imported)} contact{'s' * (len(report.imported) != 1)}; "
        f"rejected {len(report.rejected)} row{'s' * (len(report.rejected) != 1)}."
    ]
    for row in report.rejected[:PREVIEW_REJECTED]:
        lines.append(f"- {md_escape(row.describe())}")
    if len(report.rejected) > PREVIEW_REJECTED:
        lines.append(f"- … and {len(report.rejected) - PREVIEW_REJECTED} more.")
    if any(row.consent_id is None for row in report.imported):
        lines.append(
            "Contacts without consent can't be called until you record it "
            "(“record express written consent for …”)."
        )
    return "\n".join(lines)


async def _import(ctx: AgentContext, payload: dict[str, Any]) -> str:
    try:
        data = base64.b64decode(payload["csv_b64"], validate=True)
    except (KeyError, binascii.Error):
        return "Not imported: the file could not be read back. Attach it again."
    try:
        async with ctx.db.session() as session:
            plan = await importing.plan_contacts_csv(
                session, ctx.actor, data, default_region=payload.get("region") or ctx.actor.region
            )
            report = await importing.import_planned(session, ctx.actor, plan)
            await session.commit()
    except KloseError as exc:
        return f"Not imported: {exc}"
    text = _summary(report)
    return done(text) if report.imported else f"{text} Nothing was imported."


@write_tool(_import, billable=True)
async def import_contacts(runtime: ToolRuntime[AgentContext]) -> Proposal | str:
    """Import contacts from the CSV file the user attached to this message (a header
    row with name and phone; company, notes and consent columns optional). Shows the
    columns mapped, how many rows will be imported and every rejected row with its
    reason, and imports only once the user confirms."""
    ctx = runtime.context
    file = _attached_csv()
    if file is None:
        return NO_FILE
    try:
        async with ctx.db.session() as session:
            plan = await importing.plan_contacts_csv(
                session, ctx.actor, file.data, default_region=ctx.actor.region
            )
    except KloseError as exc:
        return f"Not imported: {md_escape(str(exc))} Nothing was written."
    if not plan.ready:
        lines = [f"Nothing to import from {md_escape(file.name)}: every row was rejected."]
        lines += [f"- {md_escape(row.describe())}" for row in plan.rejected[:PREVIEW_REJECTED]]
        if len(plan.rejected) > PREVIEW_REJECTED:
            lines.append(f"- … and {len(plan.rejected) - PREVIEW_REJECTED} more.")
        lines.append("Fix the file and attach it again. Nothing was written.")
        return "\n".join(lines)
    return Proposal(
        question=_preview(plan, file.name),
        payload={
            "csv_b64": base64.b64encode(file.data).decode("ascii"),
            "name": file.name[:200],
            "region": ctx.actor.region,
            "expected": plan.ready_count,
        },
        declined="Not imported: you declined, so nothing was written.",
    )
