-- Take up to p_amount from the preferred grant first, then soonest expiry first.
CREATE OR REPLACE FUNCTION ledger_consume_preferring(p_ws uuid, p_entry bigint, p_amount bigint, p_grant bigint)
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
