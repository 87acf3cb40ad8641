"""A status callback's events and follow-up question ride in its one round trip.

`call_status_publish` calls `call_status_apply` (unchanged) and then, in the same
transaction, publishes what it changed — the call id on `ks_call` when the call moved
on or settled, the workspace on `ks_notices` when it settled (core/events.py) — and
tells whether a settled call leaves the after-settlement step anything to do (a
callback its prospect agreed to, or a receiver of the named webhook event in its
workspace). The app sent the NOTIFYs inside its SELECT already, but asked the
follow-up question in a second statement after every settlement; each statement in
the function sees the settlement itself (a fresh snapshot), which a subquery beside
the function call in one SELECT would not.

Revision ID: 0032
Revises: 0031
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import apply_sql, revert_sql

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    apply_sql(op.get_bind(), "call_status_publish", "0032")


def downgrade() -> None:
    revert_sql(op.get_bind(), "call_status_publish", "0032")
