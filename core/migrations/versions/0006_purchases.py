"""Buying credits: packages, billing profiles, Paddle transactions, raw webhook events,
adjustments (refunds, chargebacks), credit-expiry policies; and the ledger's refund,
chargeback and reversal operations.

A chargeback is the one operation that may take a balance below zero. What it takes
beyond the grants is owed: `credit_accounts.debt_mc`. Every later credit pays the debt
first (recorded as grant allocations of the chargeback entry), so the invariants become

    balance_mc = sum(ledger_entries.amount_mc) = sum(credit_grants.remaining_mc) - debt_mc
    debt_mc > 0  implies  balance_mc = -debt_mc  (every grant is empty)

New functions (same conventions as 0004: one row back, statuses ok / duplicate /
conflict):

    ledger_credit(ws, key, kind, amount, source, expires_at, description, metadata)
        kind 'grant' or 'chargeback_reverse'; pays debt first; unfreezes an account
        frozen by a chargeback once its available balance is back at or above zero.
    ledger_clawback(ws, key, kind, amount, preferred_grant, description, metadata)
        kind 'refund': takes at most what is available (the rest is a shortfall the
        caller records); kind 'chargeback': takes it all, freezing the account when
        its available balance goes below zero. The preferred grant (the purchase's
        own lot) is consumed first.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

from core.sql_script import apply_sql, execute_script, revert_sql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = """
ALTER TABLE credit_accounts
    ADD COLUMN debt_mc bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT ck_credit_accounts_debt_nonnegative CHECK (debt_mc >= 0),
    ADD CONSTRAINT ck_credit_accounts_debt_means_negative CHECK (debt_mc = 0 OR balance_mc = -debt_mc);

CREATE TABLE credit_packages (
    id                  uuid PRIMARY KEY,
    code                varchar(40) NOT NULL UNIQUE,
    name                varchar(80) NOT NULL,
    credits_mc          bigint NOT NULL CHECK (credits_mc > 0),
    price_cents         integer NOT NULL CHECK (price_cents > 0),
    currency            char(3) NOT NULL DEFAULT 'USD',
    paddle_price_id     varchar(80) NOT NULL UNIQUE,
    service_fee_cents   integer NOT NULL DEFAULT 0 CHECK (service_fee_cents >= 0),
    paddle_fee_price_id varchar(80),
    active              boolean NOT NULL DEFAULT true,
    sort_order          integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_credit_packages_fee_price CHECK (service_fee_cents = 0 OR paddle_fee_price_id IS NOT NULL)
);

CREATE TABLE billing_profiles (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id),
    country_code char(2) NOT NULL,
    postal_code  varchar(20),
    region       varchar(10),
    updated_by   uuid REFERENCES users (id),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE paddle_transactions (
    id             varchar(80) PRIMARY KEY,
    workspace_id   uuid NOT NULL REFERENCES workspaces (id),
    user_id        uuid NOT NULL REFERENCES users (id),
    package_id     uuid NOT NULL REFERENCES credit_packages (id),
    credits_mc     bigint NOT NULL CHECK (credits_mc > 0),
    currency       char(3) NOT NULL,
    estimate       jsonb NOT NULL,
    custom_data    jsonb NOT NULL,
    status         varchar(30) NOT NULL DEFAULT 'ready',
    totals         jsonb,
    last_event_at  timestamptz,
    paid_at        timestamptz,
    completed_at   timestamptz,
    grant_entry_id bigint REFERENCES ledger_entries (id),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_paddle_transactions_workspace ON paddle_transactions (workspace_id, created_at DESC);

CREATE TABLE paddle_events (
    id              bigserial PRIMARY KEY,
    event_id        varchar(100) NOT NULL UNIQUE,
    event_type      varchar(80) NOT NULL,
    occurred_at     timestamptz,
    notification_id varchar(100),
    payload         jsonb NOT NULL,
    status          varchar(20) NOT NULL DEFAULT 'pending',
    note            text,
    transaction_id  varchar(80),
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    CONSTRAINT ck_paddle_events_status CHECK (
        status IN ('pending', 'processed', 'ignored', 'flagged', 'review'))
);
CREATE INDEX ix_paddle_events_pending ON paddle_events (received_at) WHERE status = 'pending';
CREATE INDEX ix_paddle_events_transaction ON paddle_events (transaction_id);

CREATE TABLE paddle_adjustments (
    id               varchar(80) PRIMARY KEY,
    transaction_id   varchar(80) NOT NULL REFERENCES paddle_transactions (id),
    workspace_id     uuid NOT NULL REFERENCES workspaces (id),
    action           varchar(30) NOT NULL,
    status           varchar(30) NOT NULL,
    amount_cents     bigint,
    credits_mc       bigint NOT NULL DEFAULT 0,
    taken_mc         bigint NOT NULL DEFAULT 0,
    shortfall_mc     bigint NOT NULL DEFAULT 0,
    entry_id         bigint REFERENCES ledger_entries (id),
    last_event_at    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE credit_expiry_policies (
    id              uuid PRIMARY KEY,
    announced_at    timestamptz NOT NULL,
    effective_at    timestamptz NOT NULL,
    lifetime_days   integer NOT NULL CHECK (lifetime_days > 0),
    existing_grants varchar(30) NOT NULL,
    summary         text NOT NULL,
    created_by      varchar(200) NOT NULL,
    cancelled_at    timestamptz,
    CONSTRAINT ck_credit_expiry_policies_notice CHECK (effective_at >= announced_at + interval '30 days'),
    CONSTRAINT ck_credit_expiry_policies_existing CHECK (
        existing_grants IN ('never_expire', 'expire_from_effective_date'))
);
"""

PACKAGES = """
INSERT INTO credit_packages
    (id, code, name, credits_mc, price_cents, paddle_price_id, service_fee_cents,
     paddle_fee_price_id, sort_order)
VALUES
    ('5b1e4c52-0d0f-4a55-9a43-6d7c8d0a0001', 'starter', 'Starter', 500000, 1000,
     'pri_klose_starter', 50, 'pri_klose_service_fee_50', 1),
    ('5b1e4c52-0d0f-4a55-9a43-6d7c8d0a0002', 'growth', 'Growth', 1300000, 2500,
     'pri_klose_growth', 100, 'pri_klose_service_fee_100', 2),
    ('5b1e4c52-0d0f-4a55-9a43-6d7c8d0a0003', 'pro', 'Pro', 2750000, 5000,
     'pri_klose_pro', 150, 'pri_klose_service_fee_150', 3);
"""

# In the order they are created (core/migrations/sql/<name>/0006.sql): ledger_grant
# becomes a wrapper of ledger_credit, so that purchases made while a chargeback debt is
# outstanding pay it off first.
FUNCTIONS = (
    "ledger_pay_debt",
    "ledger_credit",
    "ledger_grant",
    "ledger_consume_preferring",
    "ledger_clawback",
)


def upgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, TABLES)
    execute_script(bind, PACKAGES)
    for name in FUNCTIONS:
        apply_sql(bind, name, "0006")


def downgrade() -> None:
    bind = op.get_bind()
    # ledger_grant goes back to 0004's own; the others go.
    for name in reversed(FUNCTIONS):
        revert_sql(bind, name, "0006")
    execute_script(
        bind,
        """
        DROP TABLE IF EXISTS credit_expiry_policies, paddle_adjustments, paddle_events,
            paddle_transactions, billing_profiles, credit_packages;
        ALTER TABLE credit_accounts DROP COLUMN IF EXISTS debt_mc;
        """,
    )
