-- Recordings imported from the nodes (b3scale recordings push): they outlive their node and
-- are answered from here, with the frontend's own meeting IDs.
CREATE TABLE recordings (
    record_id text PRIMARY KEY,
    frontend_id uuid NOT NULL REFERENCES frontends (id) ON DELETE CASCADE,
    -- the meetingID as the frontend sent it, and as the node saw it
    meeting_id text NOT NULL,
    node_meeting_id text NOT NULL,
    name text NOT NULL DEFAULT '',
    is_breakout boolean NOT NULL DEFAULT false,
    published boolean NOT NULL DEFAULT true,
    -- BBB's state: published, unpublished, deleted
    state text NOT NULL DEFAULT 'published',
    protected boolean NOT NULL DEFAULT false,
    start_time bigint NOT NULL DEFAULT 0,
    end_time bigint NOT NULL DEFAULT 0,
    participants integer NOT NULL DEFAULT 0,
    raw_size bigint NOT NULL DEFAULT 0,
    -- meta_* of the create, as metadata.xml has them (the frontend's own callback URLs)
    metadata jsonb NOT NULL DEFAULT '{}',
    -- per format: {"type", "length", "size", "processing_time", "preview": [...]}
    formats jsonb NOT NULL DEFAULT '[]',
    text_tracks jsonb NOT NULL DEFAULT '[]',
    backend_host text NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recordings_frontend_meeting_idx ON recordings (frontend_id, meeting_id);
