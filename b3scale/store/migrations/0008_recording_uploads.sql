-- Which node started pushing a recording's files: until the recording is imported, only that
-- node may go on (another node's token cannot put its own files under that record ID first).

CREATE TABLE recording_uploads (
    record_id    text PRIMARY KEY,
    backend_host text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now()
);
