-- The grant a take-back concerns, locked (the caller holds the account's lock).
CREATE OR REPLACE FUNCTION ledger_lock_grant(p_ws uuid, p_grant bigint) RETURNS credit_grants
LANGUAGE plpgsql AS $$
DECLARE g credit_grants;
BEGIN
    IF p_grant IS NULL THEN
        RAISE EXCEPTION 'a take-back concerns one grant: name it' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO g FROM credit_grants WHERE id = p_grant FOR UPDATE;
    IF NOT FOUND OR g.workspace_id <> p_ws THEN
        RAISE EXCEPTION 'grant % is not one of workspace %', p_grant, p_ws
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN g;
END $$;
