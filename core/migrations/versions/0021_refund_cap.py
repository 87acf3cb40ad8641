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

import importlib
from collections.abc import Sequence

from alembic import op

from core.sql_script import execute_script

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

FUNCTIONS = r"""
-- 0006's ledger_credit, for every kind of new lot: pays debt first, unfreezes.
CREATE FUNCTION ledger_credit_lot(
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
    IF p_kind IS NULL OR p_kind NOT IN ('grant', 'chargeback_reverse', 'credit_note_reverse') THEN
        RAISE EXCEPTION 'a new lot is a grant or a reversal, not %', p_kind
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

-- A grant. What a take-back lost is given back only by ledger_clawback_reverse.
CREATE OR REPLACE FUNCTION ledger_credit(
    p_ws uuid, p_key text, p_kind text, p_amount bigint, p_source text, p_expires timestamptz,
    p_desc text, p_meta jsonb
) RETURNS TABLE (status text, entry_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF p_kind IS DISTINCT FROM 'grant' THEN
        RAISE EXCEPTION 'ledger_credit only grants; a reversal goes through ledger_clawback_reverse, not %', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY SELECT * FROM ledger_credit_lot(p_ws, p_key, p_kind, p_amount, p_source,
                                                 p_expires, p_desc, p_meta);
END $$;

-- The grant a take-back concerns, locked (the caller holds the account's lock).
CREATE FUNCTION ledger_lock_grant(p_ws uuid, p_grant bigint) RETURNS credit_grants
LANGUAGE plpgsql AS $$
DECLARE g credit_grants;
BEGIN
    IF p_grant IS NULL THEN
        RAISE EXCEPTION 'a take-back concerns one grant: name it' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO g FROM credit_grants WHERE id = p_grant FOR UPDATE;
    IF NOT FOUND OR g.workspace_id <> p_ws THEN
        RAISE EXCEPTION 'grant % is not one of workspace %', p_grant, p_ws
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN g;
END $$;

CREATE OR REPLACE FUNCTION ledger_clawback(
    p_ws uuid, p_key text, p_kind text, p_amount bigint, p_grant bigint, p_desc text, p_meta jsonb
) RETURNS TABLE (status text, entry_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE a credit_accounts; e ledger_entries; g credit_grants; new_id bigint; room bigint;
        take bigint; from_grants bigint; new_balance bigint; must_freeze boolean; meta jsonb;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'clawback amount must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('refund', 'chargeback', 'credit_note') THEN
        RAISE EXCEPTION 'a clawback is a refund, a chargeback or a credit_note, not %', p_kind
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
    -- Every take-back of this grant waits here: what it has left to lose is read fresh.
    g := ledger_lock_grant(p_ws, p_grant);
    room := g.amount_mc - g.refunded_mc - g.charged_back_mc - g.credited_back_mc;
    take := LEAST(p_amount, room);
    IF p_kind <> 'chargeback' THEN
        take := LEAST(take, GREATEST(a.balance_mc - a.held_mc, 0));
    END IF;
    IF take <= 0 THEN
        RETURN QUERY SELECT 'ok'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    new_balance := a.balance_mc - take;
    meta := coalesce(p_meta, '{}'::jsonb)
            || jsonb_build_object('requested_mc', p_amount, 'grant_id', p_grant);
    IF p_amount > room THEN
        meta := meta || jsonb_build_object('capped_mc', p_amount - room);
    END IF;
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
    UPDATE credit_grants
       SET refunded_mc = refunded_mc + CASE WHEN p_kind = 'refund' THEN take ELSE 0 END,
           charged_back_mc = charged_back_mc + CASE WHEN p_kind = 'chargeback' THEN take ELSE 0 END,
           credited_back_mc = credited_back_mc + CASE WHEN p_kind = 'credit_note' THEN take ELSE 0 END
     WHERE id = p_grant;
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

CREATE FUNCTION ledger_clawback_reverse(
    p_ws uuid, p_key text, p_kind text, p_amount bigint, p_grant bigint, p_desc text, p_meta jsonb
) RETURNS TABLE (status text, entry_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE a credit_accounts; e ledger_entries; g credit_grants; give bigint; r record;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'reversal amount must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('chargeback_reverse', 'credit_note_reverse') THEN
        RAISE EXCEPTION 'a reversal is a chargeback_reverse or a credit_note_reverse, not %', p_kind
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
    g := ledger_lock_grant(p_ws, p_grant);
    give := LEAST(p_amount, CASE WHEN p_kind = 'chargeback_reverse' THEN g.charged_back_mc
                                 ELSE g.credited_back_mc END);
    IF give <= 0 THEN
        RETURN QUERY SELECT 'ok'::text, NULL::bigint, 0::bigint, a.balance_mc, a.held_mc;
        RETURN;
    END IF;
    SELECT * INTO r FROM ledger_credit_lot(
        p_ws, p_key, p_kind, give, p_kind, NULL, p_desc,
        coalesce(p_meta, '{}'::jsonb)
            || jsonb_build_object('requested_mc', p_amount, 'grant_id', p_grant));
    IF r.status = 'ok' THEN
        UPDATE credit_grants
           SET charged_back_mc = charged_back_mc
                   - CASE WHEN p_kind = 'chargeback_reverse' THEN give ELSE 0 END,
               credited_back_mc = credited_back_mc
                   - CASE WHEN p_kind = 'credit_note_reverse' THEN give ELSE 0 END
         WHERE id = p_grant;
    END IF;
    RETURN QUERY SELECT r.status, r.entry_id, r.amount_mc, r.balance_mc, r.held_mc;
END $$;
"""

DOWNGRADE = """
DROP FUNCTION IF EXISTS ledger_clawback_reverse(uuid, text, text, bigint, bigint, text, jsonb);
DROP FUNCTION IF EXISTS ledger_lock_grant(uuid, bigint);
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


def _function_0006(name: str) -> str:
    """0006's definition of a function, to put back on downgrade."""
    body: str = importlib.import_module("core.migrations.versions.0006_purchases").FUNCTIONS
    start = body.index(f"CREATE FUNCTION {name}(")
    end = body.index("END $$;", start) + len("END $$;")
    return body[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    execute_script(op.get_bind(), UPGRADE + FUNCTIONS)


def downgrade() -> None:
    execute_script(
        op.get_bind(),
        DOWNGRADE
        + _function_0006("ledger_credit")
        + "\n"
        + _function_0006("ledger_clawback")
        + "\nDROP FUNCTION IF EXISTS ledger_credit_lot("
        "uuid, text, text, bigint, text, timestamptz, text, jsonb);\n",
    )
