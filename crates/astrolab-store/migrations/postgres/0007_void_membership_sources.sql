-- astrolab schema v7 (PostgreSQL): where a void membership's galaxies came
-- from, so membership follows the datasets of the galaxies as well as of
-- the void catalog. Keep in step with sqlite/0007_void_membership_sources.sql
-- and src/voids_membership.rs.
--
-- galaxy_file_id: the raw_files row each galaxy was read from (the row of
-- fastspec, zcatalog or galaxies, or the registered file with the bytes
-- of a --galaxies file); NULL when the galaxies came from a file the
-- store has never registered (public, like any file in no dataset).
--
-- Rows classified before this migration do not say where their galaxies
-- came from: they get -1, "unknown". Failing closed, only admins read them
-- while any raw file is restricted to projects (the galaxies may have been
-- a restricted table); in a store without restricted files everyone does.
-- Classifying the catalog again records the real source. The DEFAULT
-- marks the existing rows without rewriting them; every write names the
-- column, so the default never applies to new rows.
ALTER TABLE void_membership ADD COLUMN galaxy_file_id BIGINT DEFAULT -1;
-- The summary counts per galaxy source too, so one caller's counts are a
-- filter over this small table, never a scan of the rows. The key holds a
-- nullable column: a unique index on COALESCE (0 is no raw file's id).
-- n_r_void_norm (galaxies with a finite R_VOID_NORM) weighs the means when
-- a reader adds up sources; for the old rows, which are one source per
-- key, any positive weight is exact.
CREATE TABLE void_membership_summary_v7 (
    file_id BIGINT,
    catalog TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    cap TEXT NOT NULL,
    vflag BIGINT NOT NULL,
    galaxy_file_id BIGINT,
    n_galaxies BIGINT NOT NULL,
    n_r_void_norm BIGINT NOT NULL,
    r_void_norm_mean DOUBLE PRECISION,
    classified_at TEXT NOT NULL
);
INSERT INTO void_membership_summary_v7 (file_id, catalog, algorithm, cap, vflag, galaxy_file_id, n_galaxies, n_r_void_norm, r_void_norm_mean, classified_at)
    SELECT file_id, catalog, algorithm, cap, vflag, -1, n_galaxies,
           CASE WHEN r_void_norm_mean IS NULL THEN 0 ELSE n_galaxies END,
           r_void_norm_mean, classified_at
    FROM void_membership_summary;
DROP TABLE void_membership_summary;
ALTER TABLE void_membership_summary_v7 RENAME TO void_membership_summary;
CREATE UNIQUE INDEX void_membership_summary_key ON void_membership_summary (catalog, algorithm, cap, vflag, COALESCE(galaxy_file_id, 0));
