CREATE OR REPLACE FUNCTION ledger_consume_grants(p_ws uuid, p_entry bigint, p_amount bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE g record; left_mc bigint := p_amount; take bigint;
BEGIN
    -- The caller holds the account lock: no other transaction can touch these lots.
    FOR g IN SELECT id, remaining_mc FROM credit_grants
             WHERE workspace_id = p_ws AND remaining_mc > 0
             ORDER BY expires_at ASC NULLS LAST, created_at, id
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
