-- Record that p_amount of a fresh grant pays the account's chargeback debt, oldest
-- chargeback first. The caller holds the account lock and updates the account.
CREATE OR REPLACE FUNCTION ledger_pay_debt(p_ws uuid, p_grant bigint, p_amount bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE c record; take bigint; paid bigint := 0;
BEGIN
    IF p_amount <= 0 THEN
        RETURN;
    END IF;
    FOR c IN SELECT e.id, -e.amount_mc - coalesce(
                        (SELECT sum(eg.amount_mc) FROM ledger_entry_grants eg WHERE eg.entry_id = e.id),
                        0) AS owed
               FROM ledger_entries e
              WHERE e.workspace_id = p_ws AND e.kind = 'chargeback'
              ORDER BY e.id
    LOOP
        CONTINUE WHEN c.owed <= 0;
        take := LEAST(c.owed, p_amount - paid);
        EXIT WHEN take <= 0;
        INSERT INTO ledger_entry_grants (entry_id, grant_id, amount_mc) VALUES (c.id, p_grant, take);
        paid := paid + take;
    END LOOP;
    IF paid <> p_amount THEN
        RAISE EXCEPTION 'ledger invariant violated: debt of % is not backed by chargebacks', p_ws;
    END IF;
    UPDATE credit_grants SET remaining_mc = remaining_mc - paid WHERE id = p_grant;
END $$;
