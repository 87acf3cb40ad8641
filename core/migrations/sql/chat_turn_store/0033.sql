CREATE OR REPLACE FUNCTION chat_turn_store(
    p_workspace uuid,
    p_thread uuid,
    p_message text,
    p_messages jsonb,
    p_answer text,
    p_calls jsonb,
    p_hold bigint,
    p_charge bigint,
    p_key text,
    p_description text,
    p_meta jsonb)
RETURNS TABLE (cost_mc bigint, balance_mc bigint, held_mc bigint)
LANGUAGE plpgsql AS $$
-- An answered chat turn settled and stored as one unit of work (chat_app/turns.py
-- `_settle_and_store`), under the thread's advisory lock (a proposal's button may
-- write to the thread meanwhile): the answer's hold `p_hold`, if any, settled for
-- `p_charge` under the debit key `p_key` (or released when `p_charge` is 0), the
-- messages `p_messages` (a JSON array) at the thread's next free positions, the turn
-- answered and the thread touched. What was charged and the balance after it. A turn
-- that is no longer running (failed as abandoned meanwhile) or a hold that cannot be
-- settled raises, and nothing is kept.
#variable_conflict use_column
DECLARE
    s record;
    v_cost bigint := 0;
    v_next integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('assistant-thread:' || p_thread::text, 0));
    IF p_hold IS NOT NULL AND p_charge > 0 THEN
        SELECT * INTO s
          FROM ledger_hold_settle(p_hold, p_charge, p_key, 'query', p_description, p_meta);
        IF s.status NOT IN ('ok', 'already_resolved') THEN
            RAISE EXCEPTION 'the hold % of turn % could not be settled: %',
                p_hold, p_message, s.status;
        END IF;
        v_cost := -s.amount_mc;
    ELSIF p_hold IS NOT NULL THEN
        PERFORM ledger_hold_release(p_hold, 'released');
    END IF;
    SELECT coalesce(max(a.seq) + 1, 0) INTO v_next
      FROM assistant_messages a WHERE a.thread_id = p_thread;
    INSERT INTO assistant_messages (thread_id, seq, message)
    SELECT p_thread, v_next + m.ord - 1, m.message
      FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m(message, ord);
    UPDATE assistant_turns
       SET status = 'answered', answer = p_answer, cost_mc = v_cost, tool_calls = p_calls,
           finished_at = now()
     WHERE message_id = p_message AND status = 'running';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'turn % is not running', p_message;
    END IF;
    UPDATE assistant_threads SET updated_at = now() WHERE id = p_thread;
    RETURN QUERY SELECT v_cost, coalesce(a.balance_mc, 0), coalesce(a.held_mc, 0)
      FROM (SELECT 1) AS one
      LEFT JOIN credit_accounts a ON a.workspace_id = p_workspace;
END $$;
