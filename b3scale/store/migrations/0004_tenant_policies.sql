-- Tenant policies: a second accepted secret per frontend (rollover), limits decided inside the
-- placement (so two instances cannot both admit the last meeting), and voice bridges unique
-- across the cluster for frontends that ask for them.

-- The secrets a frontend still accepts besides its current one (newest first), so a tenant can
-- switch its apps over to a new secret without a moment in which calls fail.
ALTER TABLE frontends ADD COLUMN previous_secrets text[] NOT NULL DEFAULT '{}';

-- A meeting's voice bridge: chosen by b3scale at placement (unique mode), else as its node
-- reported it (polls, create and getMeetingInfo answers keep it). Looked up under the placement
-- lock. A column, not an index on state: a write that changes state but not the voice bridge
-- stays a HOT update.
ALTER TABLE meetings ADD COLUMN voice_bridge text NULL;
UPDATE meetings SET voice_bridge = state ->> 'voiceBridge';
CREATE INDEX meetings_voice_bridge_idx ON meetings (voice_bridge);

DROP FUNCTION b3scale_place_meeting(text, text, uuid, boolean, jsonb, uuid[], bigint);

-- As in 0003, and: a new meeting (not a breakout, not one re-placed from a failed backend) is
-- refused with 'meetingsLimitReached' when its frontend has p_meetings_limit meetings already;
-- with p_unique_voice_bridge, a new meeting gets a voice bridge no other meeting uses: the
-- frontend's own (p_voice_bridge) when free, else refused with 'voiceBridgeInUse'; a random
-- five-digit one when the frontend named none. The refusal comes back as a row with no meeting.

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
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT m.backend_id, m.voice_bridge,
           b.id IS NOT NULL AND b3scale_backend_healthy(b)
             AND (b.admin_state = 'ready' OR m.running) AND NOT (b.id = ANY (p_exclude))
      INTO v_old_backend, v_old_bridge, v_usable
      FROM meetings m LEFT JOIN backends b ON b.id = m.backend_id
     WHERE m.id = p_id;
    IF FOUND AND NOT v_usable THEN
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
    IF NOT FOUND OR NOT v_usable THEN
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
        IF v_refusal IS NOT NULL THEN
            RETURN QUERY SELECT v_refusal, false, NULL::text, NULL::text, NULL::uuid,
                NULL::uuid, NULL::text, NULL::boolean, NULL::boolean, NULL::bigint,
                NULL::timestamptz, NULL::text, NULL::text, NULL::text, NULL::text,
                NULL::boolean, NULL::text;
            RETURN;
        END IF;
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
