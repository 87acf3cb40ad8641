CREATE OR REPLACE FUNCTION chat_turn_admit(
    p_workspace uuid,
    p_user uuid,
    p_thread uuid,
    p_new_thread uuid,
    p_message text,
    p_text text,
    p_limit_keys text[],
    p_limit_starts bigint[],
    p_limit_allowed integer[],
    p_stale interval,
    p_history integer,
    p_attempt uuid)
RETURNS TABLE (outcome text, thread uuid, hits integer[], abandoned integer, history jsonb)
LANGUAGE plpgsql AS $$
-- A chat message's admission as one unit of work (chat_app/turns.py `_admit`): the
-- attempt counted in each rate-limit window (`p_limit_keys` / `p_limit_starts`,
-- distinct and sorted, so concurrent callers lock rows in one order), then, unless a
-- window is over its allowance: the workspace active, the thread the user's own (an
-- existing one under its advisory lock, the key `chat_app.turns._lock_key` makes), the
-- message id not seen before, no other turn of the thread running (running turns older
-- than `p_stale` are failed and their holds released), the turn started — in a new
-- thread `p_new_thread` when `p_thread` is null — and the thread's last `p_history`
-- messages read. Every outcome commits (the attempt counts): 'rate_limited',
-- 'suspended', 'not_found', 'repeat', 'busy' or 'started'.
-- `p_attempt` names the caller's admission (one per message answered, the same on a
-- retry): a turn it already started is 'started' again, with its history, rather than
-- a 'repeat' of itself (a retry after a commit whose reply was lost would otherwise
-- leave the turn running, and its thread busy, until it went stale).
#variable_conflict use_column
DECLARE
    v_hits integer[];
    v_thread uuid := p_thread;
    v_abandoned integer := 0;
    r record;
BEGIN
    WITH counted AS (
        INSERT INTO rate_limit_hits AS h (key, window_start, hits)
        SELECT k, to_timestamp(w), 1 FROM unnest(p_limit_keys, p_limit_starts) AS t(k, w)
        ON CONFLICT (key, window_start) DO UPDATE SET hits = h.hits + 1
        RETURNING h.key, h.window_start, h.hits
    )
    SELECT array_agg(c.hits ORDER BY i.n) INTO v_hits
      FROM unnest(p_limit_keys, p_limit_starts) WITH ORDINALITY AS i(k, w, n)
      JOIN counted c ON c.key = i.k AND c.window_start = to_timestamp(i.w);
    IF EXISTS (SELECT 1 FROM unnest(v_hits, p_limit_allowed) AS t(n, allowed) WHERE n > allowed)
    THEN
        RETURN QUERY SELECT 'rate_limited'::text, p_thread, v_hits, 0, NULL::jsonb;
        RETURN;
    END IF;
    IF (SELECT w.status FROM workspaces w WHERE w.id = p_workspace) IS DISTINCT FROM 'active' THEN
        RETURN QUERY SELECT 'suspended'::text, p_thread, v_hits, 0, NULL::jsonb;
        RETURN;
    END IF;
    IF v_thread IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('assistant-thread:' || v_thread::text, 0));
        IF (SELECT t.user_id FROM assistant_threads t WHERE t.id = v_thread)
           IS DISTINCT FROM p_user THEN
            RETURN QUERY SELECT 'not_found'::text, p_thread, v_hits, 0, NULL::jsonb;
            RETURN;
        END IF;
    END IF;
    SELECT t.thread_id, t.status, t.admitted_by INTO r
      FROM assistant_turns t WHERE t.message_id = p_message;
    IF FOUND THEN
        IF r.status = 'running' AND r.admitted_by = p_attempt THEN
            RETURN QUERY SELECT 'started'::text, r.thread_id, v_hits, 0,
                (SELECT coalesce(jsonb_agg(m.message ORDER BY m.seq), '[]'::jsonb)
                   FROM (SELECT a.seq, a.message FROM assistant_messages a
                          WHERE a.thread_id = r.thread_id
                          ORDER BY a.seq DESC LIMIT p_history) AS m);
            RETURN;
        END IF;
        RETURN QUERY SELECT 'repeat'::text, p_thread, v_hits, 0, NULL::jsonb;
        RETURN;
    END IF;
    IF v_thread IS NULL THEN
        v_thread := p_new_thread;
        INSERT INTO assistant_threads (id, user_id, workspace_id, title)
        VALUES (v_thread, p_user, p_workspace, left(p_text, 120));
    ELSE
        FOR r IN
            SELECT t.message_id, t.hold_id, t.created_at < now() - p_stale AS stale
              FROM assistant_turns t
             WHERE t.thread_id = v_thread AND t.status = 'running'
        LOOP
            IF NOT r.stale THEN
                RETURN QUERY SELECT 'busy'::text, v_thread, v_hits, v_abandoned, NULL::jsonb;
                RETURN;
            END IF;
            IF r.hold_id IS NOT NULL THEN
                PERFORM ledger_hold_release(r.hold_id, 'released');
            END IF;
            UPDATE assistant_turns
               SET status = 'failed', answer = 'failed: abandoned', cost_mc = 0,
                   tool_calls = '[]'::jsonb, finished_at = now()
             WHERE message_id = r.message_id;
            v_abandoned := v_abandoned + 1;
        END LOOP;
    END IF;
    INSERT INTO assistant_turns
        (message_id, thread_id, user_id, workspace_id, status, user_text, tool_calls, cost_mc,
         admitted_by)
    VALUES (p_message, v_thread, p_user, p_workspace, 'running', p_text, '[]'::jsonb, 0,
            p_attempt)
    ON CONFLICT (message_id) DO NOTHING;
    IF NOT FOUND THEN  -- the id was taken meanwhile: no empty thread is kept
        IF p_thread IS NULL THEN
            DELETE FROM assistant_threads WHERE id = v_thread;
        END IF;
        RETURN QUERY SELECT 'repeat'::text, p_thread, v_hits, v_abandoned, NULL::jsonb;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'started'::text, v_thread, v_hits, v_abandoned,
        (SELECT coalesce(jsonb_agg(m.message ORDER BY m.seq), '[]'::jsonb)
           FROM (SELECT a.seq, a.message FROM assistant_messages a
                  WHERE a.thread_id = v_thread
                  ORDER BY a.seq DESC LIMIT p_history) AS m);
END $$;
