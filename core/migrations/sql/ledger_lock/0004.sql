-- Lock (creating if missing) the workspace's credit account. Every write starts here,
-- so operations on one account are serialised and never deadlock on each other.
CREATE OR REPLACE FUNCTION ledger_lock(p_ws uuid) RETURNS credit_accounts LANGUAGE plpgsql AS $$
DECLARE a credit_accounts;
BEGIN
    SELECT * INTO a FROM credit_accounts WHERE workspace_id = p_ws FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO credit_accounts (workspace_id) VALUES (p_ws) ON CONFLICT DO NOTHING;
        SELECT * INTO a FROM credit_accounts WHERE workspace_id = p_ws FOR UPDATE;
    END IF;
    RETURN a;
END $$;
