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
