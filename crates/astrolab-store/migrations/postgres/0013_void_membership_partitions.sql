-- astrolab schema v13 (PostgreSQL only): void membership partitioned by
-- catalog, so that the membership of each void catalog can be loaded and
-- indexed by its own writer, in parallel, beside the table (a "staged"
-- table: a cluster task per catalog), and then become the catalog's
-- membership in one short transaction (ATTACH PARTITION), without copying
-- the rows again. See src/voids_membership.rs. SQLite keeps one table: its
-- writes are serial whatever the layout.
--
-- The partition key is the membership key (catalog file name, algorithm,
-- cap) joined by '|'. Keys are unique as strings because
-- algorithm and cap names never hold a '|'. Each key's rows are one partition; the indexes are
-- partitioned indexes (every partition has its own, built by its writer).
ALTER TABLE void_membership RENAME TO void_membership_v12;
ALTER INDEX void_membership_select RENAME TO void_membership_v12_select;
ALTER INDEX void_membership_target RENAME TO void_membership_v12_target;
CREATE TABLE void_membership (
    file_id BIGINT,
    catalog TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    cap TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    vflag BIGINT NOT NULL,
    void_id BIGINT,
    r_void_norm DOUBLE PRECISION,
    void_edge BIGINT,
    galaxy_file_id BIGINT DEFAULT -1
) PARTITION BY LIST ((catalog || '|' || algorithm || '|' || cap));
CREATE INDEX void_membership_select ON void_membership (algorithm, vflag, target_id);
CREATE INDEX void_membership_target ON void_membership (target_id);
-- One partition per key already classified, named by its position.
DO $$
DECLARE
    k record;
    n integer := 0;
BEGIN
    FOR k IN SELECT DISTINCT catalog || '|' || algorithm || '|' || cap AS key
             FROM void_membership_v12 ORDER BY 1 LOOP
        n := n + 1;
        EXECUTE format('CREATE TABLE %I PARTITION OF void_membership FOR VALUES IN (%L)',
                       'void_membership_v12_' || n, k.key);
    END LOOP;
END $$;
INSERT INTO void_membership (file_id, catalog, algorithm, cap, target_id, vflag, void_id, r_void_norm, void_edge, galaxy_file_id)
    SELECT file_id, catalog, algorithm, cap, target_id, vflag, void_id, r_void_norm, void_edge, galaxy_file_id
    FROM void_membership_v12 ORDER BY catalog, algorithm, cap, target_id;
DROP TABLE void_membership_v12;
