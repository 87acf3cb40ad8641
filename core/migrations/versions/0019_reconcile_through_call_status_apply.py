"""Reconciliation settles through `call_status_apply` too: one settlement for a call.

A call whose final callback never came used to be settled by Python code of its own
(`telephony.callbacks.settle`), a second copy of the money rules `call_status_apply`
(migration 0015) applies to every status callback. The function now takes where the
status came from — `p_source`: 'callback' (the default, as before) or 'reconcile' (the
provider's own record, fetched by the periodic job) — and a reason to record on the call
(`p_end_reason`). A terminal status from reconciliation settles exactly as a callback's
would, under the same locks and de-duplication, and is stored and answered as
`reconciled` instead of `settled`.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import apply_sql, execute_script, revert_sql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The new arguments make it another function: each direction drops the other's first.
DROP_0015 = """
DROP FUNCTION IF EXISTS call_status_apply(uuid, text, text, integer, integer, text, text, jsonb);
"""
DROP_0019 = """
DROP FUNCTION IF EXISTS call_status_apply(
    uuid, text, text, integer, integer, text, text, jsonb, text, text);
"""


def upgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, DROP_0015)
    apply_sql(bind, "call_status_apply", "0019")


def downgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, DROP_0019)
    revert_sql(bind, "call_status_apply", "0019")
