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
