-- Settle a hold exactly once: debit what was used (never more than the hold, never
-- below zero), release the rest.
CREATE OR REPLACE FUNCTION ledger_hold_settle(
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
