CREATE OR REPLACE FUNCTION chat_turn_hold(
    p_message text,
    p_ws uuid,
    p_key text,
    p_price bigint,
    p_expires timestamptz,
    p_ref text)
RETURNS TABLE (status text, hold_id bigint, amount_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
-- A chat turn's answer price held (`ledger_hold_place`, exactly `p_price`, idempotent by
-- `p_key`) and the hold noted on the turn's row, as one unit of work
-- (tools/metering.py `QueryMeter.reserve` for chat_app/turns.py): a turn left running
-- by a process that died has its hold released by the next turn of its thread
-- (`chat_turn_admit`). The ledger's answer is returned as it is.
#variable_conflict use_column
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM ledger_hold_place(p_ws, p_key, p_price, p_price, p_expires, p_ref);
    IF r.status IN ('ok', 'duplicate') THEN
        UPDATE assistant_turns SET hold_id = r.hold_id WHERE message_id = p_message;
    END IF;
    RETURN QUERY SELECT r.status, r.hold_id, r.amount_mc, r.balance_mc, r.held_mc;
END $$;
