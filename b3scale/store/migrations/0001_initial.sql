-- The initial schema, modelled on b3scale's (spec/b3scale.md §5) with its flaws fixed:
-- * every timestamp is timestamptz and defaults to now(), so a database outside UTC is harmless;
-- * what the code filters, sorts or counts on is a column (states, load, heartbeat, running,
--   attendee counts), not a key buried in a JSON blob;
-- * attendees are rows keyed by (meeting, user): a repeated join counts once, and concurrent
--   joins are two inserts instead of a read-modify-write of one JSON document;
-- * settings stay jsonb, because operators may store keys this version does not know.

CREATE TYPE instance_state AS ENUM ('init', 'ready', 'error', 'stopped', 'decommissioned');
CREATE TYPE command_state AS ENUM ('requested', 'running', 'success', 'error');

CREATE TABLE frontends (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key         text NOT NULL UNIQUE CHECK (key <> ''),
    secret      text NOT NULL CHECK (secret <> ''),
    active      boolean NOT NULL DEFAULT true,
    account_ref varchar(80) NULL,
    settings    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX frontends_account_ref_idx ON frontends (account_ref);

-- Instances cache frontends in memory; every change reaches all of them at once.
CREATE FUNCTION notify_frontend_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('b3scale_frontends', '*');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('b3scale_frontends', OLD.key);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('b3scale_frontends', NEW.key);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER frontends_notify AFTER INSERT OR UPDATE OR DELETE ON frontends
    FOR EACH ROW EXECUTE FUNCTION notify_frontend_changed();
CREATE TRIGGER frontends_truncate_notify AFTER TRUNCATE ON frontends
    FOR EACH STATEMENT EXECUTE FUNCTION notify_frontend_changed();

CREATE TABLE backends (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- the full API base URL, normalised with a trailing slash: https://node/bigbluebutton/api/
    host                  text NOT NULL UNIQUE CHECK (host ~ '^https?://'),
    secret                text NOT NULL CHECK (secret <> ''),
    -- the checksum algorithm used when signing requests to this node
    checksum_algorithm    text NOT NULL DEFAULT 'sha256'
                          CHECK (checksum_algorithm IN ('sha1', 'sha256', 'sha384', 'sha512')),
    admin_state           instance_state NOT NULL DEFAULT 'init',
    node_state            instance_state NOT NULL DEFAULT 'init',
    load_factor           real NOT NULL DEFAULT 1.0 CHECK (load_factor > 0),
    -- NULL: no node agent has ever reported for this backend
    agent_heartbeat       timestamptz NULL,
    agent_ref             varchar(64) NULL UNIQUE,
    -- round-trip time of the last successful poll, in nanoseconds (as b3scale reports it)
    latency               bigint NOT NULL DEFAULT 0,
    last_error            text NULL,
    -- hysteresis for the health check: consecutive poll outcomes
    poll_failures         integer NOT NULL DEFAULT 0,
    poll_successes        integer NOT NULL DEFAULT 0,
    -- load inputs, kept up to date with the meetings table (breakout rooms weigh less)
    meetings_count        integer NOT NULL DEFAULT 0,
    breakouts_count       integer NOT NULL DEFAULT 0,
    attendees_count       integer NOT NULL DEFAULT 0,
    settings              jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- the last successful poll; NULL until the first one
    synced_at             timestamptz NULL,
    -- an instance that claimed the next poll of this backend holds it until then
    poll_lease_until      timestamptz NULL
);
CREATE INDEX backends_admin_state_idx ON backends (admin_state);
CREATE INDEX backends_tags_idx ON backends USING gin ((settings -> 'tags') jsonb_path_ops);

CREATE TABLE meetings (
    -- the meetingID as the backend sees it: unique across frontends
    id                      text PRIMARY KEY,
    -- the meetingID as the frontend sent it
    external_id             text NOT NULL,
    frontend_id             uuid NULL REFERENCES frontends (id) ON DELETE CASCADE,
    backend_id              uuid NULL REFERENCES backends (id) ON DELETE SET NULL,
    internal_id             text NULL UNIQUE,
    name                    text NOT NULL DEFAULT '',
    running                 boolean NOT NULL DEFAULT false,
    is_breakout             boolean NOT NULL DEFAULT false,
    parent_id               text NULL,
    create_time             bigint NULL,
    attendees_count         integer NOT NULL DEFAULT 0,
    moderators_count        integer NOT NULL DEFAULT 0,
    voice_participants_count integer NOT NULL DEFAULT 0,
    video_count             integer NOT NULL DEFAULT 0,
    listeners_count         integer NOT NULL DEFAULT 0,
    -- the plain fields of BBB's meeting object (passwords, voiceBridge, ...)
    state                   jsonb NOT NULL DEFAULT '{}',
    -- the meeting's <meeting> element as the frontend sees it (its own meetingID), byte for
    -- byte as the backend wrote it: getMeetings is the concatenation of these
    info_xml                text NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    synced_at               timestamptz NULL
);
CREATE INDEX meetings_frontend_idx ON meetings (frontend_id, external_id);

-- Instances cache which backend and frontend a meeting belongs to (joins need no query);
-- only a change of those reaches them, so polls refreshing counters notify nobody.
CREATE FUNCTION notify_meeting_route_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('b3scale_meetings', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
    RETURN NULL;
END;
$$;
CREATE TRIGGER meetings_route_insert_delete AFTER INSERT OR DELETE ON meetings
    FOR EACH ROW EXECUTE FUNCTION notify_meeting_route_changed();
CREATE TRIGGER meetings_route_update AFTER UPDATE OF backend_id, frontend_id ON meetings
    FOR EACH ROW WHEN (OLD.backend_id IS DISTINCT FROM NEW.backend_id
                       OR OLD.frontend_id IS DISTINCT FROM NEW.frontend_id)
    EXECUTE FUNCTION notify_meeting_route_changed();
CREATE INDEX meetings_backend_idx ON meetings (backend_id);

-- Which backends ever hosted a frontend's meetings: where its recordings can be found after
-- the meetings themselves are gone.
CREATE TABLE frontend_backends (
    frontend_id  uuid NOT NULL REFERENCES frontends (id) ON DELETE CASCADE,
    backend_id   uuid NOT NULL REFERENCES backends (id) ON DELETE CASCADE,
    last_used_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (frontend_id, backend_id)
);

CREATE TABLE attendees (
    meeting_id        text NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    internal_user_id  text NOT NULL,
    user_id           text NOT NULL DEFAULT '',
    full_name         text NOT NULL DEFAULT '',
    role              text NOT NULL DEFAULT 'VIEWER',
    is_presenter      boolean NOT NULL DEFAULT false,
    is_listening_only boolean NOT NULL DEFAULT false,
    has_joined_voice  boolean NOT NULL DEFAULT false,
    has_video         boolean NOT NULL DEFAULT false,
    client_type       text NOT NULL DEFAULT '',
    joined_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meeting_id, internal_user_id)
);

-- Values every instance must share, made once when the schema is created.
CREATE TABLE cluster_secrets (
    name  text PRIMARY KEY,
    value text NOT NULL
);
-- gen_random_uuid() draws from a cryptographically strong source: 2 x 122 random bits.
INSERT INTO cluster_secrets (name, value)
VALUES ('retry_token_key', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

CREATE TABLE commands (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigserial NOT NULL UNIQUE,
    state       command_state NOT NULL DEFAULT 'requested',
    action      varchar(80) NOT NULL,
    params      jsonb NOT NULL DEFAULT '{}',
    result      jsonb NULL,
    deadline    timestamptz NOT NULL,
    started_at  timestamptz NULL,
    stopped_at  timestamptz NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX commands_requested_idx ON commands (seq) WHERE state = 'requested';

-- Wake command workers at once instead of having them poll (b3scale NOTIFYs but never LISTENs).
CREATE FUNCTION notify_command_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('b3scale_commands', NEW.id::text);
    RETURN NEW;
END;
$$;
CREATE TRIGGER commands_notify AFTER INSERT ON commands
    FOR EACH ROW EXECUTE FUNCTION notify_command_queued();
