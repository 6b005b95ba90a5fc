-- Callbacks from BBB nodes (meeting ended, recording ready, analytics), rewritten for the
-- frontend and waiting to be delivered to it. A row is leased by one instance while it is
-- being delivered, so each callback is delivered once across instances, and survives restarts.
CREATE TABLE callbacks (
    id bigserial PRIMARY KEY,
    frontend_id uuid NOT NULL REFERENCES frontends (id) ON DELETE CASCADE,
    kind text NOT NULL,
    method text NOT NULL,
    url text NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}',
    body bytea NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';

CREATE FUNCTION notify_callback_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('b3scale_callbacks', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER callbacks_notify AFTER INSERT ON callbacks
    FOR EACH STATEMENT EXECUTE FUNCTION notify_callback_queued();
