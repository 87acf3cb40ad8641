CREATE OR REPLACE FUNCTION ledger_hold_release(p_hold bigint, p_final text)
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
