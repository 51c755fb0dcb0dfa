-- Accounts, audit log, datasets and the run queue (issue 6, astrolab serve).
-- Keep in step with postgres/0006_accounts_audit_runs.sql. Times: *_at TEXT
-- is RFC 3339 UTC, *_unix is seconds and *_ms milliseconds since 1970 UTC.

-- Accounts. Roles are ordered viewer < researcher < admin. oidc_subject is
-- "issuer|sub" for users who log in through OpenID Connect.
CREATE TABLE users (
    user_id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'researcher', 'admin')),
    password_hash TEXT,
    oidc_subject TEXT UNIQUE,
    email TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE user_projects (
    user_id INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    project TEXT NOT NULL,
    PRIMARY KEY (user_id, project)
);
-- API tokens: only a hash of the secret is stored; prefix is the public,
-- displayable part used to name a token (and to revoke it).
CREATE TABLE api_tokens (
    token_id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'researcher', 'admin')),
    created_at TEXT NOT NULL,
    expires_at_unix INTEGER NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
-- Browser sessions: the cookie value is never stored, only its hash.
CREATE TABLE sessions (
    session_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at_unix INTEGER NOT NULL,
    expires_at_unix INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at_unix);

-- Datasets group raw files; a file in no dataset is public.
CREATE TABLE datasets (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'restricted')),
    created_at TEXT NOT NULL
);
CREATE TABLE dataset_projects (
    dataset TEXT NOT NULL REFERENCES datasets (name) ON DELETE CASCADE,
    project TEXT NOT NULL,
    PRIMARY KEY (dataset, project)
);
CREATE TABLE dataset_files (
    dataset TEXT NOT NULL REFERENCES datasets (name) ON DELETE CASCADE,
    file_id INTEGER NOT NULL REFERENCES raw_files (file_id),
    UNIQUE (dataset, file_id)
);
CREATE INDEX dataset_files_file ON dataset_files (file_id);

-- Audit log: append-only. The code has no update or delete path and these
-- triggers refuse both.
CREATE TABLE audit_log (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- The run queue. A worker claims the oldest queued run, holds a lease that
-- it renews by heartbeats, and is fenced by (worker_id, attempts): a worker
-- whose lease was reaped can no longer change the run.
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline TEXT NOT NULL,
    params TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    worker_id TEXT,
    lease_expires_ms INTEGER,
    started_at_ms INTEGER,
    finished_at_ms INTEGER,
    progress REAL,
    message TEXT,
    exit_code INTEGER,
    result TEXT
);
CREATE INDEX runs_state ON runs (state, run_id);
CREATE INDEX runs_submitted_by ON runs (submitted_by, run_id);
CREATE TABLE run_attempts (
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    attempt INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    outcome TEXT CHECK (outcome IN ('succeeded', 'failed', 'lost')),
    PRIMARY KEY (run_id, attempt)
);
CREATE TABLE run_logs (
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    stream TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
