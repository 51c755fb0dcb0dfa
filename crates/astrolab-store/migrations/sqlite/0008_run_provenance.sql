-- Runs carry the submitter's rights (issue 14). What a run read decides
-- who may see it and what it made:
--   restricted_projects: NULL when the run read nothing restricted; else a
--   JSON array of the projects whose members may read its parameters,
--   logs and outputs (the intersection over the restricted files it read;
--   [] leaves them to admins).
ALTER TABLE runs ADD COLUMN restricted_projects TEXT;

-- Every output file of a finished run with its checksum: a file later
-- ingested with the same bytes (wherever it was copied to) inherits the
-- run's restriction.
CREATE TABLE run_outputs (
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    PRIMARY KEY (run_id, path)
);
CREATE INDEX run_outputs_sha256 ON run_outputs (sha256);
