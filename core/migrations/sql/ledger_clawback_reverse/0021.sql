CREATE OR REPLACE FUNCTION ledger_clawback_reverse(
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
