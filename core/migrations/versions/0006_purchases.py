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

import importlib
from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

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

FUNCTIONS = r"""
-- Record that p_amount of a fresh grant pays the account's chargeback debt, oldest
-- chargeback first. The caller holds the account lock and updates the account.
CREATE FUNCTION ledger_pay_debt(p_ws uuid, p_grant bigint, p_amount bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE c record; take bigint; paid bigint := 0;
BEGIN
    IF p_amount <= 0 THEN
        RETURN;
    END IF;
    FOR c IN SELECT e.id, -e.amount_mc - coalesce(
                        (SELECT sum(eg.amount_mc) FROM ledger_entry_grants eg WHERE eg.entry_id = e.id),
                        0) AS owed
               FROM ledger_entries e
              WHERE e.workspace_id = p_ws AND e.kind = 'chargeback'
              ORDER BY e.id
    LOOP
        CONTINUE WHEN c.owed <= 0;
        take := LEAST(c.owed, p_amount - paid);
        EXIT WHEN take <= 0;
        INSERT INTO ledger_entry_grants (entry_id, grant_id, amount_mc) VALUES (c.id, p_grant, take);
        paid := paid + take;
    END LOOP;
    IF paid <> p_amount THEN
        RAISE EXCEPTION 'ledger invariant violated: debt of % is not backed by chargebacks', p_ws;
    END IF;
    UPDATE credit_grants SET remaining_mc = remaining_mc - paid WHERE id = p_grant;
END $$;

CREATE FUNCTION ledger_credit(
    p_ws uuid, p_key text, p_kind text, p_amount bigint, p_source text, p_expires timestamptz,
    p_desc text, p_meta jsonb
) RETURNS TABLE (status text, entry_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE a credit_accounts; e ledger_entries; new_id bigint; grant_id bigint; may_unfreeze boolean;
        debt_paid bigint;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'credit amount must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_kind NOT IN ('grant', 'chargeback_reverse') THEN
        RAISE EXCEPTION 'a credit is a grant or a chargeback_reverse, not %', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    a := ledger_lock(p_ws);
    SELECT * INTO e FROM ledger_entries WHERE idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT
            CASE WHEN e.workspace_id = p_ws AND e.kind = p_kind AND e.amount_mc = p_amount
                 THEN 'duplicate' ELSE 'conflict' END,
            e.id, e.amount_mc, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    new_id := ledger_insert_entry(p_ws, p_key, p_kind, p_amount, a.balance_mc + p_amount,
                                  NULL, p_desc, p_meta);
    IF new_id IS NULL THEN
        RETURN QUERY SELECT 'conflict'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    INSERT INTO credit_grants (workspace_id, entry_id, amount_mc, remaining_mc, source, expires_at)
    VALUES (p_ws, new_id, p_amount, p_amount, p_source, p_expires)
    RETURNING id INTO grant_id;
    debt_paid := LEAST(a.debt_mc, p_amount);
    PERFORM ledger_pay_debt(p_ws, grant_id, debt_paid);
    may_unfreeze := a.frozen AND a.frozen_reason = 'chargeback'
                AND a.balance_mc + p_amount - a.held_mc >= 0;
    UPDATE credit_accounts
       SET balance_mc = balance_mc + p_amount,
           debt_mc = debt_mc - debt_paid,
           frozen = CASE WHEN may_unfreeze THEN false ELSE frozen END,
           frozen_reason = CASE WHEN may_unfreeze THEN NULL ELSE frozen_reason END,
           updated_at = now()
     WHERE workspace_id = p_ws;
    RETURN QUERY SELECT 'ok'::text, new_id, p_amount, a.balance_mc + p_amount, a.held_mc;
END $$;

-- Purchases made while a chargeback debt is outstanding pay it off first.
CREATE OR REPLACE FUNCTION ledger_grant(
    p_ws uuid, p_key text, p_amount bigint, p_source text, p_expires timestamptz,
    p_desc text, p_meta jsonb
) RETURNS TABLE (status text, entry_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE sql AS $$
    SELECT * FROM ledger_credit(p_ws, p_key, 'grant', p_amount, p_source, p_expires, p_desc, p_meta)
$$;

-- Take up to p_amount from the preferred grant first, then soonest expiry first.
CREATE FUNCTION ledger_consume_preferring(p_ws uuid, p_entry bigint, p_amount bigint, p_grant bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE take bigint := 0;
BEGIN
    IF p_grant IS NOT NULL THEN
        SELECT LEAST(remaining_mc, p_amount) INTO take FROM credit_grants
         WHERE id = p_grant AND workspace_id = p_ws FOR UPDATE;
        take := coalesce(take, 0);
        IF take > 0 THEN
            UPDATE credit_grants SET remaining_mc = remaining_mc - take WHERE id = p_grant;
            INSERT INTO ledger_entry_grants (entry_id, grant_id, amount_mc) VALUES (p_entry, p_grant, take);
        END IF;
    END IF;
    IF p_amount - take > 0 THEN
        PERFORM ledger_consume_grants(p_ws, p_entry, p_amount - take);
    END IF;
END $$;

CREATE FUNCTION ledger_clawback(
    p_ws uuid, p_key text, p_kind text, p_amount bigint, p_grant bigint, p_desc text, p_meta jsonb
) RETURNS TABLE (status text, entry_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE a credit_accounts; e ledger_entries; new_id bigint; take bigint; from_grants bigint;
        new_balance bigint; must_freeze boolean; meta jsonb;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'clawback amount must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_kind NOT IN ('refund', 'chargeback') THEN
        RAISE EXCEPTION 'a clawback is a refund or a chargeback, not %', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    a := ledger_lock(p_ws);
    SELECT * INTO e FROM ledger_entries WHERE idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT
            CASE WHEN e.workspace_id = p_ws AND e.kind = p_kind THEN 'duplicate' ELSE 'conflict' END,
            e.id, e.amount_mc, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    IF p_kind = 'refund' THEN
        take := LEAST(p_amount, GREATEST(a.balance_mc - a.held_mc, 0));
    ELSE
        take := p_amount;
    END IF;
    IF take = 0 THEN
        RETURN QUERY SELECT 'ok'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    new_balance := a.balance_mc - take;
    meta := coalesce(p_meta, '{}'::jsonb) || jsonb_build_object('requested_mc', p_amount);
    new_id := ledger_insert_entry(p_ws, p_key, p_kind, -take, new_balance, NULL, p_desc, meta);
    IF new_id IS NULL THEN
        RETURN QUERY SELECT 'conflict'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    -- What the grants still hold: balance + debt (= sum of remaining).
    from_grants := LEAST(take, a.balance_mc + a.debt_mc);
    IF from_grants > 0 THEN
        PERFORM ledger_consume_preferring(p_ws, new_id, from_grants, p_grant);
    END IF;
    must_freeze := new_balance - a.held_mc < 0;
    UPDATE credit_accounts
       SET balance_mc = new_balance,
           debt_mc = debt_mc + (take - from_grants),
           frozen = frozen OR must_freeze,
           frozen_reason = CASE WHEN must_freeze AND NOT frozen THEN 'chargeback' ELSE frozen_reason END,
           updated_at = now()
     WHERE workspace_id = p_ws;
    RETURN QUERY SELECT 'ok'::text, new_id, -take, new_balance, a.held_mc;
END $$;
"""


def upgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, TABLES)
    execute_script(bind, PACKAGES)
    execute_script(bind, FUNCTIONS)


def downgrade() -> None:
    execute_script(
        op.get_bind(),
        """
        DROP FUNCTION IF EXISTS ledger_grant(uuid, text, bigint, text, timestamptz, text, jsonb);
        DROP FUNCTION IF EXISTS ledger_clawback(uuid, text, text, bigint, bigint, text, jsonb);
        DROP FUNCTION IF EXISTS ledger_consume_preferring(uuid, bigint, bigint, bigint);
        DROP FUNCTION IF EXISTS ledger_credit(uuid, text, text, bigint, text, timestamptz, text, jsonb);
        DROP FUNCTION IF EXISTS ledger_pay_debt(uuid, bigint, bigint);
        DROP TABLE IF EXISTS credit_expiry_policies, paddle_adjustments, paddle_events,
            paddle_transactions, billing_profiles, credit_packages;
        ALTER TABLE credit_accounts DROP COLUMN IF EXISTS debt_mc;
        """,
    )
    # Put back 0004's own ledger_grant (the wrapper above calls a dropped function).
    ledger_0004 = importlib.import_module("core.migrations.versions.0004_credit_ledger")
    body = ledger_0004.FUNCTIONS
    start = body.index("CREATE FUNCTION ledger_grant(")
    end = body.index("END $$;", start) + len("END $$;")
    execute_script(op.get_bind(), body[start:end])
