"""One-time codes: the simulated Twilio Verify's verifications.

One row per verification, as Verify keeps it: re-sent with the same sid and code inside
its 10 minutes (`send_count`), checked at most 5 times (`check_count`). A partial
unique index allows one `pending` verification per number, so concurrent sends cannot
start two. The code is stored as sha256(salt + code); `code_plain` holds it only for
the simulated dev inbox. Live Verify stores nothing here.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "otp_verifications",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("sid", sa.String(34), nullable=False),
        sa.Column("to_e164", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("code_salt", sa.String(32), nullable=False),
        sa.Column("code_plain", sa.String(10)),
        sa.Column("status", sa.String(30), nullable=False, server_default="pending"),
        sa.Column("send_count", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("check_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_verifications")),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'canceled', 'max_attempts_reached', 'expired', 'failed')",
            name=op.f("ck_otp_verifications_status"),
        ),
        sa.CheckConstraint("send_count >= 1", name=op.f("ck_otp_verifications_send_count")),
        sa.CheckConstraint("check_count >= 0", name=op.f("ck_otp_verifications_check_count")),
    )
    op.create_index("uq_otp_verifications_sid", "otp_verifications", ["sid"], unique=True)
    op.create_index(
        "uq_otp_verifications_pending_to",
        "otp_verifications",
        ["to_e164"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_otp_verifications_to_created", "otp_verifications", ["to_e164", "created_at"]
    )
    op.create_index("ix_otp_verifications_created", "otp_verifications", ["created_at"])


def downgrade() -> None:
    op.drop_table("otp_verifications")
