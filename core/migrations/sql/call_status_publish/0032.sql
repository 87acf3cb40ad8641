CREATE OR REPLACE FUNCTION call_status_publish(
    p_call uuid, p_sid text, p_status text, p_seq integer, p_duration integer,
    p_answered_by text, p_key text, p_payload jsonb,
    p_source text, p_end_reason text, p_booked text, p_event text
) RETURNS TABLE (result text, call_id uuid, cost_mc bigint, follow_up boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    r record;
    ws uuid;
    follow boolean := false;
BEGIN
    SELECT a.result, a.call_id, a.cost_mc INTO r
    FROM call_status_apply(p_call, p_sid, p_status, p_seq, p_duration, p_answered_by,
                           p_key, p_payload, p_source, p_end_reason) AS a;
    IF r.result IN ('applied', 'settled', 'reconciled') THEN
        PERFORM pg_notify('ks_call', r.call_id::text);
    END IF;
    IF r.result IN ('settled', 'reconciled') THEN
        SELECT c.workspace_id,
               (c.callback_at IS NOT NULL AND c.outcome = p_booked) OR EXISTS (
                   SELECT 1 FROM webhook_endpoints w
                   WHERE w.workspace_id = c.workspace_id AND w.removed_at IS NULL
                     AND w.event_types @> ARRAY[p_event::varchar])
          INTO ws, follow
        FROM calls c WHERE c.id = r.call_id;
        PERFORM pg_notify('ks_notices', ws::text);
    END IF;
    RETURN QUERY SELECT r.result, r.call_id, r.cost_mc, coalesce(follow, false);
END
$$;
