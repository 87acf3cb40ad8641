"""One-time codes per flow: the simulated Verify keeps one pending verification per
(flow, number), as live Verify does with one service per flow (accounts/otp).

Sign-up, login, password reset and a change of mobile each get their own
verification of a number, so failing one flow's code (a stranger's password reset)
never locks another (the owner's sign-in). Rows written before this keep `login`.

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "otp_verifications",
        sa.Column("flow", sa.String(20), nullable=False, server_default="login"),
    )
    op.create_check_constraint(
        op.f("ck_otp_verifications_flow"),
        "otp_verifications",
        "flow IN ('signup', 'login', 'reset', 'mobile')",
    )
    op.drop_index("uq_otp_verifications_pending_to", table_name="otp_verifications")
    op.create_index(
        "uq_otp_verifications_pending_flow_to",
        "otp_verifications",
        ["flow", "to_e164"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_otp_verifications_pending_flow_to", table_name="otp_verifications")
    op.execute(
        "UPDATE otp_verifications SET status = 'canceled'"
        " WHERE status = 'pending' AND flow <> 'login'"
    )
    op.create_index(
        "uq_otp_verifications_pending_to",
        "otp_verifications",
        ["to_e164"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_constraint(op.f("ck_otp_verifications_flow"), "otp_verifications", type_="check")
    op.drop_column("otp_verifications", "flow")
