-- Placement in one round trip for every create, repeated ones too, and the placement lock only
-- for meetings that need a backend.
--
-- Before, the gateway read the meeting first (a second round trip) and claimed or refused it
-- itself. Now the function looks the meeting up without the lock: on a usable backend (the
-- repeated create of a running meeting, which Greenlight and Moodle send before every join)
-- it is returned at once, claimed for the frontend if a poll found it first; a meeting of
-- another frontend is refused with 'foreignMeeting'. Only a meeting that needs a backend takes
-- the cluster-wide lock, and is looked up again under it (another instance may have placed it
-- in between), as before.

DROP FUNCTION b3scale_place_meeting(
    text, text, uuid, boolean, jsonb, uuid[], bigint, integer, boolean, text
);

CREATE FUNCTION b3scale_place_meeting(
    p_id text,
    p_external text,
    p_frontend uuid,
    p_breakout boolean,
    p_required_tags jsonb,
    p_exclude uuid[],
    p_lock bigint,
    p_meetings_limit integer,
    p_unique_voice_bridge boolean,
    p_voice_bridge text
) RETURNS TABLE (
    refused text,
    placed boolean,
    id text,
    external_id text,
    frontend_id uuid,
    backend_id uuid,
    internal_id text,
    running boolean,
    is_breakout boolean,
    create_time bigint,
    created_at timestamptz,
    backend_host text,
    backend_secret text,
    backend_algorithm text,
    backend_admin_state text,
    backend_healthy boolean,
    voice_bridge text
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_old_backend uuid;
    v_usable boolean;
    v_chosen uuid;
    v_placed boolean := false;
    v_replaced boolean := false;
    v_bridge text := NULL;
    v_old_bridge text := NULL;
    v_try integer;
    v_refusal text := NULL;
    v_frontend uuid;
    v_locked boolean := false;
    v_found boolean;
BEGIN
    LOOP
        SELECT m.backend_id, m.voice_bridge, m.frontend_id,
               b.id IS NOT NULL AND b3scale_backend_healthy(b)
                 AND (b.admin_state = 'ready' OR m.running) AND NOT (b.id = ANY (p_exclude))
          INTO v_old_backend, v_old_bridge, v_frontend, v_usable
          FROM meetings m LEFT JOIN backends b ON b.id = m.backend_id
         WHERE m.id = p_id;
        v_found := FOUND;
        IF v_found AND v_frontend IS NOT NULL AND v_frontend <> p_frontend THEN
            v_refusal := 'foreignMeeting';
            EXIT;
        END IF;
        IF v_found AND v_usable THEN
            IF v_frontend IS NULL THEN
                -- Found by a backend poll before its frontend used it: claimed.
                UPDATE meetings SET frontend_id = p_frontend
                 WHERE meetings.id = p_id AND meetings.frontend_id IS NULL;
            END IF;
            EXIT;
        END IF;
        EXIT WHEN v_locked;
        -- It needs a backend: under the lock, from the top (it may have been placed meanwhile).
        PERFORM pg_advisory_xact_lock(p_lock);
        v_locked := true;
    END LOOP;
    IF v_refusal IS NULL AND v_found AND NOT v_usable THEN
        -- On a backend that is gone, sick, disabled or excluded: placed anew.
        DELETE FROM meetings WHERE meetings.id = p_id;
        v_replaced := true;
        IF v_old_backend IS NOT NULL THEN
            UPDATE backends SET
                meetings_count = c.meetings, breakouts_count = c.breakouts,
                attendees_count = c.attendees
              FROM (SELECT count(*) FILTER (WHERE NOT m.is_breakout) AS meetings,
                           count(*) FILTER (WHERE m.is_breakout) AS breakouts,
                           coalesce(sum(m.attendees_count), 0) AS attendees
                      FROM meetings m WHERE m.backend_id = v_old_backend) c
             WHERE backends.id = v_old_backend;
        END IF;
    END IF;
    IF v_refusal IS NULL AND (NOT v_found OR NOT v_usable) THEN
        IF p_meetings_limit IS NOT NULL AND NOT p_breakout AND NOT v_replaced
           AND (SELECT count(*) FROM meetings m
                 WHERE m.frontend_id = p_frontend AND NOT m.is_breakout) >= p_meetings_limit THEN
            v_refusal := 'meetingsLimitReached';
        ELSIF p_unique_voice_bridge THEN
            -- The frontend's own number, or (re-placed) the number the meeting had.
            v_bridge := coalesce(p_voice_bridge, v_old_bridge);
            IF v_bridge IS NOT NULL
               AND EXISTS (SELECT 1 FROM meetings m WHERE m.voice_bridge = v_bridge) THEN
                v_bridge := NULL;
                IF p_voice_bridge IS NOT NULL THEN
                    v_refusal := 'voiceBridgeInUse';
                END IF;
            END IF;
            v_try := 0;
            WHILE v_refusal IS NULL AND v_bridge IS NULL AND v_try < 100 LOOP
                v_bridge := (10000 + floor(random() * 90000))::integer::text;
                IF EXISTS (SELECT 1 FROM meetings m WHERE m.voice_bridge = v_bridge) THEN
                    v_bridge := NULL;
                END IF;
                v_try := v_try + 1;
            END LOOP;
            IF v_bridge IS NULL THEN
                v_refusal := 'voiceBridgeInUse';
            END IF;
        END IF;
    END IF;
    IF v_refusal IS NOT NULL THEN
        RETURN QUERY SELECT v_refusal, false, NULL::text, NULL::text, NULL::uuid,
            NULL::uuid, NULL::text, NULL::boolean, NULL::boolean, NULL::bigint,
            NULL::timestamptz, NULL::text, NULL::text, NULL::text, NULL::text,
            NULL::boolean, NULL::text;
        RETURN;
    END IF;
    IF NOT v_found OR NOT v_usable THEN
        SELECT b.id INTO v_chosen
          FROM backends b
         WHERE b.admin_state = 'ready' AND b3scale_backend_healthy(b)
           AND NOT (b.id = ANY (p_exclude))
           AND coalesce(b.settings -> 'tags', '[]'::jsonb) @> p_required_tags
         ORDER BY b3scale_backend_load(b), random()
         LIMIT 1;
        IF v_chosen IS NULL THEN
            RETURN;
        END IF;
        INSERT INTO meetings (id, external_id, frontend_id, backend_id, is_breakout, voice_bridge)
        VALUES (p_id, p_external, p_frontend, v_chosen, p_breakout, v_bridge);
        INSERT INTO frontend_backends (frontend_id, backend_id) VALUES (p_frontend, v_chosen)
        ON CONFLICT ON CONSTRAINT frontend_backends_pkey DO UPDATE SET last_used_at = now();
        UPDATE backends SET
            meetings_count = meetings_count + (NOT p_breakout)::int,
            breakouts_count = breakouts_count + p_breakout::int
         WHERE backends.id = v_chosen;
        v_placed := true;
    END IF;
    RETURN QUERY
        SELECT NULL::text, v_placed, m.id, m.external_id, m.frontend_id, m.backend_id, m.internal_id,
               m.running, m.is_breakout, m.create_time, m.created_at, b.host, b.secret,
               b.checksum_algorithm, b.admin_state::text, b3scale_backend_healthy(b),
               m.voice_bridge
          FROM meetings m JOIN backends b ON b.id = m.backend_id
         WHERE m.id = p_id;
END;
$$;
