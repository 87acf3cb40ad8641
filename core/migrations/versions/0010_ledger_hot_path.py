"""Ledger hot path: less work per debit, same guarantees.

- `ledger_consume_grants` no longer takes row locks on the grants it reads: every
  writer of a workspace's grants holds that workspace's account lock first
  (`ledger_lock`), so the extra `FOR UPDATE` only cost a heap write and WAL per lot.
- `ledger_debit` takes the account's row lock, checks the balance and debits it in one
  `UPDATE … WHERE balance - held >= amount` (one row write instead of a `FOR UPDATE`
  and then an `UPDATE`), and looks its idempotency key up only when it has to: the
  insert's unique index finds a repeated key anyway (the amount is then put back). A
  repeated key still answers `duplicate` (or `conflict`) before `insufficient` or
  `frozen`, exactly as before.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import apply_sql, revert_sql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# core/migrations/sql/<name>/0010.sql; a downgrade puts 0004's back.
FUNCTIONS = ("ledger_consume_grants", "ledger_debit")


def upgrade() -> None:
    bind = op.get_bind()
    for name in FUNCTIONS:
        apply_sql(bind, name, "0010")


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(FUNCTIONS):
        revert_sql(bind, name, "0010")
