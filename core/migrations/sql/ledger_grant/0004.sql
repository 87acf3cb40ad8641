CREATE OR REPLACE FUNCTION ledger_grant(
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
