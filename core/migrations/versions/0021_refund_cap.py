"""What is taken back for one purchase is capped at what that purchase granted.

Refunds, chargebacks and credit notes (Paddle's `credit` adjustment) each take credits
back for one purchase: its grant (lot). Before this revision nothing remembered what a
grant had already lost, so a second full refund of the same transaction took another
purchase's credits, and a refund followed by a chargeback took the purchase twice.

Each grant now counts what was taken back for it, by kind, and a CHECK keeps the sum
within the grant:

    refunded_mc + charged_back_mc + credited_back_mc <= amount_mc   (each >= 0)

- `ledger_clawback(ws, key, kind, amount, grant, description, metadata)` (same
  signature as 0006; kind 'refund', 'chargeback' or 'credit_note') now needs the grant,
  locks its row (under the account's lock, as every grant writer does) and takes at
  most what the grant has left to lose; a refund or credit note also at most what is
  available, as before. The entry's metadata records `requested_mc`, `grant_id` and,
  when the cap cut it, `capped_mc`.
- `ledger_clawback_reverse(ws, key, kind, amount, grant, description, metadata)` (kind
  'chargeback_reverse' or 'credit_note_reverse') gives back at most what chargebacks
  (or credit notes) took from that grant and have not been given back yet, as a new
  lot that pays any chargeback debt first.
- `ledger_credit` grants only ('grant'); a reversal must go through
  `ledger_clawback_reverse`. Its body lives on as `ledger_credit_lot`, used by both.

Existing adjustments recorded by the Paddle webhook are counted into the new columns
(capped at the grant, so history that already went past the cap still migrates).

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import apply_sql, execute_script, revert_sql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
ALTER TABLE credit_grants
    ADD COLUMN refunded_mc bigint NOT NULL DEFAULT 0,
    ADD COLUMN charged_back_mc bigint NOT NULL DEFAULT 0,
    ADD COLUMN credited_back_mc bigint NOT NULL DEFAULT 0;

UPDATE credit_grants g
   SET refunded_mc = LEAST(s.refunded, g.amount_mc),
       charged_back_mc = LEAST(s.charged_back, g.amount_mc - LEAST(s.refunded, g.amount_mc))
  FROM (SELECT t.grant_entry_id AS entry_id,
               GREATEST(coalesce(sum(a.taken_mc) FILTER (WHERE a.action = 'refund'), 0), 0)
                   AS refunded,
               GREATEST(coalesce(sum(a.taken_mc) FILTER (WHERE a.action = 'chargeback'), 0)
                        - coalesce(sum(a.credits_mc)
                                   FILTER (WHERE a.action = 'chargeback_reverse'), 0), 0)
                   AS charged_back
          FROM paddle_adjustments a
          JOIN paddle_transactions t ON t.id = a.transaction_id
         WHERE t.grant_entry_id IS NOT NULL
         GROUP BY t.grant_entry_id) s
 WHERE g.entry_id = s.entry_id;

ALTER TABLE credit_grants ADD CONSTRAINT ck_credit_grants_taken_back CHECK (
    refunded_mc >= 0 AND charged_back_mc >= 0 AND credited_back_mc >= 0
    AND refunded_mc + charged_back_mc + credited_back_mc <= amount_mc);

ALTER TABLE ledger_entries
    DROP CONSTRAINT ck_ledger_entries_kind,
    ADD CONSTRAINT ck_ledger_entries_kind CHECK (kind IN (
        'grant', 'query', 'call', 'debit', 'refund', 'chargeback',
        'chargeback_reverse', 'expiry', 'adjustment', 'credit_note',
        'credit_note_reverse'));
"""

# In the order they are created (core/migrations/sql/<name>/0021.sql): ledger_credit
# and ledger_clawback replace 0006's, the others are new.
FUNCTIONS = (
    "ledger_credit_lot",
    "ledger_credit",
    "ledger_lock_grant",
    "ledger_clawback",
    "ledger_clawback_reverse",
)

DOWNGRADE = """
ALTER TABLE credit_grants
    DROP CONSTRAINT IF EXISTS ck_credit_grants_taken_back,
    DROP COLUMN IF EXISTS refunded_mc,
    DROP COLUMN IF EXISTS charged_back_mc,
    DROP COLUMN IF EXISTS credited_back_mc;
ALTER TABLE ledger_entries
    DROP CONSTRAINT ck_ledger_entries_kind,
    ADD CONSTRAINT ck_ledger_entries_kind CHECK (kind IN (
        'grant', 'query', 'call', 'debit', 'refund', 'chargeback',
        'chargeback_reverse', 'expiry', 'adjustment')) NOT VALID;
"""


def upgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, UPGRADE)
    for name in FUNCTIONS:
        apply_sql(bind, name, "0021")


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(FUNCTIONS):
        revert_sql(bind, name, "0021")
    execute_script(bind, DOWNGRADE)
