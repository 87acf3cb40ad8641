-- Reserve up to p_max (at least p_min) of the available credits.
CREATE OR REPLACE FUNCTION ledger_hold_place(
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
