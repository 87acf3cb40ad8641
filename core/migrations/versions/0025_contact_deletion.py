"""Deleting a contact keeps the evidence: a contact is marked deleted, never removed.

Consent records, compliance decisions and calls point at a contact and must outlive
its deletion (they are what shows a call was lawful), so `contacts.deleted_at` /
`deleted_by` mark a deleted contact: nobody sees or calls it again. The number may be
added again later as a new contact, so one-contact-per-number now holds among the
contacts that are not deleted.

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("deleted_at", sa.DateTime(timezone=True)))
    op.add_column(
        "contacts",
        sa.Column("deleted_by", postgresql.UUID(as_uuid=True), sa.ForeignKey("users.id")),
    )
    op.execute("DROP INDEX uq_contacts_workspace_phone")
    op.execute(
        "CREATE UNIQUE INDEX uq_contacts_workspace_phone ON contacts (workspace_id, phone_e164) "
        "WHERE deleted_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX uq_contacts_workspace_phone")
    op.execute(
        "CREATE UNIQUE INDEX uq_contacts_workspace_phone ON contacts (workspace_id, phone_e164)"
    )
    op.drop_column("contacts", "deleted_by")
    op.drop_column("contacts", "deleted_at")
