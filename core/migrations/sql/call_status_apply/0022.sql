CREATE OR REPLACE FUNCTION call_status_apply(
    p_call uuid, p_sid text, p_status text, p_seq integer, p_duration integer,
    p_answered_by text, p_key text, p_payload jsonb,
    p_source text DEFAULT 'callback', p_end_reason text DEFAULT NULL
) RETURNS TABLE (result text, call_id uuid, cost_mc bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    c calls;
    found_call boolean := false;
    verdict text;
    rank_new integer;
    rank_old integer;
    stored bigint;
    cost bigint := 0;
    settled record;
    terminal constant text[] := ARRAY['completed', 'busy', 'failed', 'no-answer', 'canceled'];
BEGIN
    IF p_source IS NULL OR p_source NOT IN ('callback', 'reconcile') THEN
        RAISE EXCEPTION 'p_source must be callback or reconcile' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_call IS NOT NULL THEN
        SELECT * INTO c FROM calls WHERE id = p_call FOR UPDATE;
        found_call := FOUND AND (c.twilio_sid IS NULL OR c.twilio_sid = p_sid);
    END IF;
    IF NOT found_call THEN
        SELECT * INTO c FROM calls WHERE twilio_sid = p_sid FOR UPDATE;
        found_call := FOUND;
    END IF;

    IF NOT found_call THEN
        INSERT INTO call_callbacks (kind, dedupe_key, call_sid, call_id, sequence_number,
                                    call_status, payload, result)
        VALUES ('status', p_key, p_sid, NULL, p_seq, p_status, p_payload, 'unknown_call')
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id INTO stored;
        RETURN QUERY SELECT CASE WHEN stored IS NULL THEN 'duplicate' ELSE 'unknown_call' END,
                            NULL::uuid, NULL::bigint;
        RETURN;
    END IF;

    rank_new := array_position(ARRAY['queued', 'initiated', 'ringing', 'in-progress'], p_status);
    rank_old := coalesce(
        array_position(ARRAY['queued', 'initiated', 'ringing', 'in-progress'], c.status), 0);
    IF c.status = ANY (terminal) THEN
        verdict := 'after_terminal';
    ELSIF p_status = ANY (terminal) THEN
        verdict := CASE WHEN p_source = 'reconcile' THEN 'reconciled' ELSE 'settled' END;
    ELSIF p_seq IS NOT NULL AND c.last_sequence IS NOT NULL AND p_seq <= c.last_sequence THEN
        verdict := 'stale';
    ELSIF coalesce(rank_new, 0) < rank_old THEN
        verdict := 'stale';
    ELSE
        verdict := 'applied';
    END IF;

    INSERT INTO call_callbacks (kind, dedupe_key, call_sid, call_id, sequence_number,
                                call_status, payload, result)
    VALUES ('status', p_key, p_sid, c.id, p_seq, p_status, p_payload, verdict)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id INTO stored;
    IF stored IS NULL THEN
        RETURN QUERY SELECT 'duplicate'::text, c.id, NULL::bigint;
        RETURN;
    END IF;

    IF verdict = 'applied' THEN
        UPDATE calls
           SET status = p_status,
               twilio_sid = coalesce(twilio_sid, p_sid),
               answered_by = coalesce(answered_by, p_answered_by),
               last_sequence = CASE WHEN p_seq IS NULL THEN last_sequence
                                    ELSE GREATEST(p_seq, coalesce(last_sequence, 0)) END,
               answered_at = CASE WHEN p_status = 'in-progress'
                                  THEN coalesce(answered_at, now()) ELSE answered_at END,
               updated_at = now()
         WHERE id = c.id;
    ELSIF verdict IN ('settled', 'reconciled') THEN
        IF c.hold_id IS NOT NULL THEN
            IF p_status = 'completed' AND coalesce(p_duration, 0) > 0 THEN
                SELECT * INTO settled FROM ledger_hold_settle(
                    c.hold_id, p_duration::bigint * 1000, 'call:' || c.id || ':settle', 'call',
                    'Call ' || c.phone_e164 || ', ' || p_duration || ' s',
                    jsonb_build_object('call_id', c.id, 'call_sid', p_sid));
                cost := abs(coalesce(settled.amount_mc, 0));
            ELSE
                PERFORM ledger_hold_release(c.hold_id, 'released');
            END IF;
        END IF;
        UPDATE calls
           SET status = p_status,
               twilio_sid = coalesce(twilio_sid, p_sid),
               answered_by = coalesce(answered_by, p_answered_by),
               last_sequence = CASE WHEN p_seq IS NULL THEN last_sequence
                                    ELSE GREATEST(p_seq, coalesce(last_sequence, 0)) END,
               duration_s = CASE WHEN p_status = 'completed'
                                 THEN LEAST(GREATEST(coalesce(p_duration, 0), 0),
                                            CASE WHEN c.hold_id IS NOT NULL THEN cost / 1000
                                                 ELSE c.time_limit_s END)
                                 ELSE 0 END,
               cost_mc = cost,
               outcome = coalesce(outcome, CASE
                   WHEN p_status = 'completed' AND coalesce(answered_by, p_answered_by, '') LIKE 'machine%'
                       THEN 'voicemail'
                   WHEN p_status = 'busy' THEN 'busy'
                   WHEN p_status = 'failed' THEN 'failed'
                   WHEN p_status IN ('no-answer', 'canceled') THEN 'no_answer'
               END),
               ended_at = coalesce(ended_at, now()),
               end_reason = coalesce(end_reason, p_end_reason),
               settled_at = now(),
               updated_at = now()
         WHERE id = c.id;
    ELSE
        UPDATE calls SET twilio_sid = coalesce(twilio_sid, p_sid) WHERE id = c.id
           AND twilio_sid IS NULL;
    END IF;
    RETURN QUERY SELECT verdict, c.id, CASE WHEN verdict IN ('settled', 'reconciled') THEN cost END;
END $$;
