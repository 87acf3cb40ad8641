"""A settled call's stored duration is at most what was billed for it.

`call_status_apply` (migration 0019) stored Twilio's `CallDuration` as the call's
`duration_s` as it came, while the charge was capped at the hold: a callback claiming
999,999,999 seconds billed what the hold allowed and recorded a call of 31 years,
which analytics (talk time, averages) then summed. The duration is now clamped to the
whole seconds billed (`cost_mc` / 1000, rounded down), or to the call's time limit
for a call that has no hold. Everything else in the function is 0019's, unchanged.

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import apply_sql, revert_sql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    apply_sql(op.get_bind(), "call_status_apply", "0022")


def downgrade() -> None:
    revert_sql(op.get_bind(), "call_status_apply", "0022")
