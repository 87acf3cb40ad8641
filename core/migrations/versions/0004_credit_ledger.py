"""The credit ledger: accounts, append-only entries, grants (lots), holds.

All amounts are bigint milli-credits. Every write goes through one of the
functions below, which take the account's row lock first, so that idempotency,
the no-negative-balance rule and the grant bookkeeping are decided under that
lock in one round trip:

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

from core.sql_script import execute_script

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

CREATE FUNCTION ledger_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_change();
CREATE TRIGGER ledger_entry_grants_append_only BEFORE UPDATE OR DELETE ON ledger_entry_grants
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();
"""

FUNCTIONS = r"""
-- Lock (creating if missing) the workspace's credit account. Every write starts here,
-- so operations on one account are serialised and never deadlock on each other.
CREATE FUNCTION ledger_lock(p_ws uuid) RETURNS credit_accounts LANGUAGE plpgsql AS $$
DECLARE a credit_accounts;
BEGIN
    SELECT * INTO a FROM credit_accounts WHERE workspace_id = p_ws FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO credit_accounts (workspace_id) VALUES (p_ws) ON CONFLICT DO NOTHING;
        SELECT * INTO a FROM credit_accounts WHERE workspace_id = p_ws FOR UPDATE;
    END IF;
    RETURN a;
END $$;

-- Take p_amount from the account's grants, soonest expiry first, then oldest.
CREATE FUNCTION ledger_consume_grants(p_ws uuid, p_entry bigint, p_amount bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE g record; left_mc bigint := p_amount; take bigint;
BEGIN
    FOR g IN SELECT id, remaining_mc FROM credit_grants
             WHERE workspace_id = p_ws AND remaining_mc > 0
             ORDER BY expires_at ASC NULLS LAST, created_at, id
             FOR UPDATE
    LOOP
        take := LEAST(g.remaining_mc, left_mc);
        UPDATE credit_grants SET remaining_mc = remaining_mc - take WHERE id = g.id;
        INSERT INTO ledger_entry_grants (entry_id, grant_id, amount_mc) VALUES (p_entry, g.id, take);
        left_mc := left_mc - take;
        EXIT WHEN left_mc = 0;
    END LOOP;
    IF left_mc > 0 THEN
        RAISE EXCEPTION 'ledger invariant violated: grants of % short by % mc', p_ws, left_mc;
    END IF;
END $$;

-- Insert an entry; a concurrent insert of the same key (another account) yields NULL.
CREATE FUNCTION ledger_insert_entry(
    p_ws uuid, p_key text, p_kind text, p_amount bigint, p_balance_after bigint,
    p_hold bigint, p_desc text, p_meta jsonb
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE new_id bigint;
BEGIN
    INSERT INTO ledger_entries
        (workspace_id, idempotency_key, kind, amount_mc, balance_after_mc, hold_id, description, metadata)
    VALUES (p_ws, p_key, p_kind, p_amount, p_balance_after, p_hold,
            coalesce(p_desc, ''), coalesce(p_meta, '{}'::jsonb))
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO new_id;
    RETURN new_id;
END $$;

CREATE FUNCTION ledger_grant(
    p_ws uuid, p_key text, p_amount bigint, p_source text, p_expires timestamptz,
    p_desc text, p_meta jsonb
) RETURNS TABLE (status text, entry_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE a credit_accounts; e ledger_entries; new_id bigint;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'grant amount must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    a := ledger_lock(p_ws);
    SELECT * INTO e FROM ledger_entries WHERE idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT
            CASE WHEN e.workspace_id = p_ws AND e.kind = 'grant' AND e.amount_mc = p_amount
                 THEN 'duplicate' ELSE 'conflict' END,
            e.id, e.amount_mc, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    new_id := ledger_insert_entry(p_ws, p_key, 'grant', p_amount, a.balance_mc + p_amount,
                                  NULL, p_desc, p_meta);
    IF new_id IS NULL THEN
        RETURN QUERY SELECT 'conflict'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    INSERT INTO credit_grants (workspace_id, entry_id, amount_mc, remaining_mc, source, expires_at)
    VALUES (p_ws, new_id, p_amount, p_amount, p_source, p_expires);
    UPDATE credit_accounts SET balance_mc = balance_mc + p_amount, updated_at = now()
    WHERE workspace_id = p_ws;
    RETURN QUERY SELECT 'ok'::text, new_id, p_amount, a.balance_mc + p_amount, a.held_mc;
END $$;

CREATE FUNCTION ledger_debit(
    p_ws uuid, p_key text, p_amount bigint, p_kind text, p_desc text, p_meta jsonb
) RETURNS TABLE (status text, entry_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE a credit_accounts; e ledger_entries; new_id bigint;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'debit amount must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    a := ledger_lock(p_ws);
    SELECT * INTO e FROM ledger_entries WHERE idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT
            CASE WHEN e.workspace_id = p_ws AND e.kind = p_kind AND e.amount_mc = -p_amount
                 THEN 'duplicate' ELSE 'conflict' END,
            e.id, e.amount_mc, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    IF a.frozen THEN
        RETURN QUERY SELECT 'frozen'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    IF a.balance_mc - a.held_mc < p_amount THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    new_id := ledger_insert_entry(p_ws, p_key, p_kind, -p_amount, a.balance_mc - p_amount,
                                  NULL, p_desc, p_meta);
    IF new_id IS NULL THEN
        RETURN QUERY SELECT 'conflict'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    PERFORM ledger_consume_grants(p_ws, new_id, p_amount);
    UPDATE credit_accounts SET balance_mc = balance_mc - p_amount, updated_at = now()
    WHERE workspace_id = p_ws;
    RETURN QUERY SELECT 'ok'::text, new_id, -p_amount, a.balance_mc - p_amount, a.held_mc;
END $$;

-- Reserve up to p_max (at least p_min) of the available credits.
CREATE FUNCTION ledger_hold_place(
    p_ws uuid, p_key text, p_max bigint, p_min bigint, p_expires timestamptz, p_ref text
) RETURNS TABLE (status text, hold_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE a credit_accounts; h credit_holds; amt bigint; new_id bigint;
BEGIN
    IF p_min IS NULL OR p_min <= 0 OR p_max IS NULL OR p_max < p_min THEN
        RAISE EXCEPTION 'hold needs 0 < min <= max' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    a := ledger_lock(p_ws);
    SELECT * INTO h FROM credit_holds WHERE idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT
            CASE WHEN h.workspace_id = p_ws THEN 'duplicate' ELSE 'conflict' END,
            h.id, h.amount_mc, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    IF a.frozen THEN
        RETURN QUERY SELECT 'frozen'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    IF a.balance_mc - a.held_mc < p_min THEN
        RETURN QUERY SELECT 'insufficient'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    amt := LEAST(p_max, a.balance_mc - a.held_mc);
    INSERT INTO credit_holds (workspace_id, idempotency_key, amount_mc, expires_at, reference)
    VALUES (p_ws, p_key, amt, p_expires, p_ref)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RETURN QUERY SELECT 'conflict'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    UPDATE credit_accounts SET held_mc = held_mc + amt, updated_at = now() WHERE workspace_id = p_ws;
    RETURN QUERY SELECT 'ok'::text, new_id, amt, a.balance_mc, a.held_mc + amt;
END $$;

-- Settle a hold exactly once: debit what was used (never more than the hold, never
-- below zero), release the rest.
CREATE FUNCTION ledger_hold_settle(
    p_hold bigint, p_actual bigint, p_key text, p_kind text, p_desc text, p_meta jsonb
) RETURNS TABLE (status text, entry_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE ws uuid; a credit_accounts; h credit_holds; charge bigint; new_id bigint; meta jsonb;
BEGIN
    IF p_actual IS NULL OR p_actual < 0 THEN
        RAISE EXCEPTION 'settled amount must be >= 0' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT workspace_id INTO ws FROM credit_holds WHERE id = p_hold;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::bigint, 0::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    a := ledger_lock(ws);
    SELECT * INTO h FROM credit_holds WHERE id = p_hold FOR UPDATE;
    IF h.status <> 'open' THEN
        RETURN QUERY SELECT 'already_resolved'::text,
            (SELECT id FROM ledger_entries WHERE hold_id = p_hold),
            -coalesce(h.settled_mc, 0), a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    charge := LEAST(p_actual, h.amount_mc, GREATEST(a.balance_mc, 0));
    meta := coalesce(p_meta, '{}'::jsonb) || jsonb_build_object('hold_mc', h.amount_mc);
    IF charge < p_actual THEN
        meta := meta || jsonb_build_object('requested_mc', p_actual);
    END IF;
    IF charge > 0 THEN
        new_id := ledger_insert_entry(ws, p_key, p_kind, -charge, a.balance_mc - charge,
                                      p_hold, p_desc, meta);
        IF new_id IS NULL THEN
            RETURN QUERY SELECT 'conflict'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
            RETURN;
        END IF;
        PERFORM ledger_consume_grants(ws, new_id, charge);
    END IF;
    UPDATE credit_accounts
       SET balance_mc = balance_mc - charge, held_mc = held_mc - h.amount_mc, updated_at = now()
     WHERE workspace_id = ws;
    UPDATE credit_holds SET status = 'settled', settled_mc = charge, resolved_at = now()
     WHERE id = p_hold;
    RETURN QUERY SELECT 'ok'::text, new_id, -charge, a.balance_mc - charge, a.held_mc - h.amount_mc;
END $$;

CREATE FUNCTION ledger_hold_release(p_hold bigint, p_final text)
RETURNS TABLE (status text, hold_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE ws uuid; a credit_accounts; h credit_holds;
BEGIN
    IF p_final NOT IN ('released', 'expired') THEN
        RAISE EXCEPTION 'a hold is released or expired, not %', p_final
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT workspace_id INTO ws FROM credit_holds WHERE id = p_hold;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, p_hold, 0::bigint, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    a := ledger_lock(ws);
    SELECT * INTO h FROM credit_holds WHERE id = p_hold FOR UPDATE;
    IF h.status <> 'open' THEN
        RETURN QUERY SELECT 'already_resolved'::text, p_hold, h.amount_mc, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    UPDATE credit_accounts SET held_mc = held_mc - h.amount_mc, updated_at = now()
     WHERE workspace_id = ws;
    UPDATE credit_holds SET status = p_final, settled_mc = 0, resolved_at = now() WHERE id = p_hold;
    RETURN QUERY SELECT 'ok'::text, p_hold, h.amount_mc, a.balance_mc, a.held_mc - h.amount_mc;
END $$;
"""


def upgrade() -> None:
    bind = op.get_bind()
    execute_script(bind, TABLES)
    execute_script(bind, FUNCTIONS)


def downgrade() -> None:
    execute_script(
        op.get_bind(),
        """
        DROP FUNCTION IF EXISTS ledger_hold_release(bigint, text);
        DROP FUNCTION IF EXISTS ledger_hold_settle(bigint, bigint, text, text, text, jsonb);
        DROP FUNCTION IF EXISTS ledger_hold_place(uuid, text, bigint, bigint, timestamptz, text);
        DROP FUNCTION IF EXISTS ledger_debit(uuid, text, bigint, text, text, jsonb);
        DROP FUNCTION IF EXISTS ledger_grant(uuid, text, bigint, text, timestamptz, text, jsonb);
        DROP FUNCTION IF EXISTS ledger_insert_entry(uuid, text, text, bigint, bigint, bigint, text, jsonb);
        DROP FUNCTION IF EXISTS ledger_consume_grants(uuid, bigint, bigint);
        DROP FUNCTION IF EXISTS ledger_lock(uuid);
        DROP TABLE IF EXISTS ledger_entry_grants, credit_grants, ledger_entries, credit_holds, credit_accounts;
        DROP FUNCTION IF EXISTS ledger_forbid_change();
        """,
    )
