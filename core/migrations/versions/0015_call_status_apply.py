"""A status callback applied in one statement: `call_status_apply`.

Everything `telephony.callbacks.apply_status` did in several round trips, under the call
row's lock, in one function (one round trip, one short transaction, so the credit
account's lock taken by the settlement is held only for the end of that statement and
its commit):

1. find the call — by the id in the callback URL (only if its CallSid matches or is not
   known yet), else by CallSid — and lock it;
2. store the raw callback, de-duplicated on `p_key` (a duplicate changes nothing);
3. decide: unknown call → `unknown_call`; the call already terminal → `after_terminal`;
   a terminal status → `settled`; an older sequence number or a step back → `stale`;
   else `applied`;
4. apply: the status (and answered time), or the settlement — a completed call debits
   `CallDuration` × 1000 mc from its hold (capped at the hold by `ledger_hold_settle`),
   the rest released; busy, no-answer, failed and canceled release it all.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import apply_sql, revert_sql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    apply_sql(op.get_bind(), "call_status_apply", "0015")


def downgrade() -> None:
    revert_sql(op.get_bind(), "call_status_apply", "0015")
