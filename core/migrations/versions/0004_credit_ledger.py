"""The credit ledger: accounts, append-only entries, grants (lots), holds.

All amounts are bigint milli-credits. Every write goes through one of the
functions below (core/migrations/sql/<name>/0004.sql), which take the account's row
lock first, so that idempotency, the no-negative-balance rule and the grant
bookkeeping are decided under that lock in one round trip:

    ledger_grant(ws, key, amount, source, expires_at, description, metadata)
    ledger_debit(ws, key, amount, kind, description, metadata)
    ledger_hold_place(ws, key, max_amount, min_amount, expires_at, reference)
    ledger_hold_settle(hold_id, actual_amount, key, kind, description, metadata)
    ledger_hold_release(hold_id, final_status)        -- 'released' or 'expired'

Each returns one row (status, entry_id | hold_id, amount_mc, balance_mc, held_mc).
Statuses: ok, duplicate (same key, same operation: nothing moved), conflict
(key already used for something else), insufficient, frozen, not_found,
already_resolved (a hold that was settled or released before).

Invariants (checked by tests after every operation):
  balance_mc = sum(ledger_entries.amount_mc) = sum(credit_grants.remaining_mc)
  held_mc    = sum(open holds' amount_mc);   balance_mc - held_mc >= 0 unless frozen

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import apply_sql, execute_script, revert_sql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = """
CREATE TABLE credit_accounts (
    workspace_id  uuid PRIMARY KEY REFERENCES workspaces (id),
    balance_mc    bigint NOT NULL DEFAULT 0,
    held_mc       bigint NOT NULL DEFAULT 0,
    frozen        boolean NOT NULL DEFAULT false,
    frozen_reason text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_credit_accounts_held_nonnegative CHECK (held_mc >= 0),
    CONSTRAINT ck_credit_accounts_available_nonnegative CHECK (frozen OR balance_mc - held_mc >= 0)
);

CREATE TABLE credit_holds (
    id              bigserial PRIMARY KEY,
    workspace_id    uuid NOT NULL REFERENCES credit_accounts (workspace_id),
    idempotency_key varchar(200) NOT NULL,
    amount_mc       bigint NOT NULL,
    status          varchar(20) NOT NULL DEFAULT 'open',
    reference       text,
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    settled_mc      bigint,
    CONSTRAINT uq_credit_holds_idempotency_key UNIQUE (idempotency_key),
    CONSTRAINT ck_credit_holds_amount_positive CHECK (amount_mc > 0),
    CONSTRAINT ck_credit_holds_status CHECK (status IN ('open', 'settled', 'released', 'expired')),
    CONSTRAINT ck_credit_holds_settled_range CHECK (settled_mc IS NULL OR settled_mc BETWEEN 0 AND amount_mc)
);
CREATE INDEX ix_credit_holds_open_expiry ON credit_holds (expires_at) WHERE status = 'open';
CREATE INDEX ix_credit_holds_workspace ON credit_holds (workspace_id, created_at);

CREATE TABLE ledger_entries (
    id               bigserial PRIMARY KEY,
    workspace_id     uuid NOT NULL REFERENCES credit_accounts (workspace_id),
    idempotency_key  varchar(200) NOT NULL,
    kind             varchar(20) NOT NULL,
    amount_mc        bigint NOT NULL,
    balance_after_mc bigint NOT NULL,
    hold_id          bigint REFERENCES credit_holds (id),
    description      text NOT NULL DEFAULT '',
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_ledger_entries_idempotency_key UNIQUE (idempotency_key),
    CONSTRAINT ck_ledger_entries_amount_nonzero CHECK (amount_mc <> 0),
    CONSTRAINT ck_ledger_entries_kind CHECK (kind IN (
        'grant', 'query', 'call', 'debit', 'refund', 'chargeback',
        'chargeback_reverse', 'expiry', 'adjustment'))
);
CREATE INDEX ix_ledger_entries_workspace ON ledger_entries (workspace_id, id DESC);
CREATE UNIQUE INDEX uq_ledger_entries_hold ON ledger_entries (hold_id) WHERE hold_id IS NOT NULL;

CREATE TABLE credit_grants (
    id           bigserial PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES credit_accounts (workspace_id),
    entry_id     bigint NOT NULL REFERENCES ledger_entries (id),
    amount_mc    bigint NOT NULL,
    remaining_mc bigint NOT NULL,
    source       varchar(50) NOT NULL,
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_credit_grants_entry_id UNIQUE (entry_id),
    CONSTRAINT ck_credit_grants_amount_positive CHECK (amount_mc > 0),
    CONSTRAINT ck_credit_grants_remaining_range CHECK (remaining_mc BETWEEN 0 AND amount_mc)
);
-- The consumption order: soonest expiry first (no expiry last), then oldest.
CREATE INDEX ix_credit_grants_consume_order
    ON credit_grants (workspace_id, expires_at ASC NULLS LAST, created_at, id)
    WHERE remaining_mc > 0;

CREATE TABLE ledger_entry_grants (
    entry_id  bigint NOT NULL REFERENCES ledger_entries (id),
    grant_id  bigint NOT NULL REFERENCES credit_grants (id),
    amount_mc bigint NOT NULL,
    CONSTRAINT pk_ledger_entry_grants PRIMARY KEY (entry_id, grant_id),
    CONSTRAINT ck_ledger_entry_grants_amount_positive CHECK (amount_mc > 0)
);
CREATE INDEX ix_ledger_entry_grants_grant ON ledger_entry_grants (grant_id);
"""

TRIGGERS = """
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER ledger_entry_grants_append_only BEFORE UPDATE OR DELETE ON ledger_entry_grants
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
"""

# In the order they are created (core/migrations/sql/<name>/0004.sql).
FUNCTIONS = (
    "ledger_lock",
    "ledger_consume_grants",
    "ledger_insert_entry",
    "ledger_grant",
    "ledger_debit",
    "ledger_hold_place",
    "ledger_hold_settle",
    "ledger_hold_release",
)


def upgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, TABLES)
    apply_sql(bind, "ledger_forbid_change", "0004")
    execute_script(bind, TRIGGERS)
    for name in FUNCTIONS:
        apply_sql(bind, name, "0004")


def downgrade() -> None:
    bind = op.get_bind()
    # The functions first: ledger_lock returns the credit_accounts row type.
    for name in reversed(FUNCTIONS):
        revert_sql(bind, name, "0004")
    execute_script(
        bind,
        "DROP TABLE IF EXISTS ledger_entry_grants, credit_grants, ledger_entries, credit_holds, "
        "credit_accounts;",
    )
    revert_sql(bind, "ledger_forbid_change", "0004")
