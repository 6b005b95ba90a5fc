-- The dashboard's load history, kept in the database: sampled once per 30 s for the whole
-- cluster (every instance may try; the key makes a second sample of the same moment a no-op),
-- so every instance shows the same history, from before it started and whether or not anyone
-- was watching.

CREATE TABLE backend_load_samples (
    backend_id uuid NOT NULL REFERENCES backends (id) ON DELETE CASCADE,
    sampled_at timestamptz NOT NULL,
    load       double precision NOT NULL,
    meetings   integer NOT NULL,
    attendees  integer NOT NULL,
    PRIMARY KEY (backend_id, sampled_at)
);

CREATE INDEX backend_load_samples_sampled_at ON backend_load_samples (sampled_at);
