-- Insert an entry; a concurrent insert of the same key (another account) yields NULL.
CREATE OR REPLACE FUNCTION ledger_insert_entry(
    p_ws uuid, p_key text, p_kind text, p_amount bigint, p_balance_after bigint,
    p_hold bigint, p_desc text, p_meta jsonb
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE new_id bigint;
BEGIN
    INSERT INTO ledger_entries
        (workspace_id, idempotency_key, kind, amount_mc, balance_after_mc, hold_id, description, metadata)
    VALUES (p_ws, p_key, p_kind, p_amount, p_balance_after, p_hold,
            coalesce(p_desc, ''), coalesce(p_meta, '{}'::jsonb))
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO new_id;
    RETURN new_id;
END $$;
