-- Purchases made while a chargeback debt is outstanding pay it off first.
CREATE OR REPLACE FUNCTION ledger_grant(
    p_ws uuid, p_key text, p_amount bigint, p_source text, p_expires timestamptz,
    p_desc text, p_meta jsonb
) RETURNS TABLE (status text, entry_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE sql AS $$
    SELECT * FROM ledger_credit(p_ws, p_key, 'grant', p_amount, p_source, p_expires, p_desc, p_meta)
$$;
