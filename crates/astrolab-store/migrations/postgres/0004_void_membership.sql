-- astrolab schema v4 (PostgreSQL): galaxy void membership. Keep in step with
-- sqlite/0004_void_membership.sql and src/voids_membership.rs.
-- One row per galaxy, per void catalog (catalog file name, algorithm, cap).
-- vflag: 0 wall, 1 void, 2 edge, 9 outside the survey (VAST determine_vflag).
-- file_id: the void catalog's raw_files row when it was ingested, else NULL.
CREATE TABLE void_membership (
    file_id BIGINT,
    catalog TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    cap TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    vflag BIGINT NOT NULL,
    void_id BIGINT,
    r_void_norm DOUBLE PRECISION,
    void_edge BIGINT
);
-- Void-vs-wall selections (algorithm + vflag -> target ids) read the index alone.
CREATE INDEX void_membership_select ON void_membership (algorithm, vflag, target_id);
-- Joins with the galaxy tables by TARGETID.
CREATE INDEX void_membership_target ON void_membership (target_id);
-- Counts per catalog, written in the same transaction as the rows, so the
-- summary never scans millions of rows and never disagrees with them.
CREATE TABLE void_membership_summary (
    file_id BIGINT,
    catalog TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    cap TEXT NOT NULL,
    vflag BIGINT NOT NULL,
    n_galaxies BIGINT NOT NULL,
    r_void_norm_mean DOUBLE PRECISION,
    classified_at TEXT NOT NULL,
    PRIMARY KEY (catalog, algorithm, cap, vflag)
);
