-- Placement in one round trip: the cluster-wide placement lock is held only inside the server,
-- for the few statements that choose the backend and record the meeting.

-- A backend may take meetings by health: a fresh agent heartbeat while polls do not fail, or,
-- without an agent, a successful last poll. The one definition (queries call it).
CREATE FUNCTION b3scale_backend_healthy(b backends) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (b.agent_heartbeat > now() - interval '5 seconds' AND b.node_state <> 'error')
        OR (b.agent_heartbeat IS NULL AND b.node_state = 'ready')
$$;

-- b3scale's load: load_factor x max(15 x meetings, attendees); a breakout room weighs a
-- quarter of a meeting (its users are counted as attendees).
CREATE FUNCTION b3scale_backend_load(b backends) RETURNS double precision
LANGUAGE sql STABLE AS $$
    SELECT b.load_factor * greatest(15 * (b.meetings_count + 0.25 * b.breakouts_count),
                                    b.attendees_count)
$$;

-- The meeting's backend for a create: the one it is on, if usable (healthy, and enabled or
-- running there) and not excluded; else the least loaded enabled, healthy backend that carries
-- every required tag (ties broken at random), with the meeting recorded and counted there.
-- Returns the meeting with its backend, and whether this call placed it; no row when no
-- backend is available.
CREATE FUNCTION b3scale_place_meeting(
    p_id text,
    p_external text,
    p_frontend uuid,
    p_breakout boolean,
    p_required_tags jsonb,
    p_exclude uuid[],
    p_lock bigint
) RETURNS TABLE (
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
    backend_healthy boolean
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_old_backend uuid;
    v_usable boolean;
    v_chosen uuid;
    v_placed boolean := false;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT m.backend_id,
           b.id IS NOT NULL AND b3scale_backend_healthy(b)
             AND (b.admin_state = 'ready' OR m.running) AND NOT (b.id = ANY (p_exclude))
      INTO v_old_backend, v_usable
      FROM meetings m LEFT JOIN backends b ON b.id = m.backend_id
     WHERE m.id = p_id;
    IF FOUND AND NOT v_usable THEN
        -- On a backend that is gone, sick, disabled or excluded: placed anew.
        DELETE FROM meetings WHERE meetings.id = p_id;
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
        INSERT INTO meetings (id, external_id, frontend_id, backend_id, is_breakout)
        VALUES (p_id, p_external, p_frontend, v_chosen, p_breakout);
        INSERT INTO frontend_backends (frontend_id, backend_id) VALUES (p_frontend, v_chosen)
        ON CONFLICT ON CONSTRAINT frontend_backends_pkey DO UPDATE SET last_used_at = now();
        UPDATE backends SET
            meetings_count = meetings_count + (NOT p_breakout)::int,
            breakouts_count = breakouts_count + p_breakout::int
         WHERE backends.id = v_chosen;
        v_placed := true;
    END IF;
    RETURN QUERY
        SELECT v_placed, m.id, m.external_id, m.frontend_id, m.backend_id, m.internal_id,
               m.running, m.is_breakout, m.create_time, m.created_at, b.host, b.secret,
               b.checksum_algorithm, b.admin_state::text, b3scale_backend_healthy(b)
          FROM meetings m JOIN backends b ON b.id = m.backend_id
         WHERE m.id = p_id;
END;
$$;
